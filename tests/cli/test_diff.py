"""`ml-deploy diff`: what approving would change in prod, against stage or a waiting execution."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ml_deploy.bundle import Manifest, write_bundle
from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy_cli.__main__ import main
from ml_deploy_cli.commands import records
from ml_deploy_cli.local.state import STATE_VARIABLE
from tests.cli.conftest import MODEL_BUCKET, PIPELINE, REGION, REPOSITORY, Stack
from tests.cli.pipeline_shapes import COMMIT, MODEL_VERSION, WAITING, action_executions, pipeline_state
from tests.cli.schemas import assert_schema
from tests.cli.test_failures import SERVED, local_state

NEW_TAG = f"{COMMIT[:12]}-{MODEL_VERSION}"


PROD_VERSION = "20261101T090000Z-0badc0de"
PROD_TAG = f"{'0' * 12}-{PROD_VERSION}"


def archive(
    stack: Stack, tmp_path: Path, *, model: Any, manifest: Manifest, version: str, roc_auc: float
) -> None:
    """A real bundle of `version` at its archive key, as `archive-bundle` leaves it (its metric set here)."""
    changed = manifest.model_copy(
        update={"bundle_version": version, "metrics": {**manifest.metrics, "roc_auc": roc_auc}}
    )
    path = write_bundle(tmp_path / f"{version}.zip", model=model, manifest=changed)
    stack.s3.upload_file(str(path), MODEL_BUCKET, DEFAULT_LAYOUT.archived_bundle_key(version))


def push(tag: str) -> str:
    """An image in the service repository as the build pushes it (one layer of its own); ECR's digest."""
    ecr = boto3.client("ecr", region_name=REGION)
    repository = REPOSITORY.rpartition("/")[2]
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository, imageTagMutability="IMMUTABLE")
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "size": 1,
        "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest(),
    }
    config = {**layer, "mediaType": "application/vnd.oci.image.config.v1+json"}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config, "layers": [layer]}  # fmt: skip
    image = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
    return str(image["image"]["imageId"]["imageDigest"])


def test_diff_stage_prod_shows_code_model_metrics_digests_and_task_size(
    stack: Stack, tmp_path: Path, trained_model: Any, trained_manifest: Manifest
) -> None:
    stack.deploy("prod", PROD_TAG)
    stack.deploy("stage", NEW_TAG, cpu="1024")
    digests = {tag: push(tag) for tag in (PROD_TAG, NEW_TAG)}
    archive(
        stack, tmp_path, model=trained_model, manifest=trained_manifest, version=PROD_VERSION, roc_auc=0.81
    )
    archive(
        stack, tmp_path, model=trained_model, manifest=trained_manifest, version=MODEL_VERSION, roc_auc=0.84
    )

    result = stack.cli("diff", "stage", "prod")

    assert result.code == 0, result.err
    rows = {line[2:].split("  ")[0].strip(): line.split() for line in result.out.splitlines()[1:]}
    assert result.out.splitlines()[0] == "prod now -> stage"
    assert rows["commit"] == ["~", "commit", "0" * 12, "->", COMMIT[:12]]
    assert rows["model"] == ["~", "model", PROD_VERSION, "->", MODEL_VERSION]
    assert rows["image"] == ["~", "image", f"{REPOSITORY}:{PROD_TAG}", "->", f"{REPOSITORY}:{NEW_TAG}"]
    assert rows["image digest"] == ["~", "image", "digest", digests[PROD_TAG], "->", digests[NEW_TAG]]
    assert rows["metric roc_auc"] == ["~", "metric", "roc_auc", "0.8100", "->", "0.8400"]
    assert rows["cpu"] == ["~", "cpu", "512", "->", "1024"]
    assert rows["memory"] == ["memory", "1024", "->", "1024"], "unchanged: unmarked"
    assert not [name for name in rows if name.startswith("setting")], "settings equal apart from ENVIRONMENT"

    document = json.loads(stack.cli("diff", "--json").out)
    assert_schema(document, records.DiffDocument)
    assert document["base"] == "prod" and document["candidate"] == "stage"
    metric = next(row for row in document["fields"] if row["field"] == "metric roc_auc")
    assert metric == {"field": "metric roc_auc", "prod": 0.81, "candidate": 0.84}, (
        "metrics are numbers in JSON"
    )
    assert {"commit", "model", "image", "image digest", "metric roc_auc", "cpu"} <= set(document["changes"])
    assert "memory" not in document["changes"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["diff", "prod", "prod"], "name two environments, CANDIDATE BASE"),
        (["diff", "stage"], "name two environments, CANDIDATE BASE"),
        (["diff", "stage", "prod", "--execution", WAITING], "not both"),
    ],
)
def test_diff_names_two_environments_or_an_execution(stack: Stack, argv: list[str], says: str) -> None:
    result = stack.cli(*argv)

    assert result.code == 1
    assert says in result.err and len(result.err.splitlines()) == 1, result.err


def test_an_unknown_environment_is_a_usage_error(stack: Stack) -> None:
    result = stack.cli("diff", "qa", "prod")

    assert result.code == 2
    assert "'qa' is not an environment (stage or prod)" in result.err


def test_diff_of_the_waiting_execution_as_json(stack: Stack) -> None:
    stack.pipeline.add_response("get_pipeline_state", pipeline_state(waiting=True), {"name": PIPELINE})
    stack.pipeline.add_response(
        "list_action_executions",
        action_executions(WAITING),
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": WAITING}},
    )

    result = stack.cli("diff", "--execution", WAITING, "--json")

    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["schema"] == "ml-deploy/diff/v1" and document["candidate"] == f"execution {WAITING}"
    assert document["changes"] == ["commit", "model", "image tag"]
    assert document["fields"][1] == {"field": "model", "prod": None, "candidate": MODEL_VERSION}


def test_diff_names_settings_that_differ_on_the_local_delivery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = local_state(endpoint="http://127.0.0.1:1")
    for name, level in (("stage", "debug"), ("prod", "info")):
        record = document["environments"][name]  # type: ignore[index]
        record.update(revisions=[{"revision": 1, "image": f"local/service:{SERVED}"}],
                      stopped={"revision": 1, "pid": 2**22 + 1, "port": 1},
                      task_environment={"ENVIRONMENT": name, "LOG_LEVEL": level})  # fmt: skip
    state = tmp_path / "state.json"
    state.write_text(json.dumps(document))

    assert main(["--local", "diff"], environ={STATE_VARIABLE: str(state)}) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prod now -> stage"
    assert lines[1].split() == ["commit", "1a2b3c4d5e6f", "->", "1a2b3c4d5e6f"], "the same commit: unmarked"
    assert [line.split() for line in lines if line.startswith("~")] == [
        ["~", "setting", "LOG_LEVEL", "info", "->", "debug"]
    ]
