"""How a new revision reaches an environment: ECS's own blue/green or canary deployment.

ECS starts the new revision in the idle target group, points the test listener at it, calls the
smoke-test hook, then shifts production traffic (prod: a canary slice first) and keeps the old
revision for the bake time; an alarm or a failed hook rolls back. ECS acts through the
environment's infrastructure role, which may touch this environment's load-balancer resources
and invoke its hook, nothing else ("Amazon ECS canary deployments",
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/canary-deployment.html).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config_serving import DeploymentStrategy, EnvironmentConfig
from infra.iam import ServiceRole, service_role
from infra.serving.ingress import Ingress

ECS_PRINCIPAL = "ecs.amazonaws.com"
# When the new revision has all the test traffic and none of production's (ServiceDeployment
# lifecycleStage, ECS API reference): the moment to judge it through the test listener.
HOOK_STAGE = "POST_TEST_TRAFFIC_SHIFT"


def infrastructure_role(
    name: str, *, ingress: Ingress, hook: aws.lambda_.Function, parent: pulumi.Resource
) -> ServiceRole:
    """`<name>-deployments`: AmazonECSInfrastructureRolePolicyForLoadBalancers, scoped to this
    environment's target groups, listeners and rules, plus invoking its own smoke-test hook.

    Inline rather than the managed policy, which names every load balancer of the account.
    """
    statements: list[dict[str, Any]] = [
        {
            # Describe* have no resource type in ELB: AWS authorizes them on "*" only.
            "Sid": "ReadLoadBalancerState",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            "Resource": "*",
        },
        {
            "Sid": "MoveTasksBetweenThisEnvironmentsTargetGroups",
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            "Resource": [group.arn for group in ingress.target_groups],
        },
        {
            "Sid": "ShiftTrafficOnThisEnvironmentsListeners",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:ModifyListener",
            "Resource": [listener.arn for listener in ingress.listeners],
        },
        {
            "Sid": "ShiftTrafficOnThisEnvironmentsRules",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:ModifyRule",
            "Resource": [ingress.production_rule.arn, ingress.test_rule.arn],
        },
        {
            # "Permissions required for Lambda functions in Amazon ECS blue/green deployments".
            "Sid": "InvokeThisEnvironmentsSmokeTest",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": hook.arn,
        },
    ]
    return service_role(
        f"{name}-deployments",
        service=ECS_PRINCIPAL,
        statements=statements,
        description="ECS blue/green and canary deployments of one serving environment",
        parent=parent,
    )


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
