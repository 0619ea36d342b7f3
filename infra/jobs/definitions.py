"""The two Batch job definitions (retrain, monitor) and the environments that configure them.

Each environment is built from the job's own settings model (`ml_deploy.settings`), so no
variable name is spelled here: a setting renamed or removed in the runtime fails the program.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.jobs.config import JobConfig, JobsConfig
from ml_deploy.layout import METRICS_NAMESPACE, ObjectLayout
from ml_deploy.settings import MonitorSettings, RetrainSettings, environment

# Failures of the platform, not of our code: worth another attempt. Anything that exited
# with a code (0 promoted, 1 error, 2 bad data, 3 challenger rejected) is final. Batch
# globs may only end in '*' (prefix match), and it takes at most five entries in all.
RETRY_ON_STATUS_REASONS = (
    "Task failed to start*",
    "ResourceInitializationError*",
    "Host EC2*",
    "Your Spot Task was interrupted*",
)


@dataclass(frozen=True)
class JobContext:
    """What both jobs are told about the stack: region, buckets, layout, alerts and settings."""

    region: pulumi.Input[str]
    model_bucket: pulumi.Input[str]
    training_bucket: pulumi.Input[str]
    log_bucket: pulumi.Input[str]
    alerts_topic_arn: pulumi.Input[str]
    layout: ObjectLayout
    config: JobsConfig


def retrain_environment(context: JobContext) -> dict[str, Any]:
    layout, jobs = context.layout, context.config
    return environment(
        RetrainSettings,
        aws_region=context.region,
        model_bucket=context.model_bucket,
        model_key=layout.model_key,
        model_archive_prefix=layout.model_archive_prefix,
        decisions_prefix=layout.decisions_prefix,
        training_data_uri=pulumi.Output.concat(
            "s3://", context.training_bucket, "/", layout.training_data_prefix
        ),
        alerts_topic_arn=context.alerts_topic_arn,
        metrics_namespace=METRICS_NAMESPACE,
        gate_tolerance=jobs.gate_tolerance,
        gate_floor=jobs.gate_floor,
    )


def monitor_environment(
    context: JobContext, *, queue_name: pulumi.Input[str], retrain_definition_name: pulumi.Input[str]
) -> dict[str, Any]:
    layout, jobs = context.layout, context.config
    return environment(
        MonitorSettings,
        aws_region=context.region,
        # The monitor watches what prod serves; stage traffic is testing, not the world.
        environment="prod",
        model_bucket=context.model_bucket,
        model_key=layout.model_key,
        log_bucket=context.log_bucket,
        log_prefix=layout.prediction_log_prefix,
        reports_prefix=layout.reports_prefix,
        window_hours=jobs.drift_window_hours,
        psi_threshold=jobs.psi_threshold,
        ks_threshold=jobs.ks_threshold,
        category_threshold=jobs.category_threshold,
        missing_threshold=jobs.missing_threshold,
        unseen_threshold=jobs.unseen_threshold,
        alerts_topic_arn=context.alerts_topic_arn,
        metrics_namespace=METRICS_NAMESPACE,
        retrain_on_drift=jobs.retrain_on_drift,
        retrain_cooldown_hours=jobs.retrain_cooldown_hours,
        retrain_job_queue=queue_name,
        retrain_job_definition=retrain_definition_name,
        cooldown_key=layout.cooldown_key,
    )


@dataclass(frozen=True)
class JobRun:
    """One job: what runs it (image, roles, logs) and how it is sized and told what to do."""

    kind: str
    image: pulumi.Input[str]
    size: JobConfig
    role: aws.iam.Role
    execution_role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    region: pulumi.Input[str]
    environment: dict[str, Any]


def create_job_definition(name: str, *, run: JobRun, parent: pulumi.Resource) -> aws.batch.JobDefinition:
    """`<name>-<kind>`: a Fargate job running `python -m retrain_job.<kind>` from the jobs image."""
    container: dict[str, Any] = {
        "image": run.image,
        "command": ["python", "-m", f"retrain_job.{run.kind}"],
        "jobRoleArn": run.role.arn,
        "executionRoleArn": run.execution_role.arn,
        "resourceRequirements": [
            {"type": "VCPU", "value": f"{run.size.vcpu:g}"},
            {"type": "MEMORY", "value": str(run.size.memory)},
        ],
        "environment": [{"name": key, "value": value} for key, value in sorted(run.environment.items())],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": run.log_group.name,
                "awslogs-region": run.region,
                "awslogs-stream-prefix": run.kind,
            },
        },
        "networkConfiguration": {"assignPublicIp": "DISABLED"},
        "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
    }
    retry_on = [
        aws.batch.JobDefinitionRetryStrategyEvaluateOnExitArgs(action="RETRY", on_status_reason=reason)
        for reason in RETRY_ON_STATUS_REASONS
    ]
    return aws.batch.JobDefinition(
        f"{name}-{run.kind}",
        type="container",
        platform_capabilities=["FARGATE"],
        container_properties=pulumi.Output.json_dumps(container),
        retry_strategy=aws.batch.JobDefinitionRetryStrategyArgs(
            attempts=run.size.attempts,
            evaluate_on_exits=[
                *retry_on,
                aws.batch.JobDefinitionRetryStrategyEvaluateOnExitArgs(action="EXIT", on_exit_code="*"),
            ],
        ),
        timeout=aws.batch.JobDefinitionTimeoutArgs(attempt_duration_seconds=run.size.timeout_minutes * 60),
        opts=pulumi.ResourceOptions(parent=parent),
    )
