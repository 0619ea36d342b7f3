"""The checker itself: AWS's evaluation rules for what our policies use, and a table AWS would recognise."""

from __future__ import annotations

from typing import Any

import pytest

from tests.enforcement.aws_calls import REQUIREMENTS, Call, StackFacts, requests_for
from tests.enforcement.policy_eval import Request, UnsupportedCondition, evaluate, reference_problems
from tests.enforcement.rendered import RuntimeRole, unproven

BUCKET = "arn:aws:s3:::data"
LIST_TRAINING = {
    "Sid": "ListTraining",
    "Effect": "Allow",
    "Action": "s3:ListBucket",
    "Resource": BUCKET,
    "Condition": {"StringLike": {"s3:prefix": ["training/*", "model.zip"]}},
}
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"
STACK = StackFacts(
    region="eu-west-1",
    account="123456789012",
    bucket_keys={"data": KEY},
    topic_keys={"arn:aws:sns:eu-west-1:123456789012:alerts": KEY},
    job_definition_revision=lambda name: 3,
)


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [("training/2026/", True), ("model.zip", True), ("other/", False), ("", False), ("model.zip.bak", False)],
)
def test_a_list_is_allowed_only_under_the_granted_prefixes(prefix: str, allowed: bool) -> None:
    request = Request("s3:ListBucket", BUCKET, {"s3:prefix": prefix})
    assert evaluate(_policy(LIST_TRAINING), request).allowed is allowed


def test_wildcards_match_across_slashes_and_actions_ignore_case() -> None:
    policy = _policy({"Effect": "Allow", "Action": "S3:getobject", "Resource": f"{BUCKET}/bundles/*/b?.zip"})
    assert evaluate(policy, Request("s3:GetObject", f"{BUCKET}/bundles/archive/v1/b1.zip")).allowed
    assert not evaluate(policy, Request("s3:GetObject", f"{BUCKET}/bundles/b12.zip")).allowed
    assert not evaluate(policy, Request("s3:GetObjectVersion", f"{BUCKET}/bundles/x/b1.zip")).allowed


READ_BUNDLES = {"Sid": "Read", "Effect": "Allow", "Action": ["s3:Get*"], "Resource": f"{BUCKET}/bundles/*"}


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [
        (Request("s3:GetObject", f"{BUCKET}/bundles/current.zip"), True),
        (Request("S3:getobjectversion", f"{BUCKET}/bundles/a/b.zip"), True),  # actions ignore case
        (Request("s3:GetObject", f"{BUCKET}/Bundles/current.zip"), False),  # ARNs do not
        (Request("s3:GetObject", f"{BUCKET}/other/current.zip"), False),
        (Request("s3:PutObject", f"{BUCKET}/bundles/current.zip"), False),
        (Request("s3:GetBucketAcl", BUCKET), False),  # the bucket is not one of its objects
    ],
)
def test_actions_ignore_case_and_arns_do_not(request_: Request, allowed: bool) -> None:
    assert evaluate(_policy(READ_BUNDLES), request_).allowed is allowed


@pytest.mark.parametrize(
    ("context", "allowed"),
    [
        ({"iam:PassedToService": "ecs-tasks.amazonaws.com"}, True),
        ({"IAM:PassedToService": "ecs-tasks.amazonaws.com"}, True),  # keys ignore case
        ({"iam:PassedToService": "batch.amazonaws.com"}, False),
        ({}, False),  # a key the request does not carry fails its condition
    ],
)
def test_a_condition_holds_only_for_what_the_request_carries(context: dict[str, str], allowed: bool) -> None:
    pass_role = {
        "Sid": "PassToEcsTasks",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": "arn:aws:iam::123456789012:role/task-*",
        "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
    }
    request = Request("iam:PassRole", "arn:aws:iam::123456789012:role/task-stage", context)
    assert evaluate(_policy(pass_role), request).allowed is allowed


def test_a_resource_policy_admits_only_the_service_it_names() -> None:
    key_policy = _policy(
        {
            "Sid": "EventsUseKey",
            "Effect": "Allow",
            "Principal": {"Service": ["events.amazonaws.com"]},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
        }
    )
    request = Request("kms:GenerateDataKey", KEY)
    assert evaluate(key_policy, request, principal="events.amazonaws.com").allowed_by == ("EventsUseKey",)
    assert not evaluate(key_policy, request, principal="cloudwatch.amazonaws.com").allowed
    assert not evaluate(key_policy, request).allowed  # as an identity policy: it names no principal


def test_every_allow_that_admits_a_request_is_named() -> None:
    """A test can insist that exactly the intended statement grants a request."""
    also = {"Sid": "AlsoRead", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"}
    decision = evaluate(_policy(READ_BUNDLES, also), Request("s3:GetObject", f"{BUCKET}/bundles/x"))
    assert (decision.reason, decision.allowed_by) == ("allowed by Read", ("Read", "AlsoRead"))


def test_an_explicit_deny_wins_but_the_tls_deny_spares_requests_over_tls() -> None:
    bucket_policy = _policy(
        {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": f"{BUCKET}/*"},
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": f"{BUCKET}/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    role = "arn:aws:iam::123456789012:role/r"
    plain = evaluate(
        bucket_policy,
        Request("s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": "false"}),
        principal=role,
    )
    tls = evaluate(
        bucket_policy, Request("s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": "true"}), principal=role
    )
    assert (plain.explicit_deny, plain.reason) == (True, "denied by DenyInsecureTransport")
    assert tls.allowed and not tls.explicit_deny


def test_a_missing_condition_key_fails_positive_operators_only() -> None:
    negated = _policy({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
                       "Condition": {"StringNotEquals": {"s3:x-amz-acl": "public-read"}}})  # fmt: skip
    if_exists = _policy({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
                         "Condition": {"StringEqualsIfExists": {"s3:x-amz-acl": "private"}}})  # fmt: skip
    request = Request("s3:PutObject", f"{BUCKET}/k")
    assert evaluate(negated, request).allowed and evaluate(if_exists, request).allowed
    assert not evaluate(_policy(LIST_TRAINING), Request("s3:ListBucket", BUCKET)).allowed


def test_an_unknown_condition_operator_is_an_error_not_a_guess() -> None:
    policy = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                      "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})  # fmt: skip
    with pytest.raises(UnsupportedCondition, match="IpAddress"):
        evaluate(policy, Request("s3:GetObject", f"{BUCKET}/k"))


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (Request("s3:GetObjectVersions", f"{BUCKET}/k"), "not an action"),
        (Request("s3:GetObjectVersion", BUCKET), "none of s3:GetObjectVersion's resource types"),
        (Request("cloudwatch:PutMetricData", "arn:aws:cloudwatch:eu-west-1:1:alarm:a"), "takes no resource"),
        (Request("cloudwatch:PutMetricData", "*", {"s3:prefix": "x"}), "not a condition key"),
    ],
)
def test_the_service_reference_catches_a_wrong_mapping(request_: Request, problem: str) -> None:
    assert any(problem in p for p in reference_problems(request_)), reference_problems(request_)


# One representative call per entry of the table, so entries no runtime reaches yet are checked too.
SAMPLE_CALLS = [
    Call("s3", "GetObject", {"Bucket": "data", "Key": "k", "VersionId": "v"}),
    Call("s3", "HeadObject", {"Bucket": "data", "Key": "k"}, error="404"),
    Call("s3", "PutObject", {"Bucket": "data", "Key": "k", "Tagging": "a=b", "ACL": "private"}),
    Call("s3", "CopyObject", {"Bucket": "data", "Key": "k", "CopySource": "data/src?versionId=v"}),
    Call("s3", "ListObjectsV2", {"Bucket": "data", "Prefix": "p/"}),
    Call("s3", "ListObjects", {"Bucket": "data"}),
    Call("s3", "ListObjectVersions", {"Bucket": "data", "Prefix": "p/"}),
    Call("s3", "GetBucketEncryption", {"Bucket": "data"}),
    Call("cloudwatch", "PutMetricData", {"Namespace": "MlDeploy"}),
    Call("sns", "Publish", {"TopicArn": "arn:aws:sns:eu-west-1:123456789012:alerts"}),
    Call("batch", "SubmitJob", {"jobQueue": "q", "jobDefinition": "monitor", "arrayProperties": {"size": 2}}),
    Call("codepipeline", "ListActionExecutions", {"pipelineName": "ml-deploy-dev", "maxResults": 100}),
    Call("batch", "SubmitJob", {"jobQueue": "q", "jobDefinition": "retrain", "tags": {"a": "b"}}),
]


def test_every_entry_of_the_table_builds_requests_aws_would_recognise() -> None:
    assert {(c.service, c.operation) for c in SAMPLE_CALLS} == set(REQUIREMENTS), "add a sample call"
    for call in SAMPLE_CALLS:
        requests = requests_for(call, STACK)
        assert requests, f"{call} maps to nothing"
        problems = [f"{r}: {p}" for r in requests for p in reference_problems(r)]
        assert not problems, f"{call}: {problems}"


def test_the_mapping_names_the_version_the_key_and_the_revision() -> None:
    copy = {str(r) for r in requests_for(SAMPLE_CALLS[3], STACK) or []}
    assert copy >= {
        f"s3:GetObjectVersion on {BUCKET}/src",
        f"s3:PutObject on {BUCKET}/k",
        f"kms:Decrypt on {KEY} [kms:CallerAccount=123456789012, kms:ViaService=s3.eu-west-1.amazonaws.com]",
    }, copy
    submit = {r.resource for r in requests_for(SAMPLE_CALLS[-1], STACK) or []}
    assert "arn:aws:batch:eu-west-1:123456789012:job-definition/retrain:3" in submit


def test_an_operation_missing_from_the_table_fails_the_check() -> None:
    role = RuntimeRole(name="r", arn="arn:aws:iam::123456789012:role/r", policy=_policy(), environment={})
    [problem] = unproven([Call("s3", "DeleteObject", {"Bucket": "data", "Key": "k"})], role=role, stack=STACK)
    assert "no IAM mapping for s3 DeleteObject" in problem and "REQUIREMENTS" in problem
