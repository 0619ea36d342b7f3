"""The monitoring job: compare a window of prediction logs with the champion bundle's reference.

    python -m retrain_job.monitor [--window-hours 24] [--end 2026-11-23T10:00Z] ...  (--help)

Settings come from flags or environment variables (`retrain_job.monitor_config`). Exit status:
0 when the check ran (drift or not, and for an empty window), 2 when the input is unusable
(missing bundle, no reference, bad settings), printed without a traceback.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ml_deploy.bundle import BundleError, Manifest, read_manifest
from ml_deploy.payload_log import window_prefixes
from retrain_job import concept, drift, publish, report
from retrain_job.log_reader import LogLayout, list_window_keys, map_window, parse_block
from retrain_job.monitor_config import Config, MonitorError, parse_config
from retrain_job.window import Binning, WindowCounts, count_block


@dataclass
class Verdict:
    status: str  # drift | ok | not enough data | no data
    features: list[drift.FeatureDrift]
    prediction: drift.PredictionDrift | None
    concept: concept.ConceptDrift | None

    @property
    def drifted(self) -> list[drift.FeatureDrift]:
        return [feature for feature in self.features if feature.status == "drift"]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(argv, os.environ)
        return run(config)
    except MonitorError as error:
        print(f"monitor: {error}", file=sys.stderr)
        return 2


def run(config: Config, *, now: datetime | None = None) -> int:
    """The job, step by step."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    clients = _Clients(config.aws_region)
    manifest = load_manifest(clients.s3, config)
    counts, sample = read_window(clients.s3, config, manifest=manifest, end=config.end or now)
    verdict = assess(manifest, counts, sample=sample, config=config)
    report_url = write_report(clients.s3, config, manifest=manifest, counts=counts, verdict=verdict,
                              now=now, run_id=run_id)  # fmt: skip
    metrics = metrics_of(verdict, counts, dimensions=_dimensions(config, manifest))
    publish.put_metrics(clients.cloudwatch, namespace=config.metrics_namespace, metrics=metrics)
    retrain = None
    if verdict.status == "drift":
        retrain = maybe_retrain(clients, config, verdict=verdict, now=now, run_id=run_id)
        alert(clients, config, verdict=verdict, counts=counts, report_url=report_url, retrain=retrain)
    print(summary(verdict, counts, report_url=report_url, retrain=retrain))
    return 1 if retrain and retrain.failed else 0


def load_manifest(s3: Any, config: Config) -> Manifest:
    """The champion bundle's verified manifest; the model itself is never loaded."""
    from botocore.exceptions import ClientError

    where = f"s3://{config.model_bucket}/{config.model_key}"
    with tempfile.TemporaryDirectory(prefix="monitor-") as folder:
        path = Path(folder) / "bundle.zip"
        try:
            response = s3.get_object(Bucket=config.model_bucket, Key=config.model_key)
            with path.open("wb") as handle:
                for piece in response["Body"].iter_chunks(1 << 20):
                    handle.write(piece)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            raise MonitorError(
                f"champion bundle {where} could not be read ({code}); "
                "the monitor compares against the reference in its manifest"
            ) from None
        try:
            return read_manifest(path)
        except BundleError as error:
            raise MonitorError(f"champion bundle {where}: {error}") from None


def read_window(
    s3: Any, config: Config, *, manifest: Manifest, end: datetime
) -> tuple[WindowCounts, concept.Sample | None]:
    """Stream the window's logs into counts (and a bounded sample when concept drift is on)."""
    layout = LogLayout.from_features(manifest.features, model_version=config.model_version)
    binning = Binning.from_manifest(manifest)
    names = manifest.feature_names
    root = f"{config.log_prefix}{config.environment}/"
    keys = list_window_keys(
        s3, bucket=config.log_bucket, prefixes=window_prefixes(root, end=end, hours=config.window_hours)
    )

    def summarise(block: bytes) -> tuple[WindowCounts, concept.Sample | None]:
        columns = parse_block(block, layout)
        if not config.concept_drift:
            return count_block(columns, binning), None
        seed = zlib.crc32(block[:4096])
        part = concept.sample_block(columns, binning, names=names, size=config.sample_rows, seed=seed)
        return count_block(columns, binning), part

    total = binning.empty_counts()
    sample = concept.Sample.empty(len(names)) if config.concept_drift else None
    corrupt = total.corrupt_objects
    for counts, part in map_window(
        s3,
        bucket=config.log_bucket,
        keys=keys,
        summarise=summarise,
        on_corrupt=lambda key, error: corrupt.append(f"{key}: {error}"),
        workers=config.workers,
    ):
        total.merge(counts)
        if sample is not None and part is not None:
            sample.merge(part, size=config.sample_rows)
    return total, sample


def assess(
    manifest: Manifest, counts: WindowCounts, *, sample: concept.Sample | None, config: Config
) -> Verdict:
    """Statistics per feature and for predictions; the window's status decides what follows."""
    if counts.rows == 0:
        return Verdict("no data", [], None, None)
    features = drift.compare(manifest, counts, thresholds=config.thresholds)
    prediction = drift.compare_predictions(
        manifest.reference.prediction, counts, thresholds=config.thresholds
    )
    if counts.rows < config.thresholds.min_rows:
        return Verdict("not enough data", features, prediction, None)
    found = None
    if sample is not None and len(sample.rows) >= 100:
        found = concept.detect(manifest, sample, threshold=config.concept_auc_threshold)
    drifted = any(f.status == "drift" for f in features) or prediction.status == "drift"
    drifted = drifted or bool(found and found.drifted)
    return Verdict("drift" if drifted else "ok", features, prediction, found)


def write_report(
    s3: Any,
    config: Config,
    *,
    manifest: Manifest,
    counts: WindowCounts,
    verdict: Verdict,
    now: datetime,
    run_id: str,
) -> str:
    """JSON and HTML reports under the run's dated folder and `latest/`; the run's HTML URL."""
    document = report.build_report(
        run=_run_facts(config, manifest, run_id=run_id, end=config.end or now),
        counts=counts,
        thresholds=config.thresholds,
        status=verdict.status,
        features=verdict.features,
        prediction=verdict.prediction,
        concept=verdict.concept,
    )
    urls = publish.write_reports(
        s3,
        bucket=config.log_bucket,
        prefixes=[
            f"{config.reports_prefix}dt={now:%Y-%m-%d}/{run_id}/",
            f"{config.reports_prefix}latest/{config.environment}/",
        ],
        report_json=json.dumps(document, indent=1),
        report_html=report.render_html(document),
    )
    return urls[1]


def metrics_of(verdict: Verdict, counts: WindowCounts, *, dimensions: dict[str, str]) -> list[dict[str, Any]]:
    metrics = [
        publish.metric("RowsSeen", counts.rows, dimensions=dimensions, unit="Count"),
        publish.metric("MalformedRows", counts.malformed, dimensions=dimensions, unit="Count"),
    ]
    if verdict.status in ("no data", "not enough data"):
        return metrics  # statistics of a handful of rows would only page people
    metrics.append(
        publish.metric("DriftedFeatures", len(verdict.drifted), dimensions=dimensions, unit="Count")
    )
    if verdict.prediction:
        metrics.append(publish.metric("PredictionPSI", verdict.prediction.psi, dimensions=dimensions))
    if verdict.concept:
        metrics.append(publish.metric("ConceptAUC", verdict.concept.auc, dimensions=dimensions))
    for feature in verdict.features:
        per_feature = {**dimensions, "Feature": feature.name}
        metrics.append(publish.metric("PSI", feature.psi, dimensions=per_feature))
        if feature.ks is not None:
            metrics.append(publish.metric("KS", feature.ks, dimensions=per_feature))
    return metrics


def maybe_retrain(
    clients: _Clients, config: Config, *, verdict: Verdict, now: datetime, run_id: str
) -> publish.RetrainDecision | None:
    if not config.retrain_on_drift or not config.retrain_job_queue or not config.retrain_job_definition:
        return None
    from botocore.exceptions import ClientError

    reason = f"drift in {config.environment}: " + ", ".join(f.name for f in verdict.drifted)
    try:
        return publish.submit_retrain(
            clients.s3,
            clients.batch,
            bucket=config.log_bucket,
            cooldown_key=config.cooldown_key,
            period=timedelta(hours=config.retrain_cooldown_hours),
            now=now,
            run_id=run_id,
            job_queue=config.retrain_job_queue,
            job_definition=config.retrain_job_definition,
            reason=reason,
        )
    except ClientError as error:  # the drift alert must still go out; the job then exits 1
        return publish.RetrainDecision(False, f"submitting the retrain job failed: {error}", failed=True)


def alert(
    clients: _Clients,
    config: Config,
    *,
    verdict: Verdict,
    counts: WindowCounts,
    report_url: str,
    retrain: publish.RetrainDecision | None,
) -> None:
    if not config.alerts_topic_arn:
        return
    names = ", ".join(f.name for f in verdict.drifted) or "predictions"
    subject = f"ml-deploy drift in {config.environment}: {len(verdict.drifted)} feature(s): {names}"
    body = summary(verdict, counts, report_url=report_url, retrain=retrain)
    publish.publish_alert(clients.sns, topic_arn=config.alerts_topic_arn, subject=subject, body=body)


def summary(
    verdict: Verdict, counts: WindowCounts, *, report_url: str, retrain: publish.RetrainDecision | None
) -> str:
    """What happened, in words: the job's log line and the alert body."""
    lines = [f"Monitor result: {verdict.status}. Rows {counts.rows}, malformed {counts.malformed}."]
    if verdict.status == "no data":
        lines.append("No prediction logs in the window: nothing to compare (is the service logging?).")
    if counts.corrupt_objects:
        lines.append(
            f"{len(counts.corrupt_objects)} log object(s) were truncated or not gzip; see the report."
        )
    for feature in verdict.drifted:
        ks = f"KS {feature.ks:.3f}, " if feature.ks is not None else ""
        unseen = f", unseen values {feature.unseen}" if feature.unseen else ""
        lines.append(f"- {feature.name}: {ks}PSI {feature.psi:.3f}{unseen}")
    if verdict.prediction and verdict.status != "no data":
        p = verdict.prediction
        lines.append(
            f"Predictions: PSI {p.psi:.3f}, KS {p.ks:.3f}, positive rate "
            f"{p.positive_rate_reference:.3f} -> {p.positive_rate_current:.3f} ({p.status})."
        )
    if verdict.concept:
        c = verdict.concept
        lines.append(f"Reference-vs-production classifier AUC {c.auc:.3f} (threshold {c.threshold}).")
    if retrain:
        lines.append(
            f"Retrain: {'submitted job ' + str(retrain.job_id) if retrain.submitted else retrain.reason}."
        )
    lines.append(
        f"Report: {report_url} (report.json beside it; the newest is always under latest/<environment>/)."
    )
    return "\n".join(lines)


class _Clients:
    """boto3 clients, made when the job runs (never at import) so moto can wrap them in tests."""

    def __init__(self, region: str | None) -> None:
        import boto3

        if not (region or os.environ.get("AWS_DEFAULT_REGION")):
            raise MonitorError("no AWS region: set AWS_REGION (or --aws-region)")
        session = boto3.session.Session(region_name=region)
        self.s3 = session.client("s3")
        self.cloudwatch = session.client("cloudwatch")
        self.sns = session.client("sns")
        self.batch = session.client("batch")


def _run_facts(config: Config, manifest: Manifest, *, run_id: str, end: datetime) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "environment": config.environment,
        "window_end": end.isoformat(),
        "window_hours": config.window_hours,
        "champion_bundle": f"s3://{config.model_bucket}/{config.model_key}",
        "champion_version": manifest.bundle_version,
        "model_version_filter": config.model_version or "all",
    }


def _dimensions(config: Config, manifest: Manifest) -> dict[str, str]:
    return {
        "Environment": config.environment,
        "ModelVersion": config.model_version or manifest.bundle_version,
    }


if __name__ == "__main__":
    sys.exit(main())
