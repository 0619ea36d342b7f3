"""buildspec.yml against the infra that runs it: variables, artifact names, reports, exports.

The buildspec can only be run by CodeBuild, so these tests check what a mismatch would break
at deploy time, and run its local steps (pack, version, tag, creation time, the bundle's archive
copy against moto_server on 127.0.0.1) with the variables the project sets.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.delivery.build import JUNIT_REPORT
from infra.delivery.stages import BUILD_NAMESPACE, MODEL_ARTIFACT
from ml_deploy.bundle import MODEL_NAME, metrics_summary, read_manifest
from ml_deploy.layout import BUNDLE_FILE, archived_bundle_key
from ml_deploy_dev.local_aws import LocalAws, create_bucket, moto_server
from ml_deploy_dev.program import ROOT, Program
from tests.infra.pipeline_program import action, run_pipeline, the_pipeline

# What CodeBuild sets itself that the buildspec reads.
CODEBUILD_BUILT_INS = {"AWS_DEFAULT_REGION", "CODEBUILD_RESOLVED_SOURCE_VERSION"}
_USED = re.compile(r"\$\{?!?([A-Za-z_][A-Za-z0-9_]*)")
_ENVIRON = re.compile(r"os\.environ\[[\"']([A-Za-z_][A-Za-z0-9_]*)")
_ASSIGNED = re.compile(r"(?:^|[;\s])([A-Za-z_][A-Za-z0-9_]*)=")


@pytest.fixture(scope="module")
def buildspec() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "buildspec.yml").read_text()))


@pytest.fixture(scope="module")
def program() -> Program:
    return run_pipeline()


@pytest.fixture(scope="module")
def local_account() -> Iterator[LocalAws]:
    with moto_server() as aws:
        yield aws


@pytest.fixture
def aws(local_account: LocalAws, program: Program) -> LocalAws:
    """The local account with an empty model bucket named as the build project names it."""
    s3, bucket = local_account.client("s3"), project_environment(program)["MODEL_BUCKET"]
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        create_bucket(local_account, bucket, versioned=True)
    listed = s3.list_object_versions(Bucket=bucket)
    for version in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    return local_account


def commands(buildspec: dict[str, Any]) -> list[str]:
    return [c for phase in buildspec["phases"].values() for c in phase.get("commands", [])]


def project_environment(program: Program) -> dict[str, str]:
    project = program.one("aws:codebuild/project:Project", "delivery-build").inputs
    return {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}


def action_environment(program: Program) -> set[str]:
    variables = json.loads(action(program, "Build")["configuration"]["EnvironmentVariables"])
    return {v["name"] for v in variables}


def test_buildspec_is_version_0_2_with_a_bash_shell(buildspec: dict[str, Any]) -> None:
    assert str(buildspec["version"]) == "0.2"
    assert buildspec["env"]["shell"] == "bash", "the buildspec uses ${!VAR} and ${VAR:0:12}"


def test_every_variable_is_set_somewhere(buildspec: dict[str, Any], program: Program) -> None:
    lines = commands(buildspec)
    used = {name for line in lines for name in _USED.findall(line) + _ENVIRON.findall(line)}
    assigned = {name for line in lines for name in _ASSIGNED.findall(line)}
    known = set(project_environment(program)) | action_environment(program) | CODEBUILD_BUILT_INS
    unset = sorted(used - assigned - known)
    assert not unset, f"buildspec.yml reads {unset}, which nothing sets"


def test_the_model_directory_is_the_pipelines_model_artifact(
    buildspec: dict[str, Any], program: Program
) -> None:
    assert project_environment(program)["MODEL_ARTIFACT_NAME"] == MODEL_ARTIFACT
    assert action(program, "Source", "Model")["outputArtifacts"] == [MODEL_ARTIFACT]
    assert action(program, "Build")["inputArtifacts"][1:] == [MODEL_ARTIFACT], "model not secondary"
    text = "\n".join(commands(buildspec))
    assert "CODEBUILD_SRC_DIR_${MODEL_ARTIFACT_NAME}" in text, "the bundle is read from elsewhere"
    hard_coded = set(re.findall(r"CODEBUILD_SRC_DIR_([A-Za-z0-9]+)", text))
    assert hard_coded <= {MODEL_ARTIFACT}, f"buildspec names artifacts {hard_coded}"


def test_report_group_is_the_projects_encrypted_one(buildspec: dict[str, Any], program: Program) -> None:
    reports = buildspec["reports"]
    assert list(reports) == [JUNIT_REPORT]
    project = program.one("aws:codebuild/project:Project", "delivery-build").inputs["name"]
    group = program.one("aws:codebuild/reportGroup:ReportGroup").inputs["name"]
    assert f"{project}-{JUNIT_REPORT}" == group, "CodeBuild would create an unencrypted group"
    report = reports[JUNIT_REPORT]
    assert report["file-format"] == "JUNITXML"
    path = f"{report['base-directory']}/{report['files'][0]}"
    assert f"--junitxml={path}" in (ROOT / "Makefile").read_text(), f"make test does not write {path}"


def test_pipeline_reads_only_exported_variables(buildspec: dict[str, Any], program: Program) -> None:
    exported = set(buildspec["env"]["exported-variables"])
    text = json.dumps(the_pipeline(program).inputs["stages"])
    referenced = set(re.findall(rf"#\{{{BUILD_NAMESPACE}\.([A-Za-z0-9_]+)\}}", text))
    assert referenced, "the approval should name build variables"
    assert referenced <= exported, f"pipeline reads {sorted(referenced - exported)}, not exported"
    assert {"MODEL_VERSION", "IMAGE_TAG", "COMMIT_ID"} <= exported


def test_deploys_read_the_build_variables_not_an_artifact(
    buildspec: dict[str, Any], program: Program
) -> None:
    assert "artifacts" not in buildspec, "nothing reads a build artifact: the deploys take variables"
    for stage in ("DeployStage", "DeployProd"):
        variables = json.loads(action(program, stage)["configuration"]["EnvironmentVariables"])
        assert {v["name"]: v["value"] for v in variables}["SERVICE_IMAGE_URI"] == (
            f"#{{{BUILD_NAMESPACE}.SERVICE_IMAGE_URI}}"
        ), f"{stage} does not deploy the image this execution built"


def test_no_image_is_tagged_latest(buildspec: dict[str, Any]) -> None:
    text = "\n".join(commands(buildspec))
    assert ":latest" not in text and "-t latest" not in text, "repositories are immutable"


def _bundle_dir(tmp_path: Path, bundle: Path) -> Path:
    """The bundle as CodeBuild presents it: the zip's files, unpacked."""
    extracted = tmp_path / "model-src"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(extracted)
    return extracted


def _run_steps(lines: list[str], *, env: dict[str, str], cwd: Path) -> dict[str, str]:
    """Run buildspec lines in one bash, as CodeBuild does, and return the resulting variables."""
    script = "\n".join(["set -eu", *lines, "env -0"]).replace(".venv/bin/python", sys.executable)
    done = subprocess.run(["bash", "-c", script], env=env, cwd=cwd, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    pairs = (item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)
    return dict(pairs)


def _pre_build(
    buildspec: dict[str, Any], program: Program, model_dir: Path, cwd: Path, aws: LocalAws
) -> dict[str, str]:
    """Run pre_build's steps but make and the ECR ones with the variables CodeBuild would set;
    boto3 reaches the local account through AWS_ENDPOINT_URL."""
    local = [
        line
        for line in buildspec["phases"]["pre_build"]["commands"]
        if not line.startswith(("make", "aws", "if aws"))
    ]
    env = {
        **project_environment(program),
        **aws.environment,
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        # The checked-out source's own code, as `make install` (pip install -e .) makes it.
        "PYTHONPATH": str(ROOT / "src"),
        f"CODEBUILD_SRC_DIR_{MODEL_ARTIFACT}": str(model_dir),
        "COMMIT_ID": "0123456789abcdef0123",
        "MODEL_OBJECT_VERSION": "v-3",
        "SERVICE_REPOSITORY_URI": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc",
        "JOBS_REPOSITORY_URI": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/jobs",
    }
    return _run_steps(local, env=env, cwd=cwd)


def test_pre_build_names_the_image_after_commit_and_model(
    buildspec: dict[str, Any], program: Program, trained_bundle: Path, tmp_path: Path, aws: LocalAws
) -> None:
    manifest = read_manifest(trained_bundle)
    result = _pre_build(buildspec, program, _bundle_dir(tmp_path, trained_bundle), tmp_path, aws)
    assert result["MODEL_VERSION"] == manifest.bundle_version
    tag = f"0123456789ab-{manifest.bundle_version}"
    assert result["IMAGE_TAG"] == tag, "the tag must name both the commit and the model"
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag), "not a valid image tag"
    assert result["SERVICE_IMAGE_URI"].endswith(f"/svc:{tag}")
    assert result["MODEL_METRICS"] == metrics_summary(manifest)
    assert result["MODEL_CREATED_AT"] == manifest.created_at.isoformat(), (
        "the drift link needs the model's time"
    )
    assert "roc_auc=" in result["MODEL_METRICS"]
    repacked = read_manifest(tmp_path / "service/model" / BUNDLE_FILE)
    assert repacked == manifest, "re-packed bundle differs"


def test_a_tampered_bundle_fails_the_build_with_the_reason(
    buildspec: dict[str, Any], program: Program, trained_bundle: Path, tmp_path: Path, aws: LocalAws
) -> None:
    model_dir = _bundle_dir(tmp_path, trained_bundle)
    model = model_dir / MODEL_NAME
    model.write_bytes(model.read_bytes() + b"tampered")
    with pytest.raises(AssertionError, match="checksum mismatch"):
        _pre_build(buildspec, program, model_dir, tmp_path, aws)
    assert not (tmp_path / "service/model" / BUNDLE_FILE).exists(), "a bad bundle was left for docker"
    archived = aws.client("s3").list_objects_v2(Bucket=project_environment(program)["MODEL_BUCKET"])
    assert "Contents" not in archived, "a bundle that failed verification was archived"


def test_pre_build_archives_the_bundle_it_built_where_the_smoke_test_reads_it(
    buildspec: dict[str, Any], program: Program, trained_bundle: Path, tmp_path: Path, aws: LocalAws
) -> None:
    """A hand upload writes only the trigger key; the build keeps every bundle it builds."""
    variables = project_environment(program)
    version = read_manifest(trained_bundle).bundle_version
    key = archived_bundle_key(variables["MODEL_ARCHIVE_PREFIX"], version)
    hook = program.one("aws:lambda/function:Function", "serving-stage-smoke-hook").inputs
    hook_variables = hook["environment"]["variables"]
    assert hook_variables["BUNDLE_KEY_TEMPLATE"].format(version=version) == key, "the hook reads elsewhere"
    assert hook_variables["MODEL_BUCKET"] == variables["MODEL_BUCKET"], "the hook reads another bucket"

    _pre_build(buildspec, program, _bundle_dir(tmp_path, trained_bundle), tmp_path, aws)
    again = _pre_build(buildspec, program, _bundle_dir(tmp_path, trained_bundle), tmp_path, aws)

    s3 = aws.client("s3")
    archived = s3.get_object(Bucket=variables["MODEL_BUCKET"], Key=key)["Body"].read()
    assert read_manifest(_written(tmp_path / "archived.zip", archived)).bundle_version == version
    versions = s3.list_object_versions(Bucket=variables["MODEL_BUCKET"], Prefix=key)["Versions"]
    assert len(versions) == 1, "a rebuild of the same bundle wrote the archive key again"
    assert again["MODEL_VERSION"] == version


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
