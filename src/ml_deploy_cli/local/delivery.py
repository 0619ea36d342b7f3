"""`LocalDelivery`: the `Delivery` of the pipeline run on this machine, through its state file.

Reads (status, history) come from the state the runner writes; an approval answer is written
into it, and the runner, polling, goes on or stops; an upload goes to the local S3 (moto_server),
whose model-upload rule starts the next execution as EventBridge does; a rollback replaces the
environment's task itself, as `ml-deploy rollback` asks ECS to.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config
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
    LogLine,
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
from ml_deploy_cli.local import services
from ml_deploy_cli.local.state import State, now, parse_time, read_checked_state, update_state
from ml_deploy_cli.local.tasks import TaskError, is_alive

Answer = TypeVar("Answer")
# The stand-in is on this machine: a closed port is an ended demo, not a network to wait for.
_LOCAL_CONFIG = Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 1})


class LocalDelivery:
    """The local run whose state is at `path`; a state that is missing or not a runner's fails here, once."""

    def __init__(self, path: Path) -> None:
        self._path = path
        read_checked_state(path)

    @property
    def _state(self) -> State:
        return read_checked_state(self._path)

    def client(self, service: str) -> Any:
        """A boto3 client of the local AWS stand-in (moto_server) the local run uses."""
        aws = self._state["aws"]
        return boto3.client(
            service,
            endpoint_url=aws["endpoint"],
            region_name=aws["region"],
            aws_access_key_id=aws["access_key_id"],
            aws_secret_access_key=aws["secret_access_key"],
            config=_LOCAL_CONFIG,
        )

    def _stand_in(self, call: Callable[[], Answer]) -> Answer:
        """`call` on the local S3; a stand-in that no longer answers is one line naming what to do."""
        try:
            return call()
        except EndpointConnectionError:
            endpoint = self._state["aws"]["endpoint"]
            raise CliError(
                f"the local AWS stand-in at {endpoint} does not answer: the local delivery has ended; "
                "start one with `make demo`"
            ) from None

    @cached_property
    def _buckets(self) -> Buckets:
        state = self._state
        return Buckets(
            self.client("s3"),
            model_bucket=state["model_bucket"],
            model_key=state["model_key"],
            log_bucket=state.get("log_bucket"),
            decisions_prefix=str(state.get("decisions_prefix") or DEFAULT_LAYOUT.decisions_prefix),
            reports_prefix=str(state.get("reports_prefix") or DEFAULT_LAYOUT.reports_prefix),
        )

    @cached_property
    def _dashboards(self) -> Dashboards:
        state = self._state
        return Dashboards(
            self.client("s3"),
            log_bucket=state.get("log_bucket"),
            reports_prefix=str(state.get("reports_prefix") or DEFAULT_LAYOUT.reports_prefix),
        )

    def deployment(self, environment: Environment) -> Deployment:
        record = self._environment(environment)
        running = record.get("running") or record.get("stopped")
        revision = next(
            (r for r in record["revisions"] if running and r["revision"] == running["revision"]), None
        )
        alive = record.get("running") is not None and is_alive(int(record["running"]["pid"]))
        return Deployment(
            environment=environment,
            service=record["service"],
            revision=f"{record['service']}:{revision['revision']}" if revision else "-",
            image=parse_image(revision["image"] if revision else "-"),
            running=1 if alive else 0,
            desired=1 if running else 0,  # a task was deployed (ECS's desired count 0 until then)
            rollout=record.get("rollout"),
            container_environment=dict(record.get("task_environment", {})),
        )

    def pipeline_state(self) -> PipelineState:
        state = self._state
        executions = state.get("executions", [])
        runs = []
        for stage in state.get("stages", []):
            seen = [e for e in executions if stage in e.get("stages", {})]
            if seen:
                latest = max(seen, key=lambda e: str(e["started"]))
                runs.append(StageRun(stage=stage, execution_id=latest["id"], status=latest["stages"][stage]))
        approvals = [
            PendingApproval(
                execution_id=e["id"],
                stage=e["approval"]["stage"],
                action=e["approval"]["action"],
                token=e["approval"]["token"],
                since=parse_time(e["approval"].get("since")),
                facts=_facts(e),
            )
            for e in executions
            if (e.get("approval") or {}).get("status") == "InProgress"
        ]
        return PipelineState(pipeline=state.get("pipeline", "local"), stages=runs, approvals=approvals)

    def answer_approval(self, *, approve: bool, comment: str, execution_id: str | None) -> ApprovalAnswer:
        read_checked_state(self._path)  # refused before a lock file is made beside something else
        with update_state(self._path) as state:
            waiting = [
                e
                for e in state.get("executions", [])
                if (e.get("approval") or {}).get("status") == "InProgress" and execution_id in (None, e["id"])
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
            execution["approval"].update(
                status="Succeeded" if approve else "Failed",
                by=f"local/{getpass.getuser()}",
                summary=comment,
                answered_at=answered,
            )
        return ApprovalAnswer(
            execution_id=execution["id"],
            approved=approve,
            facts=_facts(execution),
            answered_at=parse_time(answered),
        )

    def upload_bundle(self, path: Path, *, manifest: Manifest) -> UploadedBundle:
        return self._stand_in(lambda: self._buckets.upload_bundle(path, manifest=manifest))

    def upload_outcomes(self, objects: Sequence[tuple[str, bytes]]) -> list[str]:
        bucket = self._state.get("log_bucket")
        if not bucket:
            raise CliError("the local delivery has no prediction-log bucket: start one with `make demo`")
        return self._stand_in(
            lambda: put_outcome_objects(self.client("s3"), bucket=str(bucket), objects=objects)
        )

    def roll_back(self, environment: Environment) -> Rollback:
        self._environment(environment)
        current, earlier = services.previous_revision(self._path, environment)
        service = self._environment(environment)["service"]
        try:
            services.deploy_revision(self._path, environment, int(earlier["revision"]))
        except TaskError as error:
            raise CliError(str(error)) from None
        return Rollback(
            environment=environment,
            service=service,
            from_revision=f"{service}:{current['revision']}",
            from_image=parse_image(current["image"]),
            to_revision=f"{service}:{earlier['revision']}",
            to_image=parse_image(earlier["image"]),
        )

    def history(self, limit: int) -> list[ExecutionRecord]:
        executions = sorted(self._state.get("executions", []), key=lambda e: str(e["started"]), reverse=True)
        return [
            ExecutionRecord(
                execution_id=e["id"],
                status=e["status"],
                started=parse_time(e["started"]),
                trigger=e["trigger"],
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
        variables = self._state.get("first_model_environment")
        if not isinstance(variables, dict):
            raise CliError(
                "the local delivery state names no retrain job environment: pass --bundle BUNDLE to "
                "bootstrap, or ship a bundle you have with `ml-deploy --local upload-model BUNDLE`"
            )
        return {**variables, RetrainSettings.variable("code_version"): code_version}

    def apply_program(self, *, stack: str | None) -> str:
        del stack  # one local run, no Pulumi stack
        return "the local run starts each environment's task at its deploy: nothing to apply"

    def urls(self) -> dict[Environment, str]:
        environments = self._state["environments"]
        return {
            name: str(environments[name]["url"])
            for name in ENVIRONMENTS
            if isinstance(environments.get(name), dict) and environments[name].get("url")
        }

    def retry(self, execution_id: str | None) -> StageRun:
        del execution_id
        raise CliError(
            "the local run does not retry a stage: fix the cause and start a new execution with "
            "`ml-deploy --local upload-model BUNDLE` (a model upload starts the local pipeline)"
        )

    def release(self) -> str:
        raise CliError(
            "the local run starts an execution on a model upload only: "
            "`ml-deploy --local upload-model BUNDLE`"
        )

    def service_logs(self, environment: Environment, *, since: datetime, cursor: str | None) -> LogPage:
        """The output of the task that runs (or ran last); local lines carry no time, so `since` is moot."""
        del since
        record = self._environment(environment)
        task = record.get("running") or record.get("stopped")
        if not task or not record.get("log_dir"):
            raise CliError(f"{environment} has run no task yet in the local delivery: no logs")
        path = services.task_log(record, environment, int(task["revision"]))
        offset = int(cursor.rpartition(":")[2]) if cursor and cursor.startswith(f"{path}:") else 0
        try:
            with path.open("rb") as log:
                log.seek(offset)
                text = log.read()
        except FileNotFoundError:
            raise CliError(f"{environment}: the task's log {path} is gone") from None
        complete = text[: text.rfind(b"\n") + 1]  # a line still being written waits for the next read
        source = f"{environment}-r{task['revision']}"
        lines = [
            LogLine(at=None, source=source, message=line)
            for line in complete.decode("utf-8", errors="replace").splitlines()
        ]
        return LogPage(lines=lines, cursor=f"{path}:{offset + len(complete)}")

    def links(self) -> dict[str, str]:
        """The environments' local addresses, and the state file (the local run's pipeline page)."""
        found: dict[str, str] = {str(name): url for name, url in self.urls().items()}
        return {**found, "pipeline": str(self._path.resolve())}

    def quota_shortfalls(self) -> list[str] | None:
        return []  # the local run has no account quotas

    def _environment(self, environment: Environment) -> dict[str, Any]:
        environments = self._state["environments"]
        if environment not in environments:
            raise CliError(f"the local delivery has no {environment} environment yet")
        record: dict[str, Any] = environments[environment]
        if not isinstance(record, dict) or not isinstance(record.get("service"), str):
            raise CliError(f"{self._path}: environments.{environment} names no 'service'")
        if not isinstance(record.get("revisions"), list):
            raise CliError(f"{self._path}: environments.{environment} has no 'revisions' list")
        return record


def _facts(execution: dict[str, Any]) -> ExecutionFacts:
    approval = execution.get("approval")
    return ExecutionFacts(
        commit=execution.get("commit"),
        model_version=execution.get("model_version"),
        model_object_version=execution.get("model_object_version"),
        image_tag=execution.get("image_tag"),
        approval=ApprovalOutcome(
            status=approval["status"], by=approval.get("by"), summary=approval.get("summary")
        )
        if approval
        else None,
    )
