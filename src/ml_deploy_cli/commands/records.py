"""The JSON that `status --json`, `history --json` and `diff --json` print: one TypedDict per
document and record, which the commands build and serialise through, so the schema is written here
once (and mypy holds the commands to it; `tests/cli/test_records.py` holds the output to it).

Stability: keys are never renamed or removed, only added (a consumer ignores keys it does not
know); a change that would break that is a new schema name (`.../v2`). Times are ISO 8601 in UTC;
an unknown value is null. The container environment is left out of `status`: it can hold settings
an operator does not mean to paste into a ticket.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict  # pydantic reads TypedDicts from typing_extensions on 3.11

from ml_deploy_cli.delivery import (
    ApprovalOutcome,
    Deployment,
    DriftReport,
    ExecutionFacts,
    ExecutionRecord,
    PipelineState,
    RetrainDecision,
)

STATUS_SCHEMA = "ml-deploy/status/v1"
HISTORY_SCHEMA = "ml-deploy/history/v1"
DIFF_SCHEMA = "ml-deploy/diff/v1"
_EXACT = ConfigDict(extra="forbid")  # what the tests check an output against: no key unwritten here


@with_config(_EXACT)
class Tasks(TypedDict):
    running: int
    desired: int


@with_config(_EXACT)
class DeploymentRecord(TypedDict):
    service: str
    revision: str  # family:revision
    image: str
    commit: str | None
    model_version: str | None
    tasks: Tasks
    rollout: str | None  # IN_PROGRESS, COMPLETED, FAILED


@with_config(_EXACT)
class ApprovalRecord(TypedDict):
    status: str  # Succeeded (approved), Failed (rejected), InProgress (waiting), Abandoned
    by: str | None
    summary: str | None


@with_config(_EXACT)
class StageRecord(TypedDict):
    stage: str
    status: str
    execution_id: str


@with_config(_EXACT)
class WaitingApproval(TypedDict):
    execution_id: str
    stage: str
    action: str
    since: str | None
    commit: str | None
    model_version: str | None
    model_object_version: str | None
    image_tag: str | None
    approval: ApprovalRecord | None


@with_config(_EXACT)
class PipelineRecord(TypedDict):
    name: str
    stages: list[StageRecord]
    waiting_approvals: list[WaitingApproval]
    in_flight: list[str]  # execution ids


@with_config(_EXACT)
class DecisionRecord(TypedDict):
    decision: str
    decided_at: str | None
    challenger_version: str | None
    champion_version: str | None
    reasons: list[str]
    location: str


@with_config(_EXACT)
class DriftRecord(TypedDict):
    environment: str
    status: str
    window_end: str | None
    rows_seen: int | None
    drifted_features: list[str]
    location: str


@with_config(_EXACT)
class Environments(TypedDict):
    stage: DeploymentRecord | None
    prod: DeploymentRecord | None


@with_config(_EXACT)
class SectionError(TypedDict):
    sections: list[str]
    message: str


@with_config(_EXACT)
class StatusDocument(TypedDict):
    """`ml-deploy status --json`; a section that could not be read is null and named in `errors`."""

    schema: str  # STATUS_SCHEMA
    backend: str  # aws | local
    environments: Environments
    pipeline: PipelineRecord | None
    retrain: DecisionRecord | None
    drift: DriftRecord | None
    links: dict[str, str] | None  # stage, prod, pipeline, dashboard: what the backend knows
    errors: list[SectionError]


@with_config(_EXACT)
class ExecutionEntry(TypedDict):
    execution_id: str
    status: str
    started: str | None
    trigger: str
    commit: str | None
    model_version: str | None
    model_object_version: str | None
    image_tag: str | None
    approval: ApprovalRecord | None


@with_config(_EXACT)
class HistoryDocument(TypedDict):
    """`ml-deploy history --json`: newest first."""

    schema: str  # HISTORY_SCHEMA
    executions: list[ExecutionEntry]


Value = str | float | int | None


@with_config(_EXACT)
class DiffField(TypedDict):
    """One compared field. `field` is `commit`, `model`, `image`, `image tag`, `image digest`, `cpu`,
    `memory`, `metric <name>` (the bundle manifest's holdout metrics, numbers), or `setting <NAME>`
    (a container variable that differs)."""

    field: str
    prod: Value  # the base's value (prod unless `diff CANDIDATE BASE` names another)
    candidate: Value


@with_config(_EXACT)
class DiffDocument(TypedDict):
    """`ml-deploy diff --json`: the base (prod by default) against the candidate."""

    schema: str  # DIFF_SCHEMA
    base: str  # an environment
    candidate: str  # an environment, or `execution <id>`
    fields: list[DiffField]
    changes: list[str]  # the fields whose values differ


def when(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def deployment(found: Deployment) -> DeploymentRecord:
    return {
        "service": found.service,
        "revision": found.revision,
        "image": found.image.image,
        "commit": found.image.commit,
        "model_version": found.image.model_version,
        "tasks": {"running": found.running, "desired": found.desired},
        "rollout": found.rollout,
    }


def approval(found: ApprovalOutcome | None) -> ApprovalRecord | None:
    if found is None:
        return None
    return {"status": found.status, "by": found.by, "summary": found.summary}


def pipeline(state: PipelineState) -> PipelineRecord:
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
                **_facts(waiting.facts),
            }
            for waiting in state.approvals
        ],
        "in_flight": [run.execution_id for run in state.in_flight],
    }


class _Facts(TypedDict):
    commit: str | None
    model_version: str | None
    model_object_version: str | None
    image_tag: str | None
    approval: ApprovalRecord | None


def _facts(found: ExecutionFacts) -> _Facts:
    return {
        "commit": found.commit,
        "model_version": found.model_version,
        "model_object_version": found.model_object_version,
        "image_tag": found.image_tag,
        "approval": approval(found.approval),
    }


def decision(found: RetrainDecision) -> DecisionRecord:
    return {
        "decision": found.decision,
        "decided_at": found.decided_at,
        "challenger_version": found.challenger_version,
        "champion_version": found.champion_version,
        "reasons": list(found.reasons),
        "location": found.location,
    }


def drift(found: DriftReport, *, environment: str) -> DriftRecord:
    return {
        "environment": environment,
        "status": found.status,
        "window_end": found.window_end,
        "rows_seen": found.rows_seen,
        "drifted_features": list(found.drifted_features),
        "location": found.location,
    }


def execution(found: ExecutionRecord) -> ExecutionEntry:
    return {
        "execution_id": found.execution_id,
        "status": found.status,
        "started": when(found.started),
        "trigger": found.trigger,
        **_facts(found.facts),
    }


def history(found: list[ExecutionRecord]) -> HistoryDocument:
    return {"schema": HISTORY_SCHEMA, "executions": [execution(record) for record in found]}
