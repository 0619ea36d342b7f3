"""What on-call hears about a serving environment: 5xx rate, p99 latency, unhealthy/missing tasks.

Every alarm notifies the alerts topic when it fires and when it clears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config_sections import ServingConfig

ALB_NAMESPACE = "AWS/ApplicationELB"
INSIGHTS_NAMESPACE = "ECS/ContainerInsights"
PERIOD_SECONDS = 60
# Percent of requests answered 5xx by the targets; no traffic counts as no errors.
ERROR_RATE_EXPRESSION = "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"


@dataclass(frozen=True)
class EnvironmentMetrics:
    """The dimensions naming one environment's metrics, shared by its alarms and the dashboard."""

    environment: str
    load_balancer: pulumi.Output[str]
    target_group: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]

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


def error_rate_alarm(
    name: str,
    *,
    environment: str,
    target_dimensions: dict[str, pulumi.Output[str]],
    config: ServingConfig,
    topic_arn: pulumi.Output[str],
    parent: pulumi.Resource,
) -> aws.cloudwatch.MetricAlarm:
    """Share of requests the tasks answer 5xx; the service also rolls a deploy back on it.

    Made before the service (it needs only the load balancer's dimensions) so that the service
    can name it as a deployment alarm: a model that passes /ready but fails predictions is
    rolled back like one whose tasks never start.
    """
    return _alarm(
        f"{name}-5xx-rate",
        topic_arn=topic_arn,
        parent=parent,
        alarm_description=(
            f"{environment}: more than {config.error_rate_alarm_percent}% of requests answered 5xx"
        ),
        threshold=config.error_rate_alarm_percent,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        metric_queries=[
            _metric(
                "errors",
                namespace=ALB_NAMESPACE,
                name="HTTPCode_Target_5XX_Count",
                dimensions=target_dimensions,
                stat="Sum",
            ),
            _metric(
                "requests",
                namespace=ALB_NAMESPACE,
                name="RequestCount",
                dimensions=target_dimensions,
                stat="Sum",
            ),
            _expression("rate", ERROR_RATE_EXPRESSION, "5xx %"),
        ],
    )


def service_alarms(
    name: str,
    *,
    metrics: EnvironmentMetrics,
    config: ServingConfig,
    topic_arn: pulumi.Output[str],
    parent: pulumi.Resource,
) -> list[aws.cloudwatch.MetricAlarm]:
    """Latency, unhealthy targets and missing tasks, each to the alerts topic on ALARM and OK."""
    env = metrics.environment
    latency = _alarm(
        f"{name}-p99-latency",
        topic_arn=topic_arn,
        parent=parent,
        alarm_description=f"{env}: p99 response time above {config.latency_alarm_seconds} s",
        namespace=ALB_NAMESPACE,
        metric_name="TargetResponseTime",
        dimensions=metrics.target_dimensions,
        extended_statistic="p99",
        period=PERIOD_SECONDS,
        threshold=config.latency_alarm_seconds,
        evaluation_periods=5,
        datapoints_to_alarm=3,
    )
    unhealthy = _alarm(
        f"{name}-unhealthy-hosts",
        topic_arn=topic_arn,
        parent=parent,
        alarm_description=f"{env}: a task fails the load balancer's /ready check",
        namespace=ALB_NAMESPACE,
        metric_name="UnHealthyHostCount",
        dimensions=metrics.target_dimensions,
        statistic="Maximum",
        period=PERIOD_SECONDS,
        threshold=0,
        evaluation_periods=3,
        datapoints_to_alarm=3,
    )
    # Running below desired for five minutes: tasks crash, cannot pull, or cannot be placed.
    missing_tasks = _alarm(
        f"{name}-tasks-below-desired",
        topic_arn=topic_arn,
        parent=parent,
        alarm_description=f"{env}: fewer tasks running than desired",
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
    return [latency, unhealthy, missing_tasks]
