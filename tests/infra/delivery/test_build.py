"""The Build stage's project hands the build the model bucket and archive prefix, and its role may
archive bundles there and nowhere else (infra/delivery/build.py, under the recording mocks)."""

from __future__ import annotations

import json

import pytest

from ml_deploy.layout import archived_bundle_key
from ml_deploy_dev.program import Program
from tests.infra.pipeline_program import run_pipeline
from tests.infra.policy_matcher import Call, allowing, allows
from tests.infra.rendered_roles import role_statements

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
    statements = role_statements(run, "delivery-build")
    _, bucket_arn = models(run)
    archived = f"{bucket_arn}/{archived_bundle_key(prefix, '20260101T000000Z-0000000a')}"
    for action in ("s3:PutObject", "s3:GetObject"):
        assert allowing(statements, Call(action, archived)) == ["ArchiveBuiltBundles"], f"{action} {archived}"
    assert allowing(statements, Call("s3:GetEncryptionConfiguration", bucket_arn)) == [
        "ReadModelBucketEncryption"
    ]
    refused = [
        Call("s3:PutObject", f"{bucket_arn}/{run.outputs['modelKey']}"),  # would start the pipeline
        Call("s3:PutObject", f"{bucket_arn}/retrain/decisions/x.json"),
        Call("s3:PutObject", f"{bucket_arn}/{prefix}notes.txt"),
        Call("s3:DeleteObject", archived),  # archive keys are immutable
        Call("s3:PutObjectAcl", archived),
        Call("s3:GetObjectVersion", archived),
        Call("s3:ListBucket", bucket_arn),
        Call("s3:PutEncryptionConfiguration", bucket_arn),
    ]
    granted = [f"{c.action} on {c.resource}" for c in refused if allows(statements, c)]
    assert not granted, f"the build role may {granted}"
    model_statements = [s for s in statements if bucket_arn in str(s["Resource"])]
    assert {s["Sid"] for s in model_statements} == {"ArchiveBuiltBundles", "ReadModelBucketEncryption"}
