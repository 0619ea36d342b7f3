"""What the model server itself may do (its task role); ECS's execution role is `infra.iam`'s."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.iam import objects, task_role


def model_server_role(
    name: str,
    *,
    prediction_logs: aws.s3.Bucket,
    log_prefix: str,
    key: aws.kms.Key,
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """`<name>-task`: write payload logs under this environment's own prefix, nothing more.

    Stage cannot overwrite prod's logs (which the monitor reads for drift), nor read anything.
    """
    statements = [
        {
            "Sid": "WritePredictionLogsOfThisEnvironment",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": objects(prediction_logs.arn, log_prefix),
        },
        {
            # The log bucket encrypts with the stack key: a PUT needs a data key from it.
            "Sid": "EncryptPredictionLogs",
            "Effect": "Allow",
            "Action": "kms:GenerateDataKey",
            "Resource": key.arn,
        },
    ]
    return task_role(f"{name}-task", statements=statements, parent=parent)
