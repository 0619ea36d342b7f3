"""The OpenAPI document of the loaded model: the real request schema and every response.

The request schema is the manifest's (fields, types, categories, domain bounds, `record` xor
`records`, the batch and body limits), so clients and contract testers can rely on it. It is built
once the model is loaded; before that the document describes the endpoints without the schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

JSON = "application/json"
PROMETHEUS_TEXT = "text/plain; version=0.0.4"
PROBLEM: dict[str, Any] = {
    "type": "object",
    "description": "Every 4xx/5xx answer: a summary naming the field(s), one entry per problem.",
    "required": ["error", "request_id"],
    "properties": {
        "error": {"type": "string"},
        "request_id": {"type": "string"},
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message", "type"],
                "properties": {
                    "field": {"type": ["string", "null"], "description": "the offending feature or key"},
                    "record_index": {"type": "integer", "description": "its record, in a batch"},
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
_ERRORS = {
    "400": "Malformed JSON or an empty body.",
    "413": "The body is over MAX_BODY_BYTES (`x-max-body-bytes`), refused before it is parsed.",
    "415": "Content-Type is not application/json.",
    "422": "The body breaks the request schema: a field missing, unknown, null where not nullable, of the "
    "wrong type, an unknown category, out of its domain, or `records` over MAX_BATCH_SIZE.",
    "503": "The model is not loaded yet.",
}


def contract(app: FastAPI) -> dict[str, Any]:
    """The document FastAPI serves at /openapi.json (cached once the model is loaded)."""
    if app.openapi_schema:
        return app.openapi_schema
    model = app.state.model
    document = get_openapi(
        title=app.title, version=model.version if model is not None else "not loaded", routes=app.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    paths = document["paths"]
    predict: dict[str, Any] = {
        "summary": "Score one record or a batch",
        "responses": {
            **({"200": _answers(model.classes, schemas)} if model is not None else {}),
            **{status: _problem(text) for status, text in _ERRORS.items()},
        },
    }
    if model is not None:
        schemas.update(_request_schemas(model, max_body_bytes=app.state.settings.max_body_bytes))
        predict["requestBody"] = {
            "required": True, "content": {JSON: {"schema": {"$ref": "#/components/schemas/PredictRequest"}}}
        }  # fmt: skip
    paths["/predict"]["post"] = predict
    text = {PROMETHEUS_TEXT: {"schema": {"type": "string"}}}
    paths["/metrics"]["get"]["responses"] = {"200": {"description": "Prometheus text", "content": text}}
    paths["/ready"]["get"]["responses"]["503"] = {"description": "The model is not loaded yet."}
    if model is not None:
        app.openapi_schema = document
    return document


def _request_schemas(model: Any, *, max_body_bytes: int) -> dict[str, Any]:
    record = model.record_model.model_json_schema()
    record["title"] = "Record"
    batch = model.request_model.model_fields["records"]
    max_items = next(m.max_length for m in batch.metadata if getattr(m, "max_length", None) is not None)
    request = {
        "type": "object",
        "title": "PredictRequest",
        "description": f"Exactly one of `record` or `records`; the body is at most {max_body_bytes} bytes.",
        "additionalProperties": False,
        "properties": {
            "record": {"$ref": "#/components/schemas/Record"},
            "records": {
                "type": "array", "items": {"$ref": "#/components/schemas/Record"},
                "minItems": 1, "maxItems": max_items,
            },
        },
        "oneOf": [{"required": ["record"]}, {"required": ["records"]}],
        "x-max-body-bytes": max_body_bytes,
    }  # fmt: skip
    return {"Record": record, "PredictRequest": request}


def _answers(classes: list[Any], schemas: dict[str, Any]) -> dict[str, Any]:
    prediction = {"enum": classes, "description": "the class at the 0.5 threshold"}
    probability = {"type": "number", "minimum": 0, "maximum": 1, "description": "of the positive class"}
    common = {"request_id": {"type": "string"}, "model_version": {"type": "string"}}
    schemas["Prediction"] = {
        "type": "object", "required": [*common, "prediction", "probability"],
        "properties": {**common, "prediction": prediction, "probability": probability},
    }  # fmt: skip
    schemas["Predictions"] = {
        "type": "object", "required": [*common, "predictions"],
        "properties": {**common, "predictions": {"type": "array", "items": {
            "type": "object", "required": ["prediction", "probability"],
            "properties": {"prediction": prediction, "probability": probability},
        }}},
    }  # fmt: skip
    body = {
        "oneOf": [{"$ref": "#/components/schemas/Prediction"}, {"$ref": "#/components/schemas/Predictions"}]
    }
    return {"description": "`prediction`/`probability` for `record`, `predictions` for `records`",
            "content": {JSON: {"schema": body}}}  # fmt: skip


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
