"""The JSON form of what `status --json` and `history --json` print: a stable, documented schema.

Keys are spelled here once and never renamed (add, don't change); times are ISO 8601 in UTC;
an unknown value is null. The container environment is left out: it can hold settings an operator
does not mean to paste into a ticket.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ml_deploy_cli.delivery import (
    ApprovalOutcome,
    Deployment,
    DriftReport,
    ExecutionFacts,
    ExecutionRecord,
    PipelineState,
    RetrainDecision,
)


def when(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def deployment(found: Deployment) -> dict[str, Any]:
    return {
        "service": found.service,
        "revision": found.revision,
        "image": found.image.image,
        "commit": found.image.commit,
        "model_version": found.image.model_version,
        "tasks": {"running": found.running, "desired": found.desired},
        "rollout": found.rollout,
    }


def facts(found: ExecutionFacts) -> dict[str, Any]:
    return {
        "commit": found.commit,
        "model_version": found.model_version,
        "model_object_version": found.model_object_version,
        "image_tag": found.image_tag,
        "approval": approval(found.approval),
    }


def approval(found: ApprovalOutcome | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"status": found.status, "by": found.by, "summary": found.summary}


def pipeline(state: PipelineState) -> dict[str, Any]:
    return {
        "name": state.pipeline,
        "stages": [
            {"stage": run.stage, "status": run.status, "execution_id": run.execution_id}
            for run in state.stages
        ],
        "waiting_approvals": [
            {
                "execution_id": waiting.execution_id,
                "stage": waiting.stage,
                "action": waiting.action,
                "since": when(waiting.since),
                **facts(waiting.facts),
            }
            for waiting in state.approvals
        ],
        "in_flight": [run.execution_id for run in state.in_flight],
    }


def decision(found: RetrainDecision) -> dict[str, Any]:
    return {
        "decision": found.decision,
        "decided_at": found.decided_at,
        "challenger_version": found.challenger_version,
        "champion_version": found.champion_version,
        "reasons": list(found.reasons),
        "location": found.location,
    }


def drift(found: DriftReport, *, environment: str) -> dict[str, Any]:
    return {
        "environment": environment,
        "status": found.status,
        "window_end": found.window_end,
        "rows_seen": found.rows_seen,
        "drifted_features": list(found.drifted_features),
        "location": found.location,
    }


def execution(found: ExecutionRecord) -> dict[str, Any]:
    return {
        "execution_id": found.execution_id,
        "status": found.status,
        "started": when(found.started),
        "trigger": found.trigger,
        **facts(found.facts),
    }
