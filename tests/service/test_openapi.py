"""GET /openapi.json describes the real contract: the manifest's request schema and every response."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate


@pytest.fixture
def document(make_client: Any) -> dict[str, Any]:
    with make_client(MAX_BATCH_SIZE=7, MAX_BODY_BYTES=200_000) as client:
        response = client.get("/openapi.json")
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        result["_features"] = client.app.state.model.features
        return result


def _validator(document: dict[str, Any], schema: str) -> Draft202012Validator:
    root = {k: v for k, v in document.items() if k != "_features"}
    return Draft202012Validator({**root, "$ref": f"#/components/schemas/{schema}"})


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate({k: v for k, v in document.items() if k != "_features"})


def test_the_request_schema_is_the_manifests(document: dict[str, Any]) -> None:
    record = document["components"]["schemas"]["Record"]
    features = document["_features"]
    assert set(record["properties"]) == {spec.name for spec in features} | {"key"}, "features + caller key"
    key = record["properties"]["key"]["anyOf"][0]
    assert (key["type"], key["minLength"], key["maxLength"]) == ("string", 1, 128)
    assert set(record["required"]) == {spec.name for spec in features if not spec.nullable}
    assert record["additionalProperties"] is False
    contract = next(spec for spec in features if spec.name == "contract")
    assert record["properties"]["contract"]["enum"] == contract.categories
    assert record["properties"]["monthly_charges"]["type"] == "number"
    assert record["properties"]["monthly_charges"]["minimum"] == 0, "the non-negative domain is declared"
    request = document["components"]["schemas"]["PredictRequest"]
    assert request["properties"]["records"]["maxItems"] == 7
    assert request["x-max-body-bytes"] == 200_000


def test_the_request_schema_accepts_what_the_service_accepts_and_refuses_the_rest(
    document: dict[str, Any], valid_record: dict[str, Any]
) -> None:
    request = _validator(document, "PredictRequest")
    assert request.is_valid({"record": valid_record})
    assert request.is_valid({"records": [valid_record] * 7})
    assert request.is_valid({"record": {**valid_record, "tenure_months": 1e6}}), "beyond training: scored"
    refused = [
        {"records": [valid_record] * 8},
        {"record": valid_record, "records": [valid_record]},
        {},
        {"record": {**valid_record, "contract": "weekly"}},
        {"record": {**valid_record, "monthly_charges": -1}},
        {"record": {k: v for k, v in valid_record.items() if k != "contract"}},
        {"record": {**valid_record, "extra": 1}},
    ]
    for body in refused:
        assert not request.is_valid(body), f"the schema accepts what the service refuses: {body}"


def test_every_response_is_declared_with_its_body(document: dict[str, Any]) -> None:
    responses = document["paths"]["/predict"]["post"]["responses"]
    assert set(responses) >= {"200", "400", "413", "415", "422", "503"}
    for status in ("400", "413", "415", "422", "503"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}, status
    answer = _validator(document, "Prediction")
    assert answer.is_valid({"request_id": "r", "model_version": "v", "prediction": 1, "probability": 0.7})
    assert not answer.is_valid({"request_id": "r", "model_version": "v", "prediction": 1, "probability": 2})
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain; version=0.0.4"], "/metrics is Prometheus text, not JSON"
