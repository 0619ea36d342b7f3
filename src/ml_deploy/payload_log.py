"""The prediction-log format: what the service writes and the monitor reads, defined once.

Objects are gzip-compressed JSON lines under ``<prefix>dt=YYYY-MM-DD/hour=HH/``; each line is
one scored record:

    {"request_id": "...", "record_index": 0, "timestamp": "2026-11-23T10:15:00.123Z",
     "model_version": "20261123T101500Z-3f9a1c2b", "environment": "prod",
     "input": {"tenure_months": 12, "contract": "month-to-month", ...},
     "output": {"prediction": 1, "probability": 0.83}}

Hive-style partitions let Athena/Glue read the same objects, and let the monitor list exactly
the hours of its window instead of the whole bucket.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

SUFFIX = ".jsonl.gz"
CONTENT_TYPE = "application/x-ndjson"
CONTENT_ENCODING = "gzip"


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
