"""The real-account integration workflow: manual and weekly, in a protected environment, with OIDC
credentials, running the commands a person runs (and the CLI accepts), always destroying its stack."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from ml_deploy_cli.__main__ import build_parser

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "integration.yml"


def _load() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _job() -> dict[str, Any]:
    (job,) = _load()["jobs"].values()
    return job


def _runs() -> list[str]:
    return [step["run"] for step in _job()["steps"] if "run" in step]


def test_runs_by_hand_and_weekly_never_on_pushes() -> None:
    triggers = _load()[True]  # YAML 1.1 reads the `on:` key as True
    assert set(triggers) == {"workflow_dispatch", "schedule"}, triggers
    assert len(triggers["schedule"]) == 1


def test_runs_in_the_protected_environment_with_oidc_and_no_stored_aws_keys() -> None:
    job = _job()
    assert job["environment"] == "integration"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    (credentials,) = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws")]
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_INTEGRATION_ROLE_ARN }}"
    assert "aws-access-key-id" not in credentials["with"]
    assert _load()["concurrency"]["cancel-in-progress"] is False, "a cancelled run would leave its stack"


def test_every_ml_deploy_command_it_runs_is_one_the_cli_accepts() -> None:
    commands = [
        shlex.split(line.strip().replace('"$STACK"', "it-1").replace("$GITHUB_RUN_ID", "1"))
        for run in _runs()
        for line in run.splitlines()
        if line.strip().startswith(".venv/bin/ml-deploy ")
    ]
    verbs = {command[3] for command in commands}
    assert {"bootstrap", "upload-model", "approve", "status"} <= verbs, verbs
    parser = build_parser()
    for command in commands:
        parser.parse_args(command[1:])  # argparse exits (SystemExit) on a flag the CLI lacks


def test_it_checks_version_on_both_urls_after_prod_took_the_model() -> None:
    runs = "\n".join(_runs())
    assert "for output in stageUrl prodUrl" in runs and "/version" in runs
    assert runs.index("approve") < runs.index("/version"), "the check must follow the approval"


def test_the_stack_is_destroyed_whatever_happened() -> None:
    last = _job()["steps"][-1]
    assert last.get("if") == "always()", last
    assert 'pulumi destroy --stack "$STACK" --yes' in last["run"]
    assert 'pulumi stack rm "$STACK" --yes' in last["run"]
    create = next(run for run in _runs() if "pulumi stack init" in run)
    assert "ml-deploy:forceDestroy true" in create, "a destroy would stop at non-empty buckets"
