"""What the delivery pipeline knows of the stack: where it is, where the code comes from, and
the serving environments and jobs it deploys to, as plain data the stages and roles share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

if TYPE_CHECKING:
    from infra.jobs.component import Jobs
    from infra.serving.environment import ServiceEnvironment


@dataclass(frozen=True)
class StackLocation:
    """Region and account of the stack: the parts of ARNs no resource hands us."""

    region: pulumi.Input[str]
    account_id: pulumi.Input[str]

    def arn(self, service: str, *parts: pulumi.Input[str]) -> pulumi.Output[str]:
        """`arn:aws:<service>:<region>:<account>:<parts...>`."""
        return pulumi.Output.concat("arn:aws:", service, ":", self.region, ":", self.account_id, ":", *parts)


@dataclass(frozen=True)
class CodeSource:
    """Where the code comes from: a connection (GitHub) or, when it is None, CodeCommit."""

    connection_arn: pulumi.Input[str] | None
    # The ARN from stack config, if any: its service prefix names the UseConnection action.
    configured_connection_arn: str | None
    repository: str


def code_repository_arn(location: StackLocation, repository: str) -> pulumi.Output[str]:
    """The CodeCommit repository's ARN (for the push rule and the read statement)."""
    return location.arn("codecommit", repository)


@dataclass(frozen=True)
class DeployTarget:
    """One ECS environment the pipeline deploys to, as the serving component exposes it."""

    name: str
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    url: pulumi.Input[str]
    # The revision Pulumi registered: its settings, with the pipeline's image, are what is deployed.
    task_definition_arn: pulumi.Input[str]
    # Task and execution roles the new task definition revision names (iam:PassRole).
    pass_role_arns: Sequence[pulumi.Input[str]]

    @classmethod
    def of(cls, environment: ServiceEnvironment) -> DeployTarget:
        """The deploy target of one serving environment (stage or prod)."""
        return cls(
            name=environment.environment,
            cluster_name=environment.cluster_name,
            service_name=environment.service_name,
            url=environment.url,
            task_definition_arn=environment.task_definition_arn,
            pass_role_arns=[environment.task_role_arn, environment.execution_role_arn],
        )


@dataclass(frozen=True)
class JobsTarget:
    """The Batch job definitions the pipeline promotes after prod, as the jobs component exposes them."""

    retrain_definition_name: pulumi.Input[str]
    monitor_definition_name: pulumi.Input[str]
    quality_definition_name: pulumi.Input[str]
    # Job and execution roles a new job-definition revision names (iam:PassRole to Batch).
    pass_role_arns: Sequence[pulumi.Input[str]]
    # The SSM parameter recording the promoted jobs image tag, which `pulumi up` reads too.
    image_parameter_name: pulumi.Input[str]
    image_parameter_arn: pulumi.Input[str]

    @classmethod
    def of(cls, jobs: Jobs) -> JobsTarget:
        """The promotion target of the jobs component (retrain, monitor and quality)."""
        return cls(
            retrain_definition_name=jobs.retrain_definition.name,
            monitor_definition_name=jobs.monitor_definition.name,
            quality_definition_name=jobs.quality_definition.name,
            pass_role_arns=[role.arn for role in jobs.passed_roles],
            image_parameter_name=jobs.image.parameter.name,
            image_parameter_arn=jobs.image.parameter.arn,
        )


def connection_service(configured_arn: str | None) -> str:
    """IAM prefix matching the connection's ARN: older connections are `codestar-connections`."""
    if configured_arn and configured_arn.startswith("arn:aws:codestar-connections:"):
        return "codestar-connections"
    return "codeconnections"
