"""Service fixtures: valid records from the sample data and apps built on the session's real bundle."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ml_deploy.settings import ServiceSettings
from ml_deploy_dev.local_aws import moto_server
from ml_deploy_dev.sample_bundle import request_records
from ml_deploy_dev.servers import SERVICE, service_environment, start_server
from service.app import create_app


def pytest_configure(config: pytest.Config) -> None:
    # Starlette 1.x nudges TestClient users towards httpx2; the httpx client we pin works fine.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture(scope="session")
def valid_records(sample_frame: pd.DataFrame) -> list[dict[str, Any]]:
    return request_records(sample_frame, 50)


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


def serve_process(trained_bundle: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    """`python -m service` on the bundle, with moto's fake credentials; stop it with `stop_server`."""
    return start_server(
        SERVICE, port=port, env={**FAKE_AWS, **service_environment(trained_bundle, port=port, **env)}
    )


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A local S3 (moto_server on 127.0.0.1), shared by the tests that need another process to reach S3."""
    with moto_server() as aws:
        yield aws.endpoint
