"""The prediction-log format: what the service writes and the monitor reads, defined once.

Objects are gzip-compressed JSON lines under ``<prefix>dt=YYYY-MM-DD/hour=HH/``; each line is
one scored record:

    {"request_id": "...", "record_index": 0, "key": "customer-123",
     "timestamp": "2026-11-23T10:15:00.123Z",
     "model_version": "20261123T101500Z-3f9a1c2b", "environment": "prod",
     "input": {"tenure_months": 12, "contract": "month-to-month", ...},
     "output": {"prediction": 1, "probability": 0.83}}

Hive-style partitions let Athena/Glue read the same objects, and let the monitor list exactly
the hours of its window instead of the whole bucket. `key` is the caller's own name for the
record (e.g. a customer id, at most `KEY_MAX_LENGTH` characters), null when the request gave none:
an outcome (`ml_deploy.outcomes`) names the record it is about by that key or by
`request_id` + `record_index`. The service writes lines with
`encode_lines`; the monitor parses them with `reader_schema`. Neither orjson nor pyarrow is
imported here at module level: each image installs only the one its side needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    import pyarrow as pa

SUFFIX = ".jsonl.gz"
CONTENT_TYPE = "application/x-ndjson"
CONTENT_ENCODING = "gzip"
RECORD_KEY = "key"
"""The optional per-record field of a /predict record naming it for outcomes; logged, never scored."""
KEY_MAX_LENGTH = 128
DECISION_THRESHOLD = 0.5
"""A logged `prediction` is the positive class iff `probability` >= this (the service's rule and
training's evaluation); bundles carry no threshold of their own, so it is written once here."""


HIVE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("request_id", "string"),
    ("record_index", "int"),
    (RECORD_KEY, "string"),
    # ISO 8601 text as written (`utc_timestamp`): `from_iso8601_timestamp("timestamp")` in a query.
    ("timestamp", "string"),
    ("model_version", "string"),
    ("environment", "string"),
    # The features differ per model version and change with a bundle, not with `pulumi up`: a map
    # reads every version's record; a query casts the feature it needs.
    ("input", "map<string,string>"),
    ("output", "struct<prediction:int,probability:double>"),
)
"""Each field of `LogRecord` with its Hive type: the Glue table the stack registers is built from it."""


def hive_columns() -> tuple[tuple[str, str], ...]:
    """(field, Hive type) of a log line, in `LogRecord` order, for the query engine's table."""
    return HIVE_COLUMNS


class LogOutput(TypedDict):
    prediction: Any  # the model's label
    probability: float


class LogRecord(TypedDict):
    """One line of a log object: one scored record and where it came from."""

    request_id: str
    record_index: int  # position of the record in its request
    key: str | None  # the caller's key of the record (RECORD_KEY), None when not given
    timestamp: str  # `utc_timestamp` of the request
    model_version: str
    environment: str
    input: Any  # the record as the request sent it, feature name -> value
    output: LogOutput


def encode_lines(
    *,
    request_id: str,
    timestamp: str,
    model_version: str,
    environment: str,
    inputs: Sequence[Any],
    outputs: Sequence[tuple[Any, float]],
    keys: Sequence[str | None] | None = None,
) -> list[bytes]:
    """One newline-terminated JSON line per scored record of one request, in request order;
    `keys` are the records' caller keys (None: the request gave none)."""
    import orjson  # in both images, but not a dependency of the library itself

    lines = []
    record_keys = keys if keys is not None else [None] * len(inputs)
    rows = zip(inputs, outputs, record_keys, strict=True)
    for index, (record, (prediction, probability), key) in enumerate(rows):
        line: LogRecord = {
            "request_id": request_id, "record_index": index, "key": key, "timestamp": timestamp,
            "model_version": model_version, "environment": environment,
            "input": record, "output": {"prediction": prediction, "probability": probability},
        }  # fmt: skip
        lines.append(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))
    return lines


def reader_schema(*, numeric: Sequence[str], categorical: Sequence[str]) -> pa.Schema:
    """The pyarrow schema of the fields the monitor reads from a line (other fields are ignored).

    Inputs named in `numeric` parse as float64, those in `categorical` as strings; a line whose
    values do not fit is rejected by the parser and counted as malformed.
    """
    import pyarrow as pa  # the monitor's parser; the service image has no pyarrow

    inputs = [pa.field(name, pa.float64()) for name in numeric]
    inputs += [pa.field(name, pa.string()) for name in categorical]
    return pa.schema(
        [
            pa.field("model_version", pa.string()),
            pa.field("input", pa.struct(inputs)),
            pa.field("output", pa.struct([pa.field("probability", pa.float64())])),
        ]
    )


def join_schema() -> pa.Schema:
    """The fields the quality monitor reads from a line to join it with outcomes (others ignored)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("request_id", pa.string()),
            pa.field("record_index", pa.int64()),
            pa.field(RECORD_KEY, pa.string()),
            pa.field("timestamp", pa.timestamp("us", tz="UTC")),
            pa.field("model_version", pa.string()),
            pa.field("output", pa.struct([pa.field("probability", pa.float64())])),
        ]
    )


def partition_prefix(prefix: str, when: datetime) -> str:
    """``<prefix>dt=YYYY-MM-DD/hour=HH/`` for the hour that contains `when` (UTC)."""
    when = when.astimezone(UTC)
    return f"{prefix}dt={when:%Y-%m-%d}/hour={when:%H}/"


def object_key(prefix: str, when: datetime, *, writer: str | None = None) -> str:
    """A new, unique object key in the partition of `when`; `writer` names the process."""
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{partition_prefix(prefix, when)}{stamp}-{writer or 'w'}-{uuid.uuid4().hex[:12]}{SUFFIX}"


def window_prefixes(prefix: str, *, end: datetime, hours: int) -> Iterator[str]:
    """The partition prefixes covering the `hours` before `end`, oldest first."""
    end = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    for back in range(hours - 1, -1, -1):
        yield partition_prefix(prefix, end - timedelta(hours=back))


def utc_timestamp(when: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, the form every line carries."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
