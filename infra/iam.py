"""The IAM shapes every component uses, kept as Python data (never f-string JSON).

Each component's own statements live beside it (`infra/serving/roles.py`, `infra/jobs/roles.py`,
`infra/delivery/roles.py`); this module holds only what they share.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"


def assume_role_policy(*services: str) -> str:
    """Trust policy that lets the given AWS service principals assume a role.

    Plain JSON, as the aws.iam.Role docs show (https://www.pulumi.com/docs/reference/pkg/aws/iam/role):
    nothing in it is an Output, and a getPolicyDocument invoke per role costs a provider round trip.
    """
    statement = {
        "Sid": "AssumedByService",
        "Effect": "Allow",
        "Action": ["sts:AssumeRole"],
        "Principal": {"Service": list(services)},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def policy(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """A policy document from statements whose values may be Outputs (ARNs of this stack)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def objects(bucket_arn: pulumi.Input[str], key_or_prefix: str) -> pulumi.Output[str]:
    """ARN of one key, or of every key under a prefix (prefixes end in '/')."""
    suffix = "*" if key_or_prefix.endswith("/") else ""
    return pulumi.Output.concat(bucket_arn, "/", key_or_prefix, suffix)


def deny_insecure_transport(bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The statement every bucket policy starts with: no request without TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


@dataclass(frozen=True)
class ServiceRole:
    role: aws.iam.Role
    # Whatever must not start before the role may act depends on this.
    policy: aws.iam.RolePolicy


def service_role(
    name: str,
    *,
    service: str,
    statements: Sequence[dict[str, Any]],
    parent: pulumi.Resource,
    description: str | None = None,
) -> ServiceRole:
    """A role only `service` may assume, with one inline policy of `statements`; both named `name`."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        name, description=description, assume_role_policy=assume_role_policy(service), opts=child
    )
    inline = aws.iam.RolePolicy(name, role=role.id, policy=policy(*statements), opts=child)
    return ServiceRole(role=role, policy=inline)


def execution_statements(
    *, repository_arn: pulumi.Input[str], log_group_arn: pulumi.Input[str]
) -> list[dict[str, Any]]:
    """What the ECS agent needs before a container's code runs: pull its image, ship its logs.

    Scoped instead of the managed AmazonECSTaskExecutionRolePolicy, which allows every
    repository and log group of the account.
    """
    return [
        {
            # GetAuthorizationToken has no resource type: AWS grants it only on "*".
            "Sid": "GetRegistryLoginToken",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            "Resource": repository_arn,
        },
        {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": pulumi.Output.concat(log_group_arn, ":log-stream:*"),
        },
    ]


def task_role(name: str, *, statements: Sequence[dict[str, Any]], parent: pulumi.Resource) -> aws.iam.Role:
    """A role ECS tasks assume (a serving task, a Batch job on Fargate), with `statements` only."""
    return service_role(name, service=ECS_TASKS_PRINCIPAL, statements=statements, parent=parent).role


def execution_role(
    name: str,
    *,
    repository: aws.ecr.Repository,
    log_group: aws.cloudwatch.LogGroup,
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """`<name>-execution`: what ECS needs to start a task: pull from `repository`, write `log_group`."""
    statements = execution_statements(repository_arn=repository.arn, log_group_arn=log_group.arn)
    return task_role(f"{name}-execution", statements=statements, parent=parent)
