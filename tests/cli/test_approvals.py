"""`ml-deploy approve` / `reject` against CodePipeline's approval API (Stubber, real shapes)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.cli.conftest import PIPELINE, Stack
from tests.cli.pipeline_shapes import (
    MODEL_VERSION,
    PREVIOUS,
    TOKEN,
    UNKNOWN,
    WAITING,
    action_executions,
    pipeline_state,
)

ANY_FILTER = {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": WAITING}}


def expect_waiting_state(stack: Stack, *, waiting: bool = True) -> None:
    stack.pipeline.add_response("get_pipeline_state", pipeline_state(waiting=waiting), {"name": PIPELINE})
    if waiting:
        stack.pipeline.add_response("list_action_executions", action_executions(WAITING), ANY_FILTER)


def expect_answer(stack: Stack, status: str, summary: str) -> None:
    stack.pipeline.add_response(
        "put_approval_result",
        {"approvedAt": datetime(2026, 11, 23, 11, 0, tzinfo=UTC)},
        {
            "pipelineName": PIPELINE,
            "stageName": "Approve",
            "actionName": "ApproveProd",
            "result": {"summary": summary, "status": status},
            "token": TOKEN,
        },
    )


def test_approve_answers_the_waiting_approval_with_its_token(stack: Stack) -> None:
    expect_waiting_state(stack)
    expect_answer(stack, "Approved", "stage answers fine")

    result = stack.cli("approve", "--comment", "stage answers fine")

    assert result.code == 0, result.err
    assert f"approved execution {WAITING}" in result.out
    assert f"model {MODEL_VERSION}" in result.out, "the approver should see which model went through"


def test_reject_names_the_execution_it_stopped(stack: Stack) -> None:
    expect_waiting_state(stack)
    expect_answer(stack, "Rejected", "p99 doubled on stage")

    result = stack.cli("reject", "--execution", WAITING, "--comment", "p99 doubled on stage")

    assert result.code == 0, result.err
    assert f"rejected execution {WAITING}" in result.out
    assert "stops before prod" in result.out


def test_nothing_waiting_for_approval_is_a_one_line_error(stack: Stack) -> None:
    expect_waiting_state(stack, waiting=False)

    result = stack.cli("approve", "--comment", "ship it")

    assert result.code == 1
    assert result.err.strip() == f"ml-deploy: approve: nothing waits for approval in pipeline {PIPELINE}"
    assert result.out == ""


def test_unknown_execution_is_refused_without_answering(stack: Stack) -> None:
    expect_waiting_state(stack)
    stack.pipeline.add_client_error(
        "get_pipeline_execution",
        service_error_code="PipelineExecutionNotFoundException",
        service_message=f"Pipeline execution with id {UNKNOWN} not found",
        http_status_code=400,
        expected_params={"pipelineName": PIPELINE, "pipelineExecutionId": UNKNOWN},
    )

    result = stack.cli("approve", "--execution", UNKNOWN, "--comment", "ship it")

    assert result.code == 1
    assert f"pipeline {PIPELINE} has no execution {UNKNOWN}" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_execution_that_is_not_the_waiting_one_is_refused(stack: Stack) -> None:
    expect_waiting_state(stack)
    stack.pipeline.add_response(
        "get_pipeline_execution",
        {
            "pipelineExecution": {
                "pipelineName": PIPELINE,
                "pipelineExecutionId": PREVIOUS,
                "status": "Succeeded",
            }
        },
        {"pipelineName": PIPELINE, "pipelineExecutionId": PREVIOUS},
    )

    result = stack.cli("approve", "--execution", PREVIOUS, "--comment", "ship it")

    assert result.code == 1
    assert f"execution {PREVIOUS} does not wait for approval (it is Succeeded)" in result.err
    assert f"the one waiting is {WAITING}" in result.err


def test_an_approval_answered_meanwhile_says_so(stack: Stack) -> None:
    expect_waiting_state(stack)
    stack.pipeline.add_client_error(
        "put_approval_result",
        service_error_code="ApprovalAlreadyCompletedException",
        service_message="The approval action has already been completed",
        http_status_code=400,
    )

    result = stack.cli("approve", "--comment", "ship it")

    assert result.code == 1
    assert "expired or was answered meanwhile (ApprovalAlreadyCompletedException)" in result.err


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["approve"], "--comment"),
        (["approve", "--comment", "   "], "must say something"),
        (["approve", "--comment", "x" * 513], "at most 512"),
        (["reject", "--execution", "latest", "--comment", "no"], "not a pipeline execution id"),
    ],
)
def test_bad_approval_arguments_are_usage_errors(stack: Stack, argv: list[str], complaint: str) -> None:
    result = stack.cli(*argv)

    assert result.code == 2
    assert complaint in result.err
