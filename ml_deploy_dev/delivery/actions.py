"""How the local run executes each kind of action the program's pipeline holds.

`HANDLERS` maps (category, provider) to the function that runs it; `check_definition` lists every
action of the program this module cannot run, so a stage or action added to the Pulumi program
without a local counterpart fails the test (and the run) by name instead of being skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ml_deploy.settings import RetrainSettings
from ml_deploy_cli.backend import LOCAL_VARIABLE
from ml_deploy_cli.local.state import STATE_VARIABLE, read_checked_state
from ml_deploy_dev.delivery.approval import wait_for_answer
from ml_deploy_dev.delivery.build import run_build
from ml_deploy_dev.delivery.definition import (
    Action,
    BuildProject,
    PipelineDefinition,
    action_variables,
    resolve,
)
from ml_deploy_dev.delivery.source import code_at_head, model_object
from ml_deploy_dev.delivery.standins import IMAGES_VARIABLE, REGISTRY_VARIABLE
from ml_deploy_dev.local_aws import LocalAws

EXECUTION_MODES = ("QUEUED", "SUPERSEDED")


@dataclass(frozen=True)
class LocalSite:
    """What the local run stands on: the repository built, the local account, the options."""

    repository: Path
    workdir: Path
    aws: LocalAws
    model_bucket: str
    pytest_args: str | None = None  # None: the buildspec's whole suite; else PYTEST_ADDOPTS
    ready_timeout: float = 60.0
    approval_timeout: float = 600.0

    @property
    def state_file(self) -> Path:
        return self.workdir / "state.json"

    @property
    def registry(self) -> Path:
        return self.workdir / "registry"


@dataclass
class Run:
    """One execution in progress: the variables and artifacts its actions produced so far."""

    id: str
    object_version: str
    folder: Path
    say: Callable[[str], None]
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)

    def produced(self, action: Action, variables: dict[str, str], artifact: Path | None = None) -> None:
        if action.namespace:
            self.variables[action.namespace] = variables
        for name in action.output_artifacts:
            if artifact is not None:
                self.artifacts[name] = artifact


Handler = Callable[[PipelineDefinition, LocalSite, Action, Run], None]


def code_source(definition: PipelineDefinition, site: LocalSite, action: Action, run: Run) -> None:
    target = run.folder / "artifacts" / action.output_artifacts[0]
    variables = code_at_head(site.repository, target)
    run.say(f"code at HEAD: commit {variables['CommitId'][:12]} ({variables['CommitMessage'][:60]})")
    run.produced(action, variables, target)


def model_source(definition: PipelineDefinition, site: LocalSite, action: Action, run: Run) -> None:
    target = run.folder / "artifacts" / action.output_artifacts[0]
    key = action.configuration["S3ObjectKey"]
    variables = model_object(
        site.aws.client("s3"), bucket=site.model_bucket, key=key, version_id=run.object_version, target=target
    )
    run.say(f"model: s3://{site.model_bucket}/{key} version {variables['VersionId']}")
    run.produced(action, variables, target)


def codebuild(definition: PipelineDefinition, site: LocalSite, action: Action, run: Run) -> None:
    project = definition.projects[action.configuration["ProjectName"]]
    primary = action.configuration.get("PrimarySource", action.input_artifacts[0])
    folder = run.folder / f"build-{action.name}"
    source = folder / "src"
    shutil.copytree(run.artifacts[primary], source, symlinks=True)
    environment = {
        "CODEBUILD_SRC_DIR": str(source),
        "CODEBUILD_BUILD_ID": f"{project.name}:{run.id}",
        "CODEBUILD_INITIATOR": f"codepipeline/{definition.name}",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": run.variables.get("SourceVariables", {}).get("CommitId", ""),
        **{
            f"CODEBUILD_SRC_DIR_{name}": str(run.artifacts[name])
            for name in action.input_artifacts
            if name != primary
        },
        **site.aws.environment,
        REGISTRY_VARIABLE: str(site.registry),
        IMAGES_VARIABLE: str(site.workdir / "images"),
        # A few named tests instead of the suite, in one process (no pytest workers to start).
        **({"PYTEST_ADDOPTS": site.pytest_args, "PYTEST_WORKERS": "0"} if site.pytest_args else {}),
        **_local_deploy(project, site),
        **_local_model_bucket(project, site),
        **{name: resolve(value, run.variables) for name, value in action_variables(action).items()},
    }
    result = run_build(project, source=source, environment=environment, output=folder / "output", say=run.say)
    run.produced(action, result.variables, result.artifacts)


def _local_deploy(project: BuildProject, site: LocalSite) -> dict[str, str]:
    """What a deploy build needs here: `ml-deploy deploy` replaces the local run's task (its local
    backend), and the log bucket is the local account's (the program's names are the mocks')."""
    if "SERVICE_NAME" not in project.environment:
        return {}
    return {
        LOCAL_VARIABLE: "1",
        STATE_VARIABLE: str(site.state_file),
        "EVIDENCE_BUCKET": str(read_checked_state(site.state_file).log_bucket),
    }


def _local_model_bucket(project: BuildProject, site: LocalSite) -> dict[str, str]:
    """The build archives its bundle into the local account's model bucket (the program's is the mocks')."""
    variable = RetrainSettings.variable("model_bucket")  # the name infra gives the build project
    return {variable: site.model_bucket} if variable in project.environment else {}


class ApprovalRejected(Exception):
    """The approval was rejected or timed out: the execution stops here."""


def manual_approval(definition: PipelineDefinition, site: LocalSite, action: Action, run: Run) -> None:
    stage_url = _environment_url(site, "stage")
    approved = wait_for_answer(
        site.state_file,
        execution_id=run.id,
        stage=action.stage,
        action=action.name,
        message=resolve(action.configuration.get("CustomData", ""), run.variables),
        link=stage_url,
        timeout=site.approval_timeout,
        say=run.say,
    )
    if not approved:
        raise ApprovalRejected(f"{action.stage}/{action.name} was not approved")


def _environment_url(site: LocalSite, environment: str) -> str:
    return str(read_checked_state(site.state_file).environments[environment].url)


HANDLERS: dict[tuple[str, str], Handler] = {
    ("Source", "CodeStarSourceConnection"): code_source,
    ("Source", "CodeCommit"): code_source,
    ("Source", "S3"): model_source,
    ("Build", "CodeBuild"): codebuild,
    ("Approval", "Manual"): manual_approval,
}


def check_definition(definition: PipelineDefinition, *, model_key: str) -> list[str]:
    """Every action (and setting) of the program's pipeline the local run could not follow."""
    problems = []
    if definition.execution_mode not in EXECUTION_MODES:
        problems.append(f"execution mode {definition.execution_mode} (the local run knows {EXECUTION_MODES})")
    for action in definition.actions:
        configuration = action.configuration
        if (action.category, action.provider) not in HANDLERS:
            problems.append(f"{action.label}: no local handler")
        elif action.provider == "CodeBuild" and configuration.get("ProjectName") not in definition.projects:
            problems.append(
                f"{action.label}: project {configuration.get('ProjectName')} is not in the program"
            )
        elif action.provider == "S3" and configuration.get("S3ObjectKey") != model_key:
            problems.append(
                f"{action.label}: key {configuration.get('S3ObjectKey')} is not the model key {model_key}"
            )
    return problems
