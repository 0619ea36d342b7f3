"""Pipeline executions: what each one carried (commit, model, approval) and how it started.

The facts come from the execution's action executions: the code source's `CommitId`, the model
source's S3 `VersionId`, the build's exported variables (`buildspec.yml`: MODEL_VERSION,
IMAGE_TAG, COMMIT_ID) and the approval action's answer (who, and their comment).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ml_deploy_cli.delivery import ApprovalOutcome, ExecutionFacts, ExecutionRecord

# The source actions' names (infra/pipeline.py CODE_ACTION, MODEL_ACTION).
CODE_ACTION = "Code"
MODEL_ACTION = "Model"
_TRIGGERS = {
    "WebhookV2": "git push",
    "Webhook": "git push",
    "CodeCommit": "git push",
    "StartPipelineExecution": "started by hand",
    "CreatePipeline": "pipeline created",
    "PutActionRevision": "source revision put",
    "PollForSourceChanges": "source polled",
    "ManualRollback": "manual rollback",
    "AutomatedRollback": "automatic rollback",
}


class Executions:
    """Reads one pipeline's executions."""

    def __init__(self, codepipeline: Any, *, pipeline: str, model_rule: str | None) -> None:
        self._codepipeline = codepipeline
        self._pipeline = pipeline
        self._model_rule = model_rule

    def facts(self, execution_id: str) -> ExecutionFacts:
        pages = self._codepipeline.get_paginator("list_action_executions").paginate(
            pipelineName=self._pipeline, filter={"pipelineExecutionId": execution_id}
        )
        return facts_of(detail for page in pages for detail in page.get("actionExecutionDetails", []))

    def history(self, limit: int) -> list[ExecutionRecord]:
        response = self._codepipeline.list_pipeline_executions(pipelineName=self._pipeline, maxResults=limit)
        return [
            ExecutionRecord(
                execution_id=summary["pipelineExecutionId"],
                status=summary.get("status", "?"),
                started=summary.get("startTime"),
                trigger=self.trigger_label(summary.get("trigger", {})),
                facts=_with_source_revisions(self.facts(summary["pipelineExecutionId"]), summary),
            )
            for summary in response.get("pipelineExecutionSummaries", [])[:limit]
        ]

    def trigger_label(self, trigger: dict[str, Any]) -> str:
        """`model upload` for the stack's model rule; otherwise what the trigger type means."""
        kind, detail = trigger.get("triggerType", ""), trigger.get("triggerDetail", "")
        if kind == "CloudWatchEvent":
            if self._model_rule and detail.endswith(f"/{self._model_rule}"):
                return "model upload"
            return f"event {_last_part(detail)}" if detail else "event"
        label = _TRIGGERS.get(kind, kind or "unknown")
        if kind == "StartPipelineExecution" and detail:
            return f"{label} ({_last_part(detail)})"
        return label


def facts_of(details: Iterable[dict[str, Any]]) -> ExecutionFacts:
    """Commit, model version, model object version and approval from action executions."""
    found: dict[str, Any] = {}
    for detail in sorted(details, key=lambda d: d.get("startTime") or 0):
        action_type = detail.get("input", {}).get("actionTypeId", {})
        variables = detail.get("output", {}).get("outputVariables", {})
        category, provider = action_type.get("category"), action_type.get("provider")
        if category == "Source" and provider == "S3":
            found["model_object_version"] = variables.get("VersionId")
        elif category == "Source":
            found.setdefault("commit", variables.get("CommitId"))
        elif category == "Build" and "MODEL_VERSION" in variables:
            found["model_version"] = variables["MODEL_VERSION"]
            found["image_tag"] = variables.get("IMAGE_TAG")
            found["commit"] = found.get("commit") or variables.get("COMMIT_ID")
        elif category == "Approval":
            result = detail.get("output", {}).get("executionResult", {})
            found["approval"] = ApprovalOutcome(
                status=detail.get("status", "?"),
                by=detail.get("updatedBy"),
                summary=result.get("externalExecutionSummary"),
            )
    return ExecutionFacts(**found)


def _with_source_revisions(facts: ExecutionFacts, summary: dict[str, Any]) -> ExecutionFacts:
    """An execution that failed before its actions reported still lists its source revisions."""
    if facts.commit and facts.model_object_version:
        return facts
    revisions = {r["actionName"]: r.get("revisionId") for r in summary.get("sourceRevisions", [])}
    return replace(
        facts,
        commit=facts.commit or revisions.get(CODE_ACTION),
        model_object_version=facts.model_object_version or revisions.get(MODEL_ACTION),
    )


def _last_part(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1] or arn
