"""The Batch job definitions (retrain, monitor, quality); their environments: `infra/jobs/environments.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.jobs.config import JobConfig

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
    # A name known before the definition exists (the monitor's names itself for its fan-out); else
    # Pulumi's autoname.
    physical_name: str | None = None


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
        name=run.physical_name,
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
