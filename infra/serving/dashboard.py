"""One CloudWatch dashboard for the serving environments: what the alarms watch, side by side."""

from __future__ import annotations

from collections.abc import Sequence
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

# Four widgets of a 24-unit-wide grid: one row per environment.
WIDGET_WIDTH = 6
WIDGET_HEIGHT = 6


def _metric_line(
    namespace: str, name: str, dimensions: dict[str, pulumi.Output[str]], **options: Any
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


class ServingDashboard(pulumi.ComponentResource):
    """A row per environment: requests, 5xx rate, p99 latency, running/desired/unhealthy tasks."""

    dashboard_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        environments: Sequence[EnvironmentMetrics],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-deploy:serving:Dashboard", name, None, opts)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        widgets = []
        for row, env in enumerate(environments):
            for column, widget in enumerate(_environment_row(env, region=region)):
                widgets.append({**widget, "x": column * WIDGET_WIDTH, "y": row * WIDGET_HEIGHT})
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{PROJECT_NAMESPACE}-{pulumi.get_stack()}-serving",
            dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"dashboard_name": self.dashboard_name})
