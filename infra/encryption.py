"""The stack's customer-managed KMS key: buckets, the registry, logs, topics and artifacts."""

from __future__ import annotations

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
    """The account administers the key; Logs, EventBridge, CloudWatch and notifications use it."""
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
        {
            "Sid": "ServicesPublishToEncryptedTopics",
            "Effect": "Allow",
            "Principal": {
                "Service": [
                    "events.amazonaws.com",
                    "cloudwatch.amazonaws.com",
                    "codestar-notifications.amazonaws.com",
                ]
            },
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": identity.account_id}},
        },
    )
