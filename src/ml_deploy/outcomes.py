"""The outcome format: what really happened to a scored record, defined once beside the prediction log.

Outcomes are gzip JSON lines under ``<outcomes prefix>dt=YYYY-MM-DD/`` (the UTC day observed) in
the prediction-log bucket, so they share its retention and encryption; each line is one outcome:

    {"request_id": "3f9a...", "record_index": 0, "key": null,
     "label": 1, "observed_at": "2026-12-20T09:00:00.000Z"}

A line names its record either by the service's ``request_id`` + ``record_index`` (both from the
/predict answer and the log line) or by the caller's ``key`` the request gave that record
(`payload_log.RECORD_KEY`, e.g. a customer id), never both. ``label`` is one of the model's
classes (`CLASSES`); ``observed_at`` is when it was known, with a zone, not in the future. When
several outcomes name one record, the one observed last wins. `ml-deploy upload-outcomes` writes
them with `validate_rows` and `encode_objects`; the quality job reads them with `reader_schema`.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from ml_deploy.payload_log import CONTENT_ENCODING, CONTENT_TYPE, KEY_MAX_LENGTH, SUFFIX, utc_timestamp

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CONTENT_ENCODING", "CONTENT_TYPE", "SUFFIX"]

CLASSES = (0, 1)
"""The labels a model can predict: training accepts only a 0/1 target (retrain_job.retrain.training)."""
FIELDS = ("request_id", "record_index", "key", "label", "observed_at")
REQUEST_ID_MAX_LENGTH = 200  # the service's own ids are far shorter; a longer one cannot be one of them


HIVE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("request_id", "string"),
    ("record_index", "int"),
    ("key", "string"),
    ("label", "int"),
    ("observed_at", "string"),  # ISO 8601 text as written, like a log line's timestamp
)
"""Each field of `OutcomeRecord` with its Hive type: the Glue table the stack registers is built from it."""


def hive_columns() -> tuple[tuple[str, str], ...]:
    """(field, Hive type) of an outcome line, in `OutcomeRecord` order, for the query engine's table."""
    return HIVE_COLUMNS


class OutcomeRecord(TypedDict):
    """One line of an outcome object."""

    request_id: str | None
    record_index: int | None
    key: str | None
    label: int
    observed_at: str  # `payload_log.utc_timestamp` of the moment the outcome was known


class OutcomeError(ValueError):
    """A row that is not a valid outcome; the message names the field and what is expected."""


@dataclass
class Validated:
    """The valid outcomes of a file, and every bad row as (row number, reason)."""

    records: list[OutcomeRecord] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)


def validate_rows(rows: Iterable[tuple[int, Any]], *, now: datetime) -> Validated:
    """Check each (row number, row); a bad row is kept with its reason, never silently dropped.

    A row the reader could not parse is passed as the `OutcomeError` saying why.
    """
    result = Validated()
    for number, row in rows:
        if isinstance(row, OutcomeError):
            result.bad.append((number, str(row)))
            continue
        try:
            result.records.append(parse_outcome(row, now=now))
        except OutcomeError as error:
            result.bad.append((number, str(error)))
    return result


def parse_outcome(row: Any, *, now: datetime) -> OutcomeRecord:
    """One outcome from a JSON object or a CSV row (its cells are strings, '' for empty)."""
    if not isinstance(row, Mapping):
        raise OutcomeError(f"expected an object with {', '.join(FIELDS)}, got {type(row).__name__}")
    unknown = sorted(str(name) for name in row if name not in FIELDS)
    if unknown:
        raise OutcomeError(f"unknown field {unknown[0]!r}: expected only {', '.join(FIELDS)}")
    values = {name: _blank_as_none(row.get(name)) for name in FIELDS}
    request_id, index, key = values["request_id"], values["record_index"], values["key"]
    if key is not None and (request_id is not None or index is not None):
        raise OutcomeError("give either key or request_id + record_index, not both")
    if key is None and (request_id is None or index is None):
        raise OutcomeError("no record named: give key, or request_id and record_index")
    return {
        "request_id": _text(request_id, "request_id", REQUEST_ID_MAX_LENGTH),
        "record_index": None if index is None else _index(index),
        "key": _text(key, "key", KEY_MAX_LENGTH),
        "label": _label(values["label"]),
        "observed_at": utc_timestamp(_observed_at(values["observed_at"], now=now)),
    }


def _blank_as_none(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise OutcomeError(f"{name}: expected a string of 1 to {limit} characters, got {value!r:.60}")
    return value


def _index(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise OutcomeError(f"record_index: expected an integer >= 0, got {value!r:.60}")
    return value


def _label(value: Any) -> int:
    if isinstance(value, str) and value.strip() in {str(label) for label in CLASSES}:
        value = int(value)
    if isinstance(value, bool) or value not in CLASSES:
        raise OutcomeError(f"label: expected one of the model's classes {list(CLASSES)}, got {value!r:.60}")
    return int(value)


def _observed_at(value: Any, *, now: datetime) -> datetime:
    if value is None:
        raise OutcomeError("observed_at: missing (when the outcome was known, ISO 8601 with a zone)")
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise OutcomeError(
            f"observed_at: expected ISO 8601 with a zone (e.g. ...T09:00:00Z), got {value!r:.60}"
        )
    if when > now:
        raise OutcomeError(f"observed_at: {value} is in the future (now {utc_timestamp(now)})")
    return when.astimezone(UTC)


def encode_objects(
    records: Sequence[OutcomeRecord], *, prefix: str, writer: str = "upload"
) -> list[tuple[str, bytes]]:
    """(key, gzip JSON lines) per observed day: each object in its own dt= partition."""
    import orjson  # in every image that writes or reads outcomes, not a library dependency

    by_day: dict[str, list[bytes]] = {}
    for record in records:
        by_day.setdefault(record["observed_at"][:10], []).append(
            orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return [
        (
            f"{partition_prefix(prefix, date.fromisoformat(day))}{stamp}-{writer}-{uuid.uuid4().hex[:12]}"
            f"{SUFFIX}",
            gzip.compress(b"".join(lines), mtime=0),
        )
        for day, lines in sorted(by_day.items())
    ]


def partition_prefix(prefix: str, day: date) -> str:
    """``<prefix>dt=YYYY-MM-DD/``: the partition of outcomes observed on `day` (UTC)."""
    return f"{prefix}dt={day:%Y-%m-%d}/"


def day_prefixes(prefix: str, *, start: datetime, end: datetime) -> list[str]:
    """The partitions of outcomes observed in [start, end], oldest first."""
    day, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    days = []
    while day <= last:
        days.append(partition_prefix(prefix, day))
        day += timedelta(days=1)
    return days


def reader_schema() -> pa.Schema:
    """The pyarrow schema of an outcome line (the quality job's parser)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("request_id", pa.string()),
            pa.field("record_index", pa.int64()),
            pa.field("key", pa.string()),
            pa.field("label", pa.int8()),
            pa.field("observed_at", pa.timestamp("us", tz="UTC")),
        ]
    )
