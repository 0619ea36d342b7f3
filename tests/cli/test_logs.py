"""`ml-deploy logs ENV`: CloudWatch Logs in moto on AWS, the task's output on the local delivery.

awslogs names each stream `prefix-name/container-name/ecs-task-id` (the `awslogs-stream-prefix`
option, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import boto3
import pytest

from ml_deploy.layout import SERVICE_CONTAINER
from ml_deploy_cli.__main__ import main
from ml_deploy_cli.local.state import STATE_VARIABLE
from tests.cli.conftest import CLUSTER, REGION, REPOSITORY, SERVICES, Stack
from tests.cli.test_failures import local_state

GROUP = "/ml-deploy/dev/serving"
AWSLOGS_STREAM = "{prefix}/{container}/{task}"  # the documented stream name


def deploy_with_awslogs(stack: Stack, environment: str) -> None:
    arn = stack.ecs.register_task_definition(
        family=SERVICES[environment],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="512",
        memory="1024",
        containerDefinitions=[
            {
                "name": SERVICE_CONTAINER,
                "image": f"{REPOSITORY}:1a2b3c4d5e6f-20261123T101500Z-3f9a1c2b",
                "essential": True,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": GROUP, "awslogs-region": REGION,
                                "awslogs-stream-prefix": environment},
                },
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    stack.ecs.update_service(cluster=CLUSTER, service=SERVICES[environment], taskDefinition=arn)


def put_lines(environment: str, task: str, *messages: str, at: int | None = None) -> None:
    logs = boto3.client("logs", region_name=REGION)
    stream = AWSLOGS_STREAM.format(prefix=environment, container=SERVICE_CONTAINER, task=task)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    now = at or int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": message} for i, message in enumerate(messages)]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def test_logs_reads_the_running_revisions_stream_of_that_environment_only(stack: Stack) -> None:
    deploy_with_awslogs(stack, "prod")
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=GROUP)
    put_lines("prod", "task1", "GET /ready 200", "POST /predict 200")
    put_lines("stage", "task2", "stage only")
    put_lines("prod", "task0", "two hours ago", at=int((time.time() - 7200) * 1000))

    result = stack.cli("logs", "prod", "--since", "1h")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["task1 GET /ready 200", "task1 POST /predict 200"]


def test_logs_follow_prints_each_line_once(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    deploy_with_awslogs(stack, "stage")
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=GROUP)
    put_lines("stage", "task1", "first")
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 1:
            put_lines("stage", "task1", "second")
        if len(naps) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr("ml_deploy_cli.commands.logs.time.sleep", nap)

    result = stack.cli("logs", "stage", "--follow")

    assert result.code == 0, result.err
    assert [line.split(" ", 2)[2] for line in result.out.splitlines()] == ["first", "second"]


def test_logs_of_a_revision_without_awslogs_says_so(stack: Stack) -> None:
    result = stack.cli("logs", "stage")

    assert result.code == 1
    assert result.err.strip() == (
        "ml-deploy: logs: stage: the running revision does not send its logs to CloudWatch Logs"
    )


@pytest.mark.parametrize("since", ["10", "-5m", "0m", "1w"])
def test_since_is_an_age(since: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "prod", f"--since={since}"], environ={}) == 2
    assert "is not an age like 30s, 10m, 2h or 1d" in capsys.readouterr().err


def test_local_logs_are_the_tasks_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = local_state(endpoint="http://127.0.0.1:1")
    stage = document["environments"]["stage"]  # type: ignore[index]
    stage.update(log_dir=str(tmp_path), revisions=[{"revision": 2, "image": "local/service:x"}],
                 running={"revision": 2, "pid": 2**22 + 1, "port": 1})  # fmt: skip
    (tmp_path / "stage-r2.log").write_text("INFO started\nINFO ready\npartial")
    state = tmp_path / "state.json"
    state.write_text(json.dumps(document))

    code = main(["--local", "logs", "stage"], environ={STATE_VARIABLE: str(state)})

    assert code == 0
    assert capsys.readouterr().out.splitlines() == ["stage-r2 INFO started", "stage-r2 INFO ready"]
    assert main(["--local", "logs", "stage", "--tail", "1"], environ={STATE_VARIABLE: str(state)}) == 0
    assert capsys.readouterr().out.splitlines() == ["stage-r2 INFO ready"]
    code = main(["--local", "logs", "prod"], environ={STATE_VARIABLE: str(state)})
    assert code == 1
    assert "prod has run no task yet in the local delivery" in capsys.readouterr().err


JOBS_GROUP = "/ml-deploy/dev/jobs"
DEFINITIONS = {"retrain": "ml-deploy-dev-retrain", "monitor": "ml-deploy-dev-monitor"}


def register_job(kind: str, *, group: str | None, prefix: str | None) -> None:
    """A job definition revision as infra/jobs/definitions.py registers it (awslogs, group, prefix)."""
    options = {"awslogs-region": REGION}
    if group:
        options["awslogs-group"] = group
    if prefix:
        options["awslogs-stream-prefix"] = prefix
    boto3.client("batch", region_name=REGION).register_job_definition(
        jobDefinitionName=DEFINITIONS[kind],
        type="container",
        containerProperties={
            "image": f"{REPOSITORY}-jobs:1a2b3c4d5e6f",
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
            "logConfiguration": {"logDriver": "awslogs", "options": options},
        },
    )


def put_job_lines(group: str, stream: str, *messages: str, at: int | None = None) -> None:
    logs = boto3.client("logs", region_name=REGION)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = at or int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": message} for i, message in enumerate(messages)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


@pytest.fixture
def jobs_stack(stack: Stack) -> Stack:
    stack.write_outputs(
        jobQueueName="ml-deploy-dev-jobs",
        retrainJobDefinitionName=DEFINITIONS["retrain"],
        monitorJobDefinitionName=DEFINITIONS["monitor"],
    )
    return stack


def test_job_logs_read_the_latest_definitions_group_and_that_kinds_streams(jobs_stack: Stack) -> None:
    register_job("retrain", group="/old/group", prefix="retrain")
    register_job("retrain", group=JOBS_GROUP, prefix="retrain")  # the revision the schedule submits
    register_job("monitor", group=JOBS_GROUP, prefix="monitor")
    put_job_lines(JOBS_GROUP, "retrain/default/task1", "training 3000 rows", "challenger promoted")
    put_job_lines(JOBS_GROUP, "monitor/default/task2", "monitor only")
    put_job_lines(JOBS_GROUP, "retrain/default/task0", "yesterday", at=int((time.time() - 86400) * 1000))
    put_job_lines("/old/group", "retrain/default/task9", "the old group")

    result = jobs_stack.cli("logs", "retrain", "--since", "1h")

    assert result.code == 0, result.err
    assert [line.split(" ", 1)[1] for line in result.out.splitlines()] == [
        "task1 training 3000 rows",
        "task1 challenger promoted",
    ]


def test_job_logs_without_group_or_prefix_are_where_batch_puts_them(
    jobs_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No awslogs-group: /aws/batch/job; no prefix: streams start with the job definition's name."""
    register_job("monitor", group=None, prefix=None)
    put_job_lines("/aws/batch/job", f"{DEFINITIONS['monitor']}/default/task3", "window 24h")
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 1:
            put_job_lines("/aws/batch/job", f"{DEFINITIONS['monitor']}/default/task3", "drift: none")
        if len(naps) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr("ml_deploy_cli.commands.logs.time.sleep", nap)

    result = jobs_stack.cli("logs", "monitor", "--follow")

    assert result.code == 0, result.err
    assert [line.split(" ", 2)[2] for line in result.out.splitlines()] == ["window 24h", "drift: none"]


def test_job_logs_before_pulumi_up_say_so(jobs_stack: Stack) -> None:
    result = jobs_stack.cli("logs", "retrain")

    assert result.code == 1
    assert result.err.strip() == (
        f"ml-deploy: logs: Batch has no ACTIVE job definition {DEFINITIONS['retrain']}: "
        "has `pulumi up` created the jobs?"
    )
