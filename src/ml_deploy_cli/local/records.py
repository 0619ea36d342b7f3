"""The local delivery's state as typed records: what the runner (`ml_deploy_dev.delivery`) writes
and the CLI reads, so neither side indexes untyped JSON. Times are ISO 8601 text, as written."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    # A newer runner may write more than this CLI reads: ignored, not refused.
    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class AwsEndpoint(_Record):
    """The local AWS stand-in (moto_server) the run uses."""

    endpoint: str
    region: str
    access_key_id: str
    secret_access_key: str


class Approval(_Record):
    status: str  # InProgress, Succeeded (approved), Failed (rejected or timed out)
    stage: str
    action: str
    token: str
    since: str | None = None
    message: str | None = None
    link: str | None = None
    by: str | None = None
    summary: str | None = None
    answered_at: str | None = None


class Execution(_Record):
    id: str
    status: str  # Queued, InProgress, Succeeded, Failed, Superseded
    started: str
    trigger: str
    model_object_version: str | None = None
    stages: dict[str, str] = Field(default_factory=dict)
    approval: Approval | None = None
    commit: str | None = None
    model_version: str | None = None
    image_tag: str | None = None
    # What its actions produced, kept so a retry runs the failed stage with them.
    variables: dict[str, dict[str, str]] = Field(default_factory=dict)
    artifacts: dict[str, str] = Field(default_factory=dict)
    resume_at: str | None = None  # the stage a retry starts at


class Revision(_Record):
    """A task-definition revision of the local run: the image alone (the settings are the state's)."""

    revision: int
    image: str
    image_dir: str | None = None
    registered: str | None = None


class TaskRecord(_Record):
    revision: int
    pid: int
    port: int


class Hook(_Record):
    """The lifecycle hook's stand-in: a command and its environment."""

    command: list[str]
    environment: dict[str, str] = Field(default_factory=dict)


class EnvironmentRecord(_Record):
    service: str
    url: str | None = None
    port: int | None = None
    task_environment: dict[str, str] = Field(default_factory=dict)
    lifecycle_hook: Hook | None = None
    log_dir: str | None = None
    revisions: list[Revision]
    running: TaskRecord | None = None
    stopped: TaskRecord | None = None  # what ran last, once the run ended
    rollout: str | None = None


RequestKind = Literal["rollback", "deploy", "retry", "release", "run-job"]


class Request(_Record):
    """Something the CLI asks of the runner, which owns the processes: it performs it and answers."""

    id: str
    kind: RequestKind
    arguments: dict[str, str] = Field(default_factory=dict)
    status: Literal["Pending", "Succeeded", "Failed", "Abandoned"] = "Pending"
    result: dict[str, str] = Field(default_factory=dict)
    output: list[str] = Field(default_factory=list)  # what performing it printed
    error: str | None = None
    made: str
    answered: str | None = None


class JobRun(_Record):
    """A job the runner ran as the local Batch stand-in does: one process, its log, its exit."""

    id: str
    kind: str
    status: str  # RUNNING, SUCCEEDED, FAILED
    log: str
    started: str
    exit_code: int | None = None


class LocalState(_Record):
    pipeline: str = "local"
    execution_mode: str | None = None
    stages: list[str] = Field(default_factory=list)
    aws: AwsEndpoint
    model_bucket: str
    model_key: str
    log_bucket: str | None = None
    decisions_prefix: str | None = None
    reports_prefix: str | None = None
    registry: str | None = None  # where the build's `docker push` stand-in puts images
    ready_timeout: float | None = None
    first_model_environment: dict[str, str] | None = None
    executions: list[Execution]
    environments: dict[str, EnvironmentRecord]
    requests: list[Request] = Field(default_factory=list)
    jobs: list[JobRun] = Field(default_factory=list)
    jobs_dir: str | None = None  # where job logs go; None when no runner answers run-job
    runner_pid: int | None = None  # the process that answers requests; None: nothing answers

    def execution(self, execution_id: str) -> Execution:
        for record in self.executions:
            if record.id == execution_id:
                return record
        raise KeyError(execution_id)


def task_log_path(environment: EnvironmentRecord, name: str, revision: int) -> Path:
    """Where the task of `revision` writes its output (the local stand-in of its log stream)."""
    if environment.log_dir is None:
        raise ValueError(f"{name} names no log_dir")
    return Path(environment.log_dir) / f"{name}-r{revision}.log"
