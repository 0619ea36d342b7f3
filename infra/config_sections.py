"""What each stack setting means and accepts: one pydantic section per component.

`infra/config.py` reads the flat ``ml-deploy:*`` keys into these sections; a component gets
only its own section. Each field's alias is its key and its description is the README's.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from infra.config_checks import (
    check_cidr,
    check_emails,
    check_fargate_memory,
    check_fargate_vcpu,
    check_image_tag,
    check_log_retention,
    check_schedule,
    check_timezone,
)
from ml_deploy.layout import DEFAULT_LAYOUT, ObjectLayout
from ml_deploy.settings import MonitorSettings, RetrainSettings


class Section(BaseModel):
    """Base for config sections: camelCase keys as in Pulumi.<stack>.yaml, unknown keys rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class NetworkConfig(Section):
    """Either a VPC this stack creates, or an existing VPC and its subnets."""

    vpc_id: str | None = Field(None, description="Existing VPC id; the stack creates one if unset.")
    public_subnet_ids: list[str] = Field(
        default_factory=list, description="With vpcId: subnets for load balancers."
    )
    private_subnet_ids: list[str] = Field(
        default_factory=list, description="With vpcId: subnets for tasks and jobs."
    )
    vpc_cidr: str = Field("10.0.0.0/16", description="CIDR of the VPC the stack creates.")
    single_nat_gateway: bool = Field(True, description="One NAT gateway for both AZs (cheaper, for dev).")
    interface_endpoints: bool = Field(
        False, description="Add ECR, CloudWatch Logs and STS interface endpoints."
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return check_cidr(value)

    @model_validator(mode="after")
    def _existing_vpc_needs_subnets(self) -> NetworkConfig:
        if self.vpc_id and (len(self.public_subnet_ids) < 2 or len(self.private_subnet_ids) < 2):
            raise ValueError(
                "vpcId is set, so publicSubnetIds and privateSubnetIds must each list "
                "at least two subnets in different availability zones"
            )
        if not self.vpc_id and (self.public_subnet_ids or self.private_subnet_ids):
            raise ValueError("vpcId must be set when publicSubnetIds/privateSubnetIds are given")
        return self


# The StorageConfig keys that are the runtime's object layout (the rest is bucket settings).
_LAYOUT_KEYS = (
    "model_key",
    "model_archive_prefix",
    "decisions_prefix",
    "training_data_prefix",
    "prediction_log_prefix",
    "reports_prefix",
)


def _layout_doc(key: str) -> str | None:
    return ObjectLayout.model_fields[key].description


class StorageConfig(Section):
    """Buckets, their encryption, retention and the object keys other parts agree on."""

    bucket_encryption: Literal["kms", "sse-s3"] = Field(
        "kms", description="Bucket encryption: the stack's KMS key or SSE-S3."
    )
    force_destroy: bool = Field(
        False, description="Let `pulumi destroy` delete non-empty buckets (dev only)."
    )
    # The object layout the service and the jobs share (`ml_deploy.layout`): its defaults, its checks.
    model_key: str = Field(DEFAULT_LAYOUT.model_key, description=_layout_doc("model_key"))
    model_archive_prefix: str = Field(
        DEFAULT_LAYOUT.model_archive_prefix, description=_layout_doc("model_archive_prefix")
    )
    decisions_prefix: str = Field(
        DEFAULT_LAYOUT.decisions_prefix, description=_layout_doc("decisions_prefix")
    )
    training_data_prefix: str = Field(
        DEFAULT_LAYOUT.training_data_prefix, description=_layout_doc("training_data_prefix")
    )
    prediction_log_prefix: str = Field(
        DEFAULT_LAYOUT.prediction_log_prefix, description=_layout_doc("prediction_log_prefix")
    )
    reports_prefix: str = Field(DEFAULT_LAYOUT.reports_prefix, description=_layout_doc("reports_prefix"))
    noncurrent_version_days: int = Field(
        90, ge=1, description="Days a replaced model bundle version is kept."
    )
    artifact_expiration_days: int = Field(30, ge=1, description="Days pipeline artifacts are kept.")
    log_transition_days: int = Field(30, ge=1, description="Days before prediction logs move to Standard-IA.")
    log_expiration_days: int = Field(365, ge=1, description="Days prediction logs are kept.")

    @field_validator(*_LAYOUT_KEYS)
    @classmethod
    def _layout_key(cls, value: str, info: ValidationInfo) -> str:
        """The runtime's own check of this key (`ObjectLayout`), so both reject the same values."""
        try:
            ObjectLayout.model_validate({info.field_name: value})
        except ValidationError as error:
            raise ValueError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return value

    @property
    def layout(self) -> ObjectLayout:
        """Where the stack keeps things in its buckets, as the service and the jobs read it."""
        return ObjectLayout(**{key: getattr(self, key) for key in _LAYOUT_KEYS})

    @model_validator(mode="after")
    def _log_tiers_in_order(self) -> StorageConfig:
        if self.log_expiration_days <= self.log_transition_days:
            raise ValueError("logExpirationDays must be greater than logTransitionDays")
        return self


class RegistryConfig(Section):
    image_retain_count: int = Field(30, ge=1, le=1000, description="Images kept per repository.")


class EnvironmentConfig(Section):
    """Sizing of one serving environment (stage or prod)."""

    cpu: Literal[256, 512, 1024, 2048, 4096] = Field(512, description="Fargate task CPU units.")
    memory: int = Field(1024, ge=512, le=30720, description="Fargate task memory (MiB).")
    min_count: int = Field(1, ge=1, description="Fewest running tasks (autoscaling floor).")
    max_count: int = Field(2, ge=1, description="Most running tasks (autoscaling ceiling).")
    requests_per_target: int = Field(500, ge=1, description="Target ALB requests per task per minute.")
    cpu_target_percent: int = Field(60, ge=10, le=95, description="Target average CPU for autoscaling.")
    workers: int = Field(
        1, ge=1, le=16, description="Server processes per task (one batches best; scale with tasks)."
    )

    @model_validator(mode="after")
    def _counts_in_order(self) -> EnvironmentConfig:
        if self.max_count < self.min_count:
            raise ValueError("maxCount must be at least minCount")
        return self


class ServingConfig(Section):
    container_port: int = Field(8080, ge=1024, le=65535, description="Port the service listens on.")
    initial_image_tag: str = Field(
        "bootstrap", description="Image tag of the first task definition, before any pipeline run."
    )
    certificate_arn: str | None = Field(
        None, description="ACM certificate: HTTPS listener and HTTP->HTTPS redirect."
    )
    service_log_retention_days: int = Field(30, description="CloudWatch Logs retention of service logs.")
    startup_grace_seconds: int = Field(
        60,
        ge=10,
        le=300,
        description="Seconds a new task may spend loading its model before health checks count.",
    )
    error_rate_alarm_percent: float = Field(
        5.0,
        gt=0,
        le=100,
        description="Alarm when more than this % of an environment's requests answer 5xx.",
    )
    latency_alarm_seconds: float = Field(
        1.0, gt=0, le=60, description="Alarm when an environment's p99 response time exceeds this."
    )
    stage: EnvironmentConfig = Field(
        default_factory=lambda: EnvironmentConfig(min_count=1, max_count=2),
        description="Stage sizing: cpu, memory, minCount, maxCount, requestsPerTarget, cpuTargetPercent, workers.",  # noqa: E501
    )
    prod: EnvironmentConfig = Field(
        default_factory=lambda: EnvironmentConfig(min_count=2, max_count=6),
        description="Prod sizing, same keys as stage; minCount >= 2 keeps a task in each AZ.",
    )

    @field_validator("service_log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return check_log_retention(value)

    @field_validator("certificate_arn")
    @classmethod
    def _acm_arn(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("arn:aws:acm:"):
            raise ValueError("must be an ACM certificate ARN (arn:aws:acm:...)")
        return value


class JobConfig(Section):
    """Size and limits of one Batch job."""

    vcpu: float = Field(1.0, description="Fargate vCPU (0.25, 0.5, 1, 2, 4, 8 or 16).")
    memory: int = Field(2048, ge=512, description="Memory (MiB).")
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


class JobsConfig(Section):
    """The scheduled retrain and monitor jobs on AWS Batch."""

    retrain_schedule: str = Field("cron(0 3 ? * MON *)", description="When retrain runs.")
    monitor_schedule: str = Field("rate(1 day)", description="When monitor runs.")
    schedule_timezone: str = Field("UTC", description="IANA time zone of the schedules.")
    use_fargate_spot: bool = Field(False, description="Run jobs on Fargate Spot.")
    max_vcpus: int = Field(16, ge=1, description="Compute environment vCPU ceiling.")
    retrain_job: JobConfig = Field(
        default_factory=lambda: JobConfig(vcpu=2, memory=8192, timeout_minutes=120),
        description="Retrain job size: vcpu, memory, timeoutMinutes, attempts (infrastructure retries).",
    )
    monitor_job: JobConfig = Field(
        default_factory=lambda: JobConfig(vcpu=1, memory=4096, timeout_minutes=60),
        description="Monitor job size, same keys as retrainJob.",
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
    retrain_on_drift: bool = Field(True, description="Monitor submits the retrain job when drift is found.")
    retrain_cooldown_hours: int = Field(
        MonitorSettings.default("retrain_cooldown_hours"),
        ge=1,
        description="At most one drift-triggered retrain per period.",
    )
    job_log_retention_days: int = Field(30, description="CloudWatch Logs retention of job logs.")
    jobs_image_tag: str = Field(
        "bootstrap",
        description="Jobs image tag of the job definitions `pulumi up` registers; the pipeline "
        "registers later revisions with the tags it pushes.",
    )

    @field_validator("job_log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return check_log_retention(value)

    @field_validator("retrain_schedule", "monitor_schedule")
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


class PipelineConfig(Section):
    """Where the code comes from and how the pipeline runs."""

    code_source: Literal["github", "codecommit"] = Field("github", description="Code source provider.")
    code_repository: str = Field(..., description="GitHub 'owner/name', or the CodeCommit repository name.")
    code_branch: str = Field("main", description="Branch whose pushes start the pipeline.")
    code_connection_arn: str | None = Field(
        None,
        description="Existing CodeConnections connection; one is created (pending handshake) if unset.",
    )
    pipeline_execution_mode: Literal["QUEUED", "SUPERSEDED"] = Field(
        "QUEUED", description="CodePipeline V2 execution mode."
    )
    build_timeout_minutes: int = Field(60, ge=5, le=480, description="CodeBuild timeout.")
    approval_emails: list[str] = Field(
        default_factory=list, description="Who is asked to approve prod deploys."
    )

    @field_validator("approval_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return check_emails(value)

    @model_validator(mode="after")
    def _github_repository_shape(self) -> PipelineConfig:
        if self.code_source == "github" and not re.fullmatch(r"[\w.-]+/[\w.-]+", self.code_repository):
            raise ValueError("codeRepository must be 'owner/name' when codeSource is github")
        return self


class AlertsConfig(Section):
    alert_emails: list[str] = Field(
        default_factory=list, description="On-call addresses subscribed to alerts."
    )

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return check_emails(value)
