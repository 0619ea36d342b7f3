"""The jobs and the service in processes of their own, as Batch and ECS run them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx


class ProcessError(Exception):
    """A process did not start or answer as the lifecycle needs; the message says which and why."""


def run_job(module: str, environment: dict[str, str], say: Callable[[str], None]) -> int:
    """Run a job as Batch does: its own process, configured by environment variables."""
    say(f"$ python -m {module}")
    completed = subprocess.run(
        [sys.executable, "-m", module],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    for line in (completed.stdout + completed.stderr).strip().splitlines()[-12:]:
        say(f"  | {line}")
    say(f"exit status {completed.returncode}")
    return completed.returncode


@contextmanager
def serve(environment: dict[str, str], *, url: str) -> Iterator[str]:
    """The real service in its own process; stopped with SIGTERM, as ECS stops a task."""
    process = subprocess.Popen([sys.executable, "-m", "service"], env={**os.environ, **environment})
    try:
        wait_until_ready(url, process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until_ready(url: str, process: subprocess.Popen[bytes], *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProcessError(f"the service exited with status {process.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ProcessError(f"the service at {url} was not ready within {timeout:.0f} s")
