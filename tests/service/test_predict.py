"""POST /predict through HTTP: valid answers, and a 4xx naming the field for every kind of bad input."""

from __future__ import annotations

from typing import Any

import pytest

PREDICT = "/predict"


def test_one_record_gets_prediction_probability_version_and_request_id(
    client: Any, valid_record: dict[str, Any]
) -> None:
    response = client.post(PREDICT, json={"record": valid_record})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"request_id", "model_version", "prediction", "probability"}, body
    assert body["prediction"] in (0, 1)
    assert 0.0 <= body["probability"] <= 1.0
    assert body["prediction"] == int(body["probability"] >= 0.5), "prediction must follow the 0.5 threshold"
    assert response.headers["x-request-id"] == body["request_id"]
    assert body["model_version"] == client.get("/version").json()["model_version"]


def test_batch_answers_each_record_in_order(client: Any, valid_records: list[dict[str, Any]]) -> None:
    batch = valid_records[:20]
    response = client.post(PREDICT, json={"records": batch})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == len(batch)
    singles = [client.post(PREDICT, json={"record": r}).json()["probability"] for r in batch[:5]]
    assert [p["probability"] for p in predictions[:5]] == pytest.approx(singles), "batch and single disagree"


def test_incoming_request_id_is_echoed(client: Any, valid_record: dict[str, Any]) -> None:
    response = client.post(PREDICT, json={"record": valid_record}, headers={"X-Request-ID": "trace-abc.123"})
    assert response.json()["request_id"] == "trace-abc.123"
    assert response.headers["x-request-id"] == "trace-abc.123"


def test_nullable_feature_may_be_absent_or_null(client: Any, valid_record: dict[str, Any]) -> None:
    absent = {k: v for k, v in valid_record.items() if k != "age"}
    assert client.post(PREDICT, json={"record": absent}).status_code == 200
    assert client.post(PREDICT, json={"record": {**valid_record, "age": None}}).status_code == 200


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    body: dict[str, Any] = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"tenure_months": "twelve"}, "tenure_months", "float_type"),
        ({"tenure_months": True}, "tenure_months", "float_type"),
        ({"monthly_charges": -5.0}, "monthly_charges", "greater_than_equal"),
        ({"contract": "weekly"}, "contract", "literal_error"),
        ({"contract": 3}, "contract", "literal_error"),
        ({"region": None}, "region", "literal_error"),
        ({"favourite_colour": "red"}, "favourite_colour", "extra_forbidden"),
    ],
    ids=["string-for-number", "bool-for-number", "negative-count", "unknown-category",
         "number-for-category", "null-not-nullable", "extra-field"],
)  # fmt: skip
def test_bad_field_is_a_422_naming_it(
    client: Any, valid_record: dict[str, Any], change: dict[str, Any], field: str, kind: str
) -> None:
    body = _problem(client.post(PREDICT, json={"record": {**valid_record, **change}}), 422)
    assert [(d["field"], d["type"]) for d in body["detail"]] == [(field, kind)], body
    assert field in body["error"], "the summary must name the field"


def test_missing_required_field_is_named(client: Any, valid_record: dict[str, Any]) -> None:
    del valid_record["contract"]
    body = _problem(client.post(PREDICT, json={"record": valid_record}), 422)
    assert [(d["field"], d["type"]) for d in body["detail"]] == [("contract", "missing")]


def test_batch_error_names_record_index_and_field(client: Any, valid_records: list[dict[str, Any]]) -> None:
    batch = [dict(r) for r in valid_records[:5]]
    batch[3]["region"] = "atlantis"
    body = _problem(client.post(PREDICT, json={"records": batch}), 422)
    assert [(d["record_index"], d["field"]) for d in body["detail"]] == [(3, "region")]
    assert "records[3].region" in body["error"]


def test_unknown_category_as_missing_is_scored_and_counted(
    make_client: Any, valid_record: dict[str, Any]
) -> None:
    with make_client(UNKNOWN_CATEGORY="missing") as client:
        response = client.post(PREDICT, json={"record": {**valid_record, "payment_method": "digital_wallet"}})
        assert response.status_code == 200, response.text
        metrics = client.get("/metrics").text
    assert 'unknown_category_values_total{feature="payment_method"} 1.0' in metrics


def test_batch_over_the_limit_is_422_like_any_schema_violation(
    make_client: Any, valid_records: list[dict[str, Any]]
) -> None:
    """`maxItems` is in the published schema; 413 is kept for bodies over MAX_BODY_BYTES."""
    with make_client(MAX_BATCH_SIZE=5) as client:
        body = _problem(client.post(PREDICT, json={"records": valid_records[:6]}), 422)
        assert body["detail"][0]["field"] == "records"
        assert client.post(PREDICT, json={"records": valid_records[:5]}).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"records": []}, 422, "records"),
        ({}, 422, "exactly one"),
        ({"record": None}, 422, "record: Input should be an object"),
        ([1, 2], 422, "object"),
        ({"record": [1]}, 422, "record"),
    ],
    ids=["empty-batch", "no-record", "null-record", "array-body", "record-not-object"],
)
def test_wrong_body_shape_is_a_422(client: Any, body: Any, status: int, needle: str) -> None:
    assert needle in _problem(client.post(PREDICT, json=body), status)["error"]


def test_record_and_records_together_is_a_422(client: Any, valid_record: dict[str, Any]) -> None:
    body = {"record": valid_record, "records": [valid_record]}
    assert "exactly one" in _problem(client.post(PREDICT, json=body), 422)["error"]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "needle"),
    [
        (b'{"record": {', "application/json", 400, "malformed JSON"),
        (b"", "application/json", 400, "empty request body"),
        (b'{"record": {}}', "text/plain", 415, "Content-Type must be application/json"),
        (b'{"record": {}}', None, 415, "Content-Type must be application/json"),
        (b"\xff\xfe", "application/json", 400, "malformed JSON"),
    ],
    ids=["truncated", "empty", "text-plain", "no-content-type", "not-utf8"],
)
def test_unparseable_request_is_a_4xx_saying_why(
    client: Any, content: bytes, content_type: str | None, status: int, needle: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    assert needle in _problem(client.post(PREDICT, content=content, headers=headers), status)["error"]


def test_wrong_method_and_unknown_path_are_4xx(client: Any) -> None:
    assert client.get(PREDICT).status_code == 405
    assert client.get("/nope").status_code == 404


def test_values_beyond_the_training_range_are_scored_and_counted(
    make_client: Any, valid_record: dict[str, Any]
) -> None:
    with make_client() as client:
        spec = {s.name: s for s in client.app.state.model.features}["tenure_months"]
        beyond = {**valid_record, "tenure_months": spec.max + 1e-6}
        huge = {**valid_record, "monthly_charges": 1e9}
        assert client.post(PREDICT, json={"record": beyond}).status_code == 200, "just past the max"
        assert client.post(PREDICT, json={"records": [huge, huge, valid_record]}).status_code == 200
        metrics = client.get("/metrics").text
    assert 'feature_values_out_of_range_total{feature="tenure_months"} 1.0' in metrics
    assert 'feature_values_out_of_range_total{feature="monthly_charges"} 2.0' in metrics


def test_integer_too_large_for_a_float_is_a_422_naming_the_field(
    client: Any, valid_record: dict[str, Any]
) -> None:
    record = {**valid_record}
    del record["tenure_months"]
    raw = b'{"record": {"tenure_months": ' + b"9" * 5000 + b", " + _json(record)[1:] + b"}"
    response = client.post(PREDICT, content=raw, headers={"content-type": "application/json"})
    detail = _problem(response, 422)["detail"]
    assert [(d["field"], d["type"]) for d in detail] == [("tenure_months", "finite_number")], detail


def _json(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value)


def _huge_record(valid_record: dict[str, Any], extra_keys: int) -> bytes:
    """A valid record plus many unknown keys: each costs pydantic one error object."""
    return _json({"record": {**valid_record, **{f"k{i}": 1 for i in range(extra_keys)}}})


def test_a_body_over_the_limit_is_a_413_naming_the_limit(client: Any, valid_record: dict[str, Any]) -> None:
    raw = _huge_record(valid_record, 1_000_000)  # ~13 MB, the body
    body = _problem(client.post(PREDICT, content=raw, headers={"content-type": "application/json"}), 413)
    assert "MAX_BODY_BYTES" in body["error"] and "1048576" in body["error"], body


def test_a_chunked_body_over_the_limit_is_a_413(make_client: Any, valid_record: dict[str, Any]) -> None:
    raw = _huge_record(valid_record, 2_000)

    def chunks() -> Any:  # no Content-Length: the client streams the body
        for start in range(0, len(raw), 4096):
            yield raw[start : start + 4096]

    with make_client(MAX_BODY_BYTES=16_384) as client:
        response = client.post(PREDICT, content=chunks(), headers={"content-type": "application/json"})
        assert "16384" in _problem(response, 413)["error"]
        small = client.post(PREDICT, content=iter([_json({"record": valid_record})]),
                            headers={"content-type": "application/json"})  # fmt: skip
        assert small.status_code == 200, "a chunked body under the limit is read and scored"


def test_a_record_with_many_unknown_keys_gets_a_422_naming_a_bounded_few(
    make_client: Any, valid_record: dict[str, Any]
) -> None:
    raw = _huge_record(valid_record, 60_000)
    with make_client(MAX_BODY_BYTES=len(raw)) as client:
        response = client.post(PREDICT, content=raw, headers={"content-type": "application/json"})
    detail = _problem(response, 422)["detail"]
    assert 0 < len(detail) <= 20 and all(d["type"] == "extra_forbidden" for d in detail), detail[:3]
    assert detail[0]["field"] == "k0", "the first unknown key is named"


@pytest.mark.parametrize("null_key", ["record", "records"])
def test_an_explicit_null_is_refused_as_the_schema_says(
    client: Any, valid_record: dict[str, Any], null_key: str
) -> None:
    """`record` is typed an object and `records` an array: null is neither (schemathesis ST201)."""
    other = {"records": [valid_record]} if null_key == "record" else {"record": valid_record}
    body = _problem(client.post(PREDICT, json={**other, null_key: None}), 422)
    assert body["detail"][0]["field"] == null_key
