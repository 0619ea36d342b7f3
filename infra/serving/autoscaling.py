"""How many tasks an environment runs: target tracking on requests per task and on CPU."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.serving.config import EnvironmentConfig
from infra.serving.ingress import Ingress

_PredefinedMetric = (
    aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs
)
# Scale out within a minute of a surge; scale in only after five quiet minutes.
SCALE_OUT_COOLDOWN_SECONDS = 60
SCALE_IN_COOLDOWN_SECONDS = 300


def service_autoscaling(
    name: str,
    *,
    cluster_name: pulumi.Output[str],
    service: aws.ecs.Service,
    ingress: Ingress,
    sizing: EnvironmentConfig,
    counts: tuple[pulumi.Input[int], pulumi.Input[int]],
    parent: pulumi.Resource,
) -> aws.appautoscaling.Target:
    """Target tracking on requests per task and on CPU; whichever asks for more tasks wins, within
    `counts` (min, max).

    Requests are tracked on both target groups: ECS moves production traffic to the other group at
    every blue/green or canary deployment, so a policy on one group alone would go blind after the
    first. Both request policies only scale out (`disable_scale_in`): the idle group has no data,
    and Application Auto Scaling scales in only when every policy whose scale-in is enabled is ready
    to (Application Auto Scaling user guide, "Target tracking scaling policies", multiple policies),
    so an idle group's policy would otherwise block scale-in for good. CPU decides scale-in.

    Autoscaling owns the service's desired count from here on (the service ignores it). A new
    minimum reaches the running service: RegisterScalableTarget "changes the resource's current
    capacity to a value that is inside of this range" (Application Auto Scaling API reference),
    so raising 0..0 to minCount..maxCount starts minCount tasks.
    """
    min_capacity, max_capacity = counts
    target = aws.appautoscaling.Target(
        f"{name}-scaling",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.concat("service/", cluster_name, "/", service.name),
        min_capacity=min_capacity,
        max_capacity=max_capacity,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    for metric, tracker in _trackers(ingress, sizing).items():
        _tracking_policy(f"{name}-scale-on-{metric}", target, tracker, parent=parent)
    return target


# name -> (metric, target value, scale-in disabled); "requests" keeps the first group's policy URN.
Tracker = tuple[_PredefinedMetric, float, bool]


def _trackers(ingress: Ingress, sizing: EnvironmentConfig) -> dict[str, Tracker]:
    def requests_per_task(group: aws.lb.TargetGroup) -> _PredefinedMetric:
        return _PredefinedMetric(
            predefined_metric_type="ALBRequestCountPerTarget",
            resource_label=pulumi.Output.concat(ingress.load_balancer.arn_suffix, "/", group.arn_suffix),
        )

    cpu = _PredefinedMetric(predefined_metric_type="ECSServiceAverageCPUUtilization")
    return {
        "requests": (requests_per_task(ingress.target_group), sizing.requests_per_target, True),
        "requests-alternate": (
            requests_per_task(ingress.alternate_target_group),
            sizing.requests_per_target,
            True,
        ),
        "cpu": (cpu, sizing.cpu_target_percent, False),
    }


def _tracking_policy(
    name: str, target: aws.appautoscaling.Target, tracker: Tracker, *, parent: pulumi.Resource
) -> aws.appautoscaling.Policy:
    specification, target_value, scale_out_only = tracker
    return aws.appautoscaling.Policy(
        name,
        policy_type="TargetTrackingScaling",
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        target_tracking_scaling_policy_configuration=(
            aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=target_value,
                predefined_metric_specification=specification,
                disable_scale_in=scale_out_only,
                scale_in_cooldown=SCALE_IN_COOLDOWN_SECONDS,
                scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
            )
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
