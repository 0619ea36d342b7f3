"""The runtime contract: every setting of the service and the jobs, its variable and its default, once.

Each runtime parses its environment with its model here (`ServiceSettings.from_env`,
`RetrainSettings.from_args`, ...); the Pulumi program builds each task and job environment with
`environment(Model, field=value, ...)`, which names fields, not variables. So a variable renamed
here is renamed for infra, runtime and demo at once, and a field infra sets that the runtime does
not have fails the program, not production. Light on purpose: pydantic only (no boto3, no
scikit-learn, no FastAPI), so infra and every image can import it.
"""

from __future__ import annotations

from copy import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from ml_deploy.env_settings import EnvSettings, SettingsError, environment
from ml_deploy.layout import (
    BUNDLE_FILE,
    DEFAULT_LAYOUT,
    METRICS_NAMESPACE,
    archived_bundle_key,
    environment_logs,
    folder,
)

__all__ = [
    "EnvSettings",
    "JobSettings",
    "MonitorSettings",
    "PredictionLogSettings",
    "QualitySettings",
    "RetrainSettings",
    "RuntimeSettings",
    "ServiceSettings",
    "SettingsError",
    "SmokeHookSettings",
    "environment",
]


class RuntimeSettings(EnvSettings):
    """What every runtime (service, retrain, monitor) is told: where it runs, which code it is."""

    aws_region: str | None = Field(None, alias="AWS_REGION", description="AWS region of the stack.")
    code_version: str = Field("unknown", alias="CODE_VERSION", description="Commit that built this image.")


class EnvironmentSettings(EnvSettings):
    """Which serving environment a runtime works for."""

    environment: str = Field(
        "prod", min_length=1, alias="ENVIRONMENT", description="Service environment (stage or prod)."
    )


class ModelBucketSettings(EnvSettings):
    """Where the model bundles are."""

    model_bucket: str = Field(alias="MODEL_BUCKET", description="Bucket holding the model bundles.")


class PredictionLogSettings(EnvironmentSettings):
    """Where an environment's prediction logs are: written by the service, read by the monitor."""

    log_bucket: str | None = Field(None, alias="LOG_BUCKET", description="Bucket of prediction logs.")
    log_prefix: str = Field(
        DEFAULT_LAYOUT.prediction_log_prefix,
        alias="LOG_PREFIX",
        description="Prefix of prediction logs; each environment writes under <prefix><environment>/.",
    )

    @field_validator("log_prefix")
    @classmethod
    def _log_folder(cls, value: str) -> str:
        return folder(value)

    @property
    def environment_log_prefix(self) -> str:
        """``predictions/prod/``: the folder this environment's logs are under."""
        return environment_logs(self.log_prefix, self.environment)


class ServiceSettings(RuntimeSettings, PredictionLogSettings):
    """Every knob of the model server, set by the ECS task definition."""

    PROG: ClassVar[str] = "python -m service"

    model_bundle_path: Path = Field(
        Path(f"/opt/model/{BUNDLE_FILE}"), alias="MODEL_BUNDLE_PATH", description="The bundle to serve."
    )
    host: str = Field("0.0.0.0", alias="HOST", description="Address to listen on.")
    port: int = Field(8080, ge=1, le=65535, alias="PORT", description="Port to listen on.")
    web_concurrency: int = Field(1, ge=1, le=64, alias="WEB_CONCURRENCY", description="Server processes.")
    max_batch_size: int = Field(
        1000, ge=1, le=100_000, alias="MAX_BATCH_SIZE", description="Most records in one request."
    )
    # A full batch of MAX_BATCH_SIZE records is ~300 KB; bigger bodies are refused (413) unread.
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=64 * 1_048_576, alias="MAX_BODY_BYTES", description="Largest request body."
    )
    # A refused body (413, malformed framing) is read and dropped after the answer, so the client reads
    # the answer instead of a reset (a 502 behind the load balancer); bounded like nginx's lingering_time
    # and lingering_timeout (https://nginx.org/en/docs/http/ngx_http_core_module.html#lingering_close).
    linger_max_bytes: int = Field(
        256 * 1_048_576, ge=0, alias="LINGER_MAX_BYTES", description="Most bytes dropped after a refusal."
    )
    linger_seconds: float = Field(
        30.0, ge=0, le=300, alias="LINGER_SECONDS", description="Longest drain after a refusal (0: off)."
    )
    linger_idle_seconds: float = Field(
        5.0, gt=0, le=60, alias="LINGER_IDLE_SECONDS", description="Longest wait for more bytes to drop."
    )
    # How long a request may wait for concurrent ones to share its model call (only when requests
    # have recently arrived together; a lone request never waits). 0 turns the wait off.
    max_batch_wait_ms: float = Field(
        2.0, ge=0, le=50, alias="MAX_BATCH_WAIT_MS", description="Wait to coalesce concurrent requests."
    )
    unknown_category: Literal["reject", "missing"] = Field(
        "reject", alias="UNKNOWN_CATEGORY", description="An unseen category: 422, or treat as missing."
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info", alias="LOG_LEVEL", description="Server log level."
    )
    log_batch_size: int = Field(1000, ge=1, alias="LOG_BATCH_SIZE", description="Records per log object.")
    log_flush_seconds: float = Field(
        10.0, gt=0, alias="LOG_FLUSH_SECONDS", description="Longest a record waits in the buffer."
    )
    log_buffer_max_records: int = Field(
        100_000, ge=1, alias="LOG_BUFFER_MAX_RECORDS", description="Buffered records before shedding."
    )
    log_retry_base_seconds: float = Field(
        0.5, gt=0, alias="LOG_RETRY_BASE_SECONDS", description="First retry delay of a failed write."
    )
    log_retry_max_seconds: float = Field(
        30.0, gt=0, alias="LOG_RETRY_MAX_SECONDS", description="Longest retry delay."
    )
    # ECS kills a stopping task after its stopTimeout (30 s by default); the final flush must fit.
    log_shutdown_timeout_seconds: float = Field(
        20.0, ge=0, alias="LOG_SHUTDOWN_TIMEOUT_SECONDS", description="Final flush budget at stop."
    )

    @property
    def payload_logging(self) -> bool:
        return bool(self.log_bucket)


class JobSettings(RuntimeSettings, ModelBucketSettings):
    """What both Batch jobs are told: the champion bundle, where to report, how much data is enough."""

    model_key: str = Field(
        DEFAULT_LAYOUT.model_key, alias="MODEL_KEY", description="Key of the champion bundle."
    )
    alerts_topic_arn: str | None = Field(
        None, alias="ALERTS_TOPIC_ARN", description="SNS topic for alerts (optional)."
    )
    metrics_namespace: str = Field(
        METRICS_NAMESPACE, alias="METRICS_NAMESPACE", description="CloudWatch namespace."
    )
    min_rows: int = Field(
        1000,
        ge=10,
        alias="MIN_ROWS",
        description="Fewest rows a job accepts (training rows to retrain, window rows to judge drift).",
    )
    # Retrain archives every accepted bundle here; the monitor judges each version by its own.
    model_archive_prefix: str = Field(
        DEFAULT_LAYOUT.model_archive_prefix, alias="MODEL_ARCHIVE_PREFIX", description="Archive prefix."
    )


class RetrainSettings(JobSettings):
    """Everything one retrain run needs: data, gate, where a promoted bundle goes."""

    PROG: ClassVar[str] = "python -m retrain_job.retrain"
    DESCRIPTION: ClassVar[str] = "Train a challenger, gate it against the champion, promote it if it passes."

    training_data_uri: str = Field(
        alias="TRAINING_DATA_URI", min_length=1, description="s3://bucket/prefix/ or a local path."
    )
    decisions_prefix: str = Field(
        DEFAULT_LAYOUT.decisions_prefix, alias="DECISIONS_PREFIX", description="Decision records."
    )
    gate_tolerance: float = Field(
        0.01, ge=0, le=1, alias="GATE_TOLERANCE", description="Allowed drop against the champion."
    )
    gate_floor: float = Field(
        0.70, ge=0, le=1, alias="GATE_FLOOR", description="Absolute minimum of the primary metric."
    )
    max_label_imbalance: float = Field(
        0.95, ge=0.5, le=1, alias="MAX_LABEL_IMBALANCE", description="Largest majority-class share."
    )
    target: str = Field(
        "churned", alias="TARGET_COLUMN", description="Target column when there is no champion."
    )
    holdout_fraction: float = Field(
        0.2, ge=0.01, le=0.9, alias="HOLDOUT_FRACTION", description="Share of rows held out."
    )
    seed: int = Field(0, alias="SEED", description="Random seed for split and training.")

    @field_validator("model_archive_prefix", "decisions_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not value.endswith("/"):
            raise ValueError("expected a prefix ending in '/'")
        return value

    def archived_bundle_key(self, bundle_version: str) -> str:
        """Where a promoted bundle of `bundle_version` is kept."""
        return archived_bundle_key(self.model_archive_prefix, bundle_version)


def _same_as(model: type[EnvSettings], field: str) -> Any:
    """Another runtime's field (its variable, default, bounds and help) for a model that shares
    it, so each variable is spelt once."""
    return copy(model.model_fields[field])


class MonitorSettings(JobSettings, PredictionLogSettings):
    """The drift check of one environment's window of prediction logs, and what it may do about it."""

    PROG: ClassVar[str] = "python -m retrain_job.monitor"
    DESCRIPTION: ClassVar[str] = (
        "Compare a window of prediction logs with the champion bundle's reference statistics.\n\n"
        "Every flag can also be set by the environment variable named in its help (the Batch job\n"
        "definition sets them). Exit status: 0 when the check ran (drift or not, and for an empty\n"
        "window), 2 when the input is unusable (missing bundle, no reference, bad settings)."
    )

    reports_prefix: str = Field(
        DEFAULT_LAYOUT.reports_prefix, alias="REPORTS_PREFIX", description="Reports (log bucket)."
    )
    cooldown_key: str = Field(
        DEFAULT_LAYOUT.cooldown_key, alias="COOLDOWN_KEY", description="Cooldown object (log bucket)."
    )
    window_hours: int = Field(24, gt=0, alias="WINDOW_HOURS", description="Hours of logs to read.")
    end: datetime | None = Field(
        None, alias="WINDOW_END", description="End of the window, ISO 8601 UTC; default now."
    )
    model_version: str | None = Field(
        None, alias="WINDOW_MODEL_VERSION", description="Only rows of this model version ('all': every one)."
    )
    psi_threshold: float = Field(
        0.25, gt=0, alias="PSI_THRESHOLD", description="PSI at or above which a feature drifted."
    )
    psi_moderate: float = Field(
        0.1, gt=0, alias="PSI_MODERATE", description="PSI at or above which a shift is moderate."
    )
    ks_threshold: float = Field(
        0.1, gt=0, le=1, alias="KS_THRESHOLD", description="KS statistic at or above which a feature drifted."
    )
    category_threshold: float = Field(
        0.1,
        gt=0,
        le=1,
        alias="CATEGORY_THRESHOLD",
        description="Total variation distance of category shares at or above which a feature drifted.",
    )
    missing_threshold: float = Field(
        0.1,
        gt=0,
        le=1,
        alias="MISSING_THRESHOLD",
        description="Change of a feature's missing rate (absolute) at or above which it drifted.",
    )
    unseen_threshold: float = Field(
        0.01,
        gt=0,
        le=1,
        alias="UNSEEN_THRESHOLD",
        description="Share of a feature's values one unseen category must reach to alert by name.",
    )
    retrain_on_drift: bool = Field(
        False, alias="RETRAIN_ON_DRIFT", description="Submit the retrain job on drift."
    )
    retrain_cooldown_hours: int = Field(
        24, gt=0, alias="RETRAIN_COOLDOWN_HOURS", description="At most one drift retrain per this many hours."
    )
    retrain_job_queue: str | None = Field(
        None, alias="RETRAIN_JOB_QUEUE", description="Batch queue of the retrain job."
    )
    retrain_job_definition: str | None = Field(
        None, alias="RETRAIN_JOB_DEFINITION", description="Batch job definition of retrain."
    )
    concept_drift: bool = Field(
        False, alias="CONCEPT_DRIFT", description="Run the reference-vs-production classifier."
    )
    concept_auc_threshold: float = Field(
        0.7, gt=0.5, le=1, alias="CONCEPT_AUC_THRESHOLD", description="ROC AUC above which that flags drift."
    )
    sample_rows: int = Field(
        20_000, gt=0, alias="SAMPLE_ROWS", description="Production rows the classifier samples."
    )
    workers: int = Field(2, gt=0, alias="MONITOR_WORKERS", description="Parser threads.")
    summaries_prefix: str = Field(
        DEFAULT_LAYOUT.summaries_prefix,
        alias="SUMMARIES_PREFIX",
        description="Per-hour summaries of closed log partitions (log bucket).",
    )
    summary_grace_minutes: int = Field(
        30,
        ge=0,
        alias="SUMMARY_GRACE_MINUTES",
        description="Minutes after an hour ends before it is summarized (late writes land first).",
    )
    shard_objects: int = Field(
        20_000, gt=0, alias="SHARD_OBJECTS", description="Most log objects one job summarizes."
    )
    max_array_size: int = Field(
        100, ge=2, le=10_000, alias="MAX_ARRAY_SIZE", description="Most children of one Batch array job."
    )
    fanout_job_queue: str | None = Field(
        None, alias="MONITOR_JOB_QUEUE", description="Batch queue of the monitor's own fan-out jobs."
    )
    fanout_job_definition: str | None = Field(
        None, alias="MONITOR_JOB_DEFINITION", description="The monitor's own job definition (fan-out)."
    )
    # What the model-tracking dashboard (regenerated after each run) reads besides the reports.
    decisions_prefix: str = _same_as(RetrainSettings, "decisions_prefix")
    pipeline_name: str | None = Field(
        None, alias="PIPELINE_NAME", description="Delivery pipeline whose deploys the dashboard shows."
    )

    @field_validator("end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)

    @field_validator("model_version")
    @classmethod
    def _all_versions(cls, value: str | None) -> str | None:
        return None if value in (None, "", "all") else value

    @field_validator("reports_prefix", "summaries_prefix", "decisions_prefix")
    @classmethod
    def _reports_folder(cls, value: str) -> str:
        return folder(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.log_bucket:
            raise ValueError(f"{self.variable('log_bucket')} is required: the bucket of prediction logs")
        if self.retrain_on_drift and not (self.retrain_job_queue and self.retrain_job_definition):
            raise ValueError(
                f"{self.variable('retrain_on_drift')}=true needs {self.variable('retrain_job_queue')} "
                f"and {self.variable('retrain_job_definition')}"
            )
        if not self.psi_moderate <= self.psi_threshold:
            raise ValueError(
                f"need {self.variable('psi_moderate')} ({self.psi_moderate}) <= "
                f"{self.variable('psi_threshold')} ({self.psi_threshold})"
            )
        return self


class SmokeHookSettings(EnvironmentSettings, ModelBucketSettings):
    """The deployment smoke test: replay a bundle's golden records against a new revision.

    Set on the ECS lifecycle-hook Lambda by infra. The Lambda runtime has boto3 but no pydantic,
    so the handler reads these variables itself; a test holds its names to this model's aliases.
    """

    test_url: str = Field(
        min_length=1, alias="TEST_URL", description="Base URL of the test listener (new revision only)."
    )
    bundle_key_template: str = Field(
        DEFAULT_LAYOUT.archived_bundle_key("{version}"),
        alias="BUNDLE_KEY_TEMPLATE",
        description="Archived bundle key, with {version} for the model version the revision reports.",
    )
    result_bucket: str | None = Field(
        None, alias="RESULT_BUCKET", description="Bucket the verdict is written to (optional)."
    )
    result_key_template: str = Field(
        DEFAULT_LAYOUT.smoke_test_key("{environment}", "{version}"),
        alias="RESULT_KEY_TEMPLATE",
        description="Verdict key, with {environment} and {version}.",
    )
    probability_tolerance: float = Field(
        1e-6, gt=0, alias="PROBABILITY_TOLERANCE", description="Largest allowed |served - recorded|."
    )
    max_p99_ms: float = Field(
        250.0, gt=0, alias="MAX_P99_MS", description="Slowest allowed p99 latency of the replay."
    )
    request_timeout_seconds: float = Field(
        5.0, gt=0, alias="REQUEST_TIMEOUT_SECONDS", description="Timeout of one replayed request."
    )


class QualitySettings(JobSettings, PredictionLogSettings):
    """The quality check of one environment: matured predictions joined with their real outcomes."""

    PROG: ClassVar[str] = "python -m retrain_job.quality"
    DESCRIPTION: ClassVar[str] = (
        "Join outcomes to the predictions they name, over a maturity window, and score each model\n"
        "version against its bundle's holdout metrics.\n\n"
        "Every flag can also be set by the environment variable named in its help. Exit status: 0\n"
        "when the check ran (also below the minimum of outcomes), 1 a failure worth retrying, 2\n"
        "unusable input (missing bundle, bad settings)."
    )

    outcomes_prefix: str = Field(
        DEFAULT_LAYOUT.outcomes_prefix, alias="OUTCOMES_PREFIX", description="Outcomes (log bucket)."
    )
    reports_prefix: str = _same_as(MonitorSettings, "reports_prefix")
    model_archive_prefix: str = _same_as(RetrainSettings, "model_archive_prefix")
    cooldown_key: str = _same_as(MonitorSettings, "cooldown_key")
    maturity_min_days: int = Field(
        30, ge=0, alias="MATURITY_MIN_DAYS", description="Youngest prediction judged, in days."
    )
    maturity_max_days: int = Field(
        60, gt=0, alias="MATURITY_MAX_DAYS", description="Oldest prediction judged, in days."
    )
    end: datetime | None = Field(
        None, alias="QUALITY_NOW", description="The run's 'now', ISO 8601 UTC (a replay); default now."
    )
    min_outcomes: int = Field(
        200, ge=10, alias="MIN_OUTCOMES", description="Fewest joined outcomes a version is scored with."
    )
    auc_floor: float = Field(
        0.65, ge=0, le=1, alias="AUC_FLOOR", description="Alert when ROC AUC's interval low bound is below."
    )
    precision_floor: float | None = Field(
        None, ge=0, le=1, alias="PRECISION_FLOOR", description="Same for precision (optional)."
    )
    recall_floor: float | None = Field(
        None, ge=0, le=1, alias="RECALL_FLOOR", description="Same for recall (optional)."
    )
    bootstrap_samples: int = Field(
        200, ge=50, le=10_000, alias="BOOTSTRAP_SAMPLES", description="Resamples of the 95 percent intervals."
    )
    bootstrap_seed: int = Field(0, alias="BOOTSTRAP_SEED", description="Seed of the bootstrap.")
    retrain_on_quality: bool = Field(
        False, alias="RETRAIN_ON_QUALITY", description="Submit the retrain job below a floor."
    )
    retrain_cooldown_hours: int = _same_as(MonitorSettings, "retrain_cooldown_hours")
    retrain_job_queue: str | None = _same_as(MonitorSettings, "retrain_job_queue")
    retrain_job_definition: str | None = _same_as(MonitorSettings, "retrain_job_definition")
    workers: int = Field(2, gt=0, alias="QUALITY_WORKERS", description="Parser threads.")
    decisions_prefix: str = _same_as(MonitorSettings, "decisions_prefix")
    pipeline_name: str | None = _same_as(MonitorSettings, "pipeline_name")

    @field_validator("end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)

    @field_validator("outcomes_prefix", "reports_prefix", "model_archive_prefix", "decisions_prefix")
    @classmethod
    def _folders(cls, value: str) -> str:
        return folder(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.log_bucket:
            raise ValueError(f"{self.variable('log_bucket')} is required: the bucket of logs and outcomes")
        if not self.maturity_min_days < self.maturity_max_days:
            raise ValueError(
                f"need {self.variable('maturity_min_days')} ({self.maturity_min_days}) < "
                f"{self.variable('maturity_max_days')} ({self.maturity_max_days})"
            )
        if self.retrain_on_quality and not (self.retrain_job_queue and self.retrain_job_definition):
            raise ValueError(
                f"{self.variable('retrain_on_quality')}=true needs {self.variable('retrain_job_queue')} "
                f"and {self.variable('retrain_job_definition')}"
            )
        return self

    def floors(self) -> dict[str, float]:
        """The configured floor of each metric that has one."""
        floors = {"roc_auc": self.auc_floor, "precision": self.precision_floor, "recall": self.recall_floor}
        return {name: value for name, value in floors.items() if value is not None}
