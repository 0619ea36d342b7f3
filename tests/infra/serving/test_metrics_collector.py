"""The metrics collector sidecar in each serving task, and the dashboard's model rows.

What AWS and OpenTelemetry document about the collector is held here as data, naming the pages.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.serving.collector import COLLECTOR_CONTAINER, CONFIG_VARIABLE
from ml_deploy.layout import METRICS_NAMESPACE, SERVICE_CONTAINER
from ml_deploy_dev.program import Program

ENVIRONMENTS = ("stage", "prod")
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

# https://aws-otel.github.io/docs/setup/ecs/task-definition-for-ecs-fargate and the v0.49.0 release page
# (github.com/aws-observability/aws-otel-collector/releases/tag/v0.49.0): the image is published on
# ECR Public, which has no anonymous pull limit for pulls from AWS, unlike Docker Hub.
ADOT_REPOSITORY = "public.ecr.aws/aws-observability/aws-otel-collector"
# https://grafana.com/docs/alloy/latest/collect/ecs-openteletry-data (and the ADOT ECS guides):
# AOT_CONFIG_CONTENT holds a full collector configuration and overrides the image's own.
DOCUMENTED_CONFIG_VARIABLE = "AOT_CONFIG_CONTENT"
# opentelemetry-collector-contrib exporter/awsemfexporter/README.md: the documented options.
AWSEMF_OPTIONS = {
    "namespace", "region", "log_group_name", "log_stream_name", "dimension_rollup_option",
    "retain_initial_value_of_delta_metric", "metric_declarations", "endpoint", "role_arn",
    "max_retries", "resource_to_telemetry_conversion", "output_destination", "detailed_metrics",
    "parse_json_encoded_attr_values", "metric_descriptors", "log_retention", "tags",
    "no_verify_ssl", "proxy_address",
}  # fmt: skip
ROLLUP_OPTIONS = {"NoDimensionRollup", "SingleDimensionRollupOnly", "ZeroAndSingleDimensionRollup"}


def _containers(program: Program, env: str) -> dict[str, dict[str, Any]]:
    task = program.one(TASK_DEFINITION, f"serving-{env}-task")
    return {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}


def _collector_config(program: Program, env: str) -> dict[str, Any]:
    collector = _containers(program, env)[COLLECTOR_CONTAINER]
    values = {item["name"]: item["value"] for item in collector["environment"]}
    config: dict[str, Any] = json.loads(values[CONFIG_VARIABLE])
    return config


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_task_runs_a_non_essential_pinned_collector_beside_the_model_server(
    dev_program: Program, env: str
) -> None:
    containers = _containers(dev_program, env)
    assert list(containers) == [SERVICE_CONTAINER, COLLECTOR_CONTAINER], list(containers)
    collector = containers[COLLECTOR_CONTAINER]
    assert collector["essential"] is False, f"{env}: a collector failure would stop the model server"
    repository, _, tag = collector["image"].rpartition(":")
    assert repository == ADOT_REPOSITORY, collector["image"]
    assert tag.startswith("v") and tag != "latest", f"{env}: collector image not pinned: {tag}"
    task = dev_program.one(TASK_DEFINITION, f"serving-{env}-task").inputs
    assert collector["cpu"] <= int(task["cpu"]) // 4, f"{env}: collector takes {collector['cpu']} cpu units"
    assert collector["memory"] <= int(task["memory"]) // 4, (
        f"{env}: collector may take {collector['memory']} MiB"
    )
    assert CONFIG_VARIABLE == DOCUMENTED_CONFIG_VARIABLE
    assert collector["logConfiguration"]["logDriver"] == "awslogs", f"{env}: collector logs go nowhere"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_collector_scrapes_this_tasks_server_and_labels_the_environment(
    dev_program: Program, env: str
) -> None:
    config = _collector_config(dev_program, env)
    (scrape,) = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    interval = int(scrape["scrape_interval"].removesuffix("s"))
    assert 15 <= interval <= 60, f"{env}: scrapes every {interval} s"
    assert scrape["metrics_path"] == "/metrics"
    (target,) = scrape["static_configs"]
    port = _containers(dev_program, env)[SERVICE_CONTAINER]["portMappings"][0]["containerPort"]
    assert target["targets"] == [f"127.0.0.1:{port}"], f"{env} scrapes {target['targets']}"
    assert target["labels"] == {"Environment": env}
    pipeline = config["service"]["pipelines"]["metrics"]
    assert (pipeline["receivers"], pipeline["exporters"]) == (["prometheus"], ["awsemf"]), pipeline
    assert set(pipeline["processors"]) <= set(config["processors"]), "a pipeline names an undefined processor"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_exporter_writes_emf_to_this_environments_metrics_log_group(
    dev_program: Program, env: str
) -> None:
    exporter = _collector_config(dev_program, env)["exporters"]["awsemf"]
    assert set(exporter) <= AWSEMF_OPTIONS, f"undocumented awsemf options: {set(exporter) - AWSEMF_OPTIONS}"
    assert exporter["namespace"] == METRICS_NAMESPACE
    metrics_logs = dev_program.one(LOG_GROUP, f"serving-{env}-metrics-logs")
    assert exporter["log_group_name"] == metrics_logs.state["name"], exporter["log_group_name"]
    assert metrics_logs.inputs.get("kmsKeyId") == dev_program.outputs["kmsKeyArn"], "metrics logs unencrypted"
    assert metrics_logs.inputs.get("retentionInDays"), "metrics logs kept forever"
    assert exporter["dimension_rollup_option"] in ROLLUP_OPTIONS
    # Without it the first value of each counter is only a baseline: an early drop never alarms.
    assert exporter["retain_initial_value_of_delta_metric"] is True
    every_set = [d for declaration in exporter["metric_declarations"] for d in declaration["dimensions"]]
    assert every_set and all(dims[0] == "Environment" for dims in every_set), every_set
    assert ["Environment", "ModelVersion"] in every_set, "nothing is exported per model version"


def test_the_dashboard_has_a_model_row_per_environment(dev_program: Program) -> None:
    dashboard = dev_program.one("aws:cloudwatch/dashboard:Dashboard")
    titles = [w["properties"]["title"] for w in json.loads(dashboard.inputs["dashboardBody"])["widgets"]]
    for env in ENVIRONMENTS:
        for what in (
            "records scored by model version",
            "mean probability by model version",
            "prediction log",
        ):
            assert any(title.startswith(f"{env}: {what}") for title in titles), f"no '{env}: {what}' widget"
    body = dashboard.inputs["dashboardBody"]
    assert "ModelVersion" in body and "payload_log_records_dropped_total" in body
