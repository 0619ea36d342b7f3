"""Property: no request body, however odd, makes /predict answer 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_deploy.settings import ServiceSettings
from ml_deploy_dev import sample_data
from service.app import create_app

FEATURES = [*sample_data.NUMERIC_FEATURES, *sample_data.CATEGORICAL_FEATURES]
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
plausible = (
    st.floats(min_value=-10, max_value=200) | st.sampled_from(["dsl", "east", "one_year", "credit_card", ""])
    | scalars
)  # fmt: skip
records = st.dictionaries(st.sampled_from([*FEATURES, "extra"]), plausible, max_size=len(FEATURES) + 1)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"record": records}),
    st.fixed_dictionaries({"records": st.lists(records, max_size=5)}),
    st.fixed_dictionaries({"record": json_values, "records": json_values}),
)


@pytest.fixture(scope="module")
def shared_client(trained_bundle: Path) -> Iterator[TestClient]:
    with TestClient(
        create_app(ServiceSettings(model_bundle_path=trained_bundle, max_batch_size=3))
    ) as client:
        yield client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_random_json_bodies_never_get_a_5xx(shared_client: TestClient, body: Any) -> None:
    response = shared_client.post(
        "/predict", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code < 500, f"{response.status_code} for {body!r}: {response.text}"
    assert response.status_code in (200, 400, 413, 422), f"unexpected {response.status_code} for {body!r}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=64), content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_random_bytes_never_get_a_5xx(shared_client: TestClient, raw: bytes, content_type: str) -> None:
    response = shared_client.post("/predict", content=raw, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500, f"{response.status_code} for {raw!r}: {response.text}"
