"""Service Quotas behind botocore's Stubber (moto answers only the `vpc` service's quotas).

The Stubber checks every request and response against botocore's model of the API, so a call or a
shape Service Quotas does not have fails here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.stub import Stubber

from ml_deploy_cli.aws.quotas import FIRST_RUN_NEEDS, QuotaNeed

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def quota(need: QuotaNeed, value: float) -> dict[str, Any]:
    """GetServiceQuota's answer for one quota."""
    return {
        "Quota": {
            "ServiceCode": need.service_code,
            "QuotaArn": f"arn:aws:servicequotas:{REGION}:{ACCOUNT}:{need.service_code}/{need.quota_code}",
            "QuotaCode": need.quota_code,
            "QuotaName": need.name,
            "Value": value,
            "Adjustable": True,
            "GlobalQuota": False,
        }
    }


def quotas_client(
    values: Mapping[str, float], *, defaults: Mapping[str, float] | None = None, denied: bool = False
) -> tuple[Any, Stubber]:
    """A service-quotas client answering `values` (quota code -> applied value) in FIRST_RUN_NEEDS
    order; a code in `defaults` instead has no applied value, only AWS's default."""
    client = boto3.client(
        "service-quotas", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    stubber = Stubber(client)
    for need in FIRST_RUN_NEEDS:
        request = {"ServiceCode": need.service_code, "QuotaCode": need.quota_code}
        if denied:
            stubber.add_client_error("get_service_quota", "AccessDeniedException", expected_params=request)
            break
        if defaults and need.quota_code in defaults:
            stubber.add_client_error("get_service_quota", "NoSuchResourceException", expected_params=request)
            stubber.add_response(
                "get_aws_default_service_quota", quota(need, defaults[need.quota_code]), request
            )
            continue
        stubber.add_response("get_service_quota", quota(need, values[need.quota_code]), request)
    stubber.activate()
    return client, stubber


def enough() -> dict[str, float]:
    """Every first-run quota at what the first run uses."""
    return {need.quota_code: need.needed for need in FIRST_RUN_NEEDS}
