"""`ml-deploy retry` / `release` against CodePipeline's API (Stubber: botocore's own shapes).

RetryStageExecution takes retryMode FAILED_ACTIONS or ALL_ACTIONS and fails with
NotLatestPipelineExecutionException for a stage a newer execution has reached
(https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RetryStageExecution.html).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml_deploy_cli.__main__ import main
from ml_deploy_cli.local.state import STATE_VARIABLE
from tests.cli.conftest import PIPELINE, Stack
from tests.cli.pipeline_shapes import PREVIOUS, WAITING, pipeline_state
from tests.cli.test_failures import local_state

NEW = "5c4b3a29-1807-4f6e-9d5c-4b3a29180765"


def failed_build() -> dict[str, Any]:
    """WAITING failed in Build (the Stubber checks the shape against GetPipelineState's model)."""
    state = pipeline_state(waiting=False)
    for stage in state["stageStates"]:
        if stage["stageName"] == "Build":
            stage["latestExecution"]["status"] = "Failed"
        if stage["stageName"] in ("DeployStage", "Approve"):
            stage["latestExecution"]["pipelineExecutionId"] = PREVIOUS
    return state


def test_retry_retries_the_failed_actions_of_the_failed_stage(stack: Stack) -> None:
    stack.pipeline.add_response("get_pipeline_state", failed_build(), {"name": PIPELINE})
    stack.pipeline.add_response(
        "retry_stage_execution",
        {"pipelineExecutionId": WAITING},
        {"pipelineName": PIPELINE, "stageName": "Build", "pipelineExecutionId": WAITING,
         "retryMode": "FAILED_ACTIONS"},
    )  # fmt: skip

    result = stack.cli("retry")

    assert result.code == 0, result.err
    assert f"retrying the failed actions of Build in execution {WAITING}" in result.out


def test_retry_with_nothing_failed_says_so(stack: Stack) -> None:
    stack.pipeline.add_response("get_pipeline_state", pipeline_state(waiting=False), {"name": PIPELINE})

    result = stack.cli("retry")

    assert result.code == 1
    assert result.err.strip() == (
        f"ml-deploy: retry: no execution has a failed stage to retry in pipeline {PIPELINE} "
        "(see `ml-deploy status`)"
    )


def test_retry_of_a_stage_a_newer_execution_reached_names_release(stack: Stack) -> None:
    stack.pipeline.add_response("get_pipeline_state", failed_build(), {"name": PIPELINE})
    stack.pipeline.add_client_error(
        "retry_stage_execution", "NotLatestPipelineExecutionException", "not the latest", 400
    )

    result = stack.cli("retry", "--execution", WAITING)

    assert result.code == 1
    assert "cannot be retried (NotLatestPipelineExecutionException)" in result.err
    assert "`ml-deploy release`" in result.err and len(result.err.splitlines()) == 1


def test_release_starts_an_execution(stack: Stack) -> None:
    stack.pipeline.add_response("start_pipeline_execution", {"pipelineExecutionId": NEW}, {"name": PIPELINE})

    result = stack.cli("release")

    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == f"started execution {NEW} from the sources' current revisions"


@pytest.mark.parametrize("command", ["retry", "release"])
def test_a_local_state_no_runner_answers_is_refused_in_one_line_naming_what_to_do(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(local_state(endpoint="http://127.0.0.1:1")))

    assert main([command, "--local"], environ={STATE_VARIABLE: str(state)}) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and f"no local runner answers {state}" in err and "`make demo`" in err
