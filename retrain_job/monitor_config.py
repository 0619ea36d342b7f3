"""Settings of the monitoring job: every flag also settable by the environment variable in its help.

Read once in `retrain_job.monitor.main`; a missing or inconsistent setting is a MonitorError that
names the flag and the variable.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from retrain_job.concept import SAMPLE_ROWS
from retrain_job.drift import Thresholds

DESCRIPTION = """Compare a window of prediction logs with the champion bundle's reference statistics.

Every flag can also be set by the environment variable named in its help (the Batch job
definition sets them). Exit status: 0 when the check ran (drift or not, and for an empty
window), 2 when the input is unusable (missing bundle, no reference, bad settings).
"""


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
    thresholds: Thresholds
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


def parse_config(argv: Sequence[str] | None, env: Mapping[str, str]) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m retrain_job.monitor",
        description=DESCRIPTION,
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
    flag("--sample-rows", "SAMPLE_ROWS", str(SAMPLE_ROWS), _positive_int, "production rows it samples")
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
        thresholds=Thresholds(
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
