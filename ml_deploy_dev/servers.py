"""Servers in processes of their own on 127.0.0.1, started, awaited and stopped one way.

The service tests, the smoke-hook tests and the benches all run `python -m service` (and a few
other servers) as a task runs it; one helper keeps them from drifting apart in how long they wait,
what a server that never gets ready leaves behind, and how it is stopped (SIGTERM, as ECS does).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from ml_deploy.settings import ServiceSettings, environment

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
SERVICE = (sys.executable, "-m", "service")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_until_answers(url: str, process: subprocess.Popen[bytes], *, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200; fail at once, with the process's stderr, if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode()[-2000:] if process.stderr else ""
            raise AssertionError(f"{process.args!r} exited with status {process.returncode}: {stderr}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s")


def start_server(
    command: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str | None],
    ready_path: str = "/ready",
    timeout: float = 60.0,
    keep_stderr: bool = True,
) -> subprocess.Popen[bytes]:
    """Start `command` with `env` over ours (None unsets a variable) and wait until it is ready.

    A server that never gets ready is killed before the error propagates: it must not outlive the
    caller. With `keep_stderr` its stderr is kept for `stop_server` (keep its logging quiet: an
    unread pipe fills); without, it is discarded.
    """
    merged = {**os.environ, **env}
    environment = {name: value for name, value in merged.items() if value is not None}
    process = subprocess.Popen(
        list(command),
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if keep_stderr else subprocess.DEVNULL,
    )
    try:
        wait_until_answers(f"http://{HOST}:{port}{ready_path}", process, timeout=timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


def stop_server(process: subprocess.Popen[bytes], *, timeout: float = 60.0) -> tuple[float, str]:
    """SIGTERM, as ECS stops a task: seconds until the process exited, and its stderr."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return time.monotonic() - started, (stderr or b"").decode()


@contextmanager
def stopping(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """`process` for the length of a block, stopped (`stop_server`) however the block ends."""
    try:
        yield process
    finally:
        stop_server(process)


def answer_json(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    """A whole JSON answer from an `http.server` handler: the stand-in servers of tests and benches."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def service_environment(bundle: Path, *, port: int, **env: str | None) -> dict[str, str | None]:
    """What `python -m service` needs to serve `bundle` on `port` with one worker, plus `env`."""
    return {
        **environment(ServiceSettings, model_bundle_path=bundle, host=HOST, port=port, web_concurrency=1),
        **env,
    }


@contextmanager
def serving(bundle: Path, **env: str | None) -> Iterator[str]:
    """`python -m service` on `bundle`, as the task runs it, for a block; yields its base URL."""
    port = free_port()
    with stopping(start_server(SERVICE, port=port, env=service_environment(bundle, port=port, **env))):
        yield f"http://{HOST}:{port}"
