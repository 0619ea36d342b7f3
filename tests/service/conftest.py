"""Service fixtures: valid records from the sample data and apps built on the session's real bundle."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ml_deploy.settings import ServiceSettings
from service.app import create_app

REPO = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    # Starlette 1.x nudges TestClient users towards httpx2; the httpx client we pin works fine.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


def records_from(frame: pd.DataFrame, n: int, *, start: int = 0) -> list[dict[str, Any]]:
    """Rows of the sample data as request records: NaN becomes null, categories become strings."""
    from ml_deploy_dev import sample_data

    columns = [*sample_data.NUMERIC_FEATURES, *sample_data.CATEGORICAL_FEATURES]
    out: list[dict[str, Any]] = []
    for row in frame[columns].iloc[start : start + n].to_dict(orient="records"):
        out.append({k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()})
    return out


@pytest.fixture(scope="session")
def valid_records(sample_frame: pd.DataFrame) -> list[dict[str, Any]]:
    return records_from(sample_frame, 50)


@pytest.fixture
def valid_record(valid_records: list[dict[str, Any]]) -> dict[str, Any]:
    """A record with every feature present (copied, so tests can change it)."""
    return next(dict(r) for r in valid_records if all(v is not None for v in r.values()))


ClientFactory = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def make_client(trained_bundle: Path) -> ClientFactory:
    """`with make_client(LOG_BUCKET=...) as client:` a TestClient whose lifespan has run."""
    from fastapi.testclient import TestClient

    @contextmanager
    def _client(**env: Any) -> Iterator[TestClient]:
        values = {"MODEL_BUNDLE_PATH": str(trained_bundle), **{k: str(v) for k, v in env.items()}}
        with TestClient(create_app(ServiceSettings.model_validate(values))) as client:
            yield client

    return _client


@pytest.fixture
def client(make_client: ClientFactory) -> Iterator[Any]:
    with make_client() as test_client:
        yield test_client


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region for moto; never real AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_answers(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, (
            f"process exited: {process.stderr.read().decode() if process.stderr else ''}"
        )
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def serve_process(trained_bundle: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    values = {**os.environ, **FAKE_AWS, "MODEL_BUNDLE_PATH": str(trained_bundle), "HOST": "127.0.0.1",
              "PORT": str(port), "WEB_CONCURRENCY": "1", **env}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "service"],
        cwd=REPO,
        env=values,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/ready", server)
    except BaseException:
        server.kill()  # a server that never got ready must not outlive the test
        server.wait()
        raise
    return server


def stop_process(server: subprocess.Popen[bytes]) -> tuple[float, str]:
    """SIGTERM, as ECS stops a task: seconds until the process exited, and its stderr."""
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    try:
        _, stderr = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return time.monotonic() - started, stderr.decode()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A local S3 (moto_server on 127.0.0.1), shared by the tests that need another process to reach S3."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **FAKE_AWS},
    )  # fmt: skip
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/moto-api/data.json", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
