"""Alarms on the model itself, from the metrics the collector sidecar sends to CloudWatch.

Each model carries its own expected band: the service exports it as two gauges computed from its
bundle's manifest, and the alarm compares live against them with metric math, so a new model
needs no `pulumi up`. Every alarm tells the alerts topic when it fires and when it clears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.serving.collector import (
    ENVIRONMENT_DIMENSION,
    EXPECTED_MEAN_HIGH,
    EXPECTED_MEAN_LOW,
    LOG_DROPPED,
    MODEL_CREATED,
    PROBABILITY,
)
from ml_deploy.layout import METRICS_NAMESPACE

MINUTE = 60
# The live mean is judged over 15 minutes, and only on enough records to mean something.
MEAN_WINDOW_SECONDS = 15 * MINUTE
MEAN_MIN_RECORDS = 100
MEAN_OUT_OF_BAND = f"IF(records >= {MEAN_MIN_RECORDS} AND (live < low OR live > high), 1, 0)"
# Two bundle creation times in one minute: two model versions serve side by side. A deploy
# (new tasks healthy, old ones drained) takes minutes; half an hour of it is a stuck deploy.
VERSIONS_SERVING = "newest - oldest"
VERSION_OVERLAP_MINUTES = 30


@dataclass(frozen=True)
class ModelAlarms:
    dropped_log_lines: aws.cloudwatch.MetricAlarm
    mean_probability: aws.cloudwatch.MetricAlarm
    model_versions: aws.cloudwatch.MetricAlarm


def _query(
    query_id: str, *, metric: str, environment: str, stat: str, period: int
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query_id,
        return_data=False,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=METRICS_NAMESPACE,
            metric_name=metric,
            dimensions={ENVIRONMENT_DIMENSION: environment},
            stat=stat,
            period=period,
        ),
    )


def _alarm(
    resource_name: str, *, topic_arn: pulumi.Output[str], parent: pulumi.Resource, **settings: Any
) -> aws.cloudwatch.MetricAlarm:
    """Above threshold alarms; no data (no traffic, no task yet) is not a breach."""
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        comparison_operator="GreaterThanThreshold",
        threshold=0,
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        opts=pulumi.ResourceOptions(parent=parent),
        **settings,
    )


def model_alarms(
    name: str, *, environment: str, topic_arn: pulumi.Output[str], parent: pulumi.Resource
) -> ModelAlarms:
    """Dropped prediction-log lines, a mean probability off its band, two versions serving."""
    dropped = _alarm(
        f"{name}-dropped-log-lines",
        topic_arn=topic_arn,
        parent=parent,
        alarm_description=f"{environment}: prediction-log lines were dropped (never written to S3)",
        namespace=METRICS_NAMESPACE,
        metric_name=LOG_DROPPED,
        dimensions={ENVIRONMENT_DIMENSION: environment},
        statistic="Sum",
        period=MINUTE,
        evaluation_periods=1,
    )
    window = MEAN_WINDOW_SECONDS
    mean = _alarm(
        f"{name}-mean-probability",
        topic_arn=topic_arn,
        parent=parent,
        alarm_description=(
            f"{environment}: the mean predicted probability over 15 minutes left the band the "
            "serving model's holdout set (its manifest)"
        ),
        evaluation_periods=1,
        metric_queries=[
            _query("live", metric=PROBABILITY, environment=environment, stat="Average", period=window),
            _query("records", metric=PROBABILITY, environment=environment, stat="SampleCount", period=window),
            _query("low", metric=EXPECTED_MEAN_LOW, environment=environment, stat="Minimum", period=window),
            _query("high", metric=EXPECTED_MEAN_HIGH, environment=environment, stat="Maximum", period=window),
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="outside", expression=MEAN_OUT_OF_BAND, label="mean outside band", return_data=True
            ),
        ],
    )
    versions = _alarm(
        f"{name}-model-versions",
        topic_arn=topic_arn,
        parent=parent,
        alarm_description=(
            f"{environment}: more than one model version has served for "
            f"{VERSION_OVERLAP_MINUTES} minutes (a deploy that did not finish)"
        ),
        evaluation_periods=VERSION_OVERLAP_MINUTES,
        datapoints_to_alarm=VERSION_OVERLAP_MINUTES,
        metric_queries=[
            _query("newest", metric=MODEL_CREATED, environment=environment, stat="Maximum", period=MINUTE),
            _query("oldest", metric=MODEL_CREATED, environment=environment, stat="Minimum", period=MINUTE),
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="spread", expression=VERSIONS_SERVING, label="seconds between bundles", return_data=True
            ),
        ],
    )
    return ModelAlarms(dropped_log_lines=dropped, mean_probability=mean, model_versions=versions)
