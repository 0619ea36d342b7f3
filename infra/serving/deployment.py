"""How a new revision reaches an environment: ECS's own blue/green or canary deployment.

ECS starts the new revision in the idle target group, points the test listener at it, calls the
smoke-test hook, then shifts production traffic (prod: a canary slice first) and keeps the old
revision for the bake time; an alarm or a failed hook rolls back. ECS acts through the
environment's infrastructure role: AWS's managed load-balancer policy, and invoking this
environment's hook ("Amazon ECS canary deployments",
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/canary-deployment.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.iam import service_role
from infra.serving.config import DeploymentStrategy, EnvironmentConfig
from infra.serving.ingress import Ingress

ECS_PRINCIPAL = "ecs.amazonaws.com"
# When the new revision has all the test traffic and none of production's (ServiceDeployment
# lifecycleStage, ECS API reference): the moment to judge it through the test listener.
HOOK_STAGE = "POST_TEST_TRAFFIC_SHIFT"
# What ECS's load-balancer work needs, as AWS keeps it current ("AWS managed policy reference").
LOAD_BALANCER_POLICY = "AmazonECSInfrastructureRolePolicyForLoadBalancers"
# Service inputs ECS itself rewrites at every blue/green or canary deployment: the new revision's
# group becomes the service's target group and the old one its alternate. `pulumi up` must leave
# them where the last deployment put them, or it would start a deployment of its own that puts
# the new revision back into the group production is served from (terraform-provider-aws #45678).
ECS_SWAPPED_SERVICE_INPUTS = [
    "loadBalancers[0].targetGroupArn",
    "loadBalancers[0].advancedConfiguration.alternateTargetGroupArn",
]


@dataclass(frozen=True)
class InfrastructureRole:
    """The role ECS deploys through, and what must exist before ECS is handed it."""

    role: aws.iam.Role
    # Its inline policy and its managed-policy attachment: the service waits for both.
    grants: list[pulumi.Resource]


def infrastructure_role(
    name: str, *, hook: aws.lambda_.Function, parent: pulumi.Resource
) -> InfrastructureRole:
    """`<name>-deployments`: AWS's `LOAD_BALANCER_POLICY` attached, plus invoking this environment's
    own smoke-test hook (inline, scoped to that one function).

    Attached rather than copied: AWS revises the managed policy as ECS's deployments need more
    (v2 when this role was first written, v6 by February 2026), and a hand copy would go stale
    without a sound. The cost is breadth: it names every ALB target group, listener and rule of
    the account; only ECS may assume the role, and only this environment's service is given it.
    """
    statements: list[dict[str, Any]] = [
        {
            # "Permissions required for Lambda functions in Amazon ECS blue/green deployments".
            "Sid": "InvokeThisEnvironmentsSmokeTest",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": hook.arn,
        },
    ]
    deployments = service_role(
        f"{name}-deployments",
        service=ECS_PRINCIPAL,
        statements=statements,
        description="ECS blue/green and canary deployments of one serving environment",
        parent=parent,
    )
    attached = aws.iam.RolePolicyAttachment(
        f"{name}-deployments-load-balancers",
        role=deployments.role.name,
        policy_arn=managed_policy_arn(LOAD_BALANCER_POLICY),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return InfrastructureRole(role=deployments.role, grants=[deployments.policy, attached])


def managed_policy_arn(policy: str) -> pulumi.Output[str]:
    """`arn:<partition>:iam::aws:policy/<policy>`: AWS managed policies live in each partition."""
    return pulumi.Output.concat("arn:", aws.get_partition_output().partition, ":iam::aws:policy/", policy)


def deployment_configuration(
    *,
    strategy: DeploymentStrategy,
    sizing: EnvironmentConfig,
    hook: aws.lambda_.Function,
    role: aws.iam.Role,
) -> aws.ecs.ServiceDeploymentConfigurationArgs:
    """The strategy, its percentages and bake times, and the smoke test at `HOOK_STAGE`."""
    canary = (
        aws.ecs.ServiceDeploymentConfigurationCanaryConfigurationArgs(
            canary_percent=sizing.canary_percent,
            canary_bake_time_in_minutes=str(sizing.canary_bake_minutes),
        )
        if strategy == "CANARY"
        else None
    )
    return aws.ecs.ServiceDeploymentConfigurationArgs(
        strategy=strategy,
        bake_time_in_minutes=str(sizing.bake_minutes),
        canary_configuration=canary,
        lifecycle_hooks=[
            aws.ecs.ServiceDeploymentConfigurationLifecycleHookArgs(
                lifecycle_stages=[HOOK_STAGE],
                target_type="AWS_LAMBDA",
                hook_target_arn=hook.arn,
                role_arn=role.arn,
            )
        ],
    )


def advanced_configuration(
    ingress: Ingress, *, role: aws.iam.Role
) -> aws.ecs.ServiceLoadBalancerAdvancedConfigurationArgs:
    """The alternate target group and the two rules ECS shifts traffic with, and its role."""
    return aws.ecs.ServiceLoadBalancerAdvancedConfigurationArgs(
        alternate_target_group_arn=ingress.alternate_target_group.arn,
        production_listener_rule=ingress.production_rule.arn,
        test_listener_rule=ingress.test_rule.arn,
        role_arn=role.arn,
    )
