"""The first task definition of a serving environment: the model server container and its settings.

Its environment is the one `infra/serving/task_environment.py` builds for the program and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import PROJECT_NAMESPACE
from infra.serving.collector import collector_config, collector_container
from infra.serving.config import EnvironmentConfig, ServingConfig
from infra.serving.task_environment import service_environment
from ml_deploy.layout import SERVICE_CONTAINER, ObjectLayout

# The service container's name; the pipeline's imagedefinitions.json must use exactly this.
CONTAINER_NAME = SERVICE_CONTAINER
STOP_TIMEOUT_SECONDS = 40


@dataclass(frozen=True)
class TaskInputs:
    """What one environment's task definition names: image, settings, roles and log group."""

    environment: str
    sizing: EnvironmentConfig
    config: ServingConfig
    layout: ObjectLayout
    service_repo: aws.ecr.Repository
    prediction_logs: aws.s3.Bucket
    log_group: aws.cloudwatch.LogGroup
    # Where the collector writes the service's metrics as EMF (CloudWatch extracts them).
    metrics_log_group: aws.cloudwatch.LogGroup
    execution_role: aws.iam.Role
    task_role: aws.iam.Role


def _container_environment(inputs: TaskInputs, *, region: pulumi.Input[str]) -> list[dict[str, Any]]:
    variables = service_environment(
        environment_name=inputs.environment,
        sizing=inputs.sizing,
        layout=inputs.layout,
        port=inputs.config.container_port,
        log_bucket=inputs.prediction_logs.bucket,
        region=region,
    )
    return [{"name": name, "value": value} for name, value in variables.items()]


def metrics_collector(inputs: TaskInputs, *, region: pulumi.Input[str]) -> dict[str, Any]:
    """The collector sidecar, scraping this task's model server into this environment's metrics."""
    config = collector_config(
        environment=inputs.environment,
        port=inputs.config.container_port,
        scrape_seconds=inputs.config.metrics_scrape_seconds,
        log_group_name=inputs.metrics_log_group.name,
        region=region,
    )
    return collector_container(
        image=inputs.config.collector_image,
        config=config,
        log_group_name=inputs.log_group.name,
        region=region,
        stream_prefix=f"{inputs.environment}-collector",
    )


def create_task_definition(
    name: str, *, inputs: TaskInputs, parent: pulumi.Resource
) -> aws.ecs.TaskDefinition:
    """`<name>-task`: Fargate, awsvpc, the essential model server from `<service repo>:<initialImageTag>`
    and the metrics collector beside it."""
    region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=parent)).region
    port = inputs.config.container_port
    health_probe = (
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=3)"
    )
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": pulumi.Output.concat(
            inputs.service_repo.repository_url, ":", inputs.config.initial_image_tag
        ),
        "essential": True,
        # SIGTERM to SIGKILL: room for the server's graceful stop (10 s) and the final flush
        # of buffered prediction logs (LOG_SHUTDOWN_TIMEOUT_SECONDS, 20 s).
        "stopTimeout": STOP_TIMEOUT_SECONDS,
        "portMappings": [{"containerPort": port, "protocol": "tcp"}],
        "environment": _container_environment(inputs, region=region),
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": inputs.log_group.name,
                "awslogs-region": region,
                "awslogs-stream-prefix": inputs.environment,
            },
        },
        # The image has python but no curl; an exception (refused, 5xx) exits non-zero.
        "healthCheck": {
            "command": ["CMD", "python", "-c", health_probe],
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": inputs.config.startup_grace_seconds,
        },
    }
    return aws.ecs.TaskDefinition(
        f"{name}-task",
        family=f"{PROJECT_NAMESPACE}-{pulumi.get_stack()}-{inputs.environment}",
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        cpu=str(inputs.sizing.cpu),
        memory=str(inputs.sizing.memory),
        execution_role_arn=inputs.execution_role.arn,
        task_role_arn=inputs.task_role.arn,
        runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
            operating_system_family="LINUX", cpu_architecture="X86_64"
        ),
        # The model server first: readers that take the first container (the local delivery) find it.
        container_definitions=pulumi.Output.json_dumps([container, metrics_collector(inputs, region=region)]),
        opts=pulumi.ResourceOptions(parent=parent),
    )
