"""What each environment of the local run serves, replaced the way an ECS deployment does it.

An environment has a stable address (a local stand-in for its load balancer forwards to the task
named in the state) and task-definition revisions, each one an image. A deploy starts a task of
the new revision, waits for `/ready`, moves the traffic, then stops the old task; a task that
never becomes ready is stopped and the old one keeps serving (the deployment circuit breaker).
Only the runner calls this: it owns the task processes (the CLI asks it, `answers.py`).
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from ml_deploy.settings import SmokeHookSettings
from ml_deploy_cli.local.records import EnvironmentRecord, Hook, Revision, TaskRecord, task_log_path
from ml_deploy_cli.local.state import edited_state, now, read_checked_state
from ml_deploy_dev.delivery.standins import registry_dir
from ml_deploy_dev.delivery.tasks import TaskError, start_task, stop_task, wait_until_ready

READY_TIMEOUT = 60.0
HOOK_TIMEOUT = 120.0  # the hook Lambda's default timeout (smokeTestTimeoutSeconds)
Say = Callable[[str], None]


def deploy_image(path: Path, *, service: str, image: str, say: Say) -> tuple[str, int]:
    """`ml-deploy deploy` in the local run: (environment, revision) now serving `image`.

    The local stand-in of the ECS deploy: the revision is the image alone (the local task's
    settings are the state's), and a task that never gets ready fails the deploy (TaskError).
    """
    state = read_checked_state(path)
    environments = [name for name, record in state.environments.items() if record.service == service]
    if not environments:
        raise TaskError(f"no local environment runs service {service!r}")
    (environment,) = environments
    if state.registry is None:
        raise TaskError("the local delivery state names no registry: no image can be deployed")
    image_dir = registry_dir(image, Path(state.registry))
    if not image_dir.is_dir():
        raise TaskError(f"{image} is not in the local registry ({image_dir})")
    revision = register_revision(path, environment, image=image, image_dir=image_dir)
    deploy_revision(path, environment, revision, ready_timeout=state.ready_timeout or READY_TIMEOUT, say=say)
    return environment, revision


def register_revision(path: Path, environment: str, *, image: str, image_dir: Path) -> int:
    """A new task-definition revision running `image`, as the ECS deploy action registers one."""
    with edited_state(path) as state:
        record = state.environments[environment]
        number = len(record.revisions) + 1
        record.revisions.append(
            Revision(revision=number, image=image, image_dir=str(image_dir), registered=now())
        )
    return number


def deploy_revision(
    path: Path, environment: str, revision: int, *, ready_timeout: float = READY_TIMEOUT, say: Say = print
) -> None:
    """Start the revision's task, wait for /ready, move traffic, stop the old task.

    TaskError when the new task never becomes ready: it is stopped, the old one keeps serving and
    the rollout is FAILED (rolled back), as the circuit breaker leaves an ECS service.
    """
    record = read_checked_state(path).environments[environment]
    chosen = _revision(record, revision)
    log = task_log_path(record, environment, revision)
    _set_rollout(path, environment, "IN_PROGRESS")
    if chosen.image_dir is None:
        raise TaskError(f"{record.service}:{revision} names no image folder")
    task = start_task(Path(chosen.image_dir), environment=record.task_environment, port=_free_port(), log=log)
    try:
        wait_until_ready(task, timeout=ready_timeout)
        run_lifecycle_hook(record.lifecycle_hook, test_url=task.url, say=say)
    except TaskError as error:
        stop_task(task.pid, timeout=5.0)
        _set_rollout(path, environment, "FAILED")
        raise TaskError(f"{environment} revision {revision} rolled back: {error}; log {log}") from None
    with edited_state(path) as state:
        moved = state.environments[environment]
        old, moved.running = moved.running, TaskRecord(revision=revision, pid=task.pid, port=task.port)
        moved.rollout = "COMPLETED"
    if old:
        stop_task(old.pid)


def run_lifecycle_hook(hook: Hook | None, *, test_url: str, say: Say = print) -> None:
    """The deployment's lifecycle hook, where ECS calls it: the new task answers test traffic only.

    The local state names a command and its environment (the dev run sets the smoke test); its
    output is said, and a non-zero exit fails the deployment (TaskError), as FAILED from an ECS
    hook rolls the deployment back.
    """
    if not hook:
        return
    environment = {**os.environ, **hook.environment, SmokeHookSettings.variable("test_url"): test_url}
    try:
        done = subprocess.run(
            hook.command, env=environment, capture_output=True, text=True, timeout=HOOK_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise TaskError(f"the lifecycle hook did not answer within {HOOK_TIMEOUT:.0f} s") from None
    lines = done.stdout.strip().splitlines()
    for line in lines:
        say(line)
    if done.returncode != 0:
        why = lines[-1] if lines else done.stderr.strip()[-500:]
        raise TaskError(f"the lifecycle hook failed ({done.returncode}): {why}")


def previous_revision(path: Path, environment: str) -> tuple[Revision, Revision]:
    """(running revision, newest earlier revision with another image): what a rollback swaps."""
    record = read_checked_state(path).environments[environment]
    if not record.running:
        raise TaskError(f"{environment} runs no task: nothing to roll back")
    current = _revision(record, record.running.revision)
    earlier = [r for r in record.revisions if r.revision < current.revision and r.image != current.image]
    if not earlier:
        raise TaskError(f"{environment} has no earlier revision with another image than {current.image}")
    return current, earlier[-1]


def stop_all(path: Path) -> None:
    """Stop every task the state says runs (the end of the demo)."""
    for environment, record in read_checked_state(path).environments.items():
        if record.running:
            stop_task(record.running.pid)
            # Kept so `status` after the demo still says what each environment served last.
            with edited_state(path) as state:
                ended = state.environments[environment]
                ended.running, ended.stopped = None, record.running


def _revision(record: EnvironmentRecord, number: int) -> Revision:
    for revision in record.revisions:
        if revision.revision == number:
            return revision
    raise TaskError(f"{record.service} has no revision {number}")


def _set_rollout(path: Path, environment: str, rollout: str) -> None:
    with edited_state(path) as state:
        state.environments[environment].rollout = rollout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
