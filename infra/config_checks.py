"""What a stack setting's value must look like, checked once at load (`infra/config_sections.py`).

Each check raises a ValueError whose message says what is expected; the config loader prefixes
it with the key.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

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
# S3 moves an object to Standard-IA only after it has been stored at least 30 days ("Constraints
# and considerations for transitions", https://docs.aws.amazon.com/AmazonS3/latest/userguide/
# lifecycle-transition-general-considerations.html); a shorter rule is refused.
STANDARD_IA_MIN_DAYS = 30


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


# What git refuses in a branch name (`git check-ref-format --branch`, rules 3-10 of
# https://git-scm.com/docs/git-check-ref-format): the pipeline's source action and its push
# trigger name the branch, and a name git cannot have would never start the pipeline.
BRANCH_REFUSED = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def check_branch(value: str) -> str:
    components = value.split("/")
    if (
        value in ("", "@")
        or value.startswith(("-", "/"))
        or value.endswith(("/", "."))
        or BRANCH_REFUSED.search(value)
        or any(part.startswith(".") or part.endswith(".lock") for part in components)
    ):
        raise ValueError(
            f"{value!r} is not a git branch name: no spaces, control characters, ~ ^ : ? * [ \\, "
            "'..', '@{' or '//'; no component starting with '.' or ending with '.lock'; "
            "not starting with '-' or '/' nor ending with '/' or '.'"
        )
    return value


# GitHub: an account name of letters, digits and single inner hyphens (at most 39), a repository
# name of letters, digits, '.', '_' and '-' (at most 100). CodeCommit: 1-100 of letters, digits,
# '.', '_', '-', not ending in .git ("Quotas in AWS CodeCommit",
# https://docs.aws.amazon.com/codecommit/latest/userguide/limits.html).
GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}/[\w.-]{1,100}")
CODECOMMIT_REPOSITORY = re.compile(r"[\w.-]{1,100}")


def check_repository(value: str, *, source: str) -> str:
    if source == "github":
        if not GITHUB_REPOSITORY.fullmatch(value) or value.rpartition("/")[2] in (".", ".."):
            raise ValueError("must be 'owner/name' when codeSource is github")
    elif not CODECOMMIT_REPOSITORY.fullmatch(value) or value.endswith(".git"):
        raise ValueError(
            "must be a CodeCommit repository name when codeSource is codecommit: 1-100 letters, "
            "digits, '.', '_', '-', not ending in .git"
        )
    return value


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


# The Application Load Balancer's trust-store quotas ("Quotas for your Application Load Balancers",
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html,
# "Certificates"): at most 25 CA certificates per trust store, each at most 16 KB.
TRUST_STORE_MAX_CA_CERTIFICATES = 25
TRUST_STORE_MAX_CA_CERTIFICATE_BYTES = 16 * 1024
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s+([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----")
# Where a relative bundle path is read from: the project root, where Pulumi.yaml is.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def ca_bundle_path(value: str) -> Path:
    """The bundle file `value` names: as given if absolute, else under the project root."""
    path = Path(value)
    return path if path.is_absolute() else PROJECT_ROOT / path


def check_ca_bundle(value: str) -> str:
    """A PEM file of 1 to 25 CA certificates the load balancer's trust store accepts."""
    path = ca_bundle_path(value)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"must be a readable PEM file of CA certificates: {path}: {error}") from None
    bodies = PEM_CERTIFICATE.findall(text)
    if not bodies:
        raise ValueError(
            f"must be a PEM file of CA certificates (-----BEGIN CERTIFICATE-----): {path} has none"
        )
    if len(bodies) > TRUST_STORE_MAX_CA_CERTIFICATES:
        raise ValueError(
            f"may hold at most {TRUST_STORE_MAX_CA_CERTIFICATES} CA certificates (a trust store's quota): "
            f"{path} has {len(bodies)}"
        )
    for index, body in enumerate(bodies, start=1):
        try:
            size = len(base64.b64decode("".join(body.split()), validate=True))
        except binascii.Error:
            raise ValueError(f"certificate {index} of {path} is not valid base64 PEM") from None
        if size > TRUST_STORE_MAX_CA_CERTIFICATE_BYTES:
            raise ValueError(
                f"certificate {index} of {path} is {size} bytes; a trust store takes CA certificates "
                f"of at most {TRUST_STORE_MAX_CA_CERTIFICATE_BYTES} bytes"
            )
    return value


# Who may connect to a VPC endpoint service: an account's root, a role or a user
# (AllowedPrincipals, "Configure an endpoint service", https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html).
# "*" (everyone) is AWS's too, but never this stack's: callers are named.
ENDPOINT_SERVICE_PRINCIPAL = re.compile(r"arn:aws:iam::\d{12}:(?:root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)")


def check_endpoint_service_principal(value: str) -> str:
    if not ENDPOINT_SERVICE_PRINCIPAL.fullmatch(value):
        raise ValueError(
            "must be an IAM principal ARN such as arn:aws:iam::123456789012:root (an account) or "
            f"arn:aws:iam::123456789012:role/<name>, not {value!r} ('*' would let any account connect)"
        )
    return value
