"""The program's model-upload rule, end to end in moto: S3 -> EventBridge -> (SQS stand-in)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ml_deploy_dev.program import REGION
from tests.infra.pipeline_program import event_pattern, run_pipeline

MODEL_KEY = "bundles/current/model-bundle.zip"


@pytest.fixture(scope="module")
def recorded() -> tuple[str, str]:
    """The bucket name and event pattern exactly as the program registers them."""
    program = run_pipeline()
    bucket = program.one("aws:s3/bucket:Bucket", "ml-models").state["bucket"]
    rule = program.one("aws:cloudwatch/eventRule:EventRule", "delivery-model-upload")
    return bucket, json.dumps(event_pattern(rule))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def _received(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_model_upload_starts_the_pipeline_and_other_keys_do_not(aws: None, recorded: tuple[str, str]) -> None:
    bucket, pattern = recorded
    s3 = boto3.client("s3", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    queue_url = sqs.create_queue(QueueName="pipeline-stand-in")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="model-upload", EventPattern=pattern)
    events.put_targets(Rule="model-upload", Targets=[{"Id": "pipeline", "Arn": queue_arn}])

    s3.put_object(Bucket=bucket, Key="bundles/archive/2024-05-01/model-bundle.zip", Body=b"old")
    s3.put_object(Bucket=bucket, Key="retrain/decisions/2024-05-01.json", Body=b"{}")
    version = s3.put_object(Bucket=bucket, Key=MODEL_KEY, Body=b"bundle")["VersionId"]

    received = _received(queue_url)
    assert len(received) == 1, f"expected one event (the bundle upload), got {len(received)}"
    (event,) = received
    assert event["detail"]["object"]["key"] == MODEL_KEY, "an event for another key matched"
    assert event["detail"]["bucket"]["name"] == bucket
    assert event["detail"]["object"]["version-id"] == version, (
        "the target's input transformer reads $.detail.object.version-id; it must be there"
    )


def test_an_upload_to_another_bucket_with_the_same_key_does_not_match(
    aws: None, recorded: tuple[str, str]
) -> None:
    _, pattern = recorded
    s3 = boto3.client("s3", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    other = "someone-elses-models"
    s3.create_bucket(Bucket=other, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_notification_configuration(
        Bucket=other, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    queue_url = sqs.create_queue(QueueName="pipeline-stand-in")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="model-upload", EventPattern=pattern)
    events.put_targets(Rule="model-upload", Targets=[{"Id": "pipeline", "Arn": queue_arn}])

    s3.put_object(Bucket=other, Key=MODEL_KEY, Body=b"bundle")

    assert _received(queue_url) == [], "the rule matched a bucket of another stack"
