"""The optional per-record caller key (`key`): validated with a 422 naming it, logged, never scored."""

from __future__ import annotations

from typing import Any

import pytest

from ml_deploy.bundle import BundleError
from ml_deploy.payload_log import KEY_MAX_LENGTH
from ml_deploy.schema import FeatureSpec
from service.app import split_keys
from service.model import record_model

PREDICT = "/predict"


def test_a_key_does_not_change_the_score(client: Any, valid_records: list[dict[str, Any]]) -> None:
    plain = client.post(PREDICT, json={"records": valid_records[:3]}).json()["predictions"]
    keyed = [{**record, "key": f"customer-{i}"} for i, record in enumerate(valid_records[:3])]
    response = client.post(PREDICT, json={"records": keyed})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == plain


@pytest.mark.parametrize(
    ("key", "kind"),
    [("x" * (KEY_MAX_LENGTH + 1), "string_too_long"), ("", "string_too_short"), (12345, "string_type")],
    ids=["too-long", "empty", "number"],
)
def test_a_bad_key_is_a_422_naming_it(client: Any, valid_record: dict[str, Any], key: Any, kind: str) -> None:
    response = client.post(PREDICT, json={"records": [valid_record, {**valid_record, "key": key}]})
    assert response.status_code == 422, response.text
    body = response.json()
    assert [(d["record_index"], d["field"], d["type"]) for d in body["detail"]] == [(1, "key", kind)], body
    assert "records[1].key" in body["error"]


def test_keys_are_split_from_the_features_and_dropped_when_none_is_given(client: Any) -> None:
    model = client.app.state.model.record_model
    features = {name: None for name in model.model_fields if name != "key"}
    with_keys = [model.model_construct(**features, key="c-1"), model.model_construct(**features, key=None)]
    rows, keys = split_keys(with_keys)
    assert keys == ["c-1", None] and all("key" not in row for row in rows)
    assert split_keys([model.model_construct(**features, key=None)])[1] is None


def test_a_feature_named_key_is_refused_at_load() -> None:
    spec = FeatureSpec(name="key", type="numeric", nullable=False)
    with pytest.raises(BundleError, match="named 'key'"):
        record_model([spec], unknown_category="reject")
