"""`ml-deploy run-job retrain|monitor|quality [--follow]`: Batch behind botocore's Stubber (moto would need a
Docker engine to run a job), the job's log stream in moto's CloudWatch Logs.

The job is submitted as its schedule submits it: the stack's queue, the definition by name
(infra/jobs/schedules.py). DescribeJobs reports `container.logStreamName` once the job has started;
jobs move SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED | FAILED
(https://docs.aws.amazon.com/batch/latest/userguide/job_states.html).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.core.config import default_user_config

from ml_deploy_cli.__main__ import main
from ml_deploy_cli.aws.jobs import job_command
from ml_deploy_cli.local.state import STATE_VARIABLE
from tests.cli.conftest import REGION, Stack
from tests.cli.test_failures import local_state

QUEUE, RETRAIN, MONITOR = "ml-deploy-dev-jobs", "ml-deploy-dev-retrain", "ml-deploy-dev-monitor"
QUALITY = "ml-deploy-dev-quality"
JOB_ID = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d"
GROUP, STREAM = "/ml-deploy/dev/jobs", f"retrain/default/{JOB_ID}"
NOW = int(time.time() * 1000)
STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


@pytest.fixture
def batch(stack: Stack) -> Iterator[Stubber]:
    stack.write_outputs(
        jobQueueName=QUEUE, retrainJobDefinitionName=RETRAIN, monitorJobDefinitionName=MONITOR
    )
    client = boto3.client("batch", region_name=REGION)
    with Stubber(client) as stubber:
        stack.clients["batch"] = client
        yield stubber
        stubber.assert_no_pending_responses()


def described(status: str, *, started: bool, reason: str | None = None) -> dict[str, Any]:
    assert status in STATES
    job: dict[str, Any] = {
        "jobName": "retrain-manual", "jobId": JOB_ID, "jobQueue": QUEUE, "status": status,
        "startedAt": 1, "jobDefinition": RETRAIN,
    }  # fmt: skip
    if reason:
        job["statusReason"] = reason
    if started:
        job["container"] = {
            "logStreamName": STREAM,
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": GROUP}},
        }
    return {"jobs": [job]}


def expect_submit(batch: Stubber, definition: str) -> None:
    batch.add_response(
        "submit_job",
        {"jobArn": f"arn:aws:batch:{REGION}:123456789012:job/{JOB_ID}", "jobName": "x", "jobId": JOB_ID},
        {
            "jobName": definition.rsplit("-", 1)[-1] + "-manual",
            "jobQueue": QUEUE,
            "jobDefinition": definition,
        },
    )


def test_run_job_submits_as_the_schedule_would(stack: Stack, batch: Stubber) -> None:
    expect_submit(batch, MONITOR)

    result = stack.cli("run-job", "monitor")

    assert result.code == 0, result.err
    assert result.out.strip() == f"submitted monitor job {JOB_ID}"


def test_follow_prints_each_state_once_and_the_log_then_the_verdict(
    stack: Stack, batch: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = boto3.client("logs", region_name=REGION)
    # CloudWatch Logs rejects events older than 14 days (PutLogEvents' tooOldLogEventEndIndex).
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    logs.put_log_events(logGroupName=GROUP, logStreamName=STREAM,
                        logEvents=[{"timestamp": NOW, "message": "training 3000 rows"},
                                   {"timestamp": NOW + 1, "message": "challenger rejected"}])  # fmt: skip
    expect_submit(batch, RETRAIN)
    for status, started in (("RUNNABLE", False), ("RUNNABLE", False), ("RUNNING", True), ("FAILED", True)):
        reason = "Essential container in task exited" if status == "FAILED" else None
        batch.add_response(
            "describe_jobs", described(status, started=started, reason=reason), {"jobs": [JOB_ID]}
        )
    monkeypatch.setattr("ml_deploy_cli.commands.run_job.time.sleep", lambda seconds: None)

    result = stack.cli("run-job", "retrain", "--follow")

    assert result.code == 1
    lines = result.out.splitlines()
    assert [line.split(":")[1].split()[0] for line in lines if line.startswith("retrain-manual")] == [
        "RUNNABLE", "RUNNING", "FAILED"
    ]  # fmt: skip
    assert lines.count("  training 3000 rows") == 1 and lines.count("  challenger rejected") == 1
    assert (
        result.err.strip() == f"ml-deploy: run-job: job {JOB_ID} FAILED: Essential container in task exited"
    )


def test_run_job_quality_submits_the_quality_definition(stack: Stack, batch: Stubber) -> None:
    stack.write_outputs(
        jobQueueName=QUEUE,
        retrainJobDefinitionName=RETRAIN,
        monitorJobDefinitionName=MONITOR,
        qualityJobDefinitionName=QUALITY,
    )
    expect_submit(batch, QUALITY)

    result = stack.cli("run-job", "quality")

    assert result.code == 0, result.err
    assert result.out.strip() == f"submitted quality job {JOB_ID}"


def test_a_stack_from_before_the_quality_job_names_the_missing_output(stack: Stack, batch: Stubber) -> None:
    """The batch fixture's outputs have no quality definition: retrain and monitor still run (above)."""
    result = stack.cli("run-job", "quality")

    assert result.code == 1
    assert "has no stack output 'qualityJobDefinitionName'" in result.err


def test_run_job_needs_the_queue_output(stack: Stack) -> None:
    result = stack.cli("run-job", "retrain")

    assert result.code == 1
    assert "has no stack output 'jobQueueName'" in result.err


def test_the_local_run_refuses_run_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(local_state(endpoint="http://127.0.0.1:1")))

    assert main(["--local", "run-job", "retrain"], environ={STATE_VARIABLE: str(state)}) == 1
    assert "the local run has no job queue" in capsys.readouterr().err


# --- run-job monitor --backfill FROM TO, against moto's Batch --------------------------------------


@pytest.fixture
def moto_batch(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The stack's queue and monitor definition in moto's Batch (jobs recorded, never started)."""
    monkeypatch.setitem(default_user_config["batch"], "use_docker", False)
    batch = boto3.client("batch", region_name=REGION)
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="batch-service", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    environment = batch.create_compute_environment(
        computeEnvironmentName="jobs", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName=QUEUE, state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )  # fmt: skip
    batch.register_job_definition(
        jobDefinitionName=MONITOR, type="container",
        containerProperties={"image": "jobs:1", "vcpus": 1, "memory": 512, "command": job_command("monitor")},
    )  # fmt: skip
    stack.write_outputs(jobQueueName=QUEUE, monitorJobDefinitionName=MONITOR)
    stack.clients["batch"] = batch
    return batch


def _submitted(batch: Any) -> list[dict[str, Any]]:
    ids = [j["jobId"] for s in STATES for j in batch.list_jobs(jobQueue=QUEUE, jobStatus=s)["jobSummaryList"]]
    return list(batch.describe_jobs(jobs=ids)["jobs"]) if ids else []


def test_backfill_submits_the_monitor_with_the_backfill_command(stack: Stack, moto_batch: Any) -> None:
    result = stack.cli("run-job", "monitor", "--backfill", "2026-11-01T00:00Z", "2026-11-08T06:00+02:00")

    assert result.code == 0, result.err
    [job] = _submitted(moto_batch)
    assert job["jobName"] == "monitor-backfill" and job["jobDefinition"].endswith(f"/{MONITOR}:1"), job
    assert job["container"]["command"] == [
        *job_command("monitor"), "backfill", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-08T04:00:00Z",
    ], "the override is not the definition's command plus the backfill (times in UTC)"  # fmt: skip
    assert job["jobId"] in result.out and "backfill of [2026-11-01T00:00:00Z" in result.out, result.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["monitor", "--backfill", "2026-11-08T00:00Z", "2026-11-01T00:00Z"],
            "FROM (2026-11-08T00:00Z) must be before TO",
        ),
        (["monitor", "--backfill", "2026-11-01", "2026-11-01"], "must be before TO"),
        (
            ["monitor", "--backfill", "last week", "2026-11-01T00:00Z"],
            "FROM 'last week' is not an ISO 8601 time",
        ),
        (["retrain", "--backfill", "2026-11-01T00:00Z", "2026-11-02T00:00Z"], "only the monitor backfills"),
    ],
)
def test_a_bad_backfill_is_one_line_and_submits_nothing(
    stack: Stack, moto_batch: Any, argv: list[str], message: str
) -> None:
    result = stack.cli("run-job", *argv)

    assert result.code == 1 and message in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert _submitted(moto_batch) == [], "a refused backfill submitted a job"


def test_the_local_run_refuses_backfill_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(local_state(endpoint="http://127.0.0.1:1")))

    code = main(
        ["--local", "run-job", "monitor", "--backfill", "2026-11-01T00:00Z", "2026-11-02T00:00Z"],
        environ={STATE_VARIABLE: str(state)},
    )

    err = capsys.readouterr().err
    assert code == 1 and "no Batch to backfill on" in err and len(err.strip().splitlines()) == 1, err
