"""boto3 clients, made on first use in the stack's region (never at import, so moto can wrap them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import NoRegionError

from ml_deploy_cli.errors import CliError

ClientFactory = Callable[[str], Any]
"""Makes the boto3 client of a service name (``"s3"``, ``"ecs"``, ``"codepipeline"``)."""


def session_clients(region: str | None) -> ClientFactory:
    """Clients of one session in `region` (None: the AWS_REGION/profile default), one per service."""
    session = boto3.session.Session(region_name=region)
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            try:
                made[service] = session.client(service)
            except NoRegionError:
                raise CliError(
                    "no AWS region: pass --region, set AWS_REGION, or use outputs that include kmsKeyArn"
                ) from None
        return made[service]

    return client
