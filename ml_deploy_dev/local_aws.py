"""A local stand-in for the AWS account: `moto_server` on 127.0.0.1, shaped like the dev stack.

The demo and the end-to-end test create the buckets and the model-upload rule exactly as the
stack defines them (model bucket versioned with EventBridge notifications, the program's own
event pattern), with an SQS queue standing in for the pipeline as the rule's target.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "eu-west-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass(frozen=True)
class LocalAws:
    """Where the local account answers, and the environment a process needs to reach it."""

    endpoint: str
    pid: int

    @property
    def environment(self) -> dict[str, str]:
        # boto3 honours AWS_ENDPOINT_URL natively: the jobs and the service need no local-only code.
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server(*, timeout: float = 30.0) -> Iterator[LocalAws]:
    """Start `moto_server` on a free loopback port; stop it however the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CREDENTIALS},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(endpoint, process=process, timeout=timeout)
        yield LocalAws(endpoint, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(endpoint: str, *, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {endpoint} within {timeout:.0f} s")


def create_bucket(aws: LocalAws, name: str, *, versioned: bool = False, eventbridge: bool = False) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if eventbridge:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )


def create_trigger_stand_in(aws: LocalAws, *, rule_name: str, pattern: dict[str, Any]) -> str:
    """The model-upload rule with `pattern`, targeting an SQS queue that records each would-be start."""
    sqs = aws.client("sqs")
    queue_url: str = sqs.create_queue(QueueName=f"{rule_name}-pipeline-starts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = aws.client("events")
    events.put_rule(Name=rule_name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule_name, Targets=[{"Id": "pipeline-stand-in", "Arn": queue_arn}])
    return queue_url


def drain_events(aws: LocalAws, queue_url: str, *, wait_seconds: float = 3.0) -> list[dict[str, Any]]:
    """Every event the stand-in received so far (each one a pipeline start in the cloud)."""
    sqs = aws.client("sqs")
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait_seconds
    while True:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = reply.get("Messages", [])
        for message in messages:
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if not messages and (received or time.monotonic() >= deadline):
            return received
        if not messages:
            time.sleep(0.2)
