"""What on-call hears about a serving environment: 5xx rate, p99 latency, unhealthy/missing tasks.

Every alarm notifies the alerts topic when it fires and when it clears. The 5xx-rate and p99
alarms exist once per target group and are also the deployments' rollback alarms: ECS alternates
revisions between the environment's two target groups, so the new revision's alarms are those of
whichever group was idle when the deployment began (see `rollback_alarms`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.serving.config import ServingConfig
from infra.serving.ingress import HEALTH_CHECK_INTERVAL_SECONDS, HEALTHY_THRESHOLD, UNHEALTHY_THRESHOLD

ALB_NAMESPACE = "AWS/ApplicationELB"
INSIGHTS_NAMESPACE = "ECS/ContainerInsights"
PERIOD_SECONDS = 60
# Percent of requests answered 5xx by the targets; no traffic counts as no errors.
ERROR_RATE_EXPRESSION = "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"
# A revision whose tasks never pass the load balancer's check is rolled back within this many
# minutes of its first task starting (`never_healthy_alarm`; the circuit breaker, documented for
# rolling updates, is not relied on under BLUE_GREEN or CANARY).
NEVER_HEALTHY_BOUND_MINUTES = 15


@dataclass(frozen=True)
class EnvironmentMetrics:
    """The dimensions naming one environment's metrics, shared by its alarms and the dashboard."""

    environment: str
    load_balancer: pulumi.Output[str]
    target_group: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    # The other group ECS deploys into; production traffic lives in either after a deployment.
    alternate_target_group: pulumi.Output[str]

    @property
    def target_dimensions(self) -> dict[str, pulumi.Output[str]]:
        return target_dimensions(self.load_balancer, self.target_group)

    @property
    def service_dimensions(self) -> dict[str, pulumi.Output[str]]:
        return {"ClusterName": self.cluster_name, "ServiceName": self.service_name}


def target_dimensions(
    load_balancer: pulumi.Output[str], target_group: pulumi.Output[str]
) -> dict[str, pulumi.Output[str]]:
    """ALB metrics of one target group: what the service's tasks answered."""
    return {"LoadBalancer": load_balancer, "TargetGroup": target_group}


def _metric(
    query_id: str,
    *,
    namespace: str,
    name: str,
    dimensions: dict[str, pulumi.Output[str]],
    stat: str,
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query_id,
        return_data=False,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace,
            metric_name=name,
            dimensions=dimensions,
            stat=stat,
            period=PERIOD_SECONDS,
        ),
    )


def _expression(query_id: str, expression: str, label: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query_id, expression=expression, label=label, return_data=True
    )


def _alarm(
    resource_name: str, *, topic_arn: pulumi.Output[str], parent: pulumi.Resource, **settings: Any
) -> aws.cloudwatch.MetricAlarm:
    """An alarm above its threshold, telling the alerts topic when it fires and when it clears.

    No data (no traffic, no tasks reporting yet) is not a breach.
    """
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        opts=pulumi.ResourceOptions(parent=parent),
        **settings,
    )


def rollback_alarms(
    name: str,
    *,
    environment: str,
    load_balancer: pulumi.Output[str],
    target_groups: dict[str, pulumi.Output[str]],
    config: ServingConfig,
    topic_arn: pulumi.Output[str],
    parent: pulumi.Resource,
) -> list[aws.cloudwatch.MetricAlarm]:
    """5xx rate, p99 latency and never-healthy targets of each target group (`{suffix: arn
    suffix}`; "" keeps the names the first group's alarms always had); the service rolls a
    deployment back on any of them.

    Which group the new revision lands in alternates from one deployment to the next, and CloudWatch
    cannot follow it; an alarm per group can. During a deployment the new revision's group carries
    the canary slice and the test traffic, so its alarms judge the new revision alone. The old
    revision's alarms were quiet when the deployment began (else on-call was already paged), and
    firing mid-deployment they roll back to a revision no worse than the one that broke.
    """
    alarms = []
    for suffix, target_group in target_groups.items():
        group = GroupAlarms(
            name=name,
            environment=environment,
            dimensions=target_dimensions(load_balancer, target_group),
            config=config,
            topic_arn=topic_arn,
            parent=parent,
            suffix=suffix,
        )
        alarms += [error_rate_alarm(group), latency_alarm(group), never_healthy_alarm(group)]
    return alarms


@dataclass(frozen=True)
class GroupAlarms:
    """What every alarm on one target group shares; `suffix` tells the groups' alarms apart."""

    name: str
    environment: str
    dimensions: dict[str, pulumi.Output[str]]
    config: ServingConfig
    topic_arn: pulumi.Output[str]
    parent: pulumi.Resource
    suffix: str = ""

    @property
    def label(self) -> str:
        """The environment, and which group when there are two: the alarm descriptions' subject."""
        return f"{self.environment}{_group_label(self.suffix)}"


def never_healthy_minutes(startup_grace_seconds: int) -> int:
    """Consecutive minutes with an unhealthy target before `never_healthy_alarm` fires.

    A normal start shows unhealthy targets for at most the grace period (loading the model) plus
    the checks that turn a target healthy again; those seconds touch at most ceil(W/60) + 1
    one-minute datapoints, so one more minute than that is never a normal start.
    """
    normal_start = startup_grace_seconds + HEALTHY_THRESHOLD * HEALTH_CHECK_INTERVAL_SECONDS
    return math.ceil(normal_start / PERIOD_SECONDS) + 2


def never_healthy_seconds(startup_grace_seconds: int) -> int:
    """Longest a never-healthy revision runs before its alarm fires: the load balancer's verdict,
    the alarm's minutes, and one period for the datapoints' alignment."""
    verdict = UNHEALTHY_THRESHOLD * HEALTH_CHECK_INTERVAL_SECONDS
    return verdict + (never_healthy_minutes(startup_grace_seconds) + 1) * PERIOD_SECONDS


def _group_label(suffix: str) -> str:
    return f" ({suffix.strip('-')} target group)" if suffix else ""


def error_rate_alarm(group: GroupAlarms) -> aws.cloudwatch.MetricAlarm:
    """Share of requests one target group's tasks answer 5xx.

    Made before the service (it needs only the load balancer's dimensions) so that the service
    can name it as a deployment alarm: a model that passes /ready but fails predictions is
    rolled back like one whose tasks never start.
    """
    return _alarm(
        f"{group.name}-5xx-rate{group.suffix}",
        topic_arn=group.topic_arn,
        parent=group.parent,
        alarm_description=(
            f"{group.label}: more than {group.config.error_rate_alarm_percent}% of requests answered 5xx"
        ),
        threshold=group.config.error_rate_alarm_percent,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        metric_queries=[
            _metric(
                "errors",
                namespace=ALB_NAMESPACE,
                name="HTTPCode_Target_5XX_Count",
                dimensions=group.dimensions,
                stat="Sum",
            ),
            _metric(
                "requests",
                namespace=ALB_NAMESPACE,
                name="RequestCount",
                dimensions=group.dimensions,
                stat="Sum",
            ),
            _expression("rate", ERROR_RATE_EXPRESSION, "5xx %"),
        ],
    )


def latency_alarm(group: GroupAlarms) -> aws.cloudwatch.MetricAlarm:
    """p99 response time of one target group's tasks."""
    return _alarm(
        f"{group.name}-p99-latency{group.suffix}",
        topic_arn=group.topic_arn,
        parent=group.parent,
        alarm_description=f"{group.label}: p99 response time above {group.config.latency_alarm_seconds} s",
        namespace=ALB_NAMESPACE,
        metric_name="TargetResponseTime",
        dimensions=group.dimensions,
        extended_statistic="p99",
        period=PERIOD_SECONDS,
        threshold=group.config.latency_alarm_seconds,
        evaluation_periods=5,
        datapoints_to_alarm=3,
    )


def never_healthy_alarm(group: GroupAlarms) -> aws.cloudwatch.MetricAlarm:
    """A target of this group failing /ready for longer than any normal start: a revision that
    never gets healthy (the model does not load, the server does not answer) is rolled back."""
    minutes = never_healthy_minutes(group.config.startup_grace_seconds)
    return _alarm(
        f"{group.name}-never-healthy{group.suffix}",
        topic_arn=group.topic_arn,
        parent=group.parent,
        alarm_description=f"{group.label}: a task failed the /ready check for {minutes} minutes",
        namespace=ALB_NAMESPACE,
        metric_name="UnHealthyHostCount",
        dimensions=group.dimensions,
        statistic="Maximum",
        period=PERIOD_SECONDS,
        threshold=0,
        evaluation_periods=minutes,
        datapoints_to_alarm=minutes,
    )


def service_alarms(
    name: str, *, metrics: EnvironmentMetrics, topic_arn: pulumi.Output[str], parent: pulumi.Resource
) -> list[aws.cloudwatch.MetricAlarm]:
    """Unhealthy targets and missing tasks, each to the alerts topic on ALARM and OK."""
    return [
        _unhealthy_hosts_alarm(name, metrics=metrics, topic_arn=topic_arn, parent=parent),
        _tasks_below_desired_alarm(name, metrics=metrics, topic_arn=topic_arn, parent=parent),
    ]


def _unhealthy_hosts_alarm(
    name: str, *, metrics: EnvironmentMetrics, topic_arn: pulumi.Output[str], parent: pulumi.Resource
) -> aws.cloudwatch.MetricAlarm:
    """A task failing /ready for three minutes. Either target group may hold the running revision
    (or both, mid-deployment): both are counted."""
    return _alarm(
        f"{name}-unhealthy-hosts",
        topic_arn=topic_arn,
        parent=parent,
        alarm_description=f"{metrics.environment}: a task fails the load balancer's /ready check",
        threshold=0,
        evaluation_periods=3,
        datapoints_to_alarm=3,
        metric_queries=[
            _metric(
                query_id,
                namespace=ALB_NAMESPACE,
                name="UnHealthyHostCount",
                dimensions=target_dimensions(metrics.load_balancer, group),
                stat="Maximum",
            )
            for query_id, group in (
                ("primary", metrics.target_group),
                ("alternate", metrics.alternate_target_group),
            )
        ]
        + [_expression("unhealthy", "FILL(primary, 0) + FILL(alternate, 0)", "unhealthy tasks")],
    )


def _tasks_below_desired_alarm(
    name: str, *, metrics: EnvironmentMetrics, topic_arn: pulumi.Output[str], parent: pulumi.Resource
) -> aws.cloudwatch.MetricAlarm:
    """Running below desired for five minutes: tasks crash, cannot pull, or cannot be placed."""
    return _alarm(
        f"{name}-tasks-below-desired",
        topic_arn=topic_arn,
        parent=parent,
        alarm_description=f"{metrics.environment}: fewer tasks running than desired",
        threshold=0,
        evaluation_periods=5,
        datapoints_to_alarm=5,
        metric_queries=[
            _metric(
                "running",
                namespace=INSIGHTS_NAMESPACE,
                name="RunningTaskCount",
                dimensions=metrics.service_dimensions,
                stat="Average",
            ),
            _metric(
                "desired",
                namespace=INSIGHTS_NAMESPACE,
                name="DesiredTaskCount",
                dimensions=metrics.service_dimensions,
                stat="Average",
            ),
            _expression("missing", "desired - running", "tasks missing"),
        ],
    )
