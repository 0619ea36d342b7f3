"""The Build stage's project hands the build the model bucket and archive prefix, and its role may
archive bundles there and nowhere else (infra/delivery/build.py, under the recording mocks)."""

from __future__ import annotations

import json

import pytest

from ml_deploy.layout import archived_bundle_key
from ml_deploy_dev.program import Program
from tests.enforcement.policy_eval import Request, evaluate
from tests.infra.pipeline_program import run_pipeline
from tests.infra.rendered_roles import role_policy

BUCKET = "aws:s3/bucket:Bucket"
KEPT = "kept/bundles/"  # a stack that moves its archive


@pytest.fixture(scope="module")
def program() -> Program:
    return run_pipeline()


@pytest.fixture(scope="module")
def moved_archive() -> Program:
    return run_pipeline({"modelArchivePrefix": KEPT})


def build_variables(program: Program) -> dict[str, str]:
    project = program.one("aws:codebuild/project:Project", "delivery-build").inputs
    return {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}


def models(program: Program) -> tuple[str, str]:
    """The model bucket's name and ARN."""
    bucket = program.one(BUCKET, "ml-models").state
    return bucket["bucket"], bucket["arn"]


@pytest.mark.parametrize(("variant", "prefix"), [("default", "bundles/archive/"), ("moved", KEPT)])
def test_build_is_told_the_model_bucket_and_the_stacks_archive_prefix(
    program: Program, moved_archive: Program, variant: str, prefix: str
) -> None:
    run = program if variant == "default" else moved_archive
    variables = build_variables(run)
    assert variables["MODEL_BUCKET"] == models(run)[0], "the build would archive into another bucket"
    assert variables["MODEL_ARCHIVE_PREFIX"] == prefix == run.outputs["modelArchivePrefix"]
    retrain = run.one("aws:batch/jobDefinition:JobDefinition", "jobs-retrain").inputs["containerProperties"]
    retrain_variables = {v["name"]: v["value"] for v in json.loads(retrain)["environment"]}
    assert retrain_variables["MODEL_ARCHIVE_PREFIX"] == prefix, "the retrain job archives elsewhere"
    assert retrain_variables["MODEL_BUCKET"] == variables["MODEL_BUCKET"]


@pytest.mark.parametrize(("variant", "prefix"), [("default", "bundles/archive/"), ("moved", KEPT)])
def test_build_role_may_archive_bundles_and_touch_nothing_else_of_the_model_bucket(
    program: Program, moved_archive: Program, variant: str, prefix: str
) -> None:
    run = program if variant == "default" else moved_archive
    policy = role_policy(run, "delivery-build")
    _, bucket_arn = models(run)
    archived = f"{bucket_arn}/{archived_bundle_key(prefix, '20260101T000000Z-0000000a')}"
    for action in ("s3:PutObject", "s3:GetObject"):
        assert evaluate(policy, Request(action, archived)).allowed_by == ("ArchiveBuiltBundles",), (
            f"{action} {archived}"
        )
    assert evaluate(policy, Request("s3:GetEncryptionConfiguration", bucket_arn)).allowed_by == (
        "ReadModelBucketEncryption",
    )
    refused = [
        Request("s3:PutObject", f"{bucket_arn}/{run.outputs['modelKey']}"),  # would start the pipeline
        Request("s3:PutObject", f"{bucket_arn}/retrain/decisions/x.json"),
        Request("s3:PutObject", f"{bucket_arn}/{prefix}notes.txt"),
        Request("s3:DeleteObject", archived),  # archive keys are immutable
        Request("s3:PutObjectAcl", archived),
        Request("s3:GetObjectVersion", archived),
        Request("s3:ListBucket", bucket_arn),
        Request("s3:PutEncryptionConfiguration", bucket_arn),
    ]
    granted = [str(request) for request in refused if evaluate(policy, request).allowed]
    assert not granted, f"the build role may {granted}"
    model_statements = [s for s in policy["Statement"] if bucket_arn in str(s["Resource"])]
    assert {s["Sid"] for s in model_statements} == {"ArchiveBuiltBundles", "ReadModelBucketEncryption"}
