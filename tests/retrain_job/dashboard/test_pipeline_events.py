"""Deploys and approvals from ListActionExecutions (moto has no CodePipeline execution API, so the
responses go through botocore's Stubber, which checks them against the service model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import Stubber

from retrain_job.dashboard.pipeline import pipeline_events

PIPELINE = "ml-deploy-dev"
RUN = "3f1e2d4c-5b6a-4789-8abc-def012345678"
VERSION = "20261119T140000Z-5e6f7a8b"
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
APPROVER = "arn:aws:sts::123456789012:assumed-role/Approvers/jane"


def _detail(
    stage: str, action: str, category: str, minutes: int, *, status: str = "Succeeded", **output: Any
) -> dict[str, Any]:
    return {
        "pipelineExecutionId": RUN,
        "actionExecutionId": f"{action.lower()}-1",
        "stageName": stage,
        "actionName": action,
        "startTime": AT + timedelta(minutes=minutes),
        "lastUpdateTime": AT + timedelta(minutes=minutes + 1),
        "status": status,
        "input": {
            "actionTypeId": {"category": category, "owner": "AWS", "provider": "CodeBuild", "version": "1"}
        },
        "output": {"outputArtifacts": [], **output},
    }


def _client() -> Any:
    return boto3.client(
        "codepipeline", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_deploys_and_answered_approvals_carry_the_builds_model_version_and_the_comment() -> None:
    newest_first = [
        _detail("DeployProd", "Deploy-prod", "Build", 40),
        {
            **_detail(
                "Approve",
                "ApproveProd",
                "Approval",
                20,
                executionResult={
                    "externalExecutionSummary": "canary looked fine",
                    "externalExecutionId": "t",
                },
            ),
            "updatedBy": APPROVER,
        },
        _detail("DeployStage", "Deploy-stage", "Build", 10),
        _detail("Build", "BuildImages", "Build", 0, outputVariables={"MODEL_VERSION": VERSION}),
    ]
    client = _client()
    with Stubber(client) as stub:
        stub.add_response(
            "list_action_executions",
            {"actionExecutionDetails": newest_first},
            {"pipelineName": PIPELINE, "maxResults": 100},
        )
        events = pipeline_events(client, pipeline=PIPELINE, since=AT - timedelta(days=30), limit=300)

    assert [(e.kind, e.environment, e.model_version) for e in events] == [
        ("deploy", "prod", VERSION),
        ("approved", "prod", VERSION),
        ("deploy", "stage", VERSION),
    ]
    approval = events[1]
    assert approval.detail == "canary looked fine" and approval.by == APPROVER


def test_a_rejection_is_a_rejected_event_and_failed_or_waiting_actions_are_not_releases() -> None:
    page = [
        _detail(
            "Approve",
            "ApproveProd",
            "Approval",
            20,
            status="Failed",
            executionResult={"externalExecutionSummary": "AUC too low on stage"},
        ),
        _detail("DeployStage", "Deploy-stage", "Build", 10, status="Failed"),
        _detail("Approve", "ApproveProd", "Approval", 5, status="InProgress"),
    ]
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("list_action_executions", {"actionExecutionDetails": page})
        events = pipeline_events(client, pipeline=PIPELINE, since=AT - timedelta(days=1), limit=50)

    assert [(e.kind, e.detail) for e in events] == [("rejected", "AUC too low on stage")]


def test_reading_stops_at_the_first_page_that_reaches_before_since() -> None:
    recent = [_detail("DeployProd", "Deploy-prod", "Build", 0)]
    older = [_detail("DeployStage", "Deploy-stage", "Build", -3 * 24 * 60)]
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("list_action_executions", {"actionExecutionDetails": recent, "nextToken": "t1"})
        stub.add_response("list_action_executions", {"actionExecutionDetails": older, "nextToken": "t2"})
        events = pipeline_events(client, pipeline=PIPELINE, since=AT - timedelta(days=1), limit=500)
        stub.assert_no_pending_responses()

    assert [e.environment for e in events] == ["prod"], "a third page would have been older still"
