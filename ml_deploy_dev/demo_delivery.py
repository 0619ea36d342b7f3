"""The demo's side of the local delivery: it starts the program's pipeline on this machine, answers
it with the operator CLI in another process (the commands a person types), and watches its state.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ml_deploy_cli.local.records import Execution
from ml_deploy_cli.local.state import STATE_VARIABLE, read_checked_state
from ml_deploy_dev.delivery.actions import LocalSite
from ml_deploy_dev.delivery.definition import load_definition
from ml_deploy_dev.delivery.runner import LocalPipeline
from ml_deploy_dev.dev_stack import DevStack
from ml_deploy_dev.local_aws import LocalAws

ROOT = Path(__file__).resolve().parents[1]
# The build's `make pytest` with PYTEST_ADDOPTS naming these tests instead of the whole suite.
FAST_TESTS = "tests/ml_deploy/test_schema.py -q -p no:cacheprovider"
PROGRESS_SECONDS = 15.0
FINISHED = ("Succeeded", "Failed", "Superseded")


class DeliveryError(Exception):
    """The delivery did not do what the story needs; the message says which execution and where."""


@dataclass
class DemoDelivery:
    """A running local delivery, seen through its state file and its environments' addresses."""

    state_file: Path
    say: Callable[[str], None]

    def cli(self, *argv: str, show: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`python -m ml_deploy_cli --local ARGV` in another process, printed as an operator types it."""
        self.say(f"$ ml-deploy --local {' '.join(_quoted(word) for word in argv)}")
        completed = subprocess.run(
            [sys.executable, "-m", "ml_deploy_cli", "--local", *argv],
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
                STATE_VARIABLE: str(self.state_file),
            },
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if show:
            for line in (completed.stdout + completed.stderr).rstrip().splitlines():
                self.say(f"  > {line}")
        return completed

    def executions(self) -> list[Execution]:
        return read_checked_state(self.state_file).executions

    def url(self, environment: str) -> str:
        return str(read_checked_state(self.state_file).environments[environment].url)

    def serving(self, environment: str) -> str | None:
        """The model version the environment's address answers /version with; None if nothing serves."""
        try:
            response = httpx.get(f"{self.url(environment)}/version", timeout=5.0)
        except httpx.HTTPError:
            return None
        return str(response.json()["model_version"]) if response.status_code == 200 else None

    def wait_for(self, number: int, *, approval: bool, timeout: float = 600.0) -> Execution:
        """Execution `number` (1-based, in start order) once it waits for approval, or once it ended."""
        started = ticked = time.monotonic()
        while time.monotonic() - started < timeout:
            executions = self.executions()
            execution = executions[number - 1] if len(executions) >= number else None
            if execution is not None and _reached(execution, number=number, approval=approval):
                return execution
            if time.monotonic() - ticked >= PROGRESS_SECONDS:
                ticked = time.monotonic()
                where = _where(execution) if execution else "not started yet"
                self.say(f"... execution {number}: {where} ({ticked - started:.0f} s)")
            time.sleep(0.3)
        raise DeliveryError(f"execution {number} did not get there within {timeout:.0f} s")


def _reached(execution: Execution, *, number: int, approval: bool) -> bool:
    waiting = execution.approval is not None and execution.approval.status == "InProgress"
    ended = execution.status in FINISHED
    if approval and ended and not waiting:
        raise DeliveryError(f"execution {number} ended before its approval: {_where(execution)}")
    return waiting if approval else ended


def _where(execution: Execution) -> str:
    current = ", ".join(f"{stage} {status}" for stage, status in execution.stages.items()) or "no stage yet"
    return f"{execution.status} ({current})"


def _quoted(word: str) -> str:
    return f'"{word}"' if " " in word else word


@contextmanager
def local_delivery(
    aws: LocalAws, stack: DevStack, *, workdir: Path, queue_url: str, pytest_args: str | None,
    say: Callable[[str], None], job_settings: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[DemoDelivery]:  # fmt: skip
    """The program's pipeline run here, started by the model-upload rule's queue, until the block ends.

    `job_settings` adds variables to a job kind's environment when `run-job` runs it (the demo's clock).
    """
    definition = load_definition()
    site = LocalSite(
        repository=ROOT, workdir=workdir, aws=aws, model_bucket=stack.model_bucket, pytest_args=pytest_args
    )
    pipeline = LocalPipeline(definition, site, say=say)
    pipeline.prepare(stack)
    for kind, variables in (job_settings or {}).items():
        pipeline.answers.job_environments[kind] = {**pipeline.answers.job_environments[kind], **variables}
    stages = " -> ".join(stage.name for stage in definition.stages)
    say(f"pipeline {definition.name} (execution mode {definition.execution_mode}): {stages}")
    say(f"from another terminal: {STATE_VARIABLE}={site.state_file} python -m ml_deploy_cli --local status")
    with pipeline.running(queue_url):
        yield DemoDelivery(site.state_file, say)
