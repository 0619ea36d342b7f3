"""The alerts topic: where drift, failing jobs and pipeline, 5xx and latency alarms go."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.iam import policy
from infra.platform_config import AlertsConfig


class Alerts(pulumi.ComponentResource):
    """An encrypted SNS topic that CloudWatch alarms and EventBridge rules of this account publish to."""

    topic: aws.sns.Topic

    def __init__(
        self,
        name: str,
        *,
        config: AlertsConfig,
        key: aws.kms.Key,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-deploy:alerts:Alerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))

        self.topic = aws.sns.Topic(f"{name}-topic", kms_master_key_id=key.arn, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=policy(
                {
                    "Sid": "AlarmsAndRulesOfThisAccountPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                    "Action": "sns:Publish",
                    "Resource": self.topic.arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": identity.account_id}},
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": self.topic.arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ),
            opts=child,
        )
        for index, email in enumerate(config.alert_emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{index}",
                topic=self.topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        self.register_outputs({"topic_arn": self.topic.arn})


def alert_rule(
    name: str,
    *,
    target_name: str,
    description: str,
    pattern: dict[str, Any],
    input_paths: dict[str, str],
    message: str,
    topic_arn: pulumi.Input[str],
    parent: pulumi.Resource,
) -> aws.cloudwatch.EventRule:
    """An EventBridge rule whose events reach on-call as one readable line (`<name>` from the paths)."""
    child = pulumi.ResourceOptions(parent=parent)
    rule = aws.cloudwatch.EventRule(
        name, description=description, event_pattern=pulumi.Output.json_dumps(pattern), opts=child
    )
    aws.cloudwatch.EventTarget(
        target_name,
        rule=rule.name,
        arn=topic_arn,
        input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
            input_paths=input_paths, input_template=json.dumps(message)
        ),
        opts=child,
    )
    return rule
