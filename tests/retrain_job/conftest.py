"""Fixtures for the monitor: prediction logs in the service's format, and its AWS world in moto.

Logs are real: frame rows scored by the session's trained bundle model, written as gzip JSON
lines under the `ml_deploy.payload_log` partitions, so the monitor reads what the service writes.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

from ml_deploy import payload_log
from ml_deploy.bundle import Manifest, read_bundle
from ml_deploy.schema import FeatureSpec, encode_frame

REGION = "eu-west-1"
WINDOW_END = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
MODEL_BUCKET = "ml-deploy-models-test"
LOG_BUCKET = "ml-deploy-logs-test"
MODEL_KEY = "models/churn/model-bundle.zip"
LOGGED_AT = WINDOW_END - timedelta(minutes=1)  # inside the window [end - hours, end), in end's hour


def log_lines(
    frame: pd.DataFrame, *, model: Any, features: Sequence[FeatureSpec], model_version: str
) -> list[bytes]:
    """One JSON line per row, as the service logs a scored record."""
    probabilities = model.predict_proba(encode_frame(frame, features))[:, 1]
    columns = {
        spec.name: frame[spec.name].astype(object).where(frame[spec.name].notna(), None) for spec in features
    }
    lines = []
    for i, probability in enumerate(probabilities):
        record = {
            "request_id": f"req-{i:06d}",
            "record_index": 0,
            "timestamp": payload_log.utc_timestamp(LOGGED_AT),
            "model_version": model_version,
            "environment": "prod",
            "input": {name: _plain(column.iat[i]) for name, column in columns.items()},
            "output": {"prediction": int(probability >= 0.5), "probability": float(probability)},
        }
        lines.append(json.dumps(record).encode())
    return lines


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def write_logs(
    s3: Any,
    lines: Sequence[bytes],
    *,
    hours_back: int = 0,
    objects: int = 2,
    environment: str = "prod",
    when: datetime | None = None,
) -> list[str]:
    """Spread `lines` over `objects` gzip objects, stamped `when` (default: a minute before the
    window's end, `hours_back` hours earlier) and filed under its hour, as the service does."""
    when = when or WINDOW_END - timedelta(hours=hours_back, minutes=1)
    keys = []
    for part in np.array_split(np.arange(len(lines)), objects):
        key = payload_log.object_key(f"predictions/{environment}/", when, writer="test")
        body = gzip.compress(b"\n".join(_stamped(lines[i], when) for i in part) + b"\n")
        s3.put_object(Bucket=LOG_BUCKET, Key=key, Body=body)
        keys.append(key)
    return keys


def _stamped(line: bytes, when: datetime) -> bytes:
    """The line with its timestamp set to `when`; a line that is not a log record as it is."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "timestamp" not in record:
        return line
    return json.dumps({**record, "timestamp": payload_log.utc_timestamp(when)}).encode()


@dataclass
class World:
    """The monitor's AWS resources in moto, and the env vars that point the job at them."""

    s3: Any
    sqs: Any
    batch: Any
    cloudwatch: Any
    alerts_queue_url: str
    env: dict[str, str]
    manifest: Manifest
    model: Any

    def lines(self, frame: pd.DataFrame, *, model_version: str | None = None) -> list[bytes]:
        version = model_version or self.manifest.bundle_version
        return log_lines(frame, model=self.model, features=self.manifest.features, model_version=version)

    def alerts(self) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(QueueUrl=self.alerts_queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in response.get("Messages", [])]

    def retrain_jobs(self) -> list[dict[str, Any]]:
        queue = self.env["RETRAIN_JOB_QUEUE"]
        jobs: list[dict[str, Any]] = []
        for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
            jobs += self.batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]
        return jobs

    def report(self, name: str = "report.json") -> str:
        body = self.s3.get_object(Bucket=LOG_BUCKET, Key=f"reports/latest/prod/{name}")["Body"].read()
        return str(body.decode())


@pytest.fixture(scope="session")
def bundle_model(trained_bundle: Path) -> Any:
    return read_bundle(trained_bundle)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, trained_bundle: Path, bundle_model: Any) -> Iterator[World]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"batch": {"use_docker": False}}):
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (MODEL_BUCKET, LOG_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.upload_file(str(trained_bundle), MODEL_BUCKET, MODEL_KEY)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="ml-deploy-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        batch = boto3.client("batch", region_name=REGION)
        queue_name, definition_name = _retrain_job(batch)
        env = {
            "MODEL_BUCKET": MODEL_BUCKET,
            "MODEL_KEY": MODEL_KEY,
            "LOG_BUCKET": LOG_BUCKET,
            "LOG_PREFIX": "predictions/",
            "REPORTS_PREFIX": "reports/",
            "WINDOW_HOURS": "24",
            "WINDOW_END": WINDOW_END.isoformat(),
            "MIN_ROWS": "500",
            "ALERTS_TOPIC_ARN": topic_arn,
            "METRICS_NAMESPACE": "MlDeploy",
            "RETRAIN_ON_DRIFT": "true",
            "RETRAIN_COOLDOWN_HOURS": "24",
            "RETRAIN_JOB_QUEUE": queue_name,
            "RETRAIN_JOB_DEFINITION": definition_name,
            "COOLDOWN_KEY": "monitor/cooldown.json",
            "AWS_REGION": REGION,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield World(
            s3=s3,
            sqs=sqs,
            batch=batch,
            cloudwatch=boto3.client("cloudwatch", region_name=REGION),
            alerts_queue_url=queue_url,
            env=env,
            manifest=bundle_model.manifest,
            model=bundle_model.model,
        )


def _retrain_job(batch: Any) -> tuple[str, str]:
    iam = boto3.client("iam", region_name=REGION)
    role_arn = iam.create_role(
        RoleName="batch-service",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    environment_arn = batch.create_compute_environment(
        computeEnvironmentName="jobs", type="UNMANAGED", state="ENABLED", serviceRole=role_arn
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName="jobs",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment_arn}],
    )
    batch.register_job_definition(
        jobDefinitionName="retrain",
        type="container",
        containerProperties={
            "image": "jobs:latest",
            "vcpus": 1,
            "memory": 512,
            "command": ["python", "-m", "retrain_job.retrain"],
        },
    )
    return "jobs", "retrain"
