"""The quality job: were the predictions right? Matured predictions joined with their real outcomes.

Steps: read the outcomes observed since the window opened, stream the window's prediction logs
and join them, score each model version against its archived bundle's holdout metrics, write
`quality.json` (the run's dated folder, then `latest/`), publish CloudWatch metrics, and below a
floor alert and, where configured, submit the retrain under the drift monitor's cooldown.

Exit codes (`retrain_job.common`): 0 the check ran (also with not enough outcomes yet), 1 a
failure worth retrying (AWS, or a retrain submit that failed after the alert), 2 unusable input.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy import outcomes
from ml_deploy.bundle import BundleError, read_manifest
from ml_deploy.layout import archived_bundle_key
from ml_deploy.quality_report import (
    BELOW_FLOOR_METRIC,
    COVERAGE_METRIC,
    REPORT_FILE,
    OutcomeCounts,
    QualityReport,
    QualityWindow,
    VersionQuality,
    cloudwatch_metric,
)
from ml_deploy.settings import QualitySettings
from retrain_job.common import (
    EXIT_FAILED,
    EXIT_OK,
    JobClients,
    JobInputError,
    metric,
    put_metrics,
    run_job,
    send_alert,
)
from retrain_job.monitor import publishing
from retrain_job.monitor.log_reader import list_window_objects, map_window
from retrain_job.monitor.text import fit_bytes
from retrain_job.quality.join import Joined, OutcomeIndex, join_block, parse_lines
from retrain_job.quality.scoring import INTERVAL, Scoring, below_floor, score_version
from retrain_job.refresh_dashboard import refresh_dashboard

JOB = "quality"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m retrain_job.quality`; user errors are printed once, no traceback."""
    return run_job(JOB, lambda: run(QualitySettings.from_args(argv)))


def run(settings: QualitySettings, *, now: datetime | None = None) -> int:
    """The job, step by step."""
    now = (now or settings.end or datetime.now(UTC)).astimezone(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    clients = JobClients(settings)
    start, end = maturity_window(settings, now=now)
    index = read_outcomes(clients.s3, settings, since=start, now=now)
    joined = join_window(clients.s3, settings, index=index, start=start, end=end)
    report = build_report(clients.s3, settings, joined=joined, index=index, window=(start, end), now=now)
    url = write_report(clients.s3, settings, report=report, now=now, run_id=run_id)
    put_metrics(
        clients.cloudwatch, namespace=settings.metrics_namespace, metrics=metrics_of(settings, report)
    )
    failing = [version for version in report.versions if version.status == "below_floor"]
    retrain = maybe_retrain(clients, settings, failing=failing, now=now, run_id=run_id) if failing else None
    text = summary(report, url=url, retrain=retrain)
    if failing:
        names = ", ".join(f"{v.model_version} ({', '.join(below_floor(v.metrics))})" for v in failing)
        send_alert(
            clients,
            settings,
            job=JOB,
            summary=f"quality below floor in {settings.environment}: {names}",
            body=fit_bytes(text),
        )
    print(text)
    refresh_dashboard(clients, settings, job=JOB, now=now)
    return EXIT_FAILED if retrain and retrain.failed else EXIT_OK


def maturity_window(settings: QualitySettings, *, now: datetime) -> tuple[datetime, datetime]:
    """Predictions between `maturity_max_days` and `maturity_min_days` old, on whole UTC days, so
    every run of one day judges the same predictions."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=settings.maturity_max_days), midnight - timedelta(
        days=settings.maturity_min_days
    )


def read_outcomes(s3: Any, settings: QualitySettings, *, since: datetime, now: datetime) -> OutcomeIndex:
    """Every outcome observed from the window's start until now (an outcome follows its prediction)."""
    prefixes = outcomes.day_prefixes(settings.outcomes_prefix, start=since, end=now)
    objects = _listed(s3, settings, prefixes)
    tables, malformed = [], 0
    for table, bad in map_window(
        s3,
        bucket=_bucket(settings),
        objects=objects,
        workers=settings.workers,
        summarise=lambda block: parse_lines(block, outcomes.reader_schema()),
        on_corrupt=lambda key, error: print(f"quality: skipping unreadable outcomes {key}: {error}"),
    ):
        tables.append(table)
        malformed += bad
    return OutcomeIndex.build(tables, malformed=malformed)


def join_window(
    s3: Any, settings: QualitySettings, *, index: OutcomeIndex, start: datetime, end: datetime
) -> Joined:
    """Stream the window's prediction logs object by object, joining each block with the outcomes."""
    # The window is whole UTC days: one listing per day folder (dt=), not 24 per day (hour=).
    days = outcomes.day_prefixes(
        settings.environment_log_prefix, start=start, end=end - timedelta(microseconds=1)
    )
    objects = _listed(s3, settings, days)
    total = Joined()
    for part in map_window(
        s3,
        bucket=_bucket(settings),
        objects=objects,
        workers=settings.workers,
        summarise=lambda block: join_block(block, index, start=start, end=end),
        on_corrupt=lambda key, error: print(f"quality: skipping unreadable log {key}: {error}"),
    ):
        total.merge(part)
    return total


def build_report(
    s3: Any,
    settings: QualitySettings,
    *,
    joined: Joined,
    index: OutcomeIndex,
    window: tuple[datetime, datetime],
    now: datetime,
) -> QualityReport:
    """Each version scored on its own rows against its own bundle's holdout metrics."""
    scoring = Scoring(
        floors=settings.floors(),
        min_outcomes=settings.min_outcomes,
        samples=settings.bootstrap_samples,
        seed=settings.bootstrap_seed,
    )
    versions = []
    for name, rows in sorted(joined.versions.items()):
        y, p = rows.joined()
        versions.append(
            score_version(
                model_version=name,
                y=y,
                p=p,
                predictions=rows.predictions,
                predicted_positive=rows.predicted_positive,
                holdout=holdout_metrics(s3, settings, name),
                scoring=scoring,
            )
        )
    matched = int(joined.matched.sum()) if joined.matched.size else 0
    counts = OutcomeCounts(
        read=index.read,
        duplicates=index.duplicates,
        unmatched=len(index) - matched,
        before_prediction=joined.before_prediction,
        malformed=index.malformed,
    )
    return QualityReport(
        generated_at=now,
        environment=settings.environment,
        window=QualityWindow(start=window[0], end=window[1]),
        interval=INTERVAL,
        versions=versions,
        outcomes=counts,
    )


def holdout_metrics(s3: Any, settings: QualitySettings, version: str) -> dict[str, float]:
    """The holdout metrics in the archived bundle of `version`; none when it is not archived."""
    key = archived_bundle_key(settings.model_archive_prefix, version)
    with tempfile.TemporaryDirectory(prefix="quality-") as folder:
        path = Path(folder) / "bundle.zip"
        try:
            s3.download_file(settings.model_bucket, key, str(path))
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "403"):
                raise
            print(f"quality: no archived bundle s3://{settings.model_bucket}/{key}: no holdout to compare")
            return {}
        try:
            return dict(read_manifest(path).metrics)
        except BundleError as error:
            raise JobInputError(f"archived bundle s3://{settings.model_bucket}/{key}: {error}") from None


def write_report(
    s3: Any, settings: QualitySettings, *, report: QualityReport, now: datetime, run_id: str
) -> str:
    """`quality.json`, built whole before the first write, under every prefix; the run's URL."""
    body = report.model_dump_json(indent=1).encode()
    urls = []
    for prefix in publishing.report_prefixes(settings, now=now, run_id=run_id):
        s3.put_object(
            Bucket=_bucket(settings), Key=f"{prefix}{REPORT_FILE}", Body=body, ContentType="application/json"
        )
        urls.append(f"s3://{settings.log_bucket}/{prefix}{REPORT_FILE}")
    return urls[0]


def metrics_of(settings: QualitySettings, report: QualityReport) -> list[dict[str, Any]]:
    """Per version (dimensions Environment, ModelVersion): coverage, below-floor, and each metric
    with its bounds; an undefined value is left out rather than sent as a number it is not."""
    data = []
    for version in report.versions:
        dimensions = {"Environment": settings.environment, "ModelVersion": version.model_version}
        data.append(metric(COVERAGE_METRIC, version.coverage, dimensions=dimensions))
        if version.status != "insufficient":
            data.append(
                metric(BELOW_FLOOR_METRIC, float(version.status == "below_floor"), dimensions=dimensions)
            )
        for name, entry in version.metrics.items():
            for bound, value in (("value", entry.value), ("low", entry.low), ("high", entry.high)):
                if value is not None:
                    data.append(metric(cloudwatch_metric(name, bound=bound), value, dimensions=dimensions))  # type: ignore[arg-type]
    return data


def maybe_retrain(
    clients: JobClients,
    settings: QualitySettings,
    *,
    failing: list[VersionQuality],
    now: datetime,
    run_id: str,
) -> publishing.RetrainDecision | None:
    """Submit the retrain when configured, under the cooldown the drift monitor also holds."""
    reason = f"quality below floor in {settings.environment}: " + ", ".join(v.model_version for v in failing)
    return publishing.maybe_submit_retrain(
        clients, settings, enabled=settings.retrain_on_quality, trigger="quality", bucket=_bucket(settings),
        now=now, run_id=run_id, reason=reason,
    )  # fmt: skip


def summary(report: QualityReport, *, url: str, retrain: publishing.RetrainDecision | None) -> str:
    """What the run found, for the log and the alert: one line per version."""
    window = f"{report.window.start:%Y-%m-%d} to {report.window.end:%Y-%m-%d}"
    counts = report.outcomes
    lines = [
        f"quality of {report.environment}, predictions {window}: {len(report.versions)} version(s); "
        f"outcomes read {counts.read}, duplicates {counts.duplicates} (latest kept), "
        f"unmatched {counts.unmatched}, "
        f"observed before their prediction {counts.before_prediction}, malformed {counts.malformed}"
    ]
    if not any(version.status != "insufficient" for version in report.versions):
        lines.append(
            "not enough outcomes yet: no version has the minimum of joined outcomes with both classes"
        )
    for version in report.versions:
        auc = version.metrics["roc_auc"]
        shown = "n/a" if auc.value is None else f"{auc.value:.3f}"
        bounds = "" if auc.low is None or auc.high is None else f" [{auc.low:.3f}, {auc.high:.3f}]"
        holdout = "" if auc.holdout is None else f", holdout {auc.holdout:.3f}"
        lines.append(
            f"  {version.model_version}: {version.status}; "
            f"{version.with_outcome}/{version.predictions} with outcome "
            f"({version.coverage:.1%}); roc_auc {shown}{bounds}{holdout}"
            + (
                f"; below floor: {', '.join(below_floor(version.metrics))}"
                if version.status == "below_floor"
                else ""
            )
        )
    if retrain is not None:
        lines.append(
            f"retrain: {'submitted ' + str(retrain.job_id) if retrain.submitted else retrain.reason}"
        )
    lines.append(f"report: {url}")
    return "\n".join(lines)


def _listed(s3: Any, settings: QualitySettings, prefixes: Sequence[str]) -> list[Any]:
    try:
        return list_window_objects(s3, bucket=_bucket(settings), prefixes=prefixes)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucket":
            raise
        raise JobInputError(
            f"{settings.variable('log_bucket')}: bucket s3://{settings.log_bucket} does not exist "
            "(it holds the prediction logs and outcomes the quality job joins)"
        ) from None


def _bucket(settings: QualitySettings) -> str:
    if not settings.log_bucket:  # QualitySettings refuses to be built without one
        raise JobInputError(f"{settings.variable('log_bucket')} is required")
    return settings.log_bucket
