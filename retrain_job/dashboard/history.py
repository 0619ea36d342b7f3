"""The dashboard's history, read from what the jobs already write, newest first and bounded.

Only the last `days` UTC days are listed (one prefix per day: `dt=YYYY-MM-DD/`), at most
`max_runs` documents of each kind are read, and an unreadable object is skipped and named, never
fatal: a dashboard with one bad run in it is still worth publishing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ml_deploy.layout import folder
from ml_deploy.tracking import ReleaseEvent, event_day_prefix
from retrain_job.dashboard.records import DriftRun, QualityReport

Record = TypeVar("Record", bound=BaseModel)
READERS = 8  # parallel GETs: S3 answers each in tens of milliseconds, the documents are small


@dataclass(frozen=True)
class DashboardSources:
    """Where the history is and how much of it to show."""

    log_bucket: str
    reports_prefix: str
    environment: str
    model_bucket: str | None = None  # the retrain job's decision records, when given
    decisions_prefix: str | None = None
    pipeline: str | None = None  # CodePipeline's deploys and approvals, when given
    days: int = 30
    max_runs: int = 240

    def __post_init__(self) -> None:
        if not 1 <= self.days <= 366:
            raise ValueError(f"days: expected 1 to 366, got {self.days}")
        if not 1 <= self.max_runs <= 2000:
            raise ValueError(f"max_runs: expected 1 to 2000, got {self.max_runs}")


@dataclass
class History:
    drift: list[DriftRun] = field(default_factory=list)
    quality: list[QualityReport] = field(default_factory=list)
    events: list[ReleaseEvent] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "s3://bucket/key: why", one per object


def read_history(s3: Any, sources: DashboardSources, *, now: datetime) -> History:
    """Drift and quality runs of the environment, and the stored release events, oldest first."""
    history = History()
    days = [now.astimezone(UTC) - timedelta(days=back) for back in range(sources.days)]
    run_keys = _list(
        s3, sources.log_bucket, [f"{folder(sources.reports_prefix)}dt={d:%Y-%m-%d}/" for d in days]
    )
    newest = sorted(run_keys, reverse=True)
    reports = [key for key in newest if key.endswith("/report.json")][: sources.max_runs]
    qualities = [key for key in newest if key.endswith("/quality.json")][: sources.max_runs]
    history.drift = [
        run
        for run in _read(s3, sources.log_bucket, reports, DriftRun, history.skipped)
        if run.run.environment == sources.environment
    ]
    history.quality = [
        report
        for report in _read(s3, sources.log_bucket, qualities, QualityReport, history.skipped)
        if report.environment == sources.environment
    ]
    history.drift.sort(key=lambda run: run.run.window_end)
    history.quality.sort(key=lambda report: report.window.end)
    event_keys = sorted(
        _list(s3, sources.log_bucket, [event_day_prefix(sources.reports_prefix, d) for d in days])
    )
    history.events = [
        event
        for event in _read(
            s3, sources.log_bucket, event_keys[-sources.max_runs :], ReleaseEvent, history.skipped
        )
        if event.environment in (None, sources.environment)
    ]
    if sources.model_bucket and sources.decisions_prefix is not None:
        history.events += retrain_events(s3, sources, since=days[-1], skipped=history.skipped)
    return history


def retrain_events(
    s3: Any, sources: DashboardSources, *, since: datetime, skipped: list[str]
) -> list[ReleaseEvent]:
    """The retrain job's decision records since `since` (their keys start with a UTC stamp)."""
    assert sources.model_bucket is not None and sources.decisions_prefix is not None
    prefix = sources.decisions_prefix
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=sources.model_bucket, Prefix=prefix, StartAfter=f"{prefix}{since:%Y%m%dT%H%M%SZ}"
    )
    keys = [
        item["Key"] for page in pages for item in page.get("Contents", []) if item["Key"].endswith(".json")
    ]
    documents = _documents(s3, sources.model_bucket, sorted(keys)[-sources.max_runs :], skipped)
    events = []
    for location, document in documents:
        try:
            events.append(decision_event(document))
        except (ValidationError, KeyError, TypeError) as error:
            skipped.append(f"{location}: not a decision record ({_first_line(error)})")
    return events


def decision_event(record: dict[str, Any]) -> ReleaseEvent:
    """A retrain decision record (`retrain_job.retrain.gate`) as a timeline event."""
    return ReleaseEvent(
        kind="retrain",
        at=record["decided_at"],
        outcome=record["decision"],
        model_version=record.get("challenger_version") or record.get("champion_version"),
        detail="; ".join(str(reason) for reason in record.get("reasons", []))[:2000],
    )


def _list(s3: Any, bucket: str, prefixes: Iterable[str]) -> list[str]:
    paginator = s3.get_paginator("list_objects_v2")
    return [
        item["Key"]
        for prefix in prefixes
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    ]


def _read(s3: Any, bucket: str, keys: list[str], model: type[Record], skipped: list[str]) -> list[Record]:
    records = []
    for location, document in _documents(s3, bucket, keys, skipped):
        try:
            records.append(model.model_validate(document))
        except ValidationError as error:
            skipped.append(f"{location}: {_first_line(error)}")
    return records


def _documents(s3: Any, bucket: str, keys: list[str], skipped: list[str]) -> list[tuple[str, Any]]:
    def get(key: str) -> tuple[str, Any]:
        location = f"s3://{bucket}/{key}"
        try:
            return location, json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return location, _Unreadable(f"not JSON ({error})")

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        fetched = list(pool.map(get, keys))
    readable = []
    for location, document in fetched:
        if isinstance(document, _Unreadable):
            skipped.append(f"{location}: {document.reason}")
        else:
            readable.append((location, document))
    return readable


@dataclass(frozen=True)
class _Unreadable:
    reason: str


def _first_line(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__
