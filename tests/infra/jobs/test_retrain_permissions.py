"""The retrain job's promotion, run against moto, is allowed by the retrain role the program renders.

The job archives a bundle, reads it back *by version* and copies that version to the trigger key
(`retrain_job/retrain/publishing.py`). This test records the S3 requests the real code makes,
turns each into the IAM actions the S3 API reference says it needs (`s3_request_needs`), and asks
the rendered retrain policy whether it allows them: a versioned read the role cannot do fails
here, not in the first retrain that should have promoted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ml_deploy.settings import RetrainSettings
from ml_deploy_dev.program import REGION, Program
from retrain_job.retrain import publishing
from tests.enforcement.policy_eval import evaluate
from tests.infra.documented_permissions import s3_request_needs
from tests.infra.rendered_roles import concrete_names, request_of, role_policy

JOB_DEFINITION = "aws:batch/jobDefinition:JobDefinition"


def retrain_settings(program: Program) -> RetrainSettings:
    """The settings the retrain job builds from the environment its job definition sets."""
    properties = json.loads(program.one(JOB_DEFINITION, "jobs-retrain").inputs["containerProperties"])
    return RetrainSettings.from_env({pair["name"]: pair["value"] for pair in properties["environment"]})


@pytest.fixture
def recorded_s3(dev_program: Program) -> Iterator[tuple[Any, list[tuple[str, dict[str, Any]]]]]:
    """A moto S3 client on a versioned copy of the model bucket, recording every request."""
    calls: list[tuple[str, dict[str, Any]]] = []
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        bucket = retrain_settings(dev_program).model_bucket
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            calls.append((model.name, dict(params)))

        s3.meta.events.register("provide-client-params.s3.*", record)
        yield s3, calls


def test_promotion_calls_are_allowed_by_the_retrain_role(
    dev_program: Program, recorded_s3: tuple[Any, list[tuple[str, dict[str, Any]]]], trained_bundle: Path
) -> None:
    s3, calls = recorded_s3
    settings = retrain_settings(dev_program)
    archived = publishing.upload_and_verify(
        s3, bucket=settings.model_bucket, key=settings.archived_bundle_key("7"), path=trained_bundle
    )
    publishing.copy_to_trigger(
        s3, bucket=settings.model_bucket, source=archived, model_key=settings.model_key
    )
    assert archived.version_id, "the bucket is versioned: the job reads and copies by version"

    names = concrete_names(dev_program)
    policy = role_policy(dev_program, "jobs-retrain")
    denied = []
    for operation, params in calls:
        for need in s3_request_needs(operation, params, bucket_arn=names["model_bucket"]):
            request = request_of(need, names)
            if not evaluate(policy, request).allowed:
                denied.append(f"{operation} needs {request.action} on {request.resource} ({need.source})")
    assert [op for op, _ in calls] == ["PutObject", "GetObject", "CopyObject"]
    assert not denied, "the retrain role cannot promote:\n  " + "\n  ".join(denied)
