"""`ml-deploy --local bootstrap`: a fresh local stack to stage and prod serving a first model.

The local backend reads and answers the state file the local pipeline writes
(`ml_deploy_dev/delivery/runner.py`); here `FirstRun` writes it as the runner does for one
execution (its part only: stages, the approval, what each environment runs), the bundle goes to
moto_server on 127.0.0.1, and one HTTP server stands for both environments' addresses.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ml_deploy.bundle import read_bundle
from ml_deploy_cli.__main__ import main
from ml_deploy_cli.aws.stack import pulumi_up
from ml_deploy_cli.commands.bootstrap import APPROVAL_COMMENT
from ml_deploy_cli.errors import CliError
from ml_deploy_cli.local.state import STATE_VARIABLE, now, read_state, update_state
from ml_deploy_dev.local_aws import LocalAws, create_bucket, moto_server
from tests.cli.conftest import MODEL_BUCKET as MODEL_BUCKET_AWS
from tests.cli.conftest import PIPELINE, Stack
from tests.cli.pipeline_shapes import (
    APPROVER,
    MODEL_VERSION,
    PREVIOUS,
    action_executions,
    execution_summary,
    executions_list,
    model_upload_trigger,
)
from tests.cli.quota_shapes import enough, quotas_client

MODEL_BUCKET, MODEL_KEY = "ml-models", "bundles/current/model-bundle.zip"
FAST = ["--poll-seconds", "0.1", "--timeout-minutes", "0.5"]


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with moto_server() as local:
        yield local


@dataclass
class LocalStack:
    state_file: Path
    aws: LocalAws
    url: str

    def approval(self) -> dict[str, Any]:
        approval: dict[str, Any] = read_state(self.state_file)["executions"][0]["approval"]
        return approval


@contextmanager
def _version_server(version: str) -> Iterator[str]:
    """Both environments' addresses: `/version` answers `version`, as a serving task does."""

    class Version(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"model_version": version}).encode()
            self.send_response(200 if self.path == "/version" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Version)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture
def version(trained_bundle: Path) -> str:
    return read_bundle(trained_bundle).manifest.bundle_version


@pytest.fixture
def aws_stack(stack: Stack) -> Stack:
    """The AWS stack of tests/cli/conftest.py (moto, CodePipeline behind the Stubber)."""
    return stack


@pytest.fixture
def local_stack(tmp_path: Path, aws: LocalAws, version: str) -> Iterator[LocalStack]:
    """A fresh local stack: an empty versioned model bucket, environments that run nothing yet."""
    bucket = f"{MODEL_BUCKET}-{uuid.uuid4().hex[:8]}"
    create_bucket(aws, bucket, versioned=True)
    state_file = tmp_path / "delivery" / "state.json"
    with _version_server(version) as server_url:
        environment = aws.environment
        with update_state(state_file) as state:
            state.update(
                pipeline="local", stages=["Source", "Build", "DeployStage", "Approve", "DeployProd"],
                aws={"endpoint": environment["AWS_ENDPOINT_URL"], "region": environment["AWS_DEFAULT_REGION"],
                     "access_key_id": environment["AWS_ACCESS_KEY_ID"],
                     "secret_access_key": environment["AWS_SECRET_ACCESS_KEY"]},
                model_bucket=bucket, model_key=MODEL_KEY, log_bucket=None,
                decisions_prefix="decisions/", reports_prefix="reports/", executions=[],
                environments={
                    name: {"service": f"local-{name}", "url": server_url, "revisions": [], "running": None}
                    for name in ("stage", "prod")
                },
            )  # fmt: skip
        yield LocalStack(state_file, aws, server_url)


class FirstRun(threading.Thread):
    """The local pipeline's part for one execution, as its runner writes the state: started by the
    upload, stage deployed, the approval waiting; prod deployed once approved, or `fail_at` a stage."""

    def __init__(self, stack: LocalStack, *, model_version: str, fail_at: str | None = None) -> None:
        super().__init__(daemon=True)
        self.stack, self.model_version, self.fail_at = stack, model_version, fail_at
        self.stop = threading.Event()

    def run(self) -> None:
        state = read_state(self.stack.state_file)
        s3 = self.stack.aws.client("s3")
        while not self.stop.is_set() and not _exists(s3, state["model_bucket"], MODEL_KEY):
            time.sleep(0.05)
        execution = {
            "id": str(uuid.uuid4()), "status": "InProgress", "started": now(), "trigger": "upload",
            "model_version": self.model_version, "stages": {"Source": "Succeeded", "Build": "Succeeded"},
            "approval": None,
        }  # fmt: skip
        if self.fail_at:
            execution.update(status="Failed", stages={**execution["stages"], self.fail_at: "Failed"})
            self._write(execution)
            return
        self._deploy("stage")
        execution["stages"] = {**execution["stages"], "DeployStage": "Succeeded", "Approve": "InProgress"}
        execution["approval"] = {
            "stage": "Approve", "action": "ApproveProd", "token": "t", "status": "InProgress", "since": now(),
        }  # fmt: skip
        self._write(execution)
        while not self.stop.is_set() and self.stack.approval()["status"] == "InProgress":
            time.sleep(0.05)
        if self.stack.approval()["status"] == "Succeeded":
            self._deploy("prod")
            with update_state(self.stack.state_file) as state:
                state["executions"][0].update(status="Succeeded")

    def _write(self, execution: dict[str, Any]) -> None:
        with update_state(self.stack.state_file) as state:
            state["executions"].append(execution)

    def _deploy(self, environment: str) -> None:
        """What `ml-deploy deploy --local` leaves: a revision and a live task (this process)."""
        with update_state(self.stack.state_file) as state:
            record = state["environments"][environment]
            record["revisions"] = [{"revision": 1, "image": f"registry/service:{self.model_version}"}]
            record.update(running={"revision": 1, "pid": os.getpid(), "port": 0}, rollout="COMPLETED")


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


@pytest.fixture
def first_run(local_stack: LocalStack, version: str) -> Iterator[FirstRun]:
    run = FirstRun(local_stack, model_version=version)
    run.start()
    yield run
    run.stop.set()
    run.join(5)


def test_bootstrap_ships_the_bundle_answers_the_first_approval_and_reports_both_environments(
    local_stack: LocalStack,
    first_run: FirstRun,
    trained_bundle: Path,
    version: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--local", "bootstrap", "--bundle", str(trained_bundle), *FAST],
                environ={STATE_VARIABLE: str(local_stack.state_file)})  # fmt: skip

    out, err = capsys.readouterr()
    assert code == 0, err
    approval = local_stack.approval()
    assert approval["status"] == "Succeeded" and approval["summary"] == APPROVAL_COMMENT, approval
    assert f"uploaded bundle {version}" in out
    assert f"stage: {local_stack.url} serves model {version} (1/1 tasks)" in out, out
    assert f"prod: {local_stack.url} serves model {version} (1/1 tasks)" in out, out


def test_an_approval_while_prod_runs_tasks_is_left_to_a_person(
    local_stack: LocalStack, first_run: FirstRun, trained_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a first deploy: prod serves a model an approval protects, so bootstrap does not answer."""
    first_run._deploy("prod")

    code = main(["--local", "bootstrap", "--bundle", str(trained_bundle), *FAST],
                environ={STATE_VARIABLE: str(local_stack.state_file)})  # fmt: skip

    err = capsys.readouterr().err
    assert code == 1
    assert (
        "prod already runs 1 task(s): not a first deploy" in err and "ml-deploy approve --execution" in err
    ), err
    assert local_stack.approval()["status"] == "InProgress", (
        "bootstrap answered an approval it must leave alone"
    )


def test_no_approve_stops_at_the_approval_naming_the_command(
    local_stack: LocalStack, first_run: FirstRun, trained_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--local", "bootstrap", "--bundle", str(trained_bundle), "--no-approve", *FAST],
                environ={STATE_VARIABLE: str(local_stack.state_file)})  # fmt: skip

    err = capsys.readouterr().err
    assert code == 1 and "(--no-approve)" in err and "then run `ml-deploy bootstrap` again" in err, err
    assert local_stack.approval()["status"] == "InProgress"


def test_a_failed_first_run_names_what_to_do(
    local_stack: LocalStack, trained_bundle: Path, version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = FirstRun(local_stack, model_version=version, fail_at="Build")
    run.start()

    code = main(["--local", "bootstrap", "--bundle", str(trained_bundle), *FAST],
                environ={STATE_VARIABLE: str(local_stack.state_file)})  # fmt: skip

    err = capsys.readouterr().err
    assert code == 1 and "ended Failed" in err and "release a change" in err, err


def test_a_tampered_bundle_is_refused_before_anything_is_shipped(
    local_stack: LocalStack, tmp_path: Path, trained_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ml_deploy_dev.bad_bundles import tampered_bundle

    bad = tampered_bundle(trained_bundle, tmp_path / "tampered.zip")
    code = main(["--local", "bootstrap", "--bundle", str(bad), *FAST],
                environ={STATE_VARIABLE: str(local_stack.state_file)})  # fmt: skip

    err = capsys.readouterr().err
    assert code == 1 and "refusing to upload" in err and "checksum mismatch" in err, err
    assert not _exists(
        local_stack.aws.client("s3"), read_state(local_stack.state_file)["model_bucket"], MODEL_KEY
    )


def test_without_a_bundle_or_a_training_setup_it_says_what_to_pass(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--local", "bootstrap", *FAST], environ={STATE_VARIABLE: str(local_stack.state_file)})

    err = capsys.readouterr().err
    assert code == 1 and "pass --bundle BUNDLE" in err, err


def test_pulumi_up_runs_the_stack_it_is_given_and_a_failure_names_the_command() -> None:
    ran: list[list[str]] = []
    assert "pulumi up --yes --skip-preview --stack dev" in pulumi_up(
        stack="dev", run=lambda command: ran.append(list(command)) or 0
    )
    assert ran == [["pulumi", "up", "--yes", "--skip-preview", "--stack", "dev"]]
    with pytest.raises(CliError, match=r"`pulumi up --yes --skip-preview` failed \(exit 255\)"):
        pulumi_up(stack=None, run=lambda command: 255)

    def missing(command: object) -> int:
        raise FileNotFoundError("pulumi")

    with pytest.raises(CliError, match="pulumi CLI is not installed here"):
        pulumi_up(stack=None, run=missing)


def test_on_aws_it_follows_the_run_a_model_already_started_and_can_leave_pulumi_up_to_ci(
    aws_stack: Stack, trained_bundle: Path
) -> None:
    """Run again after the model went up: no second upload, the newest execution is the one followed."""
    aws_stack.clients["service-quotas"], quotas = quotas_client(enough())
    aws_stack.s3.put_object(Bucket=MODEL_BUCKET_AWS, Key=MODEL_KEY, Body=trained_bundle.read_bytes())
    succeeded = execution_summary(PREVIOUS, status="Succeeded", trigger=model_upload_trigger())
    for limit in (1, 5):  # the newest execution, then its record while following it
        aws_stack.pipeline.add_response(
            "list_pipeline_executions",
            executions_list(succeeded),
            {"pipelineName": PIPELINE, "maxResults": limit},
        )
        aws_stack.pipeline.add_response(
            "list_action_executions",
            action_executions(PREVIOUS, approval=("Succeeded", APPROVER, "first")),
            {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": PREVIOUS}},
        )

    result = aws_stack.cli("bootstrap", "--no-pulumi-up", *FAST)

    assert result.code == 0, result.err
    assert f"s3://{MODEL_BUCKET_AWS}/{MODEL_KEY} (object version " in result.out
    assert f"following execution {PREVIOUS}" in result.out
    assert f"execution {PREVIOUS} succeeded: model {MODEL_VERSION} is deployed" in result.out
    assert "next: `pulumi up`" in result.out
    assert "quotas are enough for the first run" in result.out
    quotas.assert_no_pending_responses()
