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


def local_jobs_state(tmp_path: Path, runs: list[tuple[str, str, str, str]]) -> Path:
    """A local state whose runner ran `runs` (kind, status, started, log text), each with its log file."""
    document = local_state(endpoint="http://127.0.0.1:1")
    jobs = []
    for number, (kind, status, started, text) in enumerate(runs):
        log = tmp_path / "jobs" / f"{kind}-{number:08d}.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text(text)
        jobs.append({"id": f"{number:08d}-run", "kind": kind, "status": status, "log": str(log),
                     "started": started})  # fmt: skip
    document.update(jobs_dir=str(tmp_path / "jobs"), jobs=jobs)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(document))
    return state


def test_local_job_logs_are_the_runs_of_that_kind_since_the_age(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recent = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 60))
    state = local_jobs_state(tmp_path, [
        ("quality", "SUCCEEDED", "2020-01-01T00:00:00+00:00", "an old run\n"),
        ("quality", "SUCCEEDED", recent, "read 250 outcomes\nprod: ok\n"),
        ("monitor", "SUCCEEDED", recent, "monitor only\n"),
        ("quality", "RUNNING", "2020-01-02T00:00:00+00:00", "still going\npart"),
    ])  # fmt: skip
    environ = {STATE_VARIABLE: str(state)}

    assert main(["--local", "logs", "quality", "--since", "1h"], environ=environ) == 0
    assert capsys.readouterr().out.splitlines() == [
        "quality-00000003 still going",  # started long ago but still running: its lines are current
        "quality-00000001 read 250 outcomes",
        "quality-00000001 prod: ok",
    ]
    assert main(["--local", "logs", "quality", "--tail", "1"], environ=environ) == 0
    assert capsys.readouterr().out.splitlines() == ["quality-00000001 prod: ok"]


def test_local_job_logs_follow_prints_each_line_once_and_new_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    state = local_jobs_state(tmp_path, [("monitor", "RUNNING", now, "window 24h\n")])
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 1:  # the run goes on, and another one starts
            with (tmp_path / "jobs" / "monitor-00000000.log").open("a") as log:
                log.write("drift: payment_method\n")
            document = json.loads(state.read_text())
            second = tmp_path / "jobs" / "monitor-second.log"
            second.write_text("second run\n")
            document["jobs"].append({"id": "99999999-run", "kind": "monitor", "status": "RUNNING",
                                     "log": str(second), "started": now})  # fmt: skip
            state.write_text(json.dumps(document))
        if len(naps) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr("ml_deploy_cli.commands.logs.time.sleep", nap)

    assert main(["--local", "logs", "monitor", "--follow"], environ={STATE_VARIABLE: str(state)}) == 0
    assert capsys.readouterr().out.splitlines() == [
        "monitor-00000000 window 24h",
        "monitor-00000000 drift: payment_method",
        "monitor-99999999 second run",
    ]


def test_local_job_logs_without_a_job_runner_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(local_state(endpoint="http://127.0.0.1:1")))

    assert main(["--local", "logs", "retrain"], environ={STATE_VARIABLE: str(state)}) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ml-deploy: logs: the local run has no job queue") and len(err.splitlines()) == 1
