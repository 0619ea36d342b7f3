"""Service fixtures: valid records from the sample data and apps built on the session's real bundle."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ml_deploy.settings import ServiceSettings
from service.app import create_app


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
