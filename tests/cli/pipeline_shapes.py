"""CodePipeline responses as the API returns them for this stack's pipeline (infra/pipeline.py):
stages Source (Code, Model) -> Build (BuildImages) -> DeployStage -> Approve (ApproveProd) ->
DeployProd -> PromoteJobs. The Stubber checks each against botocore's service model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.cli.conftest import PIPELINE

WAITING = "3f1e2d4c-5b6a-4789-8abc-def012345678"
PREVIOUS = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
UNKNOWN = "99999999-9999-4999-8999-999999999999"
TOKEN = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
COMMIT = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
MODEL_VERSION = "20261123T101500Z-3f9a1c2b"
OBJECT_VERSION = "Hf3k1yTw.Wh6qrlVx9E2Ab0Cd8Ef7Gh6"
APPROVER = "arn:aws:sts::123456789012:assumed-role/Approvers/jane"
WHEN = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)


def pipeline_state(*, waiting: bool) -> dict[str, Any]:
    """GetPipelineState: WAITING is at Approve (waiting or not); PREVIOUS went all the way to prod."""
    approve_action: dict[str, Any] = {"actionName": "ApproveProd"}
    if waiting:
        approve_action["latestExecution"] = {
            "actionExecutionId": "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
            "status": "InProgress",
            "token": TOKEN,
            "lastStatusChange": WHEN,
        }
    return {
        "pipelineName": PIPELINE,
        "pipelineVersion": 3,
        "stageStates": [
            _stage("Source", WAITING, "Succeeded", [_action("Code"), _action("Model")]),
            _stage("Build", WAITING, "Succeeded", [_action("BuildImages")]),
            _stage("DeployStage", WAITING, "Succeeded", [_action("Deploy-stage")]),
            _stage("Approve", WAITING, "InProgress" if waiting else "Succeeded", [approve_action]),
            _stage("DeployProd", PREVIOUS, "Succeeded", [_action("Deploy-prod")]),
            _stage("PromoteJobs", PREVIOUS, "Succeeded", [_action("RegisterJobRevisions")]),
        ],
        "created": datetime(2026, 1, 1, tzinfo=UTC),
        "updated": datetime(2026, 1, 1, tzinfo=UTC),
    }


def action_executions(
    execution_id: str,
    *,
    commit: str = COMMIT,
    model_version: str = MODEL_VERSION,
    approval: tuple[str, str | None, str | None] | None = None,
) -> dict[str, Any]:
    """ListActionExecutions of one execution: sources, build variables and, if given, the approval
    (status, updatedBy, summary)."""
    details = [
        _detail(execution_id, "Source", "Code", "CodeStarSourceConnection", {"CommitId": commit}),
        _detail(execution_id, "Source", "Model", "S3", {"VersionId": OBJECT_VERSION, "ETag": "abc"}),
        _detail(
            execution_id,
            "Build",
            "BuildImages",
            "CodeBuild",
            {
                "COMMIT_ID": commit,
                "MODEL_VERSION": model_version,
                "MODEL_METRICS": "roc_auc=0.8123",
                "IMAGE_TAG": f"{commit[:12]}-{model_version}",
            },
        ),
    ]
    if approval is not None:
        details.append(_approval(execution_id, *approval))
    return {"actionExecutionDetails": details}


def executions_list(*summaries: dict[str, Any]) -> dict[str, Any]:
    return {"pipelineExecutionSummaries": list(summaries)}


def execution_summary(execution_id: str, *, status: str, trigger: dict[str, str]) -> dict[str, Any]:
    return {
        "pipelineExecutionId": execution_id,
        "status": status,
        "startTime": WHEN,
        "lastUpdateTime": WHEN,
        "sourceRevisions": [
            {"actionName": "Code", "revisionId": COMMIT, "revisionSummary": "Fix the thing"},
            {"actionName": "Model", "revisionId": OBJECT_VERSION},
        ],
        "trigger": trigger,
        "executionMode": "QUEUED",
        "executionType": "STANDARD",
    }


def model_upload_trigger() -> dict[str, str]:
    return {
        "triggerType": "CloudWatchEvent",
        "triggerDetail": "arn:aws:events:eu-west-1:123456789012:rule/ml-deploy-dev-model-upload",
    }


def _stage(name: str, execution_id: str, status: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "stageName": name,
        "inboundTransitionState": {"enabled": True},
        "actionStates": actions,
        "latestExecution": {"pipelineExecutionId": execution_id, "status": status},
    }


def _action(name: str) -> dict[str, Any]:
    return {
        "actionName": name,
        "latestExecution": {"status": "Succeeded", "lastStatusChange": WHEN, "summary": "done"},
    }


def _detail(
    execution_id: str, category: str, name: str, provider: str, variables: dict[str, str]
) -> dict[str, Any]:
    return {
        "pipelineExecutionId": execution_id,
        "actionExecutionId": f"{name.lower()}-{execution_id[:8]}",
        "pipelineVersion": 3,
        "stageName": {"Source": "Source", "Build": "Build"}[category],
        "actionName": name,
        "startTime": WHEN,
        "lastUpdateTime": WHEN,
        "status": "Succeeded",
        "input": {
            "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": {},
        },
        "output": {"outputArtifacts": [], "executionResult": {}, "outputVariables": variables},
    }


def _approval(execution_id: str, status: str, by: str | None, summary: str | None) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "pipelineExecutionId": execution_id,
        "actionExecutionId": f"approve-{execution_id[:8]}",
        "pipelineVersion": 3,
        "stageName": "Approve",
        "actionName": "ApproveProd",
        "startTime": WHEN,
        "lastUpdateTime": WHEN,
        "status": status,
        "input": {
            "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
            "configuration": {"CustomData": "Promote to prod: ..."},
        },
        "output": {"executionResult": {"externalExecutionSummary": summary} if summary else {}},
    }
    if by:
        detail["updatedBy"] = by
    return detail
