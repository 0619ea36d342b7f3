"""Error answers: one JSON shape for every 4xx/5xx, and pydantic errors turned into field names."""

from __future__ import annotations

import os
import re
from typing import Any

import orjson
from fastapi import Request, Response
from pydantic import ValidationError

MAX_DETAILS = 20
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_of(request: Request) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one."""
    incoming = request.headers.get("x-request-id")
    if incoming and _REQUEST_ID.fullmatch(incoming):
        return incoming
    return os.urandom(16).hex()  # a random 128-bit id, like uuid4 without building a UUID object


def problem(
    status: int,
    message: str,
    *,
    request_id: str,
    detail: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """`{"error": message, "detail": [...], "request_id": ...}` with the request id header."""
    body: dict[str, Any] = {"error": message, "request_id": request_id}
    if detail is not None:
        body["detail"] = detail
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={"x-request-id": request_id, **(headers or {})},
    )


def describe_validation_error(error: ValidationError) -> tuple[int, str, list[dict[str, Any]]]:
    """Status (400 malformed JSON, else 422), a summary and one entry per problem.

    A batch over MAX_BATCH_SIZE is 422 like every other violation of the published schema (its
    `maxItems`); 413 is only for a body over MAX_BODY_BYTES, refused before it is parsed.

    Each entry names the `field` and, in a batch, the `record_index`, so a client can find the
    offending value without parsing pydantic's location tuples.
    """
    details: list[dict[str, Any]] = []
    for item in error.errors(include_url=False, include_input=False, include_context=False)[:MAX_DETAILS]:
        loc = tuple(item["loc"])
        kind = item["type"]
        if kind == "json_invalid":
            return (
                400,
                f"malformed JSON: {item['msg']}",
                [{"field": None, "message": item["msg"], "type": kind}],
            )
        field, record_index = _field_of(loc)
        entry: dict[str, Any] = {"field": field, "loc": list(loc), "message": item["msg"], "type": kind}
        if record_index is not None:
            entry["record_index"] = record_index
        details.append(entry)
    summary = "; ".join(f"{_path(loc=entry['loc'])}: {entry['message']}" for entry in details)
    return 422, f"invalid request: {summary}", details


def _field_of(loc: tuple[Any, ...]) -> tuple[str | None, int | None]:
    if len(loc) >= 2 and loc[0] == "record":
        return str(loc[1]), None
    if len(loc) >= 3 and loc[0] == "records" and isinstance(loc[1], int):
        return str(loc[2]), loc[1]
    if len(loc) == 2 and loc[0] == "records" and isinstance(loc[1], int):
        return "records", loc[1]
    return (str(loc[0]), None) if loc else (None, None)


def _path(*, loc: list[Any]) -> str:
    if not loc:
        return "body"
    text = str(loc[0])
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
