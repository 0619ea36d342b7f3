"""boto3 clients, made on first use in the stack's region (never at import, so moto can wrap them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import NoRegionError

from ml_deploy_cli.errors import CliError

# Throttling and transient errors are retried with exponential backoff and jitter (botocore's
# "standard" mode) before the error reaches the operator as one line.
MAX_ATTEMPTS = 6
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS})  # the first call included

ClientFactory = Callable[[str], Any]
"""Makes the boto3 client of a service name (``"s3"``, ``"ecs"``, ``"codepipeline"``)."""


def session_clients(region: str | None) -> ClientFactory:
    """Clients of one session in `region` (None: the AWS_REGION/profile default), one per service."""
    session = boto3.session.Session(region_name=region)
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            try:
                made[service] = session.client(service, config=RETRIES)
            except NoRegionError:
                raise CliError(
                    "no AWS region: pass --region, set AWS_REGION, or use outputs that include kmsKeyArn"
                ) from None
        return made[service]

    return client
