"""Fixtures for the serving tests: a client CA bundle, and the dev stack facing the internet."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ml_deploy_dev.program import Program, run_program
from tests.infra.shared_program import shared_program

CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
# A VPC the stack is given: its id and subnets, without the keys that only shape a VPC the stack
# creates (with vpcId they change nothing the program registers).
EXISTING_VPC = {
    "ml-deploy:vpcId": "vpc-0123456789abcdef0",
    "ml-deploy:publicSubnetIds": ["subnet-0aaaaaaaaaaaaaa01", "subnet-0aaaaaaaaaaaaaa02"],
    "ml-deploy:privateSubnetIds": ["subnet-0cccccccccccccc01", "subnet-0cccccccccccccc02"],
}
NEW_VPC_KEYS = ("ml-deploy:vpcCidr", "ml-deploy:singleNatGateway", "ml-deploy:interfaceEndpoints")


def ca_certificate_pem(common_name: str = "Acme ML callers CA") -> str:
    """A real self-signed CA certificate (ECDSA P-256, SHA-256), as a company PKI's root would be."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


@pytest.fixture(scope="session")
def client_ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pki") / "client-ca-bundle.pem"
    path.write_text(ca_certificate_pem())
    return path


def public_overrides(bundle: Path) -> dict[str, object]:
    """What a stack sets to face the internet: the switch, a certificate, its callers' CA bundle."""
    return {
        "ml-deploy:publicEndpoint": True,
        "ml-deploy:certificateArn": CERTIFICATE,
        "ml-deploy:clientCaBundle": str(bundle),
    }


@pytest.fixture(scope="session")
def public_program(client_ca_bundle: Path) -> Program:
    """The dev stack with ``publicEndpoint: true``: internet-facing, mutual TLS, AWS WAF."""
    return run_program(overrides=public_overrides(client_ca_bundle))


@pytest.fixture(scope="session")
def existing_vpc_program() -> Program:
    """The dev stack, internal, in the VPC `EXISTING_VPC` names."""
    return shared_program(EXISTING_VPC, remove=NEW_VPC_KEYS)
