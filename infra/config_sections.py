"""What each stack setting means and accepts: one pydantic section per component.

`infra/config.py` reads the flat ``ml-deploy:*`` keys into these sections; a component gets
only its own section. Each field's alias is its key and its description is the README's.
The serving and jobs sections live in `infra/config_serving.py` and `infra/config_jobs.py`
and are re-exported here, so every component imports its section from this one place.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from infra.config_base import Section
from infra.config_checks import (
    STANDARD_IA_MIN_DAYS,
    check_arn,
    check_branch,
    check_ec2_id,
    check_emails,
    check_repository,
    check_vpc_cidr,
)
from infra.config_jobs import JobConfig, JobsConfig
from infra.config_serving import EnvironmentConfig, ServingConfig
from ml_deploy.layout import DEFAULT_LAYOUT, ObjectLayout

__all__ = [
    "AlertsConfig",
    "EnvironmentConfig",
    "JobConfig",
    "JobsConfig",
    "NetworkConfig",
    "PipelineConfig",
    "RegistryConfig",
    "Section",
    "ServingConfig",
    "StorageConfig",
]


class NetworkConfig(Section):
    """Either a VPC this stack creates, or an existing VPC and its subnets."""

    vpc_id: str | None = Field(None, description="Existing VPC id; the stack creates one if unset.")
    public_subnet_ids: list[str] = Field(
        default_factory=list, description="With vpcId: subnets for load balancers."
    )
    private_subnet_ids: list[str] = Field(
        default_factory=list, description="With vpcId: subnets for tasks and jobs."
    )
    vpc_cidr: str = Field(
        "10.0.0.0/16",
        description="CIDR of the VPC the stack creates: /16 to /18 (four /20 subnets are carved from it).",
    )
    single_nat_gateway: bool = Field(True, description="One NAT gateway for both AZs (cheaper, for dev).")
    interface_endpoints: bool = Field(
        False, description="Add ECR, CloudWatch Logs and STS interface endpoints."
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return check_vpc_cidr(value)

    @field_validator("vpc_id")
    @classmethod
    def _vpc_id(cls, value: str | None) -> str | None:
        return None if value is None else check_ec2_id(value, prefix="vpc")

    @field_validator("public_subnet_ids", "private_subnet_ids")
    @classmethod
    def _subnet_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            check_ec2_id(value, prefix="subnet")
        if len(set(values)) != len(values):
            raise ValueError("lists a subnet twice")
        return values

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
    log_transition_days: int = Field(
        STANDARD_IA_MIN_DAYS, description="Days before prediction logs move to Standard-IA (at least 30)."
    )
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

    @field_validator("log_transition_days")
    @classmethod
    def _standard_ia_minimum(cls, value: int) -> int:
        if value < STANDARD_IA_MIN_DAYS:
            raise ValueError(
                f"must be at least {STANDARD_IA_MIN_DAYS}: S3 moves an object to Standard-IA only "
                f"after {STANDARD_IA_MIN_DAYS} days and refuses a lifecycle rule that says sooner"
            )
        return value

    @model_validator(mode="after")
    def _log_tiers_in_order(self) -> StorageConfig:
        if self.log_expiration_days <= self.log_transition_days:
            raise ValueError("logExpirationDays must be greater than logTransitionDays")
        return self


class RegistryConfig(Section):
    untagged_image_days: int = Field(
        1,
        ge=1,
        description="Days an untagged image (one no tag names) is kept; tagged images are never expired.",
    )


class PipelineConfig(Section):
    """Where the code comes from and how the pipeline runs."""

    code_source: Literal["github", "codecommit"] = Field("github", description="Code source provider.")
    code_repository: str = Field(..., description="GitHub 'owner/name', or the CodeCommit repository name.")
    code_branch: str = Field(
        "main", description="Branch whose pushes start the pipeline (a name git accepts)."
    )
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

    @field_validator("code_branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        return check_branch(value)

    @field_validator("code_connection_arn")
    @classmethod
    def _connection_arn(cls, value: str | None) -> str | None:
        # Connections made before the service's rename keep their codestar-connections ARN.
        services = ("codeconnections", "codestar-connections")
        if value is None:
            return None
        return check_arn(value, kind="a CodeConnections", services=services, resource="connection")

    @model_validator(mode="after")
    def _repository_of_its_source(self) -> PipelineConfig:
        try:
            check_repository(self.code_repository, source=self.code_source)
        except ValueError as problem:
            raise ValueError(f"codeRepository {problem}") from None
        return self


class AlertsConfig(Section):
    alert_emails: list[str] = Field(
        default_factory=list, description="On-call addresses subscribed to alerts."
    )

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return check_emails(value)
