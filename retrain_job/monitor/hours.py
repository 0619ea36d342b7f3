"""A window as hours: closed hours come from their summaries, open ones from their rows.

An hour is closed `summary_grace_minutes` after it ends (late writes land first). The first run
that finds a closed hour without a current summary reads it once and writes its summary with a
conditional PUT: `IfNoneMatch="*"` for a new one, `IfMatch=<etag>` to replace a stale one, so of
two concurrent runs one writes and the other keeps what it computed (the same counts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy import payload_log
from ml_deploy.settings import MonitorSettings
from retrain_job.monitor import summary as summaries
from retrain_job.monitor.log_reader import LogObject, list_window_objects, map_window
from retrain_job.monitor.summary import HourSummary, Objects
from retrain_job.monitor.versions import Catalog, Tally, tally_block

HOUR = timedelta(hours=1)
PLANNERS = 8  # hours listed at once
# 412: the key exists (IfNoneMatch) or changed (IfMatch); 409: a concurrent conditional write won.
# Either way another run wrote this hour: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
_LOST_RACE = ("PreconditionFailed", "ConditionalRequestConflict")


@dataclass
class Hour:
    """One hour partition of the window, as listed now."""

    start: datetime
    objects: list[LogObject]
    summarizable: bool  # closed, and wholly inside the window
    summary: HourSummary | None = None  # its stored summary, current or not
    etag: str | None = None  # of the stored summary object: what a replacement must match

    @property
    def listed(self) -> Objects:
        return Objects.of((item.key, item.etag) for item in self.objects)


def sample_size(settings: MonitorSettings) -> int:
    """Rows each version's sample keeps: none unless the concept-drift check will use them.

    Summaries record it, so turning the check on recomputes the summaries made without samples.
    """
    return settings.sample_rows if settings.concept_drift else 0


def summary_key(settings: MonitorSettings, hour: datetime) -> str:
    """``monitor/summaries/<environment>/dt=YYYY-MM-DD/hour=HH.json.gz``: one object per hour."""
    prefix = payload_log.partition_prefix(f"{settings.summaries_prefix}{settings.environment}/", hour)
    return prefix.rstrip("/") + ".json.gz"


def plan(
    s3: Any, settings: MonitorSettings, *, bucket: str, window: tuple[datetime, datetime], now: datetime
) -> list[Hour]:
    """The window's hours, listed, with the stored summary of each summarizable one.

    Hours are listed concurrently: against S3's tens of milliseconds per request, 24 sequential
    LISTs and GETs would cost more than merging the summaries they find.
    """
    start, end = window
    closed_before = now - timedelta(minutes=settings.summary_grace_minutes)
    first = start.replace(minute=0, second=0, microsecond=0)
    starts = [first + i * HOUR for i in range(math.ceil((end - first) / HOUR))]

    def one(hour: datetime) -> Hour:
        prefix = payload_log.partition_prefix(settings.environment_log_prefix, hour)
        whole = start <= hour and hour + HOUR <= end
        entry = Hour(
            start=hour,
            objects=list_window_objects(s3, bucket=bucket, prefixes=[prefix]),
            summarizable=whole and hour + HOUR <= closed_before,
        )
        if entry.summarizable:
            entry.summary, entry.etag = read_summary(s3, bucket=bucket, key=summary_key(settings, hour))
        return entry

    with ThreadPoolExecutor(max_workers=PLANNERS, thread_name_prefix="monitor-plan") as pool:
        return list(pool.map(one, starts))


def read_summary(s3: Any, *, bucket: str, key: str) -> tuple[HourSummary | None, str | None]:
    """The stored summary and its ETag; (None, etag) when it cannot be decoded (recomputed)."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None, None
        raise
    etag = str(response["ETag"])
    try:
        return summaries.decode(response["Body"].read()), etag
    except ValueError:
        return None, etag


def write_summary(s3: Any, *, bucket: str, key: str, summary: HourSummary, replaces: str | None) -> bool:
    """Write once: False when another run wrote (or replaced) it first."""
    condition = {"IfMatch": replaces} if replaces else {"IfNoneMatch": "*"}
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=summaries.encode(summary),
            ContentType="application/gzip",
            **condition,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] in _LOST_RACE:
            return False
        raise
    return True


def read_rows(
    s3: Any,
    *,
    bucket: str,
    objects: Sequence[LogObject],
    catalog: Catalog,
    bounds: tuple[datetime | None, datetime | None],
    settings: MonitorSettings,
) -> Tally:
    """The tally of every row of these objects stamped within `bounds`."""
    start, end = bounds
    size = sample_size(settings)
    total = Tally()

    def reduce(block: bytes) -> Tally:
        return tally_block(block, catalog, start=start, end=end, sample_rows=size)

    corrupt = total.corrupt_objects
    for part in map_window(
        s3,
        bucket=bucket,
        objects=objects,
        summarise=reduce,
        on_corrupt=lambda key, error: corrupt.append(f"{key}: {error}"),
        workers=settings.workers,
    ):
        total.merge(part, sample_rows=size)
    return total


def summarize_hour(
    s3: Any, settings: MonitorSettings, *, bucket: str, hour: Hour, catalog: Catalog
) -> HourSummary:
    """Read a closed hour once and store its summary (unless a concurrent run stored it first)."""
    tally = read_rows(
        s3, bucket=bucket, objects=hour.objects, catalog=catalog, bounds=(hour.start, hour.start + HOUR),
        settings=settings,
    )  # fmt: skip
    made = make_summary(hour.start, objects=hour.listed, tally=tally, catalog=catalog, settings=settings)
    key = summary_key(settings, hour.start)
    write_summary(s3, bucket=bucket, key=key, summary=made, replaces=hour.etag)
    return made


def make_summary(
    start: datetime, *, objects: Objects, tally: Tally, catalog: Catalog, settings: MonitorSettings
) -> HourSummary:
    catalog.ensure(list(tally.versions))  # a merge job may not have met these versions yet
    fingerprints = {v: summaries.bins_fingerprint(catalog.binnings[v]) for v in tally.versions}
    return HourSummary(
        hour=start.astimezone(UTC).isoformat(),
        objects=objects,
        tally=tally,
        fingerprints=fingerprints,
        sample_rows=sample_size(settings),
        format=summaries.FORMAT,
    )


def window_tally(
    s3: Any,
    settings: MonitorSettings,
    *,
    bucket: str,
    hours: list[Hour],
    catalog: Catalog,
    window: tuple[datetime, datetime],
    summarize: Callable[[Hour], HourSummary] | None = None,
) -> Tally:
    """Merge the current summaries, summarize closed hours lacking one, read the rest as rows."""
    summarize = summarize or (
        lambda hour: summarize_hour(s3, settings, bucket=bucket, hour=hour, catalog=catalog)
    )
    total = Tally()
    rows: list[LogObject] = []
    for hour in hours:
        if not hour.summarizable:
            rows += hour.objects
            continue
        stored = hour.summary
        fresh = stored and stored.current(
            catalog=catalog, objects=hour.listed, sample_rows=sample_size(settings)
        )
        made = stored if fresh and stored else summarize(hour)
        total.merge(made.tally, sample_rows=sample_size(settings))
    if rows:
        total.merge(
            read_rows(s3, bucket=bucket, objects=rows, catalog=catalog, bounds=window, settings=settings),
            sample_rows=sample_size(settings),
        )
    return total
