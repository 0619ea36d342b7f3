"""What the model server's task may do (its task role); ECS's execution role is `infra.iam`'s.

The task role is shared by the task's containers: the model server writes prediction logs, the
metrics collector writes EMF to its environment's metrics log group.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.iam import objects, task_role


def model_server_role(
    name: str,
    *,
    prediction_logs: aws.s3.Bucket,
    log_prefix: str,
    key: aws.kms.Key,
    metrics_log_group: aws.cloudwatch.LogGroup,
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """`<name>-task`: write payload logs under this environment's own prefix and metrics to its
    own metrics log group, nothing more.

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
        *metrics_statements(metrics_log_group.arn),
    ]
    return task_role(f"{name}-task", statements=statements, parent=parent)


def metrics_statements(log_group_arn: pulumi.Input[str]) -> list[dict[str, Any]]:
    """What the collector's `awsemf` exporter calls, on this environment's metrics group only.

    The program creates the group (encrypted, with retention), so the exporter's documented
    CreateLogGroup, DescribeLogGroups and PutRetentionPolicy are not granted.
    """
    return [
        {
            "Sid": "WriteMetricsAsEmbeddedMetricFormat",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": pulumi.Output.concat(log_group_arn, ":log-stream:*"),
        },
        {
            "Sid": "FindMetricsLogStreams",
            "Effect": "Allow",
            "Action": "logs:DescribeLogStreams",
            "Resource": [log_group_arn, pulumi.Output.concat(log_group_arn, ":*")],
        },
    ]
