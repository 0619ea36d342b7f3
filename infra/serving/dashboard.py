"""One CloudWatch dashboard for the serving environments: what the alarms watch, side by side.

A row per environment for its load balancer and tasks, then a row per environment for its model
(the service's own metrics, which the collector sidecar sends to the `MlDeploy` namespace), then
a row for the live quality the quality job measures from real outcomes (same namespace).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import PROJECT_NAMESPACE
from infra.serving.alarms import (
    ALB_NAMESPACE,
    ERROR_RATE_EXPRESSION,
    INSIGHTS_NAMESPACE,
    PERIOD_SECONDS,
    EnvironmentMetrics,
)
from infra.serving.collector import (
    ENVIRONMENT_DIMENSION,
    EXPECTED_MEAN_HIGH,
    EXPECTED_MEAN_LOW,
    LOG_BUFFERED,
    LOG_DROPPED,
    LOG_RETRIED,
    LOG_WRITTEN,
    MODEL_CREATED,
    MODEL_VERSION_DIMENSION,
    PREDICTIONS,
    PROBABILITY,
)
from ml_deploy.layout import METRICS_NAMESPACE
from ml_deploy.quality_report import BELOW_FLOOR_METRIC, COVERAGE_METRIC, cloudwatch_metric

# Four widgets of a 24-unit-wide grid: one row per environment.
WIDGET_WIDTH = 6
WIDGET_HEIGHT = 6


def _metric_line(
    namespace: str, name: str, dimensions: Mapping[str, pulumi.Input[str]], **options: Any
) -> list[Any]:
    """A metric in the dashboard's array form: namespace, name, dimension pairs, options."""
    line: list[Any] = [namespace, name]
    for key, value in dimensions.items():
        line.extend([key, value])
    line.append({"period": PERIOD_SECONDS, **options})
    return line


def _widget(title: str, metrics: list[list[Any]], *, region: pulumi.Output[str]) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDGET_WIDTH,
        "height": WIDGET_HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "stacked": False,
            "metrics": metrics,
        },
    }


def _environment_row(env: EnvironmentMetrics, *, region: pulumi.Output[str]) -> list[dict[str, Any]]:
    target = env.target_dimensions
    service = env.service_dimensions
    return [
        _widget(
            f"{env.environment}: requests",
            [
                _metric_line(ALB_NAMESPACE, "RequestCount", target, stat="Sum"),
            ],
            region=region,
        ),
        _widget(
            f"{env.environment}: 5xx rate (%)",
            [
                _metric_line(
                    ALB_NAMESPACE, "HTTPCode_Target_5XX_Count", target, stat="Sum", id="errors", visible=False
                ),
                _metric_line(ALB_NAMESPACE, "RequestCount", target, stat="Sum", id="requests", visible=False),
                [{"expression": ERROR_RATE_EXPRESSION, "label": "5xx %"}],
            ],
            region=region,
        ),
        _widget(
            f"{env.environment}: p99 response time (s)",
            [
                _metric_line(ALB_NAMESPACE, "TargetResponseTime", target, stat="p99"),
            ],
            region=region,
        ),
        _widget(
            f"{env.environment}: tasks (running, desired, unhealthy)",
            [
                _metric_line(ALB_NAMESPACE, "UnHealthyHostCount", target, stat="Maximum"),
                _metric_line(INSIGHTS_NAMESPACE, "RunningTaskCount", service, stat="Average"),
                _metric_line(INSIGHTS_NAMESPACE, "DesiredTaskCount", service, stat="Average"),
            ],
            region=region,
        ),
    ]


def by_model_version(environment: str, metric: str, stat: str, *, period: int = PERIOD_SECONDS) -> str:
    """A SEARCH for one line per model version: versions are not known when the dashboard is made."""
    schema = f"{{{METRICS_NAMESPACE},{ENVIRONMENT_DIMENSION},{MODEL_VERSION_DIMENSION}}}"
    query = f'{schema} MetricName="{metric}" {ENVIRONMENT_DIMENSION}="{environment}"'
    return f"SEARCH('{query}', '{stat}', {period})"


# The quality job publishes once per run (daily by default): a point per day, not per minute.
QUALITY_PERIOD_SECONDS = 24 * 3600


def _quality_row(environment: str, *, region: pulumi.Output[str]) -> list[dict[str, Any]]:
    """Live quality from real outcomes, per model version: ROC AUC with its interval, coverage,
    the floor verdict, and the calibration (Brier score, log loss)."""

    def versions(metric: str, query_id: str, stat: str = "Average") -> list[Any]:
        expression = by_model_version(environment, metric, stat, period=QUALITY_PERIOD_SECONDS)
        return [{"expression": expression, "id": query_id}]

    auc = "roc_auc"
    return [
        _widget(
            f"{environment}: live ROC AUC by model version (95% interval low, value, high)",
            [
                versions(cloudwatch_metric(auc, bound="low"), "auclow"),
                versions(cloudwatch_metric(auc), "auc"),
                versions(cloudwatch_metric(auc, bound="high"), "auchigh"),
            ],
            region=region,
        ),
        _widget(
            f"{environment}: share of matured predictions with an outcome",
            [versions(COVERAGE_METRIC, "coverage")],
            region=region,
        ),
        _widget(
            f"{environment}: quality below a floor (1) by model version",
            [versions(BELOW_FLOOR_METRIC, "belowfloor", "Maximum")],
            region=region,
        ),
        _widget(
            f"{environment}: live Brier score and log loss by model version",
            [
                versions(cloudwatch_metric("brier"), "brier"),
                versions(cloudwatch_metric("log_loss"), "logloss"),
            ],
            region=region,
        ),
    ]


def _model_row(environment: str, *, region: pulumi.Output[str]) -> list[dict[str, Any]]:
    """The model as the service sees it: what it scores, how it scores, where its logs go."""
    env = {ENVIRONMENT_DIMENSION: environment}

    def line(metric: str, stat: str, **options: Any) -> list[Any]:
        return _metric_line(METRICS_NAMESPACE, metric, env, stat=stat, **options)

    return [
        _widget(
            f"{environment}: records scored by model version",
            [[{"expression": by_model_version(environment, PREDICTIONS, "Sum"), "id": "scored"}]],
            region=region,
        ),
        _widget(
            f"{environment}: mean probability by model version, and the model's band",
            [
                [{"expression": by_model_version(environment, PROBABILITY, "Average"), "id": "mean"}],
                line(EXPECTED_MEAN_LOW, "Minimum", label="band low"),
                line(EXPECTED_MEAN_HIGH, "Maximum", label="band high"),
            ],
            region=region,
        ),
        _widget(
            f"{environment}: prediction log (written, retried, dropped, buffered)",
            [
                line(LOG_WRITTEN, "Sum", label="written"),
                line(LOG_RETRIED, "Sum", label="retried"),
                line(LOG_DROPPED, "Sum", label="dropped"),
                line(LOG_BUFFERED, "Maximum", label="buffered"),
            ],
            region=region,
        ),
        _widget(
            f"{environment}: bundle creation time served (oldest, newest)",
            [line(MODEL_CREATED, "Minimum", label="oldest"), line(MODEL_CREATED, "Maximum", label="newest")],
            region=region,
        ),
    ]


class ServingDashboard(pulumi.ComponentResource):
    """A row per environment: requests, 5xx rate, p99 latency, running/desired/unhealthy tasks;
    then a row per environment for its model: records by version, mean probability and band,
    prediction-log lines, model versions serving; then, given `quality_environment`, its live
    quality from real outcomes."""

    dashboard_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        environments: Sequence[EnvironmentMetrics],
        quality_environment: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-deploy:serving:Dashboard", name, None, opts)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        rows = [_environment_row(env, region=region) for env in environments]
        rows += [_model_row(env.environment, region=region) for env in environments]
        if quality_environment is not None:
            rows.append(_quality_row(quality_environment, region=region))
        widgets = [
            {**widget, "x": column * WIDGET_WIDTH, "y": row * WIDGET_HEIGHT}
            for row, row_widgets in enumerate(rows)
            for column, widget in enumerate(row_widgets)
        ]
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{PROJECT_NAMESPACE}-{pulumi.get_stack()}-serving",
            dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"dashboard_name": self.dashboard_name})
