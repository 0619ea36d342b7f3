"""`ml-deploy history`: executions, their trigger, model and approver (Stubber, real shapes)."""

from __future__ import annotations

import json

from ml_deploy_cli.commands import records
from tests.cli.conftest import PIPELINE, Stack
from tests.cli.pipeline_shapes import (
    APPROVER,
    MODEL_VERSION,
    OBJECT_VERSION,
    PREVIOUS,
    WAITING,
    action_executions,
    execution_summary,
    executions_list,
    model_upload_trigger,
)
from tests.cli.schemas import assert_schema


def expect_actions(stack: Stack, execution_id: str, response: dict[str, object]) -> None:
    stack.pipeline.add_response(
        "list_action_executions",
        response,
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": execution_id}},
    )


def test_history_shows_trigger_model_and_who_approved(stack: Stack) -> None:
    push = {"triggerType": "WebhookV2", "triggerDetail": "arn:aws:codeconnections:eu-west-1:1:connection/x"}
    stack.pipeline.add_response(
        "list_pipeline_executions",
        executions_list(
            execution_summary(WAITING, status="Failed", trigger=push),
            execution_summary(PREVIOUS, status="Succeeded", trigger=model_upload_trigger()),
        ),
        {"pipelineName": PIPELINE, "maxResults": 5},
    )
    expect_actions(stack, WAITING, action_executions(WAITING, approval=("Failed", APPROVER, "p99 doubled")))
    expect_actions(stack, PREVIOUS, action_executions(PREVIOUS, approval=("Succeeded", APPROVER, "good")))

    result = stack.cli("history", "--limit", "5")
    print(result.out)

    assert result.code == 0, result.err
    first, second = result.out.split(f"{PREVIOUS}  ")
    assert f"{WAITING}  Failed     2026-11-23 10:15Z  git push" in first
    assert 'approval: rejected by jane: "p99 doubled"' in first
    assert second.startswith("Succeeded  2026-11-23 10:15Z  model upload")
    assert f"model {MODEL_VERSION} (object version {OBJECT_VERSION})" in second
    assert 'approval: approved by jane: "good"' in second


def test_an_execution_that_stopped_early_shows_its_source_revisions(stack: Stack) -> None:
    started = {"triggerType": "StartPipelineExecution", "triggerDetail": APPROVER}
    stack.pipeline.add_response(
        "list_pipeline_executions",
        executions_list(execution_summary(WAITING, status="Failed", trigger=started)),
        {"pipelineName": PIPELINE, "maxResults": 10},
    )
    expect_actions(stack, WAITING, {"actionExecutionDetails": []})

    result = stack.cli("history")

    assert result.code == 0, result.err
    assert "started by hand (jane)" in result.out
    assert f"commit 1a2b3c4d5e6f, model - (object version {OBJECT_VERSION})" in result.out
    assert "approval: not reached" in result.out


def test_history_limit_out_of_range_is_a_usage_error(stack: Stack) -> None:
    result = stack.cli("history", "--limit", "0")

    assert result.code == 2
    assert "between 1 and 100" in result.err


def test_history_json_is_the_documented_schema(stack: Stack) -> None:
    stack.pipeline.add_response(
        "list_pipeline_executions",
        executions_list(execution_summary(PREVIOUS, status="Succeeded", trigger=model_upload_trigger())),
        {"pipelineName": PIPELINE, "maxResults": 10},
    )
    expect_actions(stack, PREVIOUS, action_executions(PREVIOUS, approval=("Succeeded", APPROVER, "good")))

    result = stack.cli("history", "--json")

    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert_schema(document, records.HistoryDocument)
    (entry,) = document["executions"]
    assert entry["model_version"] == MODEL_VERSION and entry["started"] == "2026-11-23T10:15:00+00:00"
    assert entry["approval"] == {"status": "Succeeded", "by": APPROVER, "summary": "good"}
