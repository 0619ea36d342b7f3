"""The metrics collector beside the model server: ADOT scrapes `/metrics`, CloudWatch gets EMF.

Why CloudWatch (the `awsemf` exporter) and not Amazon Managed Prometheus: the stack's dashboard
and alarms already live in CloudWatch and notify the alerts topic; a Prometheus workspace would
add a second place to look, its own alerting (Alertmanager) and a Grafana to read it.

The collector's configuration is data rendered here and handed over in `AOT_CONFIG_CONTENT`
(JSON is YAML); what it selects is `METRIC_DECLARATIONS`, which a test checks against a live
scrape of the real service, so a renamed metric fails a test instead of emptying a dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from ml_deploy.layout import METRICS_NAMESPACE

COLLECTOR_CONTAINER = "metrics-collector"
CONFIG_VARIABLE = "AOT_CONFIG_CONTENT"
# A small share of the task: the collector scrapes one endpoint twice a minute.
COLLECTOR_CPU = 64
COLLECTOR_MEMORY_RESERVATION_MIB = 64
COLLECTOR_MEMORY_LIMIT_MIB = 256

ENVIRONMENT_DIMENSION = "Environment"
MODEL_VERSION_DIMENSION = "ModelVersion"
# The service's label renamed by the scrape's relabelling: CloudWatch dimensions read CamelCase.
MODEL_VERSION_LABEL = "model_version"

# What reaches CloudWatch (names as the service exposes them: the receiver keeps `_total`).
PREDICTIONS = "predictions_total"
PROBABILITY = "prediction_probability"
MODEL_CREATED = "model_bundle_created_timestamp_seconds"
EXPECTED_MEAN_LOW = "model_expected_mean_probability_low"
EXPECTED_MEAN_HIGH = "model_expected_mean_probability_high"
LOG_WRITTEN = "payload_log_records_written_total"
LOG_RETRIED = "payload_log_records_retried_total"
LOG_DROPPED = "payload_log_records_dropped_total"
LOG_BUFFERED = "payload_log_records_buffered"


@dataclass(frozen=True)
class MetricDeclaration:
    """Metrics exported with these dimension sets (each set is one CloudWatch metric)."""

    metrics: tuple[str, ...]
    dimensions: tuple[tuple[str, ...], ...]

    def as_config(self) -> dict[str, Any]:
        return {
            "dimensions": [list(dimension_set) for dimension_set in self.dimensions],
            "metric_name_selectors": [f"^{name}$" for name in self.metrics],
        }


METRIC_DECLARATIONS = (
    # Per model version for the dashboard, per environment alone for the alarms (an alarm names
    # exact dimensions, and the next model's version is not known when the alarm is created).
    MetricDeclaration(
        metrics=(PREDICTIONS, PROBABILITY),
        dimensions=((ENVIRONMENT_DIMENSION, MODEL_VERSION_DIMENSION), (ENVIRONMENT_DIMENSION,)),
    ),
    MetricDeclaration(
        metrics=(
            MODEL_CREATED,
            EXPECTED_MEAN_LOW,
            EXPECTED_MEAN_HIGH,
            LOG_WRITTEN,
            LOG_RETRIED,
            LOG_DROPPED,
            LOG_BUFFERED,
        ),
        dimensions=((ENVIRONMENT_DIMENSION,),),
    ),
)


def collector_config(
    *,
    environment: str,
    port: int,
    scrape_seconds: int,
    log_group_name: pulumi.Input[str],
    region: pulumi.Input[str],
) -> dict[str, Any]:
    """The collector's configuration: one scrape of the model server, one EMF exporter."""
    scrape = {
        "job_name": "model-server",
        "scrape_interval": f"{scrape_seconds}s",
        "scrape_timeout": "10s",
        "metrics_path": "/metrics",
        # The task shares one network namespace: the server is on localhost.
        "static_configs": [
            {"targets": [f"127.0.0.1:{port}"], "labels": {ENVIRONMENT_DIMENSION: environment}}
        ],
        # Default replacement ($1) copies the label; a `$` written here would be read as a variable.
        "metric_relabel_configs": [
            {"source_labels": [MODEL_VERSION_LABEL], "target_label": MODEL_VERSION_DIMENSION},
            {"action": "labeldrop", "regex": MODEL_VERSION_LABEL},
        ],
    }
    return {
        "receivers": {"prometheus": {"config": {"scrape_configs": [scrape]}}},
        "processors": {
            # Adds the task id for the log stream name; reads only the task metadata endpoint.
            "resourcedetection": {"detectors": ["env", "ecs"]},
            "batch/metrics": {"timeout": "60s"},
        },
        "exporters": {
            "awsemf": {
                "namespace": METRICS_NAMESPACE,
                "region": region,
                "log_group_name": log_group_name,
                "log_stream_name": "{TaskId}",
                "dimension_rollup_option": "NoDimensionRollup",
                # Counters start at zero with the task: the first scrape's value is a real count
                # (a line dropped before it would otherwise never reach the alarm).
                "retain_initial_value_of_delta_metric": True,
                "metric_declarations": [declaration.as_config() for declaration in METRIC_DECLARATIONS],
            }
        },
        "service": {
            "pipelines": {
                "metrics": {
                    "receivers": ["prometheus"],
                    "processors": ["resourcedetection", "batch/metrics"],
                    "exporters": ["awsemf"],
                }
            }
        },
    }


def collector_container(
    *,
    image: str,
    config: dict[str, Any],
    log_group_name: pulumi.Input[str],
    region: pulumi.Input[str],
    stream_prefix: str,
) -> dict[str, Any]:
    """The sidecar: not essential (a collector failure never stops the model server)."""
    return {
        "name": COLLECTOR_CONTAINER,
        "image": image,
        "essential": False,
        "cpu": COLLECTOR_CPU,
        "memoryReservation": COLLECTOR_MEMORY_RESERVATION_MIB,
        "memory": COLLECTOR_MEMORY_LIMIT_MIB,
        "environment": [{"name": CONFIG_VARIABLE, "value": pulumi.Output.json_dumps(config)}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group_name,
                "awslogs-region": region,
                "awslogs-stream-prefix": stream_prefix,
            },
        },
    }
