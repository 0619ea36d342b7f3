"""What a stack setting's value must look like, checked once at load (`infra/config_sections.py`).

Each check raises a ValueError whose message says what is expected; the config loader prefixes
it with the key.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SCHEDULE = re.compile(r"^(cron\(.+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")
CIDR = re.compile(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The only retention periods CloudWatch Logs accepts.
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
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
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
# S3 moves an object to Standard-IA only after it has been stored at least 30 days ("Constraints
# and considerations for transitions", https://docs.aws.amazon.com/AmazonS3/latest/userguide/
# lifecycle-transition-general-considerations.html); a shorter rule is refused.
STANDARD_IA_MIN_DAYS = 30


def check_schedule(value: str) -> str:
    if not SCHEDULE.match(value):
        raise ValueError("must be a cron(...) or rate(...) expression, e.g. 'rate(1 day)'")
    return value


def check_log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be a CloudWatch Logs retention period: one of {LOG_RETENTION_DAYS}")
    return value


def check_emails(values: list[str]) -> list[str]:
    for value in values:
        if not EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
    return values


def check_cidr(value: str) -> str:
    if not CIDR.match(value):
        raise ValueError("must be an IPv4 CIDR block such as 10.0.0.0/16")
    return value


def check_image_tag(value: str) -> str:
    if not IMAGE_TAG.match(value):
        raise ValueError("must be an image tag: letters, digits, '_', '.', '-', at most 128")
    if value == "latest":
        raise ValueError(
            "must not be 'latest': the jobs repository's tags are immutable, so 'latest' "
            "can never move to a new image; use the tag the pipeline pushed"
        )
    return value


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as UTC or Europe/Berlin") from None
    return value


def check_fargate_vcpu(value: float) -> float:
    if value not in FARGATE_MEMORY:
        raise ValueError("must be one of 0.25, 0.5, 1, 2, 4, 8, 16 (Fargate vCPU)")
    return value


def check_fargate_memory(vcpu: float, memory: int) -> None:
    """Batch accepts any pair at registration but Fargate refuses to place the job later."""
    accepted = FARGATE_MEMORY[vcpu]
    if memory not in accepted:
        raise ValueError(f"memory {memory} does not fit {vcpu:g} Fargate vCPU: use {_ranges(accepted)} MiB")


def check_fargate_task(cpu: int, memory: int) -> None:
    """ECS refuses to register a Fargate task definition whose cpu/memory pair is not in the table."""
    vcpu = cpu / CPU_UNITS_PER_VCPU
    if vcpu not in FARGATE_MEMORY:
        units = ", ".join(str(int(v * CPU_UNITS_PER_VCPU)) for v in FARGATE_MEMORY)
        raise ValueError(f"cpu {cpu} is not a Fargate task size: use one of {units}")
    accepted = FARGATE_MEMORY[vcpu]
    if memory not in accepted:
        raise ValueError(f"memory {memory} does not fit cpu {cpu} on Fargate: use {_ranges(accepted)} MiB")


def _ranges(values: tuple[int, ...]) -> str:
    """`512, 1024, 2048`, or `4096..16384 in steps of 1024` for a long even run."""
    if len(values) <= 4:
        return ", ".join(map(str, values))
    return f"{values[0]}..{values[-1]} in steps of {values[1] - values[0]}"


# ECS-native strategies whose deployments have test traffic: the smoke-test hook runs at
# POST_TEST_TRAFFIC_SHIFT, which ROLLING deployments do not have ("Amazon ECS blue/green service
# deployments workflow", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
# blue-green-deployment-how-it-works.html). LINEAR would need its own step settings; not offered.
DEPLOYMENT_STRATEGIES = ("CANARY", "BLUE_GREEN")


def check_deployment_strategy(value: str | None) -> str | None:
    if value is not None and value not in DEPLOYMENT_STRATEGIES:
        raise ValueError(
            f"must be one of {', '.join(DEPLOYMENT_STRATEGIES)}: only deployments with test traffic "
            "let the smoke-test hook check the new revision before it takes production traffic"
        )
    return value


# A host name, as RFC 1123 (section 2.1) allows it: labels of letters, digits and inner hyphens,
# at most 63 octets each. Lower case only: DNS compares names without case, the certificate and
# the records should name the host one way.
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# The certificate names prod.<domain> first (its Common Name), which RFC 5280 and ACM limit to 64
# octets, stricter than the 253 of any DNS name ("RequestCertificate", DomainName,
# https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html).
COMMON_NAME_MAX = 64
# "HostedZone", Id: a string of at most 32 characters
# (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HostedZone.html); Route 53 zone
# ids are upper-case letters and digits starting with Z.
HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")


def check_domain_name(value: str) -> str:
    """The domain the environments are served under: a public DNS name of two labels or more."""
    labels = value.split(".")
    if len(labels) < 2 or not all(DNS_LABEL.match(label) for label in labels):
        raise ValueError(
            "must be a DNS name such as ml.example.com: two or more labels of lower-case letters, "
            "digits and inner hyphens, each at most 63 characters, no trailing dot or wildcard"
        )
    if len(f"prod.{value}") > COMMON_NAME_MAX:
        raise ValueError(
            f"is too long: prod.{value} is the certificate's common name, which ACM limits to "
            f"{COMMON_NAME_MAX} characters (RFC 5280), so at most {COMMON_NAME_MAX - len('prod.')} here"
        )
    return value


def check_hosted_zone_id(value: str) -> str:
    if value.startswith("/hostedzone/"):
        raise ValueError(
            f"must be the zone id alone: {value.removeprefix('/hostedzone/')}, without /hostedzone/"
        )
    if not HOSTED_ZONE_ID.match(value):
        raise ValueError("must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (Z, then A-Z/0-9)")
    return value
