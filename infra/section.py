"""The base of every stack config section, and the value checks more than one section uses.

Each section lives beside its component (`infra/jobs/config.py`, `infra/serving/config.py`,
`infra/delivery/config.py`, `infra/platform_config.py`); `infra/config.py` reads the flat keys into
them. A check raises a ValueError saying what is expected; the loader prefixes it with the key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Section(BaseModel):
    """Base for config sections: camelCase keys as in Pulumi.<stack>.yaml, unknown keys rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    @classmethod
    def over_defaults(cls, defaults: Mapping[str, Any], given: object) -> object:
        """A stack's object, possibly partial, over the defaults of the key that holds it.

        `pulumi config set --path prod.minCount 3` stores only that field; the others must be
        prod's own defaults, not this class's generic ones (which would make maxCount 2 < 3).
        Anything but a mapping is left for pydantic to accept (a built section) or report.
        """
        if not isinstance(given, Mapping):
            return given
        return {**cls._by_alias(defaults), **cls._by_alias(given)}

    @classmethod
    def _by_alias(cls, values: Mapping[Any, Any]) -> dict[Any, Any]:
        """Keys as the stack writes them, so a field given by name and by alias is one field."""
        aliases = {name: field.alias or name for name, field in cls.model_fields.items()}
        return {aliases.get(key, key): value for key, value in values.items()}


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# The only retention periods CloudWatch Logs accepts (PutRetentionPolicy, retentionInDays).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# A tag as the OCI distribution spec defines it ("Pulling manifests",
# https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests), the
# grammar docker and the pipeline push with; ECR stores what they push.
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# The task sizes Fargate runs: vCPU -> the memory (MiB) it accepts with it. The same table is
# documented for ECS task definitions ("Troubleshoot Amazon ECS task definition invalid CPU or
# memory errors", https://docs.aws.amazon.com/AmazonECS/latest/userguide/task-cpu-memory-error.html)
# and for Batch jobs on Fargate (ResourceRequirement, type MEMORY,
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html).
FARGATE_MEMORY: dict[float, tuple[int, ...]] = {
    0.25: (512, 1024, 2048),
    0.5: tuple(range(1024, 4096 + 1, 1024)),
    1: tuple(range(2048, 8192 + 1, 1024)),
    2: tuple(range(4096, 16384 + 1, 1024)),
    4: tuple(range(8192, 30720 + 1, 1024)),
    8: tuple(range(16384, 61440 + 1, 4096)),
    16: tuple(range(32768, 122880 + 1, 8192)),
}
# ECS task definitions give CPU in units: 1024 units are one vCPU.
CPU_UNITS_PER_VCPU = 1024


def check_log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be a CloudWatch Logs retention period: one of {LOG_RETENTION_DAYS}")
    return value


def check_emails(values: list[str]) -> list[str]:
    for value in values:
        if not EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address")
    return values


def check_cidr(value: str) -> str:
    """An IPv4 block written as its network address; EC2 refuses one with host bits set."""
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError(f"must be an IPv4 CIDR block such as 10.0.0.0/16, not {value!r}") from None
    if "/" not in value:
        raise ValueError(f"must be an IPv4 CIDR block such as 10.0.0.0/16: {value} has no /prefix length")
    if str(network) != value:
        raise ValueError(
            f"must be an IPv4 CIDR block such as 10.0.0.0/16: {value} has host bits set; use {network}"
        )
    return value


# A region name (`eu-west-1`, `us-gov-west-1`); the ARNs below are in the `aws` partition, the
# only one the program names resources in (`infra/delivery/targets.py`).
REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"


def check_region(value: str) -> str:
    if not re.fullmatch(REGION, value):
        raise ValueError(f"must be an AWS region such as eu-west-1, not {value!r}")
    return value


def check_arn(value: str, *, kind: str, services: tuple[str, ...], resource: str) -> str:
    """`arn:aws:<service>:<region>:<account>:<resource>/<id>`, the shape of ACM certificates and
    CodeConnections connections ("Identify AWS resources with Amazon Resource Names",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html)."""
    service = "|".join(map(re.escape, services))
    if not re.fullmatch(rf"arn:aws:(?:{service}):{REGION}:\d{{12}}:{resource}/[A-Za-z0-9-]+", value):
        raise ValueError(
            f"must be {kind} ARN such as arn:aws:{services[0]}:eu-west-1:123456789012:{resource}/<id>"
        )
    return value


def arn_region(value: str) -> str:
    """The region of an ARN `check_arn` accepted."""
    return value.split(":")[3]


def check_image_tag(value: str) -> str:
    if not IMAGE_TAG.fullmatch(value):
        raise ValueError(
            "must be an image tag: letters, digits, '_', '.', '-', not starting with '.' or '-', at most 128"
        )
    if value == "latest":
        raise ValueError(
            "must not be 'latest': the repositories' tags are immutable, so 'latest' "
            "can never move to a new image; use the tag the pipeline pushed"
        )
    return value


def check_fargate_vcpu(value: float) -> float:
    if value not in FARGATE_MEMORY:
        raise ValueError("must be one of 0.25, 0.5, 1, 2, 4, 8, 16 (Fargate vCPU)")
    return value


def check_fargate_memory(vcpu: float, memory: int) -> None:
    """Batch accepts any pair at registration but Fargate refuses to place the job later."""
    accepted = FARGATE_MEMORY[vcpu]
    if memory not in accepted:
        raise ValueError(
            f"memory {memory} does not fit {vcpu:g} Fargate vCPU: use {fargate_memory_text(accepted)} MiB"
        )


def check_fargate_task(cpu: int, memory: int) -> None:
    """ECS refuses to register a Fargate task definition whose cpu/memory pair is not in the table."""
    vcpu = cpu / CPU_UNITS_PER_VCPU
    if vcpu not in FARGATE_MEMORY:
        units = ", ".join(str(int(v * CPU_UNITS_PER_VCPU)) for v in FARGATE_MEMORY)
        raise ValueError(f"cpu {cpu} is not a Fargate task size: use one of {units}")
    accepted = FARGATE_MEMORY[vcpu]
    if memory not in accepted:
        raise ValueError(
            f"memory {memory} does not fit cpu {cpu} on Fargate: use {fargate_memory_text(accepted)} MiB"
        )


def fargate_memory_text(values: tuple[int, ...]) -> str:
    """`512, 1024, 2048`, or `4096..16384 in steps of 1024` for a long even run."""
    if len(values) <= 4:
        return ", ".join(map(str, values))
    return f"{values[0]}..{values[-1]} in steps of {values[1] - values[0]}"
