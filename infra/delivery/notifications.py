"""Who hears from the pipeline: approvers (approval topic) and on-call (alerts topic).

The approval topic is written to by the pipeline's manual-approval action through the
pipeline role; the alerts topic gets readable messages from EventBridge when an execution
fails or is superseded, and when an approval starts waiting.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra.alerts import alert_rule
from infra.iam import policy

EXECUTION_STATE_CHANGE = "CodePipeline Pipeline Execution State Change"
ACTION_STATE_CHANGE = "CodePipeline Action Execution State Change"
ALERTED_EXECUTION_STATES = ("FAILED", "SUPERSEDED")


def create_approval_topic(
    name: str,
    *,
    key: aws.kms.Key,
    publisher_role: aws.iam.Role,
    emails: Sequence[str],
    parent: pulumi.Resource,
) -> aws.sns.Topic:
    """An encrypted topic only the pipeline role may publish to, with the approvers subscribed."""
    child = pulumi.ResourceOptions(parent=parent)
    topic = aws.sns.Topic(f"{name}-approvals", kms_master_key_id=key.arn, opts=child)
    aws.sns.TopicPolicy(
        f"{name}-approvals",
        arn=topic.arn,
        policy=policy(
            {
                "Sid": "PipelineAsksForApproval",
                "Effect": "Allow",
                "Principal": {"AWS": publisher_role.arn},
                "Action": "sns:Publish",
                "Resource": topic.arn,
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic.arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ),
        opts=child,
    )
    for index, email in enumerate(emails):
        aws.sns.TopicSubscription(
            f"{name}-approver-{index}",
            topic=topic.arn,
            protocol="email",
            endpoint=email,
            opts=child,
        )
    return topic


def create_pipeline_alerts(
    name: str,
    *,
    pipeline: aws.codepipeline.Pipeline,
    alerts_topic: aws.sns.Topic,
    parent: pulumi.Resource,
) -> list[aws.cloudwatch.EventRule]:
    """Failed/superseded executions and waiting approvals of this pipeline -> the alerts topic."""
    failed = alert_rule(
        f"{name}-execution-failed",
        target_name=f"{name}-execution-failed",
        description="A delivery pipeline execution failed or was superseded",
        pattern={
            "source": ["aws.codepipeline"],
            "detail-type": [EXECUTION_STATE_CHANGE],
            "detail": {"pipeline": [pipeline.name], "state": list(ALERTED_EXECUTION_STATES)},
        },
        input_paths={
            "pipeline": "$.detail.pipeline",
            "state": "$.detail.state",
            "execution": "$.detail.execution-id",
            "region": "$.region",
        },
        message=(
            "Pipeline <pipeline> execution <execution> is <state>. "
            "See https://<region>.console.aws.amazon.com/codesuite/codepipeline/pipelines/"
            "<pipeline>/executions/<execution>/timeline"
        ),
        topic_arn=alerts_topic.arn,
        parent=parent,
    )
    waiting = alert_rule(
        f"{name}-approval-waiting",
        target_name=f"{name}-approval-waiting",
        description="The delivery pipeline waits for a prod approval",
        pattern={
            "source": ["aws.codepipeline"],
            "detail-type": [ACTION_STATE_CHANGE],
            "detail": {
                "pipeline": [pipeline.name],
                "state": ["STARTED"],
                "type": {"category": ["Approval"]},
            },
        },
        input_paths={
            "pipeline": "$.detail.pipeline",
            "stage": "$.detail.stage",
            "execution": "$.detail.execution-id",
        },
        message=(
            "Pipeline <pipeline> execution <execution> waits for approval in stage <stage>; "
            "the approvers' topic has the commit, model version and stage URL."
        ),
        topic_arn=alerts_topic.arn,
        parent=parent,
    )
    return [failed, waiting]
