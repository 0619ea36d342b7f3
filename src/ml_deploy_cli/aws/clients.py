"""boto3 clients, made on first use in the stack's region (never at import, so moto can wrap them).

boto3 itself is imported there too: every CLI command starts a fresh interpreter, most before
any AWS call (argument errors, --help, --local), and importing it takes a tenth of a second."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import NoRegionError

from ml_deploy_cli.errors import CliError

if TYPE_CHECKING:
    from boto3.session import Session
    from botocore.config import Config

# Throttling and transient errors are retried with exponential backoff and jitter (botocore's
# "standard" mode) before the error reaches the operator as one line. AWS_MAX_ATTEMPTS (the SDKs'
# own variable, the first call included) overrides the count.
MAX_ATTEMPTS = 6
ATTEMPTS_VARIABLE = "AWS_MAX_ATTEMPTS"

ClientFactory = Callable[[str], Any]
"""Makes the boto3 client of a service name (``"s3"``, ``"ecs"``, ``"codepipeline"``)."""


def retries(environ: Mapping[str, str] | None = None) -> Config:
    """Standard-mode retries, `MAX_ATTEMPTS` calls in all unless $AWS_MAX_ATTEMPTS says otherwise."""
    from botocore.config import Config  # as heavy as boto3 itself: only when a client is made

    value = (os.environ if environ is None else environ).get(ATTEMPTS_VARIABLE, "")
    if not value:
        return Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS})
    if not value.isdigit() or int(value) < 1:
        raise CliError(f"{ATTEMPTS_VARIABLE}={value!r}: expected a whole number of calls, at least 1")
    return Config(retries={"mode": "standard", "total_max_attempts": int(value)})


def session_clients(region: str | None) -> ClientFactory:
    """Clients of one session in `region` (None: the AWS_REGION/profile default), one per service.

    The session too is made on first use: an unknown AWS_PROFILE fails there, inside the command,
    as one line (and not at all for a command that never calls AWS)."""
    sessions: list[Session] = []
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            if not sessions:
                import boto3  # 0.1 s: a command that never calls AWS (--help, --local) never pays it

                sessions.append(boto3.session.Session(region_name=region))
            try:
                made[service] = sessions[0].client(service, config=retries())
            except NoRegionError:
                raise CliError(
                    "no AWS region: pass --region, set AWS_REGION, or use outputs that include kmsKeyArn"
                ) from None
        return made[service]

    return client
