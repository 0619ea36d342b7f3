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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.delivery.build import JUNIT_SHARDS, junit_report_variable
from infra.delivery.stages import BUILD_NAMESPACE, MODEL_ARTIFACT
from ml_deploy.bundle import MODEL_NAME, Manifest, metrics_summary, read_manifest
from ml_deploy.layout import BUNDLE_FILE, archived_bundle_key
from ml_deploy_dev.delivery.build import TRANSITIONS
from ml_deploy_dev.delivery.reports import MAX_CASES_PER_REPORT, shard_folder
from ml_deploy_dev.local_aws import LocalAws, create_bucket, moto_server
from ml_deploy_dev.program import ROOT, Program
from tests.infra.pipeline_program import action, run_pipeline, the_pipeline

# What CodeBuild sets itself that the buildspec reads (build-env-ref-env-vars.html;
# CODEBUILD_BUILD_SUCCEEDING: "Set to 0 if the build is failing, or 1 if the build is succeeding").
CODEBUILD_BUILT_INS = {
    "AWS_DEFAULT_REGION",
    "CODEBUILD_RESOLVED_SOURCE_VERSION",
    "CODEBUILD_BUILD_SUCCEEDING",
}
# https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details-phases.html: "The
# UPLOAD_ARTIFACTS phase is always attempted, even if the BUILD phase fails"; a failed INSTALL or
# PRE_BUILD goes to FINALIZING, where no report is read.
PHASES_WHOSE_FAILURE_UPLOADS_REPORTS = {"build", "post_build"}
# https://docs.aws.amazon.com/codebuild/latest/userguide/report-create.html: "If you specify an
# ARN, CodeBuild uses that report group"; a name makes CodeBuild create "<project>-<name>", which
# needs codebuild:CreateReportGroup. report-group-create.html: the key may be an environment variable.
REPORT_GROUP_ARN = re.compile(r"^arn:aws:codebuild:[a-z0-9-]+:[0-9]{12}:report-group/[A-Za-z0-9_-]+$")
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
    return _emptied(local_account, program)


def _emptied(local_account: LocalAws, program: Program) -> LocalAws:
    s3, bucket = local_account.client("s3"), project_environment(program)["MODEL_BUCKET"]
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        create_bucket(local_account, bucket, versioned=True)
    listed = s3.list_object_versions(Bucket=bucket)
    for version in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    return local_account


@dataclass(frozen=True)
class Rebuilt:
    """The trained bundle's pre_build run twice in one checkout against an empty model bucket: what
    the first run left for docker and exported, what the second exported, and the archive key after."""

    first: dict[str, str]
    repacked: Manifest
    again: dict[str, str]
    archived: bytes
    archived_versions: list[dict[str, Any]]


@pytest.fixture(scope="module")
def rebuilt(
    buildspec: dict[str, Any],
    program: Program,
    trained_bundle: Path,
    local_account: LocalAws,
    tmp_path_factory: pytest.TempPathFactory,
) -> Rebuilt:
    """One build and its rebuild, shared: each pre_build starts five Python processes (seconds)."""
    aws, checkout = _emptied(local_account, program), tmp_path_factory.mktemp("checkout")
    first = _pre_build(buildspec, program, _bundle_dir(checkout, trained_bundle), checkout, aws)
    repacked = read_manifest(checkout / "service/model" / BUNDLE_FILE)
    again = _pre_build(buildspec, program, _bundle_dir(checkout, trained_bundle), checkout, aws)
    variables, s3 = project_environment(program), aws.client("s3")
    key = archived_bundle_key(variables["MODEL_ARCHIVE_PREFIX"], read_manifest(trained_bundle).bundle_version)
    return Rebuilt(
        first=first,
        repacked=repacked,
        again=again,
        archived=s3.get_object(Bucket=variables["MODEL_BUCKET"], Key=key)["Body"].read(),
        archived_versions=s3.list_object_versions(Bucket=variables["MODEL_BUCKET"], Prefix=key)["Versions"],
    )


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


def test_reports_name_the_stacks_encrypted_groups_by_arn(buildspec: dict[str, Any], program: Program) -> None:
    reports = buildspec["reports"]
    variables = project_environment(program)
    groups = {g.state["arn"]: g.inputs for g in program.of_type("aws:codebuild/reportGroup:ReportGroup")}
    assert list(reports) == [f"${junit_report_variable(n)}" for n in range(1, JUNIT_SHARDS + 1)], (
        "each shard's report group must be named by the project variable holding its ARN"
    )
    for key in reports:
        arn = variables[key.removeprefix("$")]
        assert REPORT_GROUP_ARN.match(arn), (
            f"{key} is {arn}, not a report group ARN: CodeBuild would create one"
        )
        exported = groups[arn]["exportConfig"]["s3Destination"]
        assert exported["encryptionKey"], f"report group {arn} exports unencrypted"
    assert len(groups) == JUNIT_SHARDS


def test_the_junit_file_is_split_into_the_report_groups_shards(buildspec: dict[str, Any]) -> None:
    """CodeBuild keeps 500 cases of a report (test-report.html); the split writes what each group reads."""
    assert MAX_CASES_PER_REPORT == 500
    (tests,) = [c for c in buildspec["phases"]["build"]["commands"] if "make pytest" in c]
    split = re.search(r"reports split (\S+) (\S+) --shards ([0-9]+)", tests)
    assert split, "the build does not split the JUnit file"
    source, base, shards = split.group(1), Path(split.group(2)), int(split.group(3))
    assert shards == JUNIT_SHARDS, f"the build writes {shards} shards for {JUNIT_SHARDS} report groups"
    assert f"--junitxml={source}" in (ROOT / "Makefile").read_text(), f"make pytest does not write {source}"
    folders = [report["base-directory"] for report in buildspec["reports"].values()]
    assert folders == [str(shard_folder(base, n)) for n in range(1, shards + 1)]
    assert all(report["file-format"] == "JUNITXML" for report in buildspec["reports"].values())


def test_tests_run_where_a_failure_still_uploads_the_reports(buildspec: dict[str, Any]) -> None:
    phases = buildspec["phases"]
    (where,) = [name for name, phase in phases.items() if any("make pytest" in c for c in phase["commands"])]
    assert where in PHASES_WHOSE_FAILURE_UPLOADS_REPORTS, f"tests in {where}: a red run uploads no report"
    assert phases[where].get("on-failure") != "ABORT", "ABORT ends the build before the reports are read"
    assert {p for p, after in TRANSITIONS.items() if after == "next"} == PHASES_WHOSE_FAILURE_UPLOADS_REPORTS


def test_images_are_pushed_only_by_a_succeeding_build(buildspec: dict[str, Any]) -> None:
    """post_build runs after a failed build phase: a push there must check the build is succeeding."""
    phases = buildspec["phases"]
    for name in PHASES_WHOSE_FAILURE_UPLOADS_REPORTS - {"build"}:
        for command in phases.get(name, {}).get("commands", []):
            if "docker push" in command:
                assert '"$CODEBUILD_BUILD_SUCCEEDING" = 1' in command, (
                    f"{name} pushes after a failure: {command}"
                )
    pushes = [c for phase in phases.values() for c in phase.get("commands", []) if "docker push" in c]
    assert len(pushes) == 2, pushes


def test_the_base_image_is_pulled_as_the_account_from_ecr_public(buildspec: dict[str, Any]) -> None:
    """ECR Public issues its token in us-east-1 only
    (https://docs.aws.amazon.com/cli/latest/reference/ecr-public/get-login-password.html)."""
    bases = {
        line.split()[1]
        for dockerfile in ("service/Dockerfile", "retrain_job/Dockerfile")
        for line in (ROOT / dockerfile).read_text().splitlines()
        if line.startswith("FROM ")
    }
    registries = {base.split("/", 1)[0] for base in bases}
    assert registries == {"public.ecr.aws"}, f"the Dockerfiles pull from {registries}"
    commands_before_build = "\n".join(buildspec["phases"]["pre_build"]["commands"])
    assert (
        "aws ecr-public get-login-password --region us-east-1 | docker login --username AWS "
        "--password-stdin public.ecr.aws" in commands_before_build
    ), "the build pulls the base image anonymously"


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
    """Run the bundle's steps (pre_build's but the ECR ones, and the build's archive) with the
    variables CodeBuild would set; boto3 reaches the local account through AWS_ENDPOINT_URL."""
    local = [
        line
        for line in buildspec["phases"]["pre_build"]["commands"]
        if not line.startswith(("make", "aws", "if aws"))
    ] + [line for line in buildspec["phases"]["build"]["commands"] if "archive-bundle" in line]
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


def test_pre_build_names_the_image_after_commit_and_model(trained_bundle: Path, rebuilt: Rebuilt) -> None:
    manifest = read_manifest(trained_bundle)
    result = rebuilt.first
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
    assert rebuilt.repacked == manifest, "re-packed bundle differs"


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
    program: Program, trained_bundle: Path, tmp_path: Path, rebuilt: Rebuilt
) -> None:
    """A hand upload writes only the trigger key; the build keeps every bundle it builds."""
    variables = project_environment(program)
    version = read_manifest(trained_bundle).bundle_version
    key = archived_bundle_key(variables["MODEL_ARCHIVE_PREFIX"], version)
    hook = program.one("aws:lambda/function:Function", "serving-stage-smoke-hook").inputs
    hook_variables = hook["environment"]["variables"]
    assert hook_variables["BUNDLE_KEY_TEMPLATE"].format(version=version) == key, "the hook reads elsewhere"
    assert hook_variables["MODEL_BUCKET"] == variables["MODEL_BUCKET"], "the hook reads another bucket"

    # `rebuilt` ran the pre_build twice and read the archive key after the second.
    assert read_manifest(_written(tmp_path / "archived.zip", rebuilt.archived)).bundle_version == version
    assert len(rebuilt.archived_versions) == 1, "a rebuild of the same bundle wrote the archive key again"
    assert rebuilt.again["MODEL_VERSION"] == version


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


INSTALLING_BUILDSPECS = {"delivery-build": "buildspec.yml", "delivery-deploy-stage": "buildspec-deploy.yml"}


@pytest.mark.parametrize(("project_name", "path"), INSTALLING_BUILDSPECS.items())
def test_installs_keep_uvs_downloads_between_builds(program: Program, project_name: str, path: str) -> None:
    """LOCAL_CUSTOM_CACHE keeps the buildspec's `cache: paths` (build-caching.html, local caching)."""
    spec = yaml.safe_load((ROOT / path).read_text())
    project = program.one("aws:codebuild/project:Project", project_name).inputs
    variables = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
    assert "LOCAL_CUSTOM_CACHE" in project["cache"]["modes"], f"{project_name} keeps no custom cache"
    assert spec["cache"]["paths"] == [f"{variables['UV_CACHE_DIR']}/**/*"], "uv writes elsewhere than is kept"


def test_deploys_install_only_the_cli_without_extras() -> None:
    """The deploy steps run `ml-deploy` only: no `dev` extra (tests, linters, Pulumi) on each run."""
    deploy = yaml.safe_load((ROOT / "buildspec-deploy.yml").read_text())
    (install,) = deploy["phases"]["install"]["commands"]
    target = re.fullmatch(r"make ([a-z-]+)", install)
    assert target, f"the deploy installs with {install!r}"
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(CLI_STAMP\):.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert target.group(1) == "install-cli" and recipe, "the deploy does not run the CLI's install"
    sync = recipe.group(1)
    assert "sync --locked" in sync and "--extra" not in sync, f"install-cli installs extras: {sync}"
