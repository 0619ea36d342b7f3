"""The runner's rules without a build: the execution modes' queueing, and an approval that times out.

The program's own pipeline, cut to the stages a rule needs, run against a state file alone (no
action here calls AWS).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ml_deploy_cli.local.records import AwsEndpoint, EnvironmentRecord, LocalState
from ml_deploy_cli.local.state import edited_state, read_checked_state, write_state
from ml_deploy_dev.delivery.actions import LocalSite
from ml_deploy_dev.delivery.definition import PipelineDefinition
from ml_deploy_dev.delivery.runner import LocalPipeline
from ml_deploy_dev.local_aws import LocalAws


def pipeline(tmp_path: Path, definition: PipelineDefinition, said: list[str], **site: float) -> LocalPipeline:
    local = LocalSite(
        repository=tmp_path, workdir=tmp_path, aws=LocalAws("http://127.0.0.1:9", pid=0),
        model_bucket="models", **site,
    )  # fmt: skip
    endpoint = AwsEndpoint(endpoint="http://127.0.0.1:9", region="eu-west-1", access_key_id="local",
                           secret_access_key="local")  # fmt: skip
    stage = EnvironmentRecord(service="stage", url="http://127.0.0.1:9", revisions=[])
    write_state(local.state_file, LocalState(aws=endpoint, model_bucket="models", model_key="bundle.zip",
                                             executions=[], environments={"stage": stage}))  # fmt: skip
    return LocalPipeline(definition, local, say=said.append)


def statuses(runner: LocalPipeline) -> list[str]:
    return [e.status for e in read_checked_state(runner.site.state_file).executions]


def start_while_one_runs(runner: LocalPipeline) -> list[str]:
    """Three uploads: the first one's execution runs while the other two arrive."""
    first = runner.start("v1", "upload 1")
    with edited_state(runner.site.state_file) as state:
        state.executions[0].status = "InProgress"
    return [first, runner.start("v2", "upload 2"), runner.start("v3", "upload 3")]


def test_queued_mode_keeps_every_upload_in_order(tmp_path: Path, definition: PipelineDefinition) -> None:
    assert definition.execution_mode == "QUEUED", "the dev stack's mode changed: the e2e test covers QUEUED"
    said: list[str] = []
    runner = pipeline(tmp_path, definition, said)
    start_while_one_runs(runner)
    assert statuses(runner) == ["InProgress", "Queued", "Queued"]
    assert sum("queued behind" in line for line in said) == 2, said


def test_superseded_mode_replaces_the_waiting_execution_and_says_so(
    tmp_path: Path, definition: PipelineDefinition
) -> None:
    said: list[str] = []
    runner = pipeline(tmp_path, dataclasses.replace(definition, execution_mode="SUPERSEDED"), said)
    _, second, third = start_while_one_runs(runner)
    assert statuses(runner) == ["InProgress", "Superseded", "Queued"]
    assert f"execution {second} superseded by {third}" in said, said


@pytest.mark.timeout(30)
def test_an_approval_timeout_stops_the_execution(tmp_path: Path, definition: PipelineDefinition) -> None:
    (approve,) = [stage for stage in definition.stages if stage.name == "Approve"]
    # Its message names the build's variables; without the Build stage, a plain one.
    (action,) = [dataclasses.replace(a, configuration={"CustomData": "Promote?"}) for a in approve.actions]
    approve_only = (dataclasses.replace(approve, actions=(action,)),)
    said: list[str] = []
    approve_only_definition = dataclasses.replace(definition, stages=approve_only)
    runner = pipeline(tmp_path, approve_only_definition, said, approval_timeout=0.5)
    execution_id = runner.start("v1", "upload 1")

    assert runner.run_execution(execution_id, "v1") == "Failed"

    (execution,) = read_checked_state(runner.site.state_file).executions
    assert execution.stages == {"Approve": "Failed"}, f"the execution did not stop at Approve: {execution}"
    assert execution.approval is not None
    assert execution.approval.status == "Failed" and execution.approval.summary == "timed out"
    assert any("the approval timed out" in line for line in said), said


@pytest.mark.timeout(30)
def test_a_retried_execution_runs_from_its_failed_stage(
    tmp_path: Path, definition: PipelineDefinition
) -> None:
    said: list[str] = []
    runner = pipeline(tmp_path, definition, said, approval_timeout=0.5)
    execution_id = runner.start("v1", "upload 1")
    with edited_state(runner.site.state_file) as state:  # what `ml-deploy --local retry` leaves
        state.executions[0].resume_at = "Approve"
        state.executions[0].variables = {"BuildVariables": {"MODEL_VERSION": "m1"}}

    assert runner.run_execution(execution_id, "v1") == "Failed"

    (execution,) = read_checked_state(runner.site.state_file).executions
    assert execution.stages == {"Approve": "Failed"}, f"stages before the retried one ran again: {execution}"
    assert execution.resume_at is None
    assert not any("stage Source" in line for line in said), said
