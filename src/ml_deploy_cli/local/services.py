"""What each environment of the local run serves, replaced the way an ECS deployment does it.

An environment has a stable address (a local stand-in for its load balancer forwards to the task
named in the state) and task-definition revisions, each one an image. A deploy starts a task of
the new revision, waits for `/ready`, moves the traffic, then stops the old task; a task that
never becomes ready is stopped and the old one keeps serving (the deployment circuit breaker).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from ml_deploy.settings import SmokeHookSettings
from ml_deploy_cli.errors import CliError
from ml_deploy_cli.local.state import now, read_state, update_state
from ml_deploy_cli.local.tasks import TaskError, start_task, stop_task, wait_until_ready

READY_TIMEOUT = 60.0
HOOK_TIMEOUT = 120.0  # the hook Lambda's default timeout (smokeTestTimeoutSeconds)


def registry_dir(image_uri: str, registry: Path) -> Path:
    """`<registry>/<repository>/<tag>` of `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`."""
    repository, _, tag = image_uri.split("/", 1)[-1].rpartition(":")
    return registry / repository / tag


def deploy_image(path: Path, *, service: str, image: str) -> tuple[str, int]:
    """`ml-deploy deploy` in the local run: (environment, revision) now serving `image`.

    The local stand-in of the ECS deploy: the revision is the image alone (the local task's
    settings are the state's), and a task that never gets ready fails the deploy (TaskError).
    """
    state = read_state(path)
    environments = [name for name, record in state["environments"].items() if record["service"] == service]
    if not environments:
        raise CliError(f"no local environment runs service {service!r}")
    (environment,) = environments
    image_dir = registry_dir(image, Path(state["registry"]))
    if not image_dir.is_dir():
        raise CliError(f"{image} is not in the local registry ({image_dir})")
    revision = register_revision(path, environment, image=image, image_dir=image_dir)
    deploy_revision(
        path, environment, revision, ready_timeout=float(state.get("ready_timeout", READY_TIMEOUT))
    )
    return environment, revision


def register_revision(path: Path, environment: str, *, image: str, image_dir: Path) -> int:
    """A new task-definition revision running `image`, as the ECS deploy action registers one."""
    with update_state(path) as state:
        record = state["environments"][environment]
        number = len(record["revisions"]) + 1
        record["revisions"].append(
            {"revision": number, "image": image, "image_dir": str(image_dir), "registered": now()}
        )
    return number


def task_log(record: dict[str, Any], environment: str, revision: int) -> Path:
    """Where the task of `revision` writes its output (the local stand-in of its log stream)."""
    return Path(record["log_dir"]) / f"{environment}-r{revision}.log"


def deploy_revision(
    path: Path, environment: str, revision: int, *, ready_timeout: float = READY_TIMEOUT
) -> None:
    """Start the revision's task, wait for /ready, move traffic, stop the old task.

    TaskError when the new task never becomes ready: it is stopped, the old one keeps serving and
    the rollout is FAILED (rolled back), as the circuit breaker leaves an ECS service.
    """
    state = read_state(path)
    record = state["environments"][environment]
    chosen = _revision(record, revision)
    log = task_log(record, environment, revision)
    _set(path, environment, rollout="IN_PROGRESS")
    task = start_task(
        Path(chosen["image_dir"]), environment=record["task_environment"], port=_free_port(), log=log
    )
    try:
        wait_until_ready(task, timeout=ready_timeout)
        run_lifecycle_hook(record.get("lifecycle_hook"), test_url=task.url)
    except TaskError as error:
        stop_task(task.pid, timeout=5.0)
        _set(path, environment, rollout="FAILED")
        raise TaskError(f"{environment} revision {revision} rolled back: {error}; log {log}") from None
    old = record.get("running")
    _set(
        path,
        environment,
        rollout="COMPLETED",
        running={"revision": revision, "pid": task.pid, "port": task.port},
    )
    if old:
        stop_task(int(old["pid"]))


def run_lifecycle_hook(hook: dict[str, Any] | None, *, test_url: str) -> None:
    """The deployment's lifecycle hook, where ECS calls it: the new task answers test traffic only.

    The local state names a command and its environment (the dev run sets the smoke test); its
    output is printed, and a non-zero exit fails the deployment (TaskError), as FAILED from an ECS
    hook rolls the deployment back.
    """
    if not hook:
        return
    environment = {**os.environ, **hook["environment"], SmokeHookSettings.variable("test_url"): test_url}
    try:
        done = subprocess.run(
            hook["command"], env=environment, capture_output=True, text=True, timeout=HOOK_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise TaskError(f"the lifecycle hook did not answer within {HOOK_TIMEOUT:.0f} s") from None
    lines = done.stdout.strip().splitlines()
    for line in lines:
        print(line, flush=True)
    if done.returncode != 0:
        why = lines[-1] if lines else done.stderr.strip()[-500:]
        raise TaskError(f"the lifecycle hook failed ({done.returncode}): {why}")


def previous_revision(path: Path, environment: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(running revision, newest earlier revision with another image): what a rollback swaps."""
    record = read_state(path)["environments"][environment]
    running = record.get("running")
    if not running:
        raise CliError(f"{environment} runs no task: nothing to roll back")
    current = _revision(record, int(running["revision"]))
    earlier = [
        r
        for r in record["revisions"]
        if r["revision"] < current["revision"] and r["image"] != current["image"]
    ]
    if not earlier:
        raise CliError(f"{environment} has no earlier revision with another image than {current['image']}")
    return current, earlier[-1]


def stop_all(path: Path) -> None:
    """Stop every task the state says runs (the end of the demo)."""
    for environment, record in read_state(path).get("environments", {}).items():
        if record.get("running"):
            stop_task(int(record["running"]["pid"]))
            # Kept so `status` after the demo still says what each environment served last.
            _set(path, environment, running=None, stopped=record["running"])


def _revision(record: dict[str, Any], number: int) -> dict[str, Any]:
    for revision in record["revisions"]:
        if revision["revision"] == number:
            found: dict[str, Any] = revision
            return found
    raise CliError(f"{record['service']} has no revision {number}")


def _set(path: Path, environment: str, **values: Any) -> None:
    with update_state(path) as state:
        state["environments"][environment].update(values)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
