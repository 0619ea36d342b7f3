"""The monitoring job: compare a window of prediction logs with the champion bundle's reference.

    python -m retrain_job.monitor [--window-hours 24] [--end 2026-11-23T10:00Z] ...  (--help)

Settings come from flags or environment variables (`ml_deploy.settings.MonitorSettings`). Exit
codes (`retrain_job.common`): 0 when the check ran (drift or not, and for an empty window), 1 when
AWS failed or submitting the retrain failed (after the alert went out), 2 when the input is
unusable (missing bundle, no reference, no log bucket, bad settings), printed without a traceback.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy.bundle import BundleError, Manifest, read_manifest
from ml_deploy.settings import MonitorSettings
from retrain_job.common import (
    EXIT_FAILED,
    EXIT_OK,
    JobClients,
    JobInputError,
    put_metrics,
    run_job,
    send_alert,
)
from retrain_job.monitor import concept, publishing, report
from retrain_job.monitor.log_parser import LogLayout, parse_block
from retrain_job.monitor.log_reader import list_window_objects, map_window, window_bounds, window_partitions
from retrain_job.monitor.text import fit_bytes
from retrain_job.monitor.verdict import Verdict, alert_summary, assess, metrics_of, summary, thresholds_of
from retrain_job.monitor.window import Binning, WindowCounts, count_block

EXIT_CHECKED = EXIT_OK


class MonitorInputError(JobInputError):
    """The monitor cannot compare: the champion bundle or its reference is missing or unreadable."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m retrain_job.monitor`; user errors are printed once, no traceback."""
    return run_job("monitor", lambda: run(MonitorSettings.from_args(argv)))


def run(settings: MonitorSettings, *, now: datetime | None = None) -> int:
    """The job, step by step."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    clients = JobClients(settings)
    manifest = load_manifest(clients.s3, settings)
    window = window_bounds(hours=settings.window_hours, end=settings.end, now=now)
    counts, sample = read_window(clients.s3, settings, manifest=manifest, window=window)
    verdict = assess(manifest, counts, sample=sample, settings=settings)
    report_url = write_report(clients.s3, settings, manifest=manifest, counts=counts, verdict=verdict,
                              window=window, now=now, run_id=run_id)  # fmt: skip
    metrics = metrics_of(verdict, counts, dimensions=_dimensions(settings, manifest))
    put_metrics(clients.cloudwatch, namespace=settings.metrics_namespace, metrics=metrics)
    retrain = None
    if verdict.status == "drift":
        retrain = maybe_retrain(clients, settings, verdict=verdict, now=now, run_id=run_id)
        send_alert(
            clients,
            settings,
            job="monitor",
            summary=alert_summary(verdict, environment=settings.environment),
            body=fit_bytes(summary(verdict, counts, report_url=report_url, retrain=retrain)),
        )
    print(summary(verdict, counts, report_url=report_url, retrain=retrain))
    return EXIT_FAILED if retrain and retrain.failed else EXIT_CHECKED


def load_manifest(s3: Any, settings: MonitorSettings) -> Manifest:
    """The champion bundle's verified manifest; the model itself is never loaded."""
    where = f"s3://{settings.model_bucket}/{settings.model_key}"
    with tempfile.TemporaryDirectory(prefix="monitor-") as folder:
        path = Path(folder) / "bundle.zip"
        try:
            response = s3.get_object(Bucket=settings.model_bucket, Key=settings.model_key)
            with path.open("wb") as handle:
                for piece in response["Body"].iter_chunks(1 << 20):
                    handle.write(piece)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            raise MonitorInputError(
                f"champion bundle {where} could not be read ({code}); "
                "the monitor compares against the reference in its manifest"
            ) from None
        try:
            return read_manifest(path)
        except BundleError as error:
            raise MonitorInputError(f"champion bundle {where}: {error}") from None


def read_window(
    s3: Any, settings: MonitorSettings, *, manifest: Manifest, window: tuple[datetime, datetime]
) -> tuple[WindowCounts, concept.Sample | None]:
    """Stream the rows stamped in [start, end) into counts (and a bounded sample when concept
    drift is on): the hour partitions overlapping the window are read, rows kept by timestamp."""
    start, end = window
    layout = LogLayout.from_features(
        manifest.features, model_version=settings.model_version, start=start, end=end
    )
    binning = Binning.from_manifest(manifest)
    names = manifest.feature_names
    size = settings.sample_rows
    partitions = window_partitions(settings.environment_log_prefix, start=start, end=end)
    try:
        objects = list_window_objects(s3, bucket=_log_bucket(settings), prefixes=partitions)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucket":
            raise
        raise MonitorInputError(
            f"{settings.variable('log_bucket')}: bucket s3://{settings.log_bucket} does not exist "
            "(it holds the prediction logs the monitor reads)"
        ) from None

    def summarise(block: bytes) -> tuple[WindowCounts, concept.Sample | None]:
        columns = parse_block(block, layout)
        if not settings.concept_drift:
            return count_block(columns, binning), None
        seed = zlib.crc32(block[:4096])
        part = concept.sample_block(columns, binning, names=names, size=size, seed=seed)
        return count_block(columns, binning), part

    total = binning.empty_counts()
    sample = concept.Sample.empty(len(names)) if settings.concept_drift else None
    corrupt = total.corrupt_objects
    for counts, part in map_window(
        s3,
        bucket=_log_bucket(settings),
        objects=objects,
        summarise=summarise,
        on_corrupt=lambda key, error: corrupt.append(f"{key}: {error}"),
        workers=settings.workers,
    ):
        total.merge(counts)
        if sample is not None and part is not None:
            sample.merge(part, size=size)
    return total, sample


def write_report(
    s3: Any,
    settings: MonitorSettings,
    *,
    manifest: Manifest,
    counts: WindowCounts,
    verdict: Verdict,
    window: tuple[datetime, datetime],
    now: datetime,
    run_id: str,
) -> str:
    """JSON and HTML reports under the run's dated folder and `latest/`; the run's HTML URL."""
    document = report.build_report(
        run=_run_facts(settings, manifest, run_id=run_id, window=window),
        counts=counts,
        thresholds=thresholds_of(settings),
        status=verdict.status,
        features=verdict.features,
        prediction=verdict.prediction,
        concept=verdict.concept,
    )
    urls = publishing.write_reports(
        s3,
        bucket=_log_bucket(settings),
        prefixes=publishing.report_prefixes(settings, now=now, run_id=run_id),
        report_json=json.dumps(document, indent=1),
        report_html=report.render_html(document),
    )
    return urls[1]


def maybe_retrain(
    clients: JobClients, settings: MonitorSettings, *, verdict: Verdict, now: datetime, run_id: str
) -> publishing.RetrainDecision | None:
    """Submit the retrain job when asked to and the cooldown allows; a failed submit is reported."""
    if not (settings.retrain_on_drift and settings.retrain_job_queue and settings.retrain_job_definition):
        return None
    reason = f"drift in {settings.environment}: " + ", ".join(f.name for f in verdict.drifted)
    try:
        return publishing.submit_retrain(
            clients.s3,
            clients.batch,
            bucket=_log_bucket(settings),
            cooldown_key=settings.cooldown_key,
            period=timedelta(hours=settings.retrain_cooldown_hours),
            now=now,
            run_id=run_id,
            job_queue=settings.retrain_job_queue,
            job_definition=settings.retrain_job_definition,
            reason=reason,
        )
    except ClientError as error:  # the drift alert must still go out; the job then exits 1
        return publishing.RetrainDecision(False, f"submitting the retrain job failed: {error}", failed=True)


def _log_bucket(settings: MonitorSettings) -> str:
    """The prediction-log bucket; MonitorSettings refuses to be built without one."""
    if not settings.log_bucket:
        raise MonitorInputError(f"{settings.variable('log_bucket')} is required")
    return settings.log_bucket


def _run_facts(
    settings: MonitorSettings, manifest: Manifest, *, run_id: str, window: tuple[datetime, datetime]
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "environment": settings.environment,
        "window_start": window[0].isoformat(),
        "window_end": window[1].isoformat(),
        "window_hours": settings.window_hours,
        "champion_bundle": f"s3://{settings.model_bucket}/{settings.model_key}",
        "champion_version": manifest.bundle_version,
        "model_version_filter": settings.model_version or "all",
    }


def _dimensions(settings: MonitorSettings, manifest: Manifest) -> dict[str, str]:
    return {
        "Environment": settings.environment,
        "ModelVersion": settings.model_version or manifest.bundle_version,
    }
