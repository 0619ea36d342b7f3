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
# Fargate vCPU -> (lowest, highest, step) memory in MiB it accepts.
FARGATE_MEMORY: dict[float, tuple[int, int, int]] = {
    0.25: (512, 2048, 512),
    0.5: (1024, 4096, 1024),
    1: (2048, 8192, 1024),
    2: (4096, 16384, 1024),
    4: (8192, 30720, 1024),
    8: (16384, 61440, 4096),
    16: (32768, 122880, 8192),
}


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
    lowest, highest, step = FARGATE_MEMORY[vcpu]
    if not (lowest <= memory <= highest and (memory - lowest) % step == 0):
        raise ValueError(
            f"memory {memory} does not fit {vcpu:g} Fargate vCPU: "
            f"use {lowest}..{highest} MiB in steps of {step}"
        )
