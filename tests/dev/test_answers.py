"""The CLI's requests answered by the local runner, which owns the processes: `retry`, `release`
and `run-job` through the CLI against a runner's state on moto_server (no build runs here: the
executor is not started, so what the runner queued stays queued to be looked at)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ml_deploy_cli.__main__ import main
from ml_deploy_cli.local.records import Execution
from ml_deploy_cli.local.state import STATE_VARIABLE, edited_state, read_checked_state
from ml_deploy_dev.delivery.actions import LocalSite
from ml_deploy_dev.delivery.definition import PipelineDefinition
from ml_deploy_dev.delivery.runner import LocalPipeline
from ml_deploy_dev.dev_stack import dev_stack
from ml_deploy_dev.local_aws import create_bucket, moto_server

FIRST = "0f0e0d0c-0b0a-4909-8807-060504030201"
FAILED_AT_DEPLOY = {"Source": "Succeeded", "Build": "Succeeded", "DeployStage": "Failed"}


@dataclass
class Runner:
    state_file: Path
    model_version: str

    def cli(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        code = main(["--local", *argv], environ={STATE_VARIABLE: str(self.state_file)})
        captured = capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, definition: PipelineDefinition) -> Iterator[Runner]:
    """A prepared local run whose runner answers requests (and runs nothing else), once per module."""
    tmp_path = tmp_path_factory.mktemp("answers")
    stack = dev_stack()
    with moto_server() as aws:
        create_bucket(aws, stack.model_bucket, versioned=True)
        put = aws.client("s3").put_object(Bucket=stack.model_bucket, Key=stack.model_key, Body=b"bundle")
        site = LocalSite(
            repository=tmp_path, workdir=tmp_path / "delivery", aws=aws, model_bucket=stack.model_bucket
        )
        pipeline = LocalPipeline(definition, site, say=lambda line: None)  # the CLI's output only
        pipeline.prepare(stack)
        stop = threading.Event()

        def answer() -> None:
            while not stop.is_set():
                pipeline.answers.answer_pending()
                stop.wait(0.1)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        try:
            yield Runner(site.state_file, str(put["VersionId"]))
        finally:
            stop.set()
            thread.join(30)


@pytest.fixture
def runner(prepared: Runner) -> Runner:
    """The module's runner with no executions, requests or jobs left by another test."""
    with edited_state(prepared.state_file) as state:
        state.executions, state.requests, state.jobs = [], [], []
    return prepared


def add_execution(state_file: Path, execution_id: str, *, status: str, stages: dict[str, str]) -> None:
    with edited_state(state_file) as state:
        state.executions.append(
            Execution(id=execution_id, status=status, started="2026-12-01T10:00:00+00:00", trigger="upload",
                      model_object_version="v1", stages=stages)
        )  # fmt: skip


def test_release_starts_an_execution_of_the_model_keys_current_version(
    runner: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = runner.cli(capsys, "release")

    assert code == 0, err
    (execution,) = read_checked_state(runner.state_file).executions
    assert out.splitlines()[0] == f"started execution {execution.id} from the sources' current revisions"
    assert execution.status == "Queued" and execution.model_object_version == runner.model_version
    assert execution.trigger == f"release of the model key (version {runner.model_version})"


def test_retry_queues_the_failed_execution_again_from_its_failed_stage(
    runner: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    add_execution(runner.state_file, FIRST, status="Failed", stages=FAILED_AT_DEPLOY)

    code, out, err = runner.cli(capsys, "retry")

    assert code == 0, err
    assert out.splitlines()[0] == f"retrying the failed actions of DeployStage in execution {FIRST}"
    (execution,) = read_checked_state(runner.state_file).executions
    assert (execution.status, execution.resume_at) == ("Queued", "DeployStage")


def test_retry_refuses_in_one_line_when_nothing_failed(
    runner: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    add_execution(runner.state_file, FIRST, status="Succeeded", stages={"Source": "Succeeded"})

    code, _, err = runner.cli(capsys, "retry", "--execution", FIRST)

    assert code == 1
    assert err.splitlines() == [
        f"ml-deploy: retry: execution {FIRST} has not failed: only a failed execution is retried"
    ]
    (request,) = read_checked_state(runner.state_file).requests
    assert request.status == "Failed", "the refusal is the runner's answer, kept with the request"


def test_run_job_follow_prints_the_jobs_state_and_log_and_fails_with_it(
    runner: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    # The model bucket holds no training data: the real retrain job fails with its own reason.
    code, out, err = runner.cli(capsys, "run-job", "retrain", "--follow", "--poll-seconds", "0.2")

    assert code == 1
    (job,) = read_checked_state(runner.state_file).jobs
    assert f"submitted retrain job {job.id}" in out
    assert f"retrain-manual {job.id}: RUNNING after " in out
    assert f"retrain-manual {job.id}: FAILED after " in out
    logged = Path(job.log).read_text().splitlines()
    assert logged and f"  {logged[-1]}" in out.splitlines(), "the job's log was not followed"
    assert err.strip() == f"ml-deploy: run-job: job {job.id} FAILED: the job exited {job.exit_code}"


def test_a_runner_that_does_not_answer_is_one_line_and_the_request_is_abandoned(
    tmp_path: Path, runner: Runner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unanswered = tmp_path / "unanswered.json"
    unanswered.write_text(runner.state_file.read_text())  # the same live pid, but no runner reads it
    monkeypatch.setattr("ml_deploy_cli.local.delivery.ANSWER_TIMEOUT", 0.5)

    code, _, err = Runner(unanswered, runner.model_version).cli(capsys, "release")

    assert code == 1
    assert err.splitlines() == [
        "ml-deploy: release: the local runner did not answer the release within 0 s: is the local "
        "delivery running? (`make demo` starts one)"
    ]
    (request,) = read_checked_state(unanswered).requests
    assert request.status == "Abandoned", "a runner that comes back must not perform it"


def test_a_state_no_runner_answers_is_refused_at_once(
    tmp_path: Path, runner: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    ended = tmp_path / "ended.json"
    ended.write_text(runner.state_file.read_text())
    with edited_state(ended) as state:
        state.runner_pid = None

    for command in (["retry"], ["release"], ["rollback", "prod"], ["run-job", "monitor"]):
        code, _, err = Runner(ended, runner.model_version).cli(capsys, *command)
        assert code == 1, command
        assert len(err.splitlines()) == 1 and f"no local runner answers {ended}" in err, err
    assert read_checked_state(ended).requests == [], "a refused request was written"
