"""The two IAM roles of a serving task: one for ECS to start it, one for the model server itself."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.iam import execution_statements, service_role

TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"


def execution_role(
    name: str,
    *,
    service_repo: aws.ecr.Repository,
    log_group: aws.cloudwatch.LogGroup,
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """What ECS needs to start a task: pull the service image and write the task's log group."""
    statements = execution_statements(repository_arn=service_repo.arn, log_group_arn=log_group.arn)
    return service_role(
        f"{name}-execution", service=TASKS_PRINCIPAL, statements=statements, parent=parent
    ).role


def task_role(
    name: str,
    *,
    prediction_logs: aws.s3.Bucket,
    log_prefix: str,
    key: aws.kms.Key,
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """What the model server may do: write payload logs under its own prefix, nothing more.

    Stage cannot overwrite prod's logs (which the monitor reads for drift), nor read anything.
    """
    statements = [
        {
            "Sid": "WritePredictionLogsOfThisEnvironment",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(prediction_logs.arn, "/", log_prefix, "*"),
        },
        {
            # The log bucket encrypts with the stack key: a PUT needs a data key from it.
            "Sid": "EncryptPredictionLogs",
            "Effect": "Allow",
            "Action": "kms:GenerateDataKey",
            "Resource": key.arn,
        },
    ]
    return service_role(f"{name}-task", service=TASKS_PRINCIPAL, statements=statements, parent=parent).role
