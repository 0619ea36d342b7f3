"""The local pipeline: executions of the program's pipeline, started by model uploads, one at a time.

Each upload event (the model-upload rule's stand-in queue) is an execution. Executions run in the
order they came, as the program's execution mode QUEUED runs them; under SUPERSEDED a waiting one
is replaced by a newer one, which is reported. Each stage's actions run in the program's order
(`actions.HANDLERS`); the state file records everything the CLI shows. A third thread answers
the CLI's requests (`answers.py`): the runner owns every task and job process.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from ml_deploy.settings import ServiceSettings, SmokeHookSettings
from ml_deploy_cli.local.records import AwsEndpoint, EnvironmentRecord, Execution, Hook, LocalState
from ml_deploy_cli.local.state import edited_state, now, read_checked_state, write_state
from ml_deploy_dev.delivery import ecs
from ml_deploy_dev.delivery.actions import HANDLERS, ApprovalRejected, LocalSite, Run, check_definition
from ml_deploy_dev.delivery.answers import Answers
from ml_deploy_dev.delivery.build import BuildFailed
from ml_deploy_dev.delivery.definition import DefinitionError, PipelineDefinition
from ml_deploy_dev.delivery.proxy import load_balancer
from ml_deploy_dev.delivery.tasks import TaskError
from ml_deploy_dev.dev_stack import (
    DevStack,
    monitor_environment,
    quality_environment,
    retrain_environment,
    service_environment,
)
from ml_deploy_dev.local_aws import drain_events, free_port

ActionFailure = (BuildFailed, TaskError, ApprovalRejected, DefinitionError)


class LocalPipeline:
    """The program's pipeline run against the local account, with its state in `site.state_file`."""

    def __init__(
        self, definition: PipelineDefinition, site: LocalSite, *, say: Callable[[str], None]
    ) -> None:
        self.definition = definition
        self.site = site
        self.say = say
        self.answers = Answers(site.state_file, start=self.start, model_version=self._model_version, say=say)

    def prepare(self, stack: DevStack) -> None:
        """Check the definition, write the first state, register the job definitions `pulumi up` would."""
        problems = check_definition(self.definition, model_key=stack.model_key)
        if problems:
            raise DefinitionError(
                "the local run cannot follow the program's pipeline: " + "; ".join(problems)
            )
        self.site.workdir.mkdir(parents=True, exist_ok=True)
        aws = self.site.aws.environment
        self.answers.job_environments = {
            "retrain": {**aws, **retrain_environment(stack)},
            "monitor": {**aws, **monitor_environment(stack)},
            "quality": {**aws, **quality_environment(stack)},
        }
        write_state(self.site.state_file, LocalState(
            pipeline=self.definition.name,
            execution_mode=self.definition.execution_mode,
            stages=[stage.name for stage in self.definition.stages],
            aws=AwsEndpoint(endpoint=aws["AWS_ENDPOINT_URL"], region=aws["AWS_DEFAULT_REGION"],
                            access_key_id=aws["AWS_ACCESS_KEY_ID"],
                            secret_access_key=aws["AWS_SECRET_ACCESS_KEY"]),
            model_bucket=stack.model_bucket, model_key=stack.model_key, log_bucket=stack.log_bucket,
            decisions_prefix=stack.layout.decisions_prefix, reports_prefix=stack.layout.reports_prefix,
            # What the local deploy needs: the pushed images and how long a task may start.
            registry=str(self.site.registry), ready_timeout=self.site.ready_timeout,
            # What `ml-deploy --local bootstrap` runs the retrain job with, as Batch would.
            first_model_environment=self.answers.job_environments["retrain"],
            executions=[],
            environments={
                environment: self._environment(service, environment, stack)
                for service, environment in self.definition.services.items()
            },
            jobs_dir=str(self.site.workdir / "jobs"),
            runner_pid=os.getpid(),  # this process answers the CLI's requests
        ))  # fmt: skip
        batch = self.site.aws.client("batch")
        for request in self.definition.job_definitions.values():
            batch.register_job_definition(**request)

    def _environment(self, service: str, environment: str, stack: DevStack) -> EnvironmentRecord:
        variables = {**self.site.aws.environment, **service_environment(stack, bundle=Path("-"), port=0)}
        for field in ("model_bundle_path", "port"):
            variables.pop(ServiceSettings.variable(field))
        variables[ServiceSettings.variable("environment")] = environment
        port = free_port()
        return EnvironmentRecord(
            service=service, url=f"http://127.0.0.1:{port}", port=port, task_environment=variables,
            lifecycle_hook=self._smoke_hook(environment, stack),
            log_dir=str(self.site.workdir / "tasks"), revisions=[],
        )  # fmt: skip

    def _smoke_hook(self, environment: str, stack: DevStack) -> Hook | None:
        """The program's smoke-test Lambda for `environment`, as a local command on the local buckets.

        The local deploy runs it where ECS calls the Lambda (test traffic on the new task, before
        production moves) with TEST_URL set to the new task's address.
        """
        rendered = self.definition.smoke_hooks.get(environment)
        if rendered is None:
            return None
        variables = {
            **rendered,
            SmokeHookSettings.variable("model_bucket"): stack.model_bucket,
            SmokeHookSettings.variable("result_bucket"): stack.log_bucket,
            **self.site.aws.environment,
        }
        return Hook(
            command=[sys.executable, "-m", "ml_deploy_dev.delivery.smoke_hook"], environment=variables
        )

    @contextmanager
    def running(self, queue_url: str, *, stop_tasks: bool = True) -> Iterator[None]:
        """Load balancers, the upload poller, the executor and the CLI's answers, until the block
        ends; then every task stops, unless `stop_tasks` is False: the tasks go on as processes of
        their own and a later `running` block puts the same addresses in front of them again."""
        state = read_checked_state(self.site.state_file)
        stop = threading.Event()  # this block's own: a later block starts its threads afresh
        with ExitStack() as stack:
            for environment, record in state.environments.items():
                stack.enter_context(
                    load_balancer(self.site.state_file, environment, port=int(record.port or 0))
                )
            threads = [
                threading.Thread(target=self._poll, args=(queue_url, stop), daemon=True),
                threading.Thread(target=self._execute, args=(stop,), daemon=True),
                threading.Thread(target=self._answer, args=(stop,), daemon=True),
            ]
            for thread in threads:
                thread.start()
            try:
                yield
            finally:
                stop.set()
                for thread in threads:
                    thread.join(30)
                if stop_tasks:
                    ecs.stop_all(self.site.state_file)

    def start(self, object_version: str, trigger: str) -> str:
        """Queue an execution for this object version; under SUPERSEDED, replace the waiting ones."""
        execution_id = str(uuid.uuid4())
        with edited_state(self.site.state_file) as state:
            active = [e for e in state.executions if e.status in ("Queued", "InProgress")]
            if self.definition.execution_mode == "SUPERSEDED":
                for waiting in (e for e in active if e.status == "Queued"):
                    waiting.status = "Superseded"
                    self.say(f"execution {waiting.id} superseded by {execution_id}")
            elif active:
                self.say(f"execution {execution_id} queued behind {active[-1].id} (execution mode QUEUED)")
            state.executions.append(
                Execution(id=execution_id, status="Queued", started=now(), trigger=trigger,
                          model_object_version=object_version)
            )  # fmt: skip
        return execution_id

    def _model_version(self) -> str:
        """The model key's current object version (what a release builds)."""
        state = read_checked_state(self.site.state_file)
        head = self.site.aws.client("s3").head_object(Bucket=state.model_bucket, Key=state.model_key)
        return str(head["VersionId"])

    def _poll(self, queue_url: str, stop: threading.Event) -> None:
        while not stop.is_set():
            for event in drain_events(self.site.aws, queue_url, wait_seconds=0.5):
                detail = event["detail"]
                version = detail["object"]["version-id"]
                trigger = (
                    f"upload of s3://{detail['bucket']['name']}/{detail['object']['key']} (version {version})"
                )
                self.say(f"pipeline started by the {trigger}")
                self.start(version, trigger)
            stop.wait(0.3)

    def _execute(self, stop: threading.Event) -> None:
        while not stop.is_set():
            queued = [e for e in read_checked_state(self.site.state_file).executions if e.status == "Queued"]
            if queued:
                self.run_execution(queued[0].id, queued[0].model_object_version or "")
            else:
                stop.wait(0.3)

    def _answer(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.answers.answer_pending()
            stop.wait(0.2)

    def run_execution(self, execution_id: str, object_version: str) -> str:
        """Every stage in the program's order (a retry from its failed one); the final status."""
        record = read_checked_state(self.site.state_file).execution(execution_id)
        run = Run(execution_id, object_version, self.site.workdir / "executions" / execution_id, self.say)
        run.variables = dict(record.variables)
        run.artifacts = {name: Path(path) for name, path in record.artifacts.items()}
        stages = [stage.name for stage in self.definition.stages]
        first = stages.index(record.resume_at) if record.resume_at in stages else 0
        with edited_state(self.site.state_file) as state:
            state.execution(execution_id).status, state.execution(execution_id).resume_at = "InProgress", None
        started = time.monotonic()
        for stage in self.definition.stages[first:]:
            self.say(f"[{execution_id[:8]}] stage {stage.name}")
            self._stage(execution_id, stage.name, "InProgress")
            try:
                for action in stage.actions:
                    HANDLERS[(action.category, action.provider)](self.definition, self.site, action, run)
                    self._facts(execution_id, run)
            except ActionFailure as error:
                self._stage(execution_id, stage.name, "Failed")
                self._record(execution_id, status="Failed")
                self.say(f"[{execution_id[:8]}] execution failed at {stage.name}: {error}")
                return "Failed"
            self._stage(execution_id, stage.name, "Succeeded")
        self._record(execution_id, status="Succeeded")
        self.say(f"[{execution_id[:8]}] execution succeeded in {time.monotonic() - started:.0f} s")
        return "Succeeded"

    def _facts(self, execution_id: str, run: Run) -> None:
        build = run.variables.get("BuildVariables", {})
        self._record(
            execution_id,
            commit=run.variables.get("SourceVariables", {}).get("CommitId"),
            model_version=build.get("MODEL_VERSION"),
            image_tag=build.get("IMAGE_TAG"),
            variables=dict(run.variables),
            artifacts={name: str(path) for name, path in run.artifacts.items()},
        )

    def _stage(self, execution_id: str, stage: str, status: str) -> None:
        with edited_state(self.site.state_file) as state:
            state.execution(execution_id).stages[stage] = status

    def _record(self, execution_id: str, **values: Any) -> None:
        with edited_state(self.site.state_file) as state:
            record = state.execution(execution_id)
            for name, value in values.items():
                if value is not None:
                    setattr(record, name, value)
