"""What the jobs settings mean and accept: the retrain, monitor and quality jobs on AWS Batch.

Read into `JobsConfig` by `infra/config.py`; `infra/jobs/` gets this section only.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic.config import JsonDict

from infra.jobs.schedule_expression import check_schedule
from infra.section import (
    Section,
    check_fargate_memory,
    check_fargate_vcpu,
    check_image_tag,
    check_log_retention,
)
from ml_deploy.settings import MonitorSettings, QualitySettings, RetrainSettings


def check_timezone(value: str) -> str:
    """A zone of the IANA database; not one of the files beside it that ZoneInfo also opens
    (`localtime`, `posix/...`, `right/...`), which Scheduler does not know."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as UTC or Europe/Berlin") from None
    if value not in available_timezones() or value == "localtime":
        raise ValueError(f"must be an IANA time zone such as UTC or Europe/Berlin, not the file {value!r}")
    return value


class JobConfig(Section):
    """Size and limits of one Batch job."""

    vcpu: float = Field(
        1.0,
        json_schema_extra={"accepts": "0.25, 0.5, 1, 2, 4, 8 or 16"},
        description="Fargate vCPU (0.25, 0.5, 1, 2, 4, 8 or 16).",
    )
    memory: int = Field(
        2048,
        ge=512,
        json_schema_extra={"accepts": "a size Fargate pairs with the CPU"},
        description="Memory (MiB).",
    )
    timeout_minutes: int = Field(60, ge=1, le=1440, description="Job timeout.")
    attempts: int = Field(3, ge=1, le=10, description="Attempts on infrastructure failures.")

    @field_validator("vcpu")
    @classmethod
    def _fargate_vcpu(cls, value: float) -> float:
        return check_fargate_vcpu(value)

    @model_validator(mode="after")
    def _fargate_memory(self) -> JobConfig:
        check_fargate_memory(self.vcpu, self.memory)
        return self


# Each job's own size over JobConfig's defaults, written once: a job left unset gets it, and a
# partial one (only `retrainJob.timeoutMinutes`) keeps the rest (Section.over_defaults).
JOB_DEFAULTS: dict[str, dict[str, Any]] = {
    "retrain_job": {"vcpu": 2, "memory": 8192, "timeout_minutes": 120},
    "monitor_job": {"vcpu": 1, "memory": 4096, "timeout_minutes": 60},
    "quality_job": {"vcpu": 1, "memory": 4096, "timeout_minutes": 60},
}
SCHEDULE_ACCEPTS: JsonDict = {
    "accepts": "EventBridge Scheduler `rate(...)`, `cron(...)` (six fields) or `at(...)`"
}


class JobsConfig(Section):
    """The scheduled retrain, monitor and quality jobs on AWS Batch."""

    retrain_schedule: str = Field(
        "cron(0 3 ? * MON *)",
        json_schema_extra=SCHEDULE_ACCEPTS,
        description="When retrain runs: an EventBridge Scheduler rate/cron/at expression.",
    )
    monitor_schedule: str = Field(
        "rate(1 day)",
        json_schema_extra=SCHEDULE_ACCEPTS,
        description="When monitor runs: an EventBridge Scheduler rate/cron/at expression.",
    )
    quality_schedule: str = Field(
        "rate(1 day)",
        json_schema_extra=SCHEDULE_ACCEPTS,
        description=(
            "When the quality job runs (real outcomes joined with matured predictions): an "
            "EventBridge Scheduler rate/cron/at expression."
        ),
    )
    schedule_timezone: str = Field(
        "UTC",
        json_schema_extra={"accepts": "an IANA time zone"},
        description="IANA time zone of the schedules.",
    )
    use_fargate_spot: bool = Field(False, description="Run jobs on Fargate Spot.")
    max_vcpus: int = Field(16, ge=1, description="Compute environment vCPU ceiling.")
    retrain_job: JobConfig = Field(
        default_factory=lambda: JobConfig.model_validate(JOB_DEFAULTS["retrain_job"]),
        description=(
            "Retrain job size: vcpu, memory, timeoutMinutes, attempts (infrastructure retries); keys "
            "left out keep the retrain job's defaults (2 vCPU, 8192 MiB, 120 minutes)."
        ),
    )
    monitor_job: JobConfig = Field(
        default_factory=lambda: JobConfig.model_validate(JOB_DEFAULTS["monitor_job"]),
        description=(
            "Monitor job size, same keys as retrainJob; keys left out keep the monitor's defaults "
            "(1 vCPU, 4096 MiB, 60 minutes)."
        ),
    )
    quality_job: JobConfig = Field(
        default_factory=lambda: JobConfig.model_validate(JOB_DEFAULTS["quality_job"]),
        description=(
            "Quality job size, same keys as retrainJob; keys left out keep the quality job's defaults "
            "(1 vCPU, 4096 MiB, 60 minutes)."
        ),
    )
    # Defaults of the runtime's own settings (`ml_deploy.settings`): each written once, there.
    gate_tolerance: float = Field(
        RetrainSettings.default("gate_tolerance"),
        ge=0,
        le=1,
        description="How much worse than the champion a challenger may be.",
    )
    gate_floor: float = Field(
        RetrainSettings.default("gate_floor"),
        ge=0,
        le=1,
        description="Absolute minimum of the primary metric.",
    )
    drift_window_hours: int = Field(
        MonitorSettings.default("window_hours"),
        ge=1,
        le=24 * 31,
        description="Window of prediction logs the monitor reads.",
    )
    psi_threshold: float = Field(
        MonitorSettings.default("psi_threshold"),
        gt=0,
        description="PSI at which a feature counts as drifted.",
    )
    ks_threshold: float = Field(
        MonitorSettings.default("ks_threshold"),
        gt=0,
        le=1,
        description="KS statistic at which a feature counts as drifted.",
    )
    category_threshold: float = Field(
        MonitorSettings.default("category_threshold"),
        gt=0,
        le=1,
        description="Distance of a categorical feature's shares (total variation) at which it drifted.",
    )
    missing_threshold: float = Field(
        MonitorSettings.default("missing_threshold"),
        gt=0,
        le=1,
        description="Change of a feature's missing rate at which it counts as drifted.",
    )
    unseen_threshold: float = Field(
        MonitorSettings.default("unseen_threshold"),
        gt=0,
        le=1,
        description="Share of a feature's values one unseen category may reach before it counts as drifted.",
    )
    summary_grace_minutes: int = Field(
        MonitorSettings.default("summary_grace_minutes"),
        ge=0,
        le=24 * 60,
        description=(
            "Minutes after an hour ends before the monitor summarizes it once (late log writes land "
            "first); a later object in a summarized hour is caught and the hour resummarized."
        ),
    )
    monitor_shard_objects: int = Field(
        MonitorSettings.default("shard_objects"),
        ge=1,
        description=(
            "Most log objects one monitor job summarizes; more closed hours than that fan out as a "
            "Batch array job of shards this size, then one job merges."
        ),
    )
    # AWS Batch's limit on an array job's size: 2 to 10,000 children
    # (https://docs.aws.amazon.com/batch/latest/APIReference/API_ArrayProperties.html).
    monitor_max_array_size: int = Field(
        MonitorSettings.default("max_array_size"),
        ge=2,
        le=10_000,
        json_schema_extra={"accepts": "2 to 10000 (AWS Batch's array job size)"},
        description=(
            "Most children of the monitor's fan-out array job (AWS Batch allows 2 to 10,000); a "
            "backlog beyond monitorShardObjects x this is taken in turns, the merge job fanning out "
            "again for the rest."
        ),
    )
    retrain_on_drift: bool = Field(True, description="Monitor submits the retrain job when drift is found.")
    retrain_cooldown_hours: int = Field(
        MonitorSettings.default("retrain_cooldown_hours"),
        ge=1,
        description="At most one drift-triggered retrain per period.",
    )
    maturity_min_days: int = Field(
        QualitySettings.default("maturity_min_days"),
        ge=0,
        description="Quality: the youngest prediction judged, in days (its outcome has had time to arrive).",
    )
    maturity_max_days: int = Field(
        QualitySettings.default("maturity_max_days"),
        ge=1,
        json_schema_extra={
            "accepts": "a whole number of days above maturityMinDays, below logExpirationDays"
        },
        description="Quality: the oldest prediction judged, in days.",
    )
    min_outcomes: int = Field(
        QualitySettings.default("min_outcomes"),
        ge=10,
        description="Quality: fewest joined outcomes a model version is scored with.",
    )
    auc_floor: float = Field(
        QualitySettings.default("auc_floor"),
        ge=0,
        le=1,
        description="Quality: alert when the low bound of live ROC AUC's 95% interval falls below this.",
    )
    precision_floor: float | None = Field(
        QualitySettings.default("precision_floor"),
        ge=0,
        le=1,
        description="Quality: the same floor for precision at the bundle's decision threshold (optional).",
    )
    recall_floor: float | None = Field(
        QualitySettings.default("recall_floor"),
        ge=0,
        le=1,
        description="Quality: the same floor for recall at the bundle's decision threshold (optional).",
    )
    bootstrap_samples: int = Field(
        QualitySettings.default("bootstrap_samples"),
        ge=50,
        le=10_000,
        description="Quality: bootstrap resamples behind each metric's 95% interval.",
    )
    retrain_on_quality: bool = Field(
        True,
        description=(
            "The quality job submits the retrain job when a floor is crossed (under the drift "
            "monitor's cooldown, retrainCooldownHours)."
        ),
    )
    job_log_retention_days: int = Field(
        30,
        json_schema_extra={
            "accepts": "a CloudWatch Logs retention period (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)"
        },
        description="CloudWatch Logs retention of job logs.",
    )
    jobs_image_tag: str = Field(
        "bootstrap",
        json_schema_extra={"accepts": "an OCI image tag, never `latest`"},
        description=(
            "Seeds the SSM parameter `jobs-image-tag` when the stack is created; from then on the job "
            "definitions run the tag that parameter holds, which the pipeline's PromoteJobs stage "
            "overwrites. Changing this key later has no effect; to pin an image by hand use `aws ssm "
            "put-parameter --name <parameter> --type String --value <tag> --overwrite`, then `pulumi "
            "up`."
        ),
    )

    @field_validator("retrain_job", "monitor_job", "quality_job", mode="before")
    @classmethod
    def _over_job_defaults(cls, value: object, info: ValidationInfo) -> object:
        return JobConfig.over_defaults(JOB_DEFAULTS[str(info.field_name)], value)

    @field_validator("job_log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return check_log_retention(value)

    @field_validator("retrain_schedule", "monitor_schedule", "quality_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return check_schedule(value)

    @field_validator("jobs_image_tag")
    @classmethod
    def _image_tag(cls, value: str) -> str:
        return check_image_tag(value)

    @field_validator("schedule_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _jobs_fit_the_compute_environment(self) -> JobsConfig:
        """Batch leaves a job larger than its compute environment RUNNABLE forever, without an error."""
        largest = max(self.retrain_job.vcpu, self.monitor_job.vcpu, self.quality_job.vcpu)
        if self.max_vcpus < largest:
            raise ValueError(f"maxVcpus must be at least {largest:g}, the vCPUs of the largest job")
        return self

    @model_validator(mode="after")
    def _maturity_window_is_a_window(self) -> JobsConfig:
        """Predictions between maturityMaxDays and maturityMinDays old: an empty window judges nothing."""
        if not self.maturity_min_days < self.maturity_max_days:
            raise ValueError(
                f"maturityMinDays ({self.maturity_min_days}) must be less than maturityMaxDays "
                f"({self.maturity_max_days})"
            )
        return self
