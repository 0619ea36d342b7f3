"""The account quotas a first run needs, read through Service Quotas before `ml-deploy bootstrap` acts.

New accounts often start with a CodeBuild concurrency of 0 or 1 per compute type ("Quotas for AWS
CodeBuild": "Internal metrics will determine the default quotas for concurrent running builds",
https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html), and Fargate's vCPU quotas
count every running task ("Amazon ECS service quotas", "New AWS accounts might have initial lower
quotas", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html). With
too little, StartBuild fails at the first run or tasks and jobs never start. The quota codes are
Service Quotas' own (`aws service-quotas list-service-quotas --service-code codebuild|fargate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

# Service Quotas answers NoSuchResourceException for a quota never changed in this account;
# GetAWSDefaultServiceQuota then gives the value the account has.
_NOT_APPLIED = "NoSuchResourceException"
_NO_ACCESS = ("AccessDeniedException", "AccessDenied")


@dataclass(frozen=True)
class QuotaNeed:
    """One quota, how much of it the first run uses, and what uses it."""

    service_code: str
    quota_code: str
    name: str
    needed: float
    used_by: str


# What the dev stack's defaults use at once (tests/cli/test_quotas.py checks them against the
# program): one build of each compute type the pipeline's projects name; stage's and prod's
# minimum tasks twice over (a blue/green or canary deploy runs both revisions); the retrain,
# monitor and quality jobs together on Fargate Spot.
FIRST_RUN_NEEDS = (
    QuotaNeed(
        "codebuild",
        "L-2DC20C30",
        "Concurrently running builds for Linux/Medium environment",
        1,
        "the Build stage (BUILD_GENERAL1_MEDIUM)",
    ),
    QuotaNeed(
        "codebuild",
        "L-9D07B6EF",
        "Concurrently running builds for Linux/Small environment",
        1,
        "the deploy and PromoteJobs stages (BUILD_GENERAL1_SMALL)",
    ),
    QuotaNeed(
        "fargate",
        "L-3032A538",
        "Fargate On-Demand vCPU resource count",
        5,
        "stage's and prod's tasks while a deploy runs both revisions",
    ),
    QuotaNeed(
        "fargate",
        "L-36FBB829",
        "Fargate Spot vCPU resource count",
        4,
        "the retrain, monitor and quality jobs at once",
    ),
)


@dataclass(frozen=True)
class Shortfall:
    need: QuotaNeed
    value: float
    region: str

    def line(self) -> str:
        """One line: what to raise, from what to what, and the command that asks for it."""
        need = self.need
        return (
            f"raise {need.service_code} '{need.name}' ({need.quota_code}) in {self.region} from "
            f"{self.value:g} to at least {need.needed:g} for {need.used_by}: aws service-quotas "
            f"request-service-quota-increase --region {self.region} --service-code {need.service_code} "
            f"--quota-code {need.quota_code} --desired-value {need.needed:g}"
        )


def quota_value(client: Any, need: QuotaNeed) -> float:
    """The quota's value in this account and region: the applied one, else AWS's default for it."""
    request = {"ServiceCode": need.service_code, "QuotaCode": need.quota_code}
    try:
        return float(client.get_service_quota(**request)["Quota"]["Value"])
    except ClientError as error:
        if error.response["Error"]["Code"] != _NOT_APPLIED:
            raise
    return float(client.get_aws_default_service_quota(**request)["Quota"]["Value"])


def shortfalls(client: Any, *, needs: tuple[QuotaNeed, ...] = FIRST_RUN_NEEDS) -> list[Shortfall] | None:
    """Every quota below what the first run uses; None when Service Quotas may not be read."""
    region = str(client.meta.region_name)
    found = []
    for need in needs:
        try:
            value = quota_value(client, need)
        except ClientError as error:
            if error.response["Error"]["Code"] in _NO_ACCESS:
                return None
            raise
        if value < need.needed:
            found.append(Shortfall(need=need, value=value, region=region))
    return found
