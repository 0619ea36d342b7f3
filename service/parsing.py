"""Validating a /predict body at a cost bounded by its size, and naming the field in every error.

Small bodies (the hot path) go straight to pydantic-core from bytes. A large one is first parsed by
orjson so that a record with a huge number of unknown keys is cut to the keys worth reporting:
pydantic builds one error object per extra key, which for a million keys takes seconds and a GiB.
A JSON integer too large for a float makes pydantic's JSON parser fail before any field is known;
such a body is re-read with the big number as infinity so the error names its field.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from service.problems import MAX_DETAILS

LARGE_BODY_BYTES = 64 * 1024
_BODY_KEYS = ("record", "records")


def validate_body(request_model: type[BaseModel], body: bytes, *, feature_names: frozenset[str]) -> Any:
    """The validated request; raises pydantic's ValidationError for anything wrong."""
    if len(body) > LARGE_BODY_BYTES:
        trimmed = _trimmed(body, feature_names)
        if trimmed is not None:
            return request_model.model_validate(trimmed)
    try:
        return request_model.model_validate_json(body)
    except ValidationError as error:
        if not _number_out_of_range(error):
            raise
    return request_model.model_validate(_with_big_numbers_as_infinity(body))


def _trimmed(body: bytes, feature_names: frozenset[str]) -> Any:
    """The parsed body with unknown keys cut to MAX_DETAILS per object, or None if none were cut."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # pydantic reports the syntax error (or the big number) itself
    if not isinstance(parsed, dict):
        return None
    cut = False
    if len(parsed) > len(_BODY_KEYS) + MAX_DETAILS:
        parsed, cut = _cut(parsed, frozenset(_BODY_KEYS)), True
    record = parsed.get("record")
    if isinstance(record, dict) and len(record) > len(feature_names) + MAX_DETAILS:
        parsed["record"], cut = _cut(record, feature_names), True
    records = parsed.get("records")
    if isinstance(records, list):
        for index, item in enumerate(records):
            if isinstance(item, dict) and len(item) > len(feature_names) + MAX_DETAILS:
                records[index], cut = _cut(item, feature_names), True
    return parsed if cut else None


def _cut(mapping: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    kept = {key: value for key, value in mapping.items() if key in known}
    for key in mapping:
        if len(kept) >= len(known) + MAX_DETAILS:
            break
        kept.setdefault(key, mapping[key])
    return kept


def _number_out_of_range(error: ValidationError) -> bool:
    return any(
        item["type"] == "json_invalid" and "number out of range" in item["msg"]
        for item in error.errors(include_url=False, include_input=False)
    )


def _with_big_numbers_as_infinity(body: bytes) -> Any:
    """The body with every out-of-range number as inf, which the schema refuses by field name."""

    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(body, parse_int=float, parse_constant=reject_constant)
    except ValueError as error:  # cannot happen for a body pydantic only faulted for a big number
        raise ValidationError.from_exception_data(
            "PredictRequest",
            [{"type": "json_invalid", "loc": (), "input": body, "ctx": {"error": str(error)}}],
        ) from None
