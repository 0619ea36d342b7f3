"""The two IAM roles of a serving task: one for ECS to start it, one for the model server itself."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.iam import assume_role_policy, policy

TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"


def execution_role(
    name: str,
    *,
    service_repo: aws.ecr.Repository,
    log_group: aws.cloudwatch.LogGroup,
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """What ECS needs to start a task: pull the service image and write the task's log group.

    Scoped instead of the managed AmazonECSTaskExecutionRolePolicy, which allows every
    repository and log group of the account.
    """
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-execution", assume_role_policy=assume_role_policy(TASKS_PRINCIPAL), opts=child
    )
    aws.iam.RolePolicy(
        f"{name}-execution",
        role=role.id,
        policy=policy(
            {
                "Sid": "AuthenticateToRegistry",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                # AWS grants GetAuthorizationToken only on "*": the token names no repository.
                "Resource": "*",
            },
            {
                "Sid": "PullServiceImages",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                "Resource": service_repo.arn,
            },
            {
                "Sid": "WriteServiceLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": pulumi.Output.concat(log_group.arn, ":log-stream:*"),
            },
        ),
        opts=child,
    )
    return role


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
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(f"{name}-task", assume_role_policy=assume_role_policy(TASKS_PRINCIPAL), opts=child)
    aws.iam.RolePolicy(
        f"{name}-task",
        role=role.id,
        policy=policy(
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
        ),
        opts=child,
    )
    return role
