"""The monitoring job's check: judge a window of prediction logs, each model version on its own rows.

    python -m retrain_job.monitor [--window-hours 24] [--end 2026-11-23T10:00Z] ...  (--help)

The window is a merge (`hours`): summaries of its closed hours, made once, plus the rows of the
others; more closed hours to summarize than one job should read fan out on Batch (`fanout`).
The top of the report judges the champion (or WINDOW_MODEL_VERSION) on its rows alone; every
other version is judged against its own archived bundle in the report's `versions`.

Settings come from flags or environment variables (`ml_deploy.settings.MonitorSettings`). Exit
codes (`retrain_job.common`): 0 when the check ran (drift or not, and for an empty window), 1 when
AWS failed or submitting the retrain failed (after the alert went out), 2 when the input is
unusable (missing bundle, no reference, no log bucket, bad settings), printed without a traceback.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy.bundle import BundleError, Manifest, read_manifest
from ml_deploy.layout import archived_bundle_key
from ml_deploy.settings import MonitorSettings
from retrain_job.common import (
    EXIT_FAILED,
    EXIT_OK,
    JobClients,
    JobInputError,
    put_metrics,
    send_alert,
)
from retrain_job.monitor import concept, fanout, publishing, report
from retrain_job.monitor.hours import Hour, plan, sample_size, window_tally
from retrain_job.monitor.log_reader import window_bounds
from retrain_job.monitor.text import fit_bytes
from retrain_job.monitor.verdict import Verdict, alert_summary, assess, metrics_of, summary, thresholds_of
from retrain_job.monitor.versions import Catalog, Tally
from retrain_job.monitor.window import Binning, WindowCounts
from retrain_job.refresh_dashboard import refresh_dashboard

EXIT_CHECKED = EXIT_OK


class MonitorInputError(JobInputError):
    """The monitor cannot compare: the champion bundle or its reference is missing or unreadable."""


def run(settings: MonitorSettings, *, now: datetime | None = None) -> int:
    """The job, step by step."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    clients = JobClients(settings)
    catalog = load_catalog(clients.s3, settings)
    window = window_bounds(hours=settings.window_hours, end=settings.end, now=now)
    hours = plan_window(clients.s3, settings, window=window, now=now)
    stale = [hour for hour in hours if hour.summarizable and not _current(hour, catalog, settings)]
    if fanout.wanted(settings, stale):
        return submit_fan_out(clients, settings, stale=stale, run_id=run_id, then="check")
    tally = window_tally(clients.s3, settings, bucket=log_bucket_of(settings), hours=hours, catalog=catalog,
                         window=window)  # fmt: skip
    manifest = judged_manifest(settings, catalog)
    counts, sample = version_counts(tally, manifest)
    verdict = assess(manifest, counts, sample=sample if settings.concept_drift else None, settings=settings)
    others = other_versions(tally, catalog, settings=settings, judged=manifest.bundle_version)
    report_url = write_report(clients.s3, settings, manifest=manifest, counts=counts, verdict=verdict,
                              window=window, now=now, run_id=run_id, others=others)  # fmt: skip
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
    refresh_dashboard(clients, settings, job="monitor", now=now)
    return EXIT_FAILED if retrain and retrain.failed else EXIT_CHECKED


def load_catalog(s3: Any, settings: MonitorSettings) -> Catalog:
    """The champion's manifest, and the archive to fetch any other version's from."""
    champion = load_manifest(s3, bucket=settings.model_bucket, key=settings.model_key)

    def archived(version: str) -> Manifest | None:
        key = archived_bundle_key(settings.model_archive_prefix, version)
        try:
            return load_manifest(s3, bucket=settings.model_bucket, key=key)
        except MonitorInputError:
            return None  # its rows are counted, not scored

    return Catalog(champion, load=archived)


def load_manifest(s3: Any, *, bucket: str, key: str) -> Manifest:
    """A bundle's verified manifest; the model itself is never loaded."""
    where = f"s3://{bucket}/{key}"
    with tempfile.TemporaryDirectory(prefix="monitor-") as folder:
        path = Path(folder) / "bundle.zip"
        try:
            response = s3.get_object(Bucket=bucket, Key=key)
            with path.open("wb") as handle:
                for piece in response["Body"].iter_chunks(1 << 20):
                    handle.write(piece)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            raise MonitorInputError(
                f"bundle {where} could not be read ({code}); "
                "the monitor compares against the reference in its manifest"
            ) from None
        try:
            return read_manifest(path)
        except BundleError as error:
            raise MonitorInputError(f"bundle {where}: {error}") from None


def submit_fan_out(
    clients: JobClients, settings: MonitorSettings, *, stale: list[Hour], run_id: str, then: str
) -> int:
    done = fanout.fan_out(clients.s3, clients.batch, settings, bucket=log_bucket_of(settings), stale=stale,
                          run_id=run_id, then=then)  # fmt: skip
    print(f"monitor: {sum(len(h.objects) for h in stale)} log object(s) to summarize: array job "
          f"{done.array_job_id} ({done.shards} shard(s)), then job {done.merge_job_id} ({then}); "
          f"manifest {done.manifest_url}")  # fmt: skip
    return EXIT_CHECKED


def _current(hour: Hour, catalog: Catalog, settings: MonitorSettings) -> bool:
    stored = hour.summary
    return bool(
        stored and stored.current(catalog=catalog, objects=hour.listed, sample_rows=sample_size(settings))
    )


def plan_window(
    s3: Any, settings: MonitorSettings, *, window: tuple[datetime, datetime], now: datetime
) -> list[Hour]:
    """The window's hours as listed now, with their stored summaries."""
    bucket = log_bucket_of(settings)
    try:
        return plan(s3, settings, bucket=bucket, window=window, now=now)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucket":
            raise
        raise MonitorInputError(
            f"{settings.variable('log_bucket')}: bucket s3://{settings.log_bucket} does not exist "
            "(it holds the prediction logs the monitor reads)"
        ) from None


def judged_manifest(settings: MonitorSettings, catalog: Catalog) -> Manifest:
    """The version the run judges: WINDOW_MODEL_VERSION when set, else the champion's."""
    champion = next(m for m in catalog.manifests.values() if m is not None)
    version = settings.model_version or champion.bundle_version
    catalog.ensure([version])
    found = catalog.manifest(version)
    if found is None:
        raise MonitorInputError(
            f"{settings.variable('model_version')}={version}: no readable bundle of that version under "
            f"s3://{settings.model_bucket}/{settings.model_archive_prefix}"
        )
    return found


def version_counts(tally: Tally, manifest: Manifest) -> tuple[WindowCounts, concept.Sample]:
    """The judged version's counts, with the window's facts that belong to no version."""
    part = tally.versions.get(manifest.bundle_version)
    counts = part.counts if part else Binning.from_manifest(manifest).empty_counts()
    sample = part.sample if part else concept.Sample.empty(len(manifest.features))
    counts.malformed = tally.malformed
    counts.outside_window = tally.outside_window
    counts.corrupt_objects = tally.corrupt_objects
    counts.filtered = sum(
        rows for version, rows in tally.rows().items() if version != manifest.bundle_version
    )
    return counts, sample


def other_versions(
    tally: Tally, catalog: Catalog, *, settings: MonitorSettings, judged: str
) -> list[report.VersionReport]:
    """Every other version in the window, judged against its own bundle (or only counted)."""
    found = []
    for version, rows in sorted(tally.rows().items()):
        manifest = catalog.manifest(version)
        part = tally.versions.get(version)
        if version == judged:
            continue
        verdict = assess(manifest, part.counts, sample=None, settings=settings) if manifest and part else None
        found.append(report.VersionReport(version=version, rows=rows, verdict=verdict))
    return found


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
    others: list[report.VersionReport],
) -> str:
    """JSON and HTML reports under the run's dated folder and `latest/`; the run's HTML URL."""
    judged = report.VersionReport(version=manifest.bundle_version, rows=counts.rows, verdict=verdict)
    document = report.build_report(
        run=_run_facts(settings, manifest, run_id=run_id, window=window),
        versions=[judged, *others],
        counts=counts,
        thresholds=thresholds_of(settings),
        status=verdict.status,
        features=verdict.features,
        prediction=verdict.prediction,
        concept=verdict.concept,
    )
    urls = publishing.write_reports(
        s3,
        bucket=log_bucket_of(settings),
        prefixes=publishing.report_prefixes(settings, now=now, run_id=run_id),
        report_json=json.dumps(document, indent=1),
        report_html=report.render_html(document),
    )
    return urls[1]


def maybe_retrain(
    clients: JobClients, settings: MonitorSettings, *, verdict: Verdict, now: datetime, run_id: str
) -> publishing.RetrainDecision | None:
    """Submit the retrain job when asked to and the cooldown allows; a failed submit is reported."""
    reason = f"drift in {settings.environment}: " + ", ".join(f.name for f in verdict.drifted)
    return publishing.maybe_submit_retrain(
        clients, settings, enabled=settings.retrain_on_drift, trigger="drift", bucket=log_bucket_of(settings),
        now=now, run_id=run_id, reason=reason,
    )  # fmt: skip


def log_bucket_of(settings: MonitorSettings) -> str:
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
