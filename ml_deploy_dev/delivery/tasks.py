"""Service tasks of the local run: an "image" (a folder the build's `docker` stand-in wrote) run
as ECS runs a task: its environment, its command, a port, `/ready` before it takes traffic.

The image folder holds `image.json` (the Dockerfile's ENV, CMD, WORKDIR and what its `pip install`
lines installed) and `rootfs/` (what its COPY lines put there). The Dockerfile's RUN lines install
dependencies: the project's virtualenv (this interpreter) stands in for them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ml_deploy.settings import ServiceSettings
from ml_deploy.settings import environment as settings_environment


class TaskError(Exception):
    """A task did not become ready; the message says why (the deployment circuit breaker's cue)."""


@dataclass(frozen=True)
class Task:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def image_config(image_dir: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((image_dir / "image.json").read_text())
    return config


def start_task(image_dir: Path, *, environment: dict[str, str], port: int, log: Path) -> Task:
    """Start the image's command with its environment, the task's environment and `port`."""
    config = image_config(image_dir)
    rootfs = image_dir / "rootfs"
    variables = {name: _in_rootfs(value, rootfs) for name, value in config["env"].items()}
    python_path = [str(rootfs / entry.lstrip("/")) for entry in config.get("python_path", [])]
    command = [sys.executable if part in ("python", "python3") else part for part in config["cmd"]]
    workdir = rootfs / str(config.get("workdir", "/")).lstrip("/")
    workdir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env={
                "PATH": os.environ.get("PATH", ""),
                **variables,
                **environment,
                **settings_environment(ServiceSettings, host="127.0.0.1", port=port),
                "PYTHONPATH": os.pathsep.join(python_path),
            },
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a task outlives the CLI command that started it (rollback)
        )
    return Task(pid=process.pid, port=port)


def _in_rootfs(value: str, rootfs: Path) -> str:
    """An absolute path the image provides, as it is found in the image folder."""
    if value.startswith("/") and (rootfs / value.lstrip("/")).exists():
        return str(rootfs / value.lstrip("/"))
    return value


def wait_until_ready(task: Task, *, timeout: float) -> None:
    """Poll `/ready` like the target group's health check; TaskError if the task exits or never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(task.pid):
            raise TaskError(f"the task exited before it was ready (see its log); pid {task.pid}")
        try:
            if httpx.get(f"{task.url}/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TaskError(f"the task at {task.url} was not ready within {timeout:.0f} s")


def is_alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: ask the kernel whether it exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return _not_zombie(pid)
    return waited == 0


def _not_zombie(pid: int) -> bool:
    try:
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    except OSError:
        return True


def stop_task(pid: int, *, timeout: float = 20.0) -> None:
    """SIGTERM, as ECS stops a task (the service drains and flushes its logs), then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_alive(pid):
        time.sleep(0.1)
    if is_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
