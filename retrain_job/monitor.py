"""The monitoring job: compare a window of prediction logs with the champion bundle's reference.

    python -m retrain_job.monitor [--window-hours 24] [--end 2026-11-23T10:00Z] ...

Every flag can also be set by the environment variable named in its help (the Batch job
definition sets them). Exit status: 0 when the check ran (drift or not, and for an empty
window), 2 when the input is unusable (missing bundle, no reference, bad settings).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ml_deploy.bundle import BundleError, Manifest, verify_bundle
from ml_deploy.payload_log import window_prefixes
from retrain_job import concept, drift, publish, report
from retrain_job.log_reader import LogLayout, list_window_keys, map_window, parse_block
from retrain_job.window import Binning, WindowCounts, count_block


class MonitorError(Exception):
    """A problem with the monitor's input or settings; printed without a traceback, exit 2."""


@dataclass(frozen=True)
class Config:
    model_bucket: str
    model_key: str
    log_bucket: str
    log_prefix: str
    environment: str
    reports_prefix: str
    window_hours: int
    end: datetime | None
    model_version: str | None
    thresholds: drift.Thresholds
    alerts_topic_arn: str | None
    metrics_namespace: str
    retrain_on_drift: bool
    retrain_cooldown_hours: int
    retrain_job_queue: str | None
    retrain_job_definition: str | None
    cooldown_key: str
    concept_drift: bool
    concept_auc_threshold: float
    sample_rows: int
    workers: int
    aws_region: str | None


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
    run_facts = _run_facts(config, manifest, run_id=run_id, end=config.end or now)
    document = report.build_report(
        run=run_facts,
        counts=counts,
        thresholds=config.thresholds,
        status=verdict.status,
        features=verdict.features,
        prediction=verdict.prediction,
        concept=verdict.concept,
    )
    urls = publish.write_reports(
        clients.s3,
        bucket=config.log_bucket,
        prefixes=[f"{config.reports_prefix}dt={now:%Y-%m-%d}/{run_id}/", f"{config.reports_prefix}latest/"],
        report_json=json.dumps(document, indent=1),
        report_html=report.render_html(document),
    )
    publish.put_metrics(
        clients.cloudwatch,
        namespace=config.metrics_namespace,
        metrics=metrics_of(verdict, counts, dimensions=_dimensions(config, manifest)),
    )
    retrain = None
    if verdict.status == "drift":
        retrain = maybe_retrain(clients, config, verdict=verdict, now=now, run_id=run_id)
        alert(clients, config, verdict=verdict, counts=counts, report_url=urls[1], retrain=retrain)
    print(summary(verdict, counts, report_url=urls[1], retrain=retrain))
    return 0


def parse_config(argv: Sequence[str] | None, env: Mapping[str, str]) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m retrain_job.monitor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def flag(name: str, variable: str, default: str | None, kind: Any = str, helptext: str = "") -> None:
        parser.add_argument(
            name,
            default=env.get(variable, default),
            type=kind,
            help=f"{helptext} (env {variable}, default {default})",
        )

    flag("--model-bucket", "MODEL_BUCKET", None, helptext="bucket of the champion bundle")
    flag(
        "--model-key",
        "MODEL_KEY",
        None,
        helptext="key of the champion bundle, whose manifest holds the reference",
    )
    flag("--log-bucket", "LOG_BUCKET", None, helptext="bucket of prediction logs, reports and the cooldown")
    flag("--log-prefix", "LOG_PREFIX", "predictions/", helptext="prefix of prediction logs")
    flag("--environment", "ENVIRONMENT", "prod", helptext="service environment whose logs are read")
    flag("--reports-prefix", "REPORTS_PREFIX", "reports/", helptext="prefix of reports in the log bucket")
    flag("--window-hours", "WINDOW_HOURS", "24", _positive_int, "hours of logs to read")
    flag("--end", "WINDOW_END", None, _timestamp, "end of the window, ISO 8601 UTC; default now")
    flag(
        "--model-version",
        "MODEL_VERSION",
        None,
        helptext="only rows of this model version ('all': every one)",
    )
    flag("--psi-threshold", "PSI_THRESHOLD", "0.25", float, "PSI at or above which a feature drifted")
    flag("--psi-moderate", "PSI_MODERATE", "0.1", float, "PSI at or above which a shift is moderate")
    flag("--ks-threshold", "KS_THRESHOLD", "0.1", float, "KS statistic at or above which a feature drifted")
    flag("--min-rows", "MIN_ROWS", "1000", _positive_int, "fewer rows than this: not enough data")
    flag("--alerts-topic-arn", "ALERTS_TOPIC_ARN", None, helptext="SNS topic for drift alerts")
    flag("--metrics-namespace", "METRICS_NAMESPACE", "MlDeploy", helptext="CloudWatch namespace")
    flag("--retrain-on-drift", "RETRAIN_ON_DRIFT", "false", _boolean, "submit the retrain job on drift")
    flag("--retrain-cooldown-hours", "RETRAIN_COOLDOWN_HOURS", "24", _positive_int, "at most one retrain per")
    flag("--retrain-job-queue", "RETRAIN_JOB_QUEUE", None, helptext="Batch queue of the retrain job")
    flag(
        "--retrain-job-definition", "RETRAIN_JOB_DEFINITION", None, helptext="Batch job definition of retrain"
    )
    flag(
        "--cooldown-key",
        "COOLDOWN_KEY",
        "monitor/cooldown.json",
        helptext="cooldown object in the log bucket",
    )
    flag("--concept-drift", "CONCEPT_DRIFT", "false", _boolean, "run the reference-vs-production classifier")
    flag(
        "--concept-auc-threshold",
        "CONCEPT_AUC_THRESHOLD",
        "0.7",
        float,
        "ROC AUC above which that flags drift",
    )
    flag(
        "--sample-rows", "SAMPLE_ROWS", str(concept.SAMPLE_ROWS), _positive_int, "production rows it samples"
    )
    flag("--workers", "MONITOR_WORKERS", "2", _positive_int, "parser threads")
    flag("--aws-region", "AWS_REGION", None, helptext="AWS region")
    args = parser.parse_args(argv)
    return _validated(args)


def _validated(args: argparse.Namespace) -> Config:
    required = {
        "--model-bucket/MODEL_BUCKET": args.model_bucket,
        "--model-key/MODEL_KEY": args.model_key,
        "--log-bucket/LOG_BUCKET": args.log_bucket,
    }
    missing = [name for name, value in required.items() if not value]
    if missing:
        raise MonitorError(f"missing required setting(s): {', '.join(missing)}")
    if args.retrain_on_drift and not (args.retrain_job_queue and args.retrain_job_definition):
        raise MonitorError("RETRAIN_ON_DRIFT=true needs RETRAIN_JOB_QUEUE and RETRAIN_JOB_DEFINITION")
    if not 0 < args.psi_moderate <= args.psi_threshold:
        raise MonitorError(
            f"need 0 < PSI_MODERATE ({args.psi_moderate}) <= PSI_THRESHOLD ({args.psi_threshold})"
        )
    version = args.model_version if args.model_version not in (None, "", "all") else None
    return Config(
        model_bucket=args.model_bucket,
        model_key=args.model_key,
        log_bucket=args.log_bucket,
        log_prefix=_folder(args.log_prefix),
        environment=args.environment,
        reports_prefix=_folder(args.reports_prefix),
        window_hours=args.window_hours,
        end=args.end,
        model_version=version,
        thresholds=drift.Thresholds(
            psi_drift=args.psi_threshold,
            psi_moderate=args.psi_moderate,
            ks=args.ks_threshold,
            min_rows=args.min_rows,
        ),
        alerts_topic_arn=args.alerts_topic_arn or None,
        metrics_namespace=args.metrics_namespace,
        retrain_on_drift=args.retrain_on_drift,
        retrain_cooldown_hours=args.retrain_cooldown_hours,
        retrain_job_queue=args.retrain_job_queue,
        retrain_job_definition=args.retrain_job_definition,
        cooldown_key=args.cooldown_key,
        concept_drift=args.concept_drift,
        concept_auc_threshold=args.concept_auc_threshold,
        sample_rows=args.sample_rows,
        workers=args.workers,
        aws_region=args.aws_region,
    )


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
            return verify_bundle(path)
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
    reason = f"drift in {config.environment}: " + ", ".join(f.name for f in verdict.drifted)
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
    lines.append(f"Report: {report_url} (report.json beside it; the newest is always under latest/).")
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


def _folder(prefix: str) -> str:
    return prefix if not prefix or prefix.endswith("/") else f"{prefix}/"


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time like 2026-11-23T10:00Z, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


if __name__ == "__main__":
    sys.exit(main())
