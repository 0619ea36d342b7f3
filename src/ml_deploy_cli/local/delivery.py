"""`LocalDelivery`: the `Delivery` of the pipeline run on this machine, through its state file.

Reads (status, history) come from the state the runner writes; an approval answer is written
into it, and the runner, polling, goes on or stops; an upload goes to the local S3 (moto_server),
whose model-upload rule starts the next execution as EventBridge does; a rollback, a retry and a
release are requests the runner, which owns the processes, performs and answers (`requests.py`).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import EndpointConnectionError

from ml_deploy.bundle import Manifest
from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy.settings import RetrainSettings
from ml_deploy.tracking import ReleaseEvent
from ml_deploy_cli.aws.buckets import Buckets
from ml_deploy_cli.aws.dashboard import Dashboards
from ml_deploy_cli.aws.outcomes import put_outcome_objects
from ml_deploy_cli.delivery import (
    ENVIRONMENTS,
    ApprovalAnswer,
    ApprovalOutcome,
    Deployment,
    DriftReport,
    Environment,
    ExecutionFacts,
    ExecutionRecord,
    LogPage,
    PendingApproval,
    PipelineState,
    RetrainDecision,
    Rollback,
    StageRun,
    UploadedBundle,
)
from ml_deploy_cli.errors import CliError
from ml_deploy_cli.images import parse_image
from ml_deploy_cli.local.logs import read_log
from ml_deploy_cli.local.records import EnvironmentRecord, Execution, LocalState, task_log_path
from ml_deploy_cli.local.requests import ask, process_alive
from ml_deploy_cli.local.state import default_state_path, edited_state, now, parse_time, read_checked_state

Answer = TypeVar("Answer")
# A rollback starts a task and waits for /ready and the lifecycle hook (120 s) as a deploy does.
ROLLBACK_TIMEOUT = 300.0
ANSWER_TIMEOUT = 30.0  # a retry or a release only queues an execution


class LocalDelivery:
    """The local run whose state is at `path`; a state that is missing or not a runner's fails here, once."""

    def __init__(self, path: Path) -> None:
        self._path = path
        read_checked_state(path)

    @property
    def _state(self) -> LocalState:
        return read_checked_state(self._path)

    def client(self, service: str) -> Any:
        """A boto3 client of the local AWS stand-in (moto_server) the local run uses."""
        import boto3  # with botocore.config, 0.1 s: only for a command that calls the stand-in
        from botocore.config import Config

        aws = self._state.aws
        # The stand-in is on this machine: a closed port is an ended demo, not a network to wait for.
        local_config = Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 1})
        return boto3.client(
            service,
            endpoint_url=aws.endpoint,
            region_name=aws.region,
            aws_access_key_id=aws.access_key_id,
            aws_secret_access_key=aws.secret_access_key,
            config=local_config,
        )

    def _stand_in(self, call: Callable[[], Answer]) -> Answer:
        """`call` on the local S3; a stand-in that no longer answers is one line naming what to do."""
        try:
            return call()
        except EndpointConnectionError:
            raise CliError(
                f"the local AWS stand-in at {self._state.aws.endpoint} does not answer: the local delivery "
                "has ended; start one with `make demo`"
            ) from None

    @cached_property
    def _buckets(self) -> Buckets:
        state = self._state
        return Buckets(
            self.client("s3"),
            model_bucket=state.model_bucket,
            model_key=state.model_key,
            log_bucket=state.log_bucket,
            decisions_prefix=state.decisions_prefix or DEFAULT_LAYOUT.decisions_prefix,
            reports_prefix=state.reports_prefix or DEFAULT_LAYOUT.reports_prefix,
        )

    @cached_property
    def _dashboards(self) -> Dashboards:
        state = self._state
        return Dashboards(
            self.client("s3"),
            log_bucket=state.log_bucket,
            reports_prefix=state.reports_prefix or DEFAULT_LAYOUT.reports_prefix,
        )

    def deployment(self, environment: Environment) -> Deployment:
        record = self._environment(environment)
        task = record.running or record.stopped
        revision = next((r for r in record.revisions if task and r.revision == task.revision), None)
        alive = record.running is not None and process_alive(record.running.pid)
        return Deployment(
            environment=environment,
            service=record.service,
            revision=f"{record.service}:{revision.revision}" if revision else "-",
            image=parse_image(revision.image if revision else "-"),
            running=1 if alive else 0,
            desired=1 if task else 0,  # a task was deployed (ECS's desired count 0 until then)
            rollout=record.rollout,
            container_environment=dict(record.task_environment),
        )

    def pipeline_state(self) -> PipelineState:
        state = self._state
        runs = []
        for stage in state.stages:
            seen = [e for e in state.executions if stage in e.stages]
            if seen:
                latest = max(seen, key=lambda e: e.started)
                runs.append(StageRun(stage=stage, execution_id=latest.id, status=latest.stages[stage]))
        approvals = [
            PendingApproval(
                execution_id=e.id,
                stage=e.approval.stage,
                action=e.approval.action,
                token=e.approval.token,
                since=parse_time(e.approval.since),
                facts=_facts(e),
            )
            for e in state.executions
            if e.approval is not None and e.approval.status == "InProgress"
        ]
        return PipelineState(pipeline=state.pipeline, stages=runs, approvals=approvals)

    def answer_approval(self, *, approve: bool, comment: str, execution_id: str | None) -> ApprovalAnswer:
        with edited_state(self._path) as state:
            waiting = [
                e
                for e in state.executions
                if e.approval is not None
                and e.approval.status == "InProgress"
                and execution_id in (None, e.id)
            ]
            if not waiting and execution_id:
                raise CliError(
                    f"execution {execution_id} does not wait for an approval "
                    "(`ml-deploy --local status` shows what waits)"
                )
            if not waiting:
                raise CliError("no execution waits for an approval (`ml-deploy --local status` shows why)")
            if len(waiting) > 1:
                raise CliError(f"{len(waiting)} executions wait; name one with --execution")
            (execution,) = waiting
            answered = now()
            assert execution.approval is not None
            execution.approval = execution.approval.model_copy(
                update={
                    "status": "Succeeded" if approve else "Failed",
                    "by": f"local/{getpass.getuser()}",
                    "summary": comment,
                    "answered_at": answered,
                }
            )
        return ApprovalAnswer(
            execution_id=execution.id,
            approved=approve,
            facts=_facts(execution),
            answered_at=parse_time(answered),
        )

    def upload_bundle(self, path: Path, *, manifest: Manifest) -> UploadedBundle:
        return self._stand_in(lambda: self._buckets.upload_bundle(path, manifest=manifest))

    def upload_outcomes(self, objects: Sequence[tuple[str, bytes]]) -> list[str]:
        bucket = self._state.log_bucket
        if not bucket:
            raise CliError("the local delivery has no prediction-log bucket: start one with `make demo`")
        return self._stand_in(
            lambda: put_outcome_objects(self.client("s3"), bucket=str(bucket), objects=objects)
        )

    def roll_back(self, environment: Environment) -> Rollback:
        """A request the runner performs: it starts the earlier revision's task, as ECS would."""
        self._environment(environment)
        answer = ask(
            self._path, kind="rollback", arguments={"environment": environment}, timeout=ROLLBACK_TIMEOUT
        ).result
        return Rollback(
            environment=environment,
            service=answer["service"],
            from_revision=answer["from_revision"],
            from_image=parse_image(answer["from_image"]),
            to_revision=answer["to_revision"],
            to_image=parse_image(answer["to_image"]),
        )

    def history(self, limit: int) -> list[ExecutionRecord]:
        executions = sorted(self._state.executions, key=lambda e: e.started, reverse=True)
        return [
            ExecutionRecord(
                execution_id=e.id,
                status=e.status,
                started=parse_time(e.started),
                trigger=e.trigger,
                facts=_facts(e),
            )
            for e in executions[:limit]
        ]

    def last_decision(self) -> RetrainDecision | None:
        return self._stand_in(lambda: self._buckets.last_decision())

    def drift_report(self, environment: Environment) -> DriftReport | None:
        return self._stand_in(lambda: self._buckets.drift_report(environment))

    def dashboard(self, environment: Environment, *, expires_in: int) -> str:
        """A copy of the page beside the state file: the local S3 is gone when the demo ends."""
        target = self._path.parent / "dashboard" / environment / "index.html"
        return str(self._stand_in(lambda: self._dashboards.save(environment, target)))

    def record_release(self, event: ReleaseEvent) -> str:
        return self._stand_in(lambda: self._dashboards.record(event))

    def model_at_key(self) -> str | None:
        return self._stand_in(lambda: self._buckets.model_at_key())

    def first_model_environment(self, *, code_version: str) -> dict[str, str]:
        variables = self._state.first_model_environment
        if variables is None:
            raise CliError(
                "the local delivery state names no retrain job environment: pass --bundle BUNDLE to "
                "bootstrap, or ship a bundle you have with `ml-deploy --local upload-model BUNDLE`"
            )
        return {**variables, RetrainSettings.variable("code_version"): code_version}

    def apply_program(self, *, stack: str | None) -> str:
        del stack  # one local run, no Pulumi stack
        return "the local run starts each environment's task at its deploy: nothing to apply"

    def urls(self) -> dict[Environment, str]:
        environments = self._state.environments
        return {
            name: str(environments[name].url)
            for name in ENVIRONMENTS
            if name in environments and environments[name].url
        }

    def retry(self, execution_id: str | None) -> StageRun:
        """A request the runner answers: it queues the failed execution again from its failed stage."""
        arguments = {"execution": execution_id} if execution_id else {}
        answer = ask(self._path, kind="retry", arguments=arguments, timeout=ANSWER_TIMEOUT).result
        return StageRun(stage=answer["stage"], execution_id=answer["execution"], status="InProgress")

    def release(self) -> str:
        """A request the runner answers: a new execution of the model key's current version."""
        return ask(self._path, kind="release", arguments={}, timeout=ANSWER_TIMEOUT).result["execution"]

    def service_logs(self, environment: Environment, *, since: datetime, cursor: str | None) -> LogPage:
        """The output of the task that runs (or ran last); local lines carry no time, so `since` is moot."""
        del since
        record = self._environment(environment)
        task = record.running or record.stopped
        if not task or not record.log_dir:
            raise CliError(f"{environment} has run no task yet in the local delivery: no logs")
        path = task_log_path(record, environment, task.revision)
        return read_log(path, cursor=cursor, source=f"{environment}-r{task.revision}", what=environment)

    def links(self) -> dict[str, str]:
        """The environments' local addresses, and the state file (the local run's pipeline page)."""
        found: dict[str, str] = {str(name): url for name, url in self.urls().items()}
        return {**found, "pipeline": str(self._path.resolve())}

    def quota_shortfalls(self) -> list[str] | None:
        return []  # the local run has no account quotas

    def _environment(self, environment: Environment) -> EnvironmentRecord:
        environments = self._state.environments
        if environment not in environments:
            raise CliError(f"the local delivery has no {environment} environment yet")
        return environments[environment]


def deploy_locally(environ: Mapping[str, str], *, service: str, image: str) -> str:
    """`ml-deploy deploy` in the local build: the runner deploys (it owns the tasks); what it said."""
    path = default_state_path(environ)
    state = read_checked_state(path)
    timeout = (state.ready_timeout or 60.0) + ROLLBACK_TIMEOUT
    answer = ask(path, kind="deploy", arguments={"service": service, "image": image}, timeout=timeout)
    lines = [
        *answer.output,
        f"{answer.result['environment']}: revision {answer.result['revision']} runs {image} (local run)",
    ]
    return "\n".join(lines)


def _facts(execution: Execution) -> ExecutionFacts:
    approval = execution.approval
    return ExecutionFacts(
        commit=execution.commit,
        model_version=execution.model_version,
        model_object_version=execution.model_object_version,
        image_tag=execution.image_tag,
        approval=ApprovalOutcome(status=approval.status, by=approval.by, summary=approval.summary)
        if approval
        else None,
    )
