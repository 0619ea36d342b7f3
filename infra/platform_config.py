"""The settings of the stack-wide components at infra/'s root: network, storage, registry, alerts.

Beside `infra/network.py`, `infra/storage.py`, `infra/registry.py` and `infra/alerts.py`, which get
only their own section; `infra/config.py` reads the flat ``ml-deploy:*`` keys into them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from infra.section import Section, check_cidr, check_emails
from ml_deploy.layout import DEFAULT_LAYOUT, ObjectLayout

# S3 moves an object to Standard-IA only after it has been stored at least 30 days ("Constraints
# and considerations for transitions", https://docs.aws.amazon.com/AmazonS3/latest/userguide/
# lifecycle-transition-general-considerations.html); a shorter rule is refused.
STANDARD_IA_MIN_DAYS = 30


# AWS allows VPC blocks from /16 to /28 ("IP address ranges for your VPCs",
# https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html); `infra/network.py`
# carves a public and a private /20 per availability zone (four) from it, which needs /18 or more.
VPC_PREFIX_LENGTHS = range(16, 18 + 1)


def check_vpc_cidr(value: str) -> str:
    network = ipaddress.IPv4Network(check_cidr(value))
    if network.prefixlen not in VPC_PREFIX_LENGTHS:
        raise ValueError(
            f"must be a /16 to /18 block (AWS takes /16 to /28, and the stack carves four /20 "
            f"subnets from it), not /{network.prefixlen}"
        )
    return value


# EC2 resource ids: a prefix and 8 or (since 2016-2018) 17 lowercase hexadecimal characters
# ("Resource IDs", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html).
EC2_ID = r"{prefix}-(?:[0-9a-f]{{8}}|[0-9a-f]{{17}})"


def check_ec2_id(value: str, *, prefix: str) -> str:
    if not re.fullmatch(EC2_ID.format(prefix=re.escape(prefix)), value):
        raise ValueError(f"{value!r} is not a {prefix} id such as {prefix}-0123456789abcdef0")
    return value


class NetworkConfig(Section):
    """Either a VPC this stack creates, or an existing VPC and its subnets."""

    vpc_id: str | None = Field(
        None,
        json_schema_extra={"accepts": "a `vpc-` id (8 or 17 hex digits)"},
        description="Existing VPC id; the stack creates one if unset.",
    )
    public_subnet_ids: list[str] = Field(
        default_factory=list,
        json_schema_extra={"accepts": "`subnet-` ids, at least two with vpcId"},
        description="With vpcId: subnets for load balancers.",
    )
    private_subnet_ids: list[str] = Field(
        default_factory=list,
        json_schema_extra={"accepts": "`subnet-` ids, at least two with vpcId"},
        description="With vpcId: subnets for tasks and jobs.",
    )
    vpc_cidr: str = Field(
        "10.0.0.0/16",
        json_schema_extra={"accepts": "an IPv4 block written as its network address, /16 to /18"},
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
        STANDARD_IA_MIN_DAYS,
        description=("Days before prediction logs move to Standard-IA (at least 30: S3 refuses sooner)."),
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
    """The image repositories: how long an image no tag names is kept."""

    untagged_image_days: int = Field(
        1,
        ge=1,
        description=(
            "Days an untagged image is kept. Tagged images are never expired, because one may be running."
        ),
    )


class AlertsConfig(Section):
    """Who is told when something fails: the alerts topic's email subscriptions."""

    alert_emails: list[str] = Field(
        default_factory=list,
        json_schema_extra={"accepts": "email addresses"},
        description="On-call addresses subscribed to alerts.",
    )

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return check_emails(value)
