"""What the monitor writes to AWS besides metrics and alerts (`retrain_job.common`): its reports,
and the retrain it may submit.

The retrain trigger holds a cooldown in one S3 object, updated only with conditional writes
(`IfNoneMatch="*"` to create it, `IfMatch=<etag>` to replace it), so of two overlapping runs
exactly one submits: the other's write fails with PreconditionFailed and it backs off.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy.settings import MonitorSettings, QualitySettings

RetrainTrigger = Literal["drift", "quality"]  # which check asked: it names the retrain job


def report_prefixes(settings: MonitorSettings | QualitySettings, *, now: datetime, run_id: str) -> list[str]:
    """The run's dated folder, then the environment's `latest/` folder (the layout's rule)."""
    layout = DEFAULT_LAYOUT.model_copy(update={"reports_prefix": settings.reports_prefix})
    return [
        f"{settings.reports_prefix}dt={now:%Y-%m-%d}/{run_id}/",
        layout.latest_report_prefix(settings.environment),
    ]


def write_reports(
    s3: Any, *, bucket: str, prefixes: Sequence[str], report_json: str, report_html: str
) -> list[str]:
    """Both reports under every prefix (the dated run folder and `latest/`); their S3 URLs."""
    urls = []
    for prefix in prefixes:
        for name, body, content_type in (
            ("report.json", report_json, "application/json"),
            ("report.html", report_html, "text/html; charset=utf-8"),
        ):
            s3.put_object(Bucket=bucket, Key=f"{prefix}{name}", Body=body.encode(), ContentType=content_type)
            urls.append(f"s3://{bucket}/{prefix}{name}")
    return urls


@dataclass(frozen=True)
class Cooldown:
    """The cooldown object as read: its content and the ETag a replacement must match."""

    last_submitted_at: datetime
    etag: str

    def active(self, now: datetime, period: timedelta) -> bool:
        return now < self.last_submitted_at + period


@dataclass(frozen=True)
class RetrainDecision:
    submitted: bool
    reason: str
    job_id: str | None = None
    failed: bool = False


def read_cooldown(s3: Any, *, bucket: str, key: str) -> Cooldown | None:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    etag = str(response["ETag"])
    try:
        last = datetime.fromisoformat(json.loads(response["Body"].read())["last_submitted_at"])
    except (ValueError, KeyError, TypeError):
        # An unreadable state must not block retraining forever: treat it as long expired; the
        # conditional write on its ETag still protects against a concurrent run.
        last = datetime.fromtimestamp(0, tz=UTC)
    return Cooldown(last_submitted_at=last, etag=etag)


def claim_cooldown(
    s3: Any, *, bucket: str, key: str, previous: Cooldown | None, now: datetime, run_id: str
) -> str | None:
    """Start a new cooldown period; None when another run changed the object first."""
    body = json.dumps({"last_submitted_at": now.isoformat(), "run_id": run_id}).encode()
    condition = {"IfMatch": previous.etag} if previous else {"IfNoneMatch": "*"}
    try:
        response = s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition
        )
    except ClientError as error:
        if error.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict"):
            return None
        raise
    return str(response["ETag"])


def maybe_submit_retrain(
    clients: Any,
    settings: MonitorSettings | QualitySettings,
    *,
    enabled: bool,
    trigger: RetrainTrigger,
    bucket: str,
    now: datetime,
    run_id: str,
    reason: str,
) -> RetrainDecision | None:
    """The retrain job when `enabled` and configured, under the cooldown the drift and quality checks
    share; a failed submit is reported, not raised, so the run's alert still goes out. `trigger`
    names the job (`retrain-on-<trigger>-<run>`), so Batch's job list says which check asked."""
    if not (enabled and settings.retrain_job_queue and settings.retrain_job_definition):
        return None
    try:
        return submit_retrain(
            clients.s3,
            clients.batch,
            bucket=bucket,
            cooldown_key=settings.cooldown_key,
            period=timedelta(hours=settings.retrain_cooldown_hours),
            now=now,
            run_id=run_id,
            job_queue=settings.retrain_job_queue,
            job_definition=settings.retrain_job_definition,
            reason=reason,
            trigger=trigger,
        )
    except ClientError as error:
        return RetrainDecision(False, f"submitting the retrain job failed: {error}", failed=True)


def submit_retrain(
    s3: Any,
    batch: Any,
    *,
    bucket: str,
    cooldown_key: str,
    period: timedelta,
    now: datetime,
    run_id: str,
    job_queue: str,
    job_definition: str,
    reason: str,
    trigger: RetrainTrigger,
) -> RetrainDecision:
    """Submit the retrain job unless one was submitted within `period` or another run holds it."""
    previous = read_cooldown(s3, bucket=bucket, key=cooldown_key)
    if previous and previous.active(now, period):
        until = previous.last_submitted_at + period
        last = previous.last_submitted_at
        return RetrainDecision(
            False,
            f"cooldown: last retrain submitted {last:%Y-%m-%d %H:%M}Z, "
            f"next allowed after {until:%Y-%m-%d %H:%M}Z",
        )
    claimed = claim_cooldown(s3, bucket=bucket, key=cooldown_key, previous=previous, now=now, run_id=run_id)
    if claimed is None:
        return RetrainDecision(False, "another monitor run claimed the cooldown first")
    try:
        response = batch.submit_job(
            jobName=f"retrain-on-{trigger}-{run_id}"[:128],
            jobQueue=job_queue,
            jobDefinition=job_definition,
            parameters={"reason": reason[:1000]},
        )
    except ClientError:
        # Give the period back so the next run can retry; our claim is the object's current state.
        _release(s3, bucket=bucket, key=cooldown_key, etag=claimed, previous=previous)
        raise
    return RetrainDecision(True, "submitted", job_id=str(response["jobId"]))


def _release(s3: Any, *, bucket: str, key: str, etag: str, previous: Cooldown | None) -> None:
    since = previous.last_submitted_at if previous else datetime.fromtimestamp(0, tz=UTC)
    body = json.dumps({"last_submitted_at": since.isoformat(), "run_id": "released"}).encode()
    with contextlib.suppress(ClientError):  # someone else wrote it meanwhile: their state wins
        s3.put_object(Bucket=bucket, Key=key, Body=body, IfMatch=etag)
