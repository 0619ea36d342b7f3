"""What the edge settings' values must look like: DNS names, hosted zones, the client CA bundle,
PrivateLink principals. Checked once at load by `infra/serving/edge_config.py`."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

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
PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
