"""The runner's answers to what the CLI asks (`ml_deploy_cli.local.requests`): the runner owns the
task and job processes, so it performs a rollback, a deploy, a retry, a release or a job run and
writes the result (or a one-line reason) into the request."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ml_deploy_cli.local.records import JobRun, Request
from ml_deploy_cli.local.state import edited_state, now, read_checked_state
from ml_deploy_dev.delivery import ecs
from ml_deploy_dev.delivery.tasks import TaskError

JOB_MODULES = {
    "retrain": "retrain_job.retrain",
    "monitor": "retrain_job.monitor",
    "quality": "retrain_job.quality",
}


class Refused(Exception):
    """The request cannot be performed; the message is the CLI's one line."""


@dataclass
class Answers:
    """Performs pending requests; `start` and `model_version` are the runner's (a new execution,
    the model key's current object version)."""

    state_file: Path
    start: Callable[[str, str], str]
    model_version: Callable[[], str]
    job_environments: dict[str, dict[str, str]] = field(default_factory=dict)
    say: Callable[[str], None] = print

    def answer_pending(self) -> None:
        for request in read_checked_state(self.state_file).requests:
            if request.status == "Pending":
                self._answer(request)

    def _answer(self, request: Request) -> None:
        output: list[str] = []
        try:
            result = self._perform(request, output.append)
        except (Refused, TaskError) as error:
            self._settle(request.id, status="Failed", error=str(error), output=output)
        else:
            self._settle(request.id, status="Succeeded", result=result, output=output)

    def _perform(self, request: Request, say: Callable[[str], None]) -> dict[str, str]:
        arguments = request.arguments
        if request.kind == "rollback":
            return self.roll_back(arguments["environment"], say=say)
        if request.kind == "deploy":
            environment, revision = ecs.deploy_image(
                self.state_file, service=arguments["service"], image=arguments["image"], say=say
            )
            return {"environment": environment, "revision": str(revision)}
        if request.kind == "retry":
            return self.retry(arguments.get("execution"))
        if request.kind == "release":
            version = self.model_version()
            return {"execution": self.start(version, f"release of the model key (version {version})")}
        return {"job": self.run_job(arguments["job"])}

    def _settle(self, request_id: str, **values: object) -> None:
        with edited_state(self.state_file) as state:
            (request,) = [r for r in state.requests if r.id == request_id]
            for name, value in values.items():
                setattr(request, name, value)
            request.answered = now()

    def roll_back(self, environment: str, *, say: Callable[[str], None]) -> dict[str, str]:
        """The environment's earlier image back, as `ml-deploy rollback` asks ECS."""
        current, earlier = ecs.previous_revision(self.state_file, environment)
        service = read_checked_state(self.state_file).environments[environment].service
        ecs.deploy_revision(self.state_file, environment, earlier.revision, say=say)
        self.say(f"{environment} rolled back to {service}:{earlier.revision} ({earlier.image})")
        return {
            "service": service,
            "from_revision": f"{service}:{current.revision}",
            "from_image": current.image,
            "to_revision": f"{service}:{earlier.revision}",
            "to_image": earlier.image,
        }

    def retry(self, execution_id: str | None) -> dict[str, str]:
        """The failed execution queued again, to run from its failed stage with what earlier ones made."""
        with edited_state(self.state_file) as state:
            failed = [e for e in state.executions if e.status == "Failed" and execution_id in (None, e.id)]
            if execution_id and not failed:
                raise Refused(f"execution {execution_id} has not failed: only a failed execution is retried")
            if not failed:
                raise Refused("no execution has failed: nothing to retry (`ml-deploy --local history`)")
            execution = max(failed, key=lambda e: e.started)
            stage = next((name for name, status in execution.stages.items() if status == "Failed"), None)
            if stage is None:
                raise Refused(f"execution {execution.id} has no failed stage to retry")
            execution.status, execution.resume_at = "Queued", stage
        self.say(f"[{execution.id[:8]}] retrying stage {stage} (ml-deploy retry)")
        return {"execution": execution.id, "stage": stage}

    def run_job(self, kind: str) -> str:
        """The job in its own process, as the local Batch stand-in runs it; its id at once."""
        if kind not in self.job_environments:
            raise Refused(
                f"the local run has no {kind} job (it knows {', '.join(sorted(self.job_environments))})"
            )
        state = read_checked_state(self.state_file)
        if state.jobs_dir is None:
            raise Refused("the local delivery state names no jobs_dir: this runner runs no jobs")
        job_id = str(uuid.uuid4())
        log = Path(state.jobs_dir) / f"{kind}-{job_id[:8]}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with edited_state(self.state_file) as edited:
            edited.jobs.append(JobRun(id=job_id, kind=kind, status="RUNNING", log=str(log), started=now()))
        threading.Thread(target=self._job, args=(job_id, kind, log), daemon=True).start()
        return job_id

    def _job(self, job_id: str, kind: str, log: Path) -> None:
        with log.open("ab") as output:
            done = subprocess.run(
                [sys.executable, "-m", JOB_MODULES[kind]],
                env={**os.environ, **self.job_environments[kind]},
                stdout=output, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
        with edited_state(self.state_file) as state:
            (job,) = [j for j in state.jobs if j.id == job_id]
            job.exit_code = done.returncode
            job.status = "SUCCEEDED" if done.returncode == 0 else "FAILED"
        self.say(f"{kind} job {job_id[:8]} {'succeeded' if done.returncode == 0 else 'failed'}")
