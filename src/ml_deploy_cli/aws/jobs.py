"""Running a Batch job now, as its schedule would, and following it: SubmitJob with the stack's
queue and the job definition by name (its latest revision, as `infra/jobs/schedules.py` submits),
DescribeJobs for its state, and its CloudWatch Logs stream once it has one; and where a job kind's
runs log (`ml-deploy logs retrain|monitor|quality`).

Batch's awslogs driver writes to `awslogs-group` (default `/aws/batch/job`), one stream per
attempt named `<awslogs-stream-prefix, else the job definition's name>/<container>/<task id>`
(https://docs.aws.amazon.com/batch/latest/userguide/using_awslogs.html)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ml_deploy_cli.delivery import LogLine, LogPage
from ml_deploy_cli.errors import CliError

JobKind = Literal["retrain", "monitor", "quality"]
JOB_KINDS: tuple[JobKind, ...] = ("retrain", "monitor", "quality")
ENDED = ("SUCCEEDED", "FAILED")
DEFAULT_LOG_GROUP = "/aws/batch/job"  # where awslogs writes when the job names no group


def job_command(kind: JobKind) -> list[str]:
    """The command each job definition runs (infra/jobs/definitions.py): `python -m retrain_job.<kind>`."""
    return ["python", "-m", f"retrain_job.{kind}"]


@dataclass(frozen=True)
class JobState:
    job_id: str
    name: str
    status: str  # SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED
    reason: str | None
    log_group: str
    log_stream: str | None

    @property
    def ended(self) -> bool:
        return self.status in ENDED


class BatchJobs:
    """The stack's job queue and its job definitions (one per kind)."""

    def __init__(self, batch: Any, logs: Any, *, queue: str, definitions: dict[JobKind, str]) -> None:
        self._batch = batch
        self._logs = logs
        self._queue = queue
        self._definitions = definitions

    @property
    def logs_client(self) -> Any:
        return self._logs

    def submit(self, kind: JobKind, *, arguments: tuple[str, ...] = ()) -> str:
        """Submit `kind` by definition name; `arguments` (a mode and its flags) override its command."""
        request: dict[str, Any] = {
            "jobName": f"{kind}-{arguments[0] if arguments else 'manual'}",
            "jobQueue": self._queue,
            "jobDefinition": self._definitions[kind],
        }
        if arguments:
            # An override replaces the whole command: the definition's own, then the arguments.
            request["containerOverrides"] = {"command": [*job_command(kind), *arguments]}
        response = self._batch.submit_job(**request)
        return str(response["jobId"])

    def state(self, job_id: str) -> JobState:
        jobs = self._batch.describe_jobs(jobs=[job_id]).get("jobs", [])
        if not jobs:
            raise CliError(f"Batch knows no job {job_id} (jobs are kept for about a week after they end)")
        job = jobs[0]
        container = job.get("container") or {}
        options = (container.get("logConfiguration") or {}).get("options") or {}
        return JobState(
            job_id=job_id,
            name=str(job.get("jobName", "")),
            status=str(job["status"]),
            reason=job.get("statusReason"),
            log_group=str(options.get("awslogs-group") or DEFAULT_LOG_GROUP),
            log_stream=container.get("logStreamName"),
        )

    def log_location(self, kind: JobKind) -> tuple[str, str]:
        """(log group, stream prefix) of the kind's runs, from its latest ACTIVE definition revision
        (the one the schedule submits; infra/jobs/definitions.py sets the group and the prefix)."""
        name = self._definitions[kind]
        pages = self._batch.get_paginator("describe_job_definitions").paginate(
            jobDefinitionName=name, status="ACTIVE"
        )
        revisions = [found for page in pages for found in page.get("jobDefinitions", [])]
        if not revisions:
            raise CliError(f"Batch has no ACTIVE job definition {name}: has `pulumi up` created the jobs?")
        latest = max(revisions, key=lambda found: int(found.get("revision", 0)))
        configuration = (latest.get("containerProperties") or {}).get("logConfiguration") or {}
        if configuration.get("logDriver", "awslogs") != "awslogs":
            raise CliError(f"{kind}: job definition {name} sends its logs to {configuration['logDriver']}")
        options = configuration.get("options") or {}
        return (
            str(options.get("awslogs-group") or DEFAULT_LOG_GROUP),
            f"{options.get('awslogs-stream-prefix') or name}/",
        )

    def logs(self, state: JobState, *, cursor: str | None) -> LogPage:
        """The job's log stream from its start (or where `cursor` left off); nothing before it has one."""
        if not state.log_stream:
            return LogPage(lines=[], cursor=cursor or "")
        request: dict[str, Any] = {
            "logGroupName": state.log_group,
            "logStreamName": state.log_stream,
            "startFromHead": True,
        }
        if cursor:
            request["nextToken"] = cursor
        response = self._logs.get_log_events(**request)
        lines = [
            LogLine(at=None, source=state.name, message=str(event.get("message", "")).rstrip("\n"))
            for event in response.get("events", [])
        ]
        # GetLogEvents hands back the same forward token when nothing new was written.
        return LogPage(lines=lines, cursor=str(response.get("nextForwardToken") or cursor or ""))
