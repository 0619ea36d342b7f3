"""The policy matcher the documented-permission tests rely on says no where IAM would."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.policy_matcher import Call, allowing, allows

BUCKET = "arn:aws:s3:::models"
PASS_ROLE = {
    "Sid": "PassToEcsTasks",
    "Effect": "Allow",
    "Action": "iam:PassRole",
    "Resource": "arn:aws:iam::123456789012:role/task-*",
    "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
}
READ_BUNDLE = {"Sid": "Read", "Effect": "Allow", "Action": ["s3:Get*"], "Resource": f"{BUCKET}/bundles/*"}


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (Call("s3:GetObject", f"{BUCKET}/bundles/current.zip"), True),
        (Call("S3:getobjectversion", f"{BUCKET}/bundles/a/b.zip"), True),  # actions ignore case
        (Call("s3:GetObject", f"{BUCKET}/Bundles/current.zip"), False),  # ARNs do not
        (Call("s3:GetObject", f"{BUCKET}/other/current.zip"), False),
        (Call("s3:PutObject", f"{BUCKET}/bundles/current.zip"), False),
        (Call("s3:GetBucketAcl", BUCKET), False),  # the bucket is not one of its objects
    ],
)
def test_actions_and_resources_match_with_iam_wildcards(call: Call, expected: bool) -> None:
    assert allows([READ_BUNDLE], call) is expected


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"iam:PassedToService": "ecs-tasks.amazonaws.com"}, True),
        ({"IAM:PassedToService": "ecs-tasks.amazonaws.com"}, True),  # keys ignore case
        ({"iam:PassedToService": "batch.amazonaws.com"}, False),
        ({}, False),  # a key the request does not carry fails its condition
    ],
)
def test_conditions_hold_only_for_what_the_request_carries(context: dict[str, str], expected: bool) -> None:
    call = Call("iam:PassRole", "arn:aws:iam::123456789012:role/task-stage", context)
    assert allows([PASS_ROLE], call) is expected


def test_unknown_condition_operators_do_not_hold() -> None:
    statement = {**READ_BUNDLE, "Condition": {"NumericLessThan": {"s3:max-keys": "10"}}}
    assert not allows([statement], Call("s3:GetObject", f"{BUCKET}/bundles/x", {"s3:max-keys": "5"}))


def test_resource_policies_must_name_the_calling_service() -> None:
    statement: dict[str, Any] = {
        "Sid": "EventsUseKey",
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com"]},
        "Action": "kms:GenerateDataKey*",
        "Resource": "*",
    }
    key = "arn:aws:kms:eu-west-1:123456789012:key/k"
    assert allowing(
        [statement], Call("kms:GenerateDataKey", key, service_principal="events.amazonaws.com")
    ) == ["EventsUseKey"]
    assert not allows(
        [statement], Call("kms:GenerateDataKey", key, service_principal="cloudwatch.amazonaws.com")
    )
    assert not allows([statement], Call("kms:GenerateDataKey", key))  # an identity policy names no principal


def test_a_matching_deny_wins() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": f"{BUCKET}/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    over_http = Call("s3:GetObject", f"{BUCKET}/bundles/x", {"aws:SecureTransport": "false"})
    over_tls = Call("s3:GetObject", f"{BUCKET}/bundles/x", {"aws:SecureTransport": "true"})
    assert not allows([READ_BUNDLE, deny], over_http)
    assert allows([READ_BUNDLE, deny], over_tls)
