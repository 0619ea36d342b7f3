"""Deploys, approvals and rejections from the pipeline's own action history.

One paginated `ListActionExecutions` without a filter lists the pipeline's action executions,
newest first, across executions (kept 12 months; at most 100 per call:
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListActionExecutions.html).
A succeeded deploy action is a deploy of the model version its execution's build exported
(`MODEL_VERSION`); an answered approval carries who answered and their comment
(`output.executionResult.externalExecutionSummary`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ml_deploy.tracking import ReleaseEvent

# The pipeline's deploy stages (infra/delivery/pipeline.py) and the environment each one deploys.
DEPLOY_STAGES = {"DeployStage": "stage", "DeployProd": "prod"}
PAGE = 100


def pipeline_events(codepipeline: Any, *, pipeline: str, since: datetime, limit: int) -> list[ReleaseEvent]:
    """The deploys and answered approvals started since `since`, from at most `limit` action executions."""
    details = _newest_details(codepipeline, pipeline=pipeline, since=since, limit=limit)
    versions = {
        d["pipelineExecutionId"]: d.get("output", {}).get("outputVariables", {})["MODEL_VERSION"]
        for d in details
        if "MODEL_VERSION" in d.get("output", {}).get("outputVariables", {})
    }
    events = []
    for detail in details:
        event = _event(detail, model_version=versions.get(detail.get("pipelineExecutionId", "")))
        if event is not None:
            events.append(event)
    return events


def _newest_details(codepipeline: Any, *, pipeline: str, since: datetime, limit: int) -> list[dict[str, Any]]:
    details: list[dict[str, Any]] = []
    request: dict[str, Any] = {"pipelineName": pipeline, "maxResults": min(PAGE, limit)}
    while len(details) < limit:
        response = codepipeline.list_action_executions(**request)
        page = response.get("actionExecutionDetails", [])
        details += [d for d in page if d.get("startTime") and d["startTime"] >= since]
        if not response.get("nextToken") or any(d.get("startTime") and d["startTime"] < since for d in page):
            break  # newest first: once a page reaches before `since`, the rest is older still
        request["nextToken"] = response["nextToken"]
    return details[:limit]


def _event(detail: dict[str, Any], *, model_version: str | None) -> ReleaseEvent | None:
    category = detail.get("input", {}).get("actionTypeId", {}).get("category")
    status = detail.get("status")
    at = detail.get("lastUpdateTime") or detail["startTime"]
    environment = DEPLOY_STAGES.get(detail.get("stageName", ""))
    if environment and category != "Approval" and status == "Succeeded":
        return ReleaseEvent(
            kind="deploy",
            at=at,
            environment=environment,
            model_version=model_version,
            detail=f"pipeline execution {detail.get('pipelineExecutionId', '?')}",
        )
    if category == "Approval" and status in ("Succeeded", "Failed"):
        summary = detail.get("output", {}).get("executionResult", {}).get("externalExecutionSummary") or ""
        return ReleaseEvent(
            kind="approved" if status == "Succeeded" else "rejected",
            at=at,
            environment="prod",
            model_version=model_version,
            by=detail.get("updatedBy"),
            detail=summary[:2000],
        )
    return None
