"""The stack's customer-managed KMS key: buckets, the registry, logs, topics and artifacts."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.iam import policy


class StackKey(pulumi.ComponentResource):
    """One rotating KMS key per stack, with a key policy for the services that use it directly.

    IAM principals of this account get access through their own (scoped) policies; the key
    policy only has to admit the account and the AWS services that encrypt on our behalf.
    """

    key: aws.kms.Key

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-deploy:encryption:StackKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # In a key policy "Resource": "*" means "this key": key policies name no other resource.
        self.key = aws.kms.Key(
            f"{name}-key",
            description=pulumi.Output.concat("ml-deploy ", pulumi.get_stack(), " data key"),
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=_key_policy(parent=self),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=pulumi.Output.concat("alias/ml-deploy-", pulumi.get_stack()),
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.register_outputs({"key_arn": self.key.arn})


def _key_policy(*, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The account administers the key; Logs, CloudWatch alarms and EventBridge rules use it."""
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    account_root = pulumi.Output.concat("arn:aws:iam::", identity.account_id, ":root")
    logs_arns = pulumi.Output.concat("arn:aws:logs:", region.region, ":", identity.account_id, ":log-group:*")
    return policy(
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": account_root},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsEncryptsThisStacksLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": pulumi.Output.concat("logs.", region.region, ".amazonaws.com")},
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
            ],
            "Resource": "*",
            "Condition": {"StringLike": {"kms:EncryptionContext:aws:logs:arn": logs_arns}},
        },
        {
            "Sid": "CloudWatchLogsDescribesKey",
            "Effect": "Allow",
            "Principal": {"Service": pulumi.Output.concat("logs.", region.region, ".amazonaws.com")},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
        *_topic_publisher_statements(account_id=identity.account_id),
    )


# https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, "Enable compatibility between
# event sources from AWS services and encrypted topics": the publishing service needs
# kms:GenerateDataKey* and kms:Decrypt on the topic's key. CodePipeline's approval action is not
# here: it publishes with the pipeline role, whose own policy grants the key.
TOPIC_KEY_ACTIONS = ["kms:GenerateDataKey*", "kms:Decrypt"]


def _topic_publisher_statements(*, account_id: pulumi.Input[str]) -> list[dict[str, Any]]:
    """CloudWatch alarms and EventBridge rules publish to the alerts topic, encrypted with this key."""
    return [
        {
            # The KMS request of an alarm carries aws:SourceAccount: only this account's alarms.
            "Sid": "CloudWatchAlarmsPublishToEncryptedTopics",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": TOPIC_KEY_ACTIONS,
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            # No condition: the guide says aws:SourceArn, aws:SourceAccount and aws:SourceOrgID are
            # not supported in a key policy for EventBridge-to-encrypted-topics; with one, every
            # rule's message is dropped without an error. The topic policy still admits only
            # this account's rules.
            "Sid": "EventBridgeRulesPublishToEncryptedTopics",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": TOPIC_KEY_ACTIONS,
            "Resource": "*",
        },
    ]
