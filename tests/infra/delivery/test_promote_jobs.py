"""PromoteJobs: after prod, the jobs run the image the pipeline built (infra/delivery/promote_jobs.py,
retrain_job/job_revision.py, buildspec-promote-jobs.yml).

The wiring and the role are checked under the recording mocks; the JSON edit runs against moto's
Batch with the job definitions as the program renders them; and, where an AWS CLI is installed,
the buildspec's own commands run against a moto server on 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
import yaml
from moto import mock_aws
from moto.server import ThreadedMotoServer

from infra.delivery.promote_jobs import PROMOTE_BUILDSPEC
from infra.delivery.stages import BUILD_NAMESPACE, PROMOTE_ACTION, SOURCE_ARTIFACT, STAGE_ORDER
from ml_deploy_dev.program import ACCOUNT, REGION, ROOT, Program
from retrain_job.job_revision import READ_ONLY_FIELDS, PromotionError, main, next_revision
from tests.infra import iam_lint
from tests.infra.jobs.test_component_moto import registration
from tests.infra.pipeline_program import action, run_pipeline

PROJECT = "aws:codebuild/project:Project"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KINDS = ("retrain", "monitor", "quality")
# Actions AWS authorizes on no resource narrower than "*".
STAR_ONLY_ACTIONS = {"batch:DescribeJobDefinitions"}
# The tags the provider's default tags put on every job definition `pulumi up` registers.
STACK_TAGS = {"project": "ml-deploy", "stack": "dev", "component": "jobs", "managed-by": "pulumi"}
NEW_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/images-jobs:0123456789ab-2024.05.01-3"
# What CodeBuild sets itself that the buildspec reads.
CODEBUILD_BUILT_INS = {"AWS_DEFAULT_REGION"}
_USED = re.compile(r"\$\{?!?([A-Za-z_][A-Za-z0-9_]*)")
_ASSIGNED = re.compile(r"(?:^|[;\s])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
_LOOP_VARIABLE = re.compile(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b")


@pytest.fixture(scope="module")
def program() -> Program:
    return run_pipeline()


@pytest.fixture(scope="module")
def codecommit_program() -> Program:
    return run_pipeline({"codeSource": "codecommit", "codeRepository": "churn-model"})


@pytest.fixture(scope="module")
def buildspec() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / PROMOTE_BUILDSPEC).read_text()))


def promote_project(program: Program) -> dict[str, Any]:
    return program.one(PROJECT, "delivery-promote-jobs").inputs


def project_environment(program: Program) -> dict[str, str]:
    variables = promote_project(program)["environment"]["environmentVariables"]
    return {v["name"]: v["value"] for v in variables}


def action_environment(program: Program) -> dict[str, str]:
    variables = json.loads(action(program, "PromoteJobs")["configuration"]["EnvironmentVariables"])
    return {v["name"]: v["value"] for v in variables}


def promote_statements(program: Program) -> list[dict[str, Any]]:
    document = json.loads(program.one(ROLE_POLICY, "delivery-promote-jobs").inputs["policy"])
    return list(document["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granting(statements: list[dict[str, Any]], action_name: str) -> list[dict[str, Any]]:
    return [s for s in statements if action_name in as_list(s["Action"])]


def definition_arns(program: Program, kind: str) -> list[str]:
    name = program.one("aws:batch/jobDefinition:JobDefinition", f"jobs-{kind}").state["name"]
    prefix = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{name}"
    return [prefix, f"{prefix}:*"]


def commands(buildspec: dict[str, Any]) -> list[str]:
    return [c for phase in buildspec["phases"].values() for c in phase.get("commands", [])]


# --- the stage and the project -----------------------------------------------------------


def test_promotion_is_the_last_stage_after_prod(program: Program) -> None:
    assert STAGE_ORDER[-2:] == ("DeployProd", "PromoteJobs"), f"stage order is {STAGE_ORDER}"
    promote = action(program, "PromoteJobs")
    assert (promote["name"], promote["category"], promote["provider"]) == (
        PROMOTE_ACTION,
        "Build",
        "CodeBuild",
    ), f"PromoteJobs runs {promote}, not the promote CodeBuild project"
    assert promote["configuration"]["ProjectName"] == promote_project(program)["name"]
    assert promote["inputArtifacts"] == [SOURCE_ARTIFACT], "the buildspec is read from the source"
    assert not promote.get("outputArtifacts"), "the promotion produces nothing for later stages"


def test_promote_action_gets_the_image_tag_from_the_build_namespace(
    program: Program, buildspec: dict[str, Any]
) -> None:
    variables = action_environment(program)
    assert variables == {"IMAGE_TAG": f"#{{{BUILD_NAMESPACE}.IMAGE_TAG}}"}, (
        f"the promote action passes {variables}, not the tag this execution's build pushed"
    )
    exported = yaml.safe_load((ROOT / "buildspec.yml").read_text())["env"]["exported-variables"]
    assert "IMAGE_TAG" in exported, "buildspec.yml does not export the IMAGE_TAG the promotion reads"
    build = action(program, "Build")
    assert build["namespace"] == BUILD_NAMESPACE, "the build action's namespace is not the one read"


def test_promote_project_runs_without_docker_with_its_own_encrypted_logs(program: Program) -> None:
    project = promote_project(program)
    key_arn = program.one("aws:kms/key:Key").state["arn"]
    environment = project["environment"]
    assert environment["privilegedMode"] is False, "the promotion needs no docker daemon"
    assert environment["computeType"] == "BUILD_GENERAL1_SMALL"
    assert project["source"] == {"type": "CODEPIPELINE", "buildspec": PROMOTE_BUILDSPEC}
    assert "cache" not in project, "nothing to cache: the promotion installs nothing"
    assert project["encryptionKey"] == key_arn
    log_group = program.one("aws:cloudwatch/logGroup:LogGroup", "delivery-promote-jobs-logs")
    assert log_group.inputs["kmsKeyId"] == key_arn, "promote logs must be KMS-encrypted"
    assert project["logsConfig"]["cloudwatchLogs"]["groupName"] == log_group.inputs["name"]
    build_logs = program.one("aws:cloudwatch/logGroup:LogGroup", "delivery-build-logs")
    assert log_group.inputs["name"] != build_logs.inputs["name"], "promote logs share the build's group"


def test_promote_project_names_every_job_definition_and_the_jobs_repository(program: Program) -> None:
    environment = project_environment(program)
    definitions = {
        kind: program.one("aws:batch/jobDefinition:JobDefinition", f"jobs-{kind}").state["name"]
        for kind in KINDS
    }
    assert environment["RETRAIN_DEFINITION"] == definitions["retrain"]
    assert environment["MONITOR_DEFINITION"] == definitions["monitor"]
    assert environment["QUALITY_DEFINITION"] == definitions["quality"]
    jobs_repo = program.one("aws:ecr/repository:Repository", "images-jobs").state["repositoryUrl"]
    assert environment["JOBS_REPOSITORY_URI"] == jobs_repo, "the promotion would point at another repo"
    parameter = program.one("aws:ssm/parameter:Parameter", "jobs-image-tag").state["name"]
    assert environment["JOBS_IMAGE_PARAMETER"] == parameter, (
        "the promotion records its tag somewhere `pulumi up` does not read"
    )


# --- IAM ---------------------------------------------------------------------------------


def test_promote_role_registers_only_the_job_definitions(program: Program) -> None:
    statements = promote_statements(program)
    expected = sorted(arn for kind in KINDS for arn in definition_arns(program, kind))
    (register,) = granting(statements, "batch:RegisterJobDefinition")
    assert sorted(register["Resource"]) == expected, f"may register {register['Resource']}"
    jobs_repo = program.one("aws:ecr/repository:Repository", "images-jobs").state["repositoryUrl"]
    assert register["Condition"] == {"StringLike": {"batch:Image": f"{jobs_repo}:*"}}, (
        "revisions may name images outside the jobs repository"
    )
    (tag,) = granting(statements, "batch:TagResource")
    assert sorted(tag["Resource"]) == expected, f"may tag {tag['Resource']}"
    batch_actions = {a for s in statements for a in as_list(s["Action"]) if a.startswith("batch:")}
    assert batch_actions == {
        "batch:DescribeJobDefinitions",
        "batch:RegisterJobDefinition",
        "batch:TagResource",
    }, f"the promote role can do more in Batch: {sorted(batch_actions)}"
    for item in statements:
        if "*" in as_list(item["Resource"]):
            assert set(as_list(item["Action"])) <= STAR_ONLY_ACTIONS, f"{item['Sid']} grants on *"


def test_promote_role_overwrites_only_the_jobs_image_parameter(program: Program) -> None:
    statements = promote_statements(program)
    parameter = program.one("aws:ssm/parameter:Parameter", "jobs-image-tag").state["arn"]
    assert parameter.startswith(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/"), (
        f"not a parameter ARN: {parameter}"
    )
    (put,) = granting(statements, "ssm:PutParameter")
    assert put["Resource"] == parameter, f"may write parameters {put['Resource']}"
    ssm_actions = {a for s in statements for a in as_list(s["Action"]) if a.startswith("ssm:")}
    assert ssm_actions == {"ssm:PutParameter"}, f"the promote role can do more in SSM: {sorted(ssm_actions)}"


def test_promote_role_passes_only_the_job_roles_and_only_to_batch(program: Program) -> None:
    (pass_role,) = granting(promote_statements(program), "iam:PassRole")
    job_roles = sorted(
        program.one("aws:iam/role:Role", name).state["arn"]
        for name in ("jobs-execution", "jobs-retrain", "jobs-monitor", "jobs-quality")
    )
    assert sorted(pass_role["Resource"]) == job_roles, f"passes {pass_role['Resource']}"
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "batch.amazonaws.com"}}


def test_promote_role_reads_artifacts_and_writes_only_its_logs(program: Program) -> None:
    statements = promote_statements(program)
    artifacts = program.one("aws:s3/bucket:Bucket", "ml-artifacts").state["arn"]
    (read,) = granting(statements, "s3:GetObject")
    assert read["Resource"] == f"{artifacts}/*"
    assert not granting(statements, "s3:PutObject"), "the promotion writes no artifact"
    (logs,) = granting(statements, "logs:PutLogEvents")
    log_group = program.one("aws:cloudwatch/logGroup:LogGroup", "delivery-promote-jobs-logs").state["arn"]
    assert logs["Resource"] == [log_group, f"{log_group}:*"], f"writes logs to {logs['Resource']}"
    (key,) = granting(statements, "kms:Decrypt")
    assert key["Resource"] == program.one("aws:kms/key:Key").state["arn"]


def test_pipeline_role_may_start_the_promote_project(program: Program) -> None:
    document = json.loads(program.one(ROLE_POLICY, "delivery-pipeline").inputs["policy"])
    arn = program.one(PROJECT, "delivery-promote-jobs").state["arn"]
    starting = [s for s in document["Statement"] if "codebuild:StartBuild" in as_list(s["Action"])]
    promoting = [s for s in starting if arn in as_list(s["Resource"])]
    assert len(promoting) == 1, f"the pipeline role cannot start {arn}: {starting}"
    assert sorted(as_list(promoting[0]["Action"])) == ["codebuild:BatchGetBuilds", "codebuild:StartBuild"]


@pytest.mark.parametrize("variant", ["github", "codecommit"])
def test_promote_role_is_parliament_clean(
    variant: str, program: Program, codecommit_program: Program
) -> None:
    chosen = program if variant == "github" else codecommit_program
    document = json.loads(chosen.one(ROLE_POLICY, "delivery-promote-jobs").inputs["policy"])
    assert all(item.get("Sid") for item in document["Statement"]), "a statement has no Sid"
    unexpected = iam_lint.findings(document, star_only_actions=STAR_ONLY_ACTIONS)
    assert not unexpected, f"delivery-promote-jobs ({variant}): {unexpected}"
    clones = [s for s in document["Statement"] if s["Sid"] == "CloneThroughCodeConnection"]
    assert len(clones) == (1 if variant == "github" else 0), "clone permission follows the code source"


def test_no_deprecated_arguments(program: Program) -> None:
    deprecated = [w for w in program.warnings if "is deprecated" in w]
    assert not deprecated, f"the program uses deprecated arguments: {deprecated}"


# --- the buildspec -----------------------------------------------------------------------


def test_promote_buildspec_is_valid_against_the_repo_schema(buildspec: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "tests" / "schemas" / "buildspec-0.2.schema.json").read_text())
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(buildspec)]
    assert not errors, f"{PROMOTE_BUILDSPEC} is not a valid buildspec: {errors}"
    assert buildspec["env"]["shell"] == "bash", "the commands use ${VAR:-} and bash loops"
    assert "artifacts" not in buildspec, "the promote action has no output artifact"


def test_every_promote_variable_is_set_somewhere(buildspec: dict[str, Any], program: Program) -> None:
    lines = commands(buildspec)
    used = {name for line in lines for name in _USED.findall(line)}
    assigned = {name for line in lines for name in _ASSIGNED.findall(line) + _LOOP_VARIABLE.findall(line)}
    known = set(project_environment(program)) | set(action_environment(program)) | CODEBUILD_BUILT_INS
    unset = sorted(used - assigned - known)
    assert not unset, f"{PROMOTE_BUILDSPEC} reads {unset}, which nothing sets"


def test_promote_buildspec_records_the_tag_before_it_registers(buildspec: dict[str, Any]) -> None:
    """A failed registration after the record is healed by the next `pulumi up`; the reverse is not."""
    lines = commands(buildspec)
    records = [i for i, line in enumerate(lines) if "aws ssm put-parameter" in line]
    registers = [i for i, line in enumerate(lines) if "register-job-definition" in line]
    assert len(records) == 1 and registers, f"{PROMOTE_BUILDSPEC} does not record the promoted tag"
    assert records[0] < min(registers), "the tag is recorded after the revisions are registered"
    record = lines[records[0]]
    assert '--name "$JOBS_IMAGE_PARAMETER"' in record and '--value "$IMAGE_TAG"' in record
    assert "--overwrite" in record, "PutParameter refuses to change an existing parameter without Overwrite"


def test_promote_buildspec_copies_the_latest_active_revision_of_each(buildspec: dict[str, Any]) -> None:
    text = "\n".join(commands(buildspec))
    assert "describe-job-definitions" in text and "--status ACTIVE" in text
    assert "python3 -m retrain_job.job_revision" in text, "the JSON edit is not the tested module"
    assert "register-job-definition --cli-input-json" in text
    assert '"$RETRAIN_DEFINITION" "$MONITOR_DEFINITION" "$QUALITY_DEFINITION"' in text, "not every definition"


# --- the JSON edit -----------------------------------------------------------------------


def described_as_aws_returns(client: Any, name: str) -> dict[str, Any]:
    """DescribeJobDefinitions as real Batch answers it (moto leaves out containerOrchestrationType)."""
    response = client.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
    response.pop("ResponseMetadata", None)
    for definition in response["jobDefinitions"]:
        definition.setdefault("containerOrchestrationType", "ECS")
    return dict(response)


@pytest.fixture
def batch(dev_program: Program) -> Iterator[Any]:
    """moto Batch holding both job definitions as `pulumi up -s dev` registers them (revision 1)."""
    with mock_aws(config={"batch": {"use_docker": False}}):
        client = boto3.client("batch", region_name=REGION)
        for kind in KINDS:
            client.register_job_definition(**registration(dev_program, kind), tags=STACK_TAGS)
        yield client


def definition_name(program: Program, kind: str) -> str:
    """The job definition's physical name (pulumi-aws generates it from the logical name)."""
    return str(program.one("aws:batch/jobDefinition:JobDefinition", f"jobs-{kind}").state["name"])


def without_image(definition: dict[str, Any]) -> dict[str, Any]:
    copied = {k: v for k, v in copy.deepcopy(definition).items() if k not in READ_ONLY_FIELDS}
    copied["containerProperties"].pop("image")
    return copied


@pytest.mark.parametrize("kind", KINDS)
def test_promotion_registers_a_revision_that_differs_only_in_the_image(
    batch: Any, dev_program: Program, kind: str
) -> None:
    name = definition_name(dev_program, kind)
    described = described_as_aws_returns(batch, name)
    (bootstrap,) = described["jobDefinitions"]

    # botocore validates the request against the Batch API model, as the CLI's --cli-input-json does.
    registered = batch.register_job_definition(**next_revision(described, NEW_IMAGE))

    assert registered["revision"] == 2, f"{name}: registered revision {registered['revision']}"
    latest = max(described_as_aws_returns(batch, name)["jobDefinitions"], key=lambda d: d["revision"])
    assert latest["containerProperties"]["image"] == NEW_IMAGE, f"{name} runs another image"
    assert bootstrap["containerProperties"]["image"].endswith(":bootstrap")
    assert without_image(latest) == without_image(bootstrap), (
        f"{name}: the promotion changed more than the image (roles, sizing, retry, tags must stay)"
    )
    assert latest["tags"] == STACK_TAGS, f"{name}: the stack's tags were lost"


def test_a_second_promotion_builds_on_the_latest_revision(batch: Any, dev_program: Program) -> None:
    monitor = definition_name(dev_program, "monitor")
    first = next_revision(described_as_aws_returns(batch, monitor), NEW_IMAGE)
    first["containerProperties"]["environment"].append({"name": "MARKER", "value": "revision-2"})
    batch.register_job_definition(**first)
    newer = NEW_IMAGE.replace("0123456789ab", "fedcba987654")

    described = described_as_aws_returns(batch, monitor)
    assert len(described["jobDefinitions"]) == 2, "moto should list both ACTIVE revisions"
    second = next_revision(described, newer)

    assert {"name": "MARKER", "value": "revision-2"} in second["containerProperties"]["environment"], (
        "the promotion copied an older revision, not the latest ACTIVE one"
    )
    assert batch.register_job_definition(**second)["revision"] == 3


def test_the_module_prints_the_register_request(
    batch: Any, dev_program: Program, tmp_path: Path, capsys: Any
) -> None:
    described_file = tmp_path / "described.json"
    retrain = definition_name(dev_program, "retrain")
    described_file.write_text(json.dumps(described_as_aws_returns(batch, retrain)))
    assert main([str(described_file), NEW_IMAGE]) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["containerProperties"]["image"] == NEW_IMAGE
    assert not set(READ_ONLY_FIELDS) & set(request), "read-only fields would fail register-job-definition"


@pytest.mark.parametrize(
    ("described", "image", "expected"),
    [
        ({"jobDefinitions": []}, NEW_IMAGE, "no ACTIVE job definition"),
        (
            {"jobDefinitions": [{"jobDefinitionName": "x", "revision": 1, "status": "INACTIVE"}]},
            NEW_IMAGE,
            "no ACTIVE job definition",
        ),
        (
            {"jobDefinitions": [{"jobDefinitionName": "x", "revision": 1, "nodeProperties": {}}]},
            NEW_IMAGE,
            "no containerProperties.image",
        ),
        ({"jobDefinitions": []}, "registry.example/jobs", "names no tag"),
    ],
)
def test_what_cannot_be_promoted_is_refused_with_the_reason(
    described: dict[str, Any], image: str, expected: str
) -> None:
    with pytest.raises(PromotionError, match=expected):
        next_revision(described, image)


def test_a_broken_describe_output_fails_the_step_with_a_message(tmp_path: Path, capsys: Any) -> None:
    broken = tmp_path / "described.json"
    broken.write_text("An error occurred (AccessDenied)")
    assert main([str(broken), NEW_IMAGE]) == 1, "a failed describe must fail the build"
    assert "cannot promote" in capsys.readouterr().err


# --- the buildspec's commands, end to end --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ssm(endpoint: str) -> Any:
    return boto3.client(
        "ssm",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def batch_server(dev_program: Program) -> Iterator[tuple[str, Any]]:
    """A moto server on 127.0.0.1 with both job definitions, for the real AWS CLI to talk to."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client(
            "batch",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for kind in KINDS:
            client.register_job_definition(**registration(dev_program, kind), tags=STACK_TAGS)
        parameter = dev_program.one("aws:ssm/parameter:Parameter", "jobs-image-tag")
        ssm(endpoint).put_parameter(
            Name=parameter.state["name"], Type="String", Value=parameter.inputs["insecureValue"]
        )
        yield endpoint, client
    finally:
        server.stop()


@pytest.mark.skipif(shutil.which("aws") is None, reason="no AWS CLI on PATH (CodeBuild images have one)")
def test_the_buildspec_commands_promote_both_definitions(
    batch_server: tuple[str, Any], buildspec: dict[str, Any], program: Program, tmp_path: Path
) -> None:
    endpoint, client = batch_server
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # The buildspec's python3 with no site-packages (-S): the step must need the standard library only,
    # as CodeBuild installs nothing for it.
    python3 = bin_dir / "python3"
    python3.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    python3.chmod(0o755)
    env = {
        **project_environment(program),
        "IMAGE_TAG": "0123456789ab-2024.05.01-3",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),  # CodeBuild runs in the checked-out source; here the tmp dir
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "HOME": str(tmp_path),
    }
    script = "\n".join(["set -u", *commands(buildspec)])
    done = subprocess.run(
        ["bash", "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the promote commands failed:\n{done.stdout}\n{done.stderr}"
    built = f"{env['JOBS_REPOSITORY_URI']}:{env['IMAGE_TAG']}"
    for kind in KINDS:
        name = definition_name(program, kind)
        revisions = client.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
        latest = max(revisions["jobDefinitions"], key=lambda d: d["revision"])
        assert (latest["revision"], latest["containerProperties"]["image"]) == (2, built), (
            f"{name} was not promoted to {built}: {done.stdout}{done.stderr}"
        )
    recorded = ssm(endpoint).get_parameter(Name=env["JOBS_IMAGE_PARAMETER"])["Parameter"]
    assert (recorded["Value"], recorded["Version"]) == ("0123456789ab-2024.05.01-3", 2), (
        f"the promoted tag was not recorded where `pulumi up` reads it: {recorded}"
    )
