"""Small helpers for IAM documents kept as Python data (never f-string JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws


def assume_role_policy(*services: str, conditions: Sequence[dict[str, Any]] = ()) -> str:
    """Trust policy that lets the given AWS service principals assume a role."""
    document = aws.iam.get_policy_document(
        statements=[
            aws.iam.GetPolicyDocumentStatementArgs(
                sid="AssumedByService",
                effect="Allow",
                actions=["sts:AssumeRole"],
                principals=[
                    aws.iam.GetPolicyDocumentStatementPrincipalArgs(
                        type="Service", identifiers=list(services)
                    )
                ],
                conditions=[aws.iam.GetPolicyDocumentStatementConditionArgs(**c) for c in conditions],
            )
        ]
    )
    return document.json


def policy(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """A policy document from statements whose values may be Outputs (ARNs of this stack)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def deny_insecure_transport(bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The statement every bucket policy starts with: no request without TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
