"""Issue 24: `ml-deploy deploy` says how ECS's deployment goes while it waits, through the command.

moto models neither service deployments nor their lifecycle stages, so the ECS client is botocore's
Stubber answering with the service model's own shapes (it rejects a request or an answer the
model does not allow); the answers follow ECS's documented lifecycle stages.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import ml_deploy_cli.aws.deploy as deploy_module
from ml_deploy_cli.__main__ import main

REGION, ACCOUNT = "eu-west-1", "123456789012"
CLUSTER, SERVICE = "ml-deploy-dev-serving", "ml-deploy-dev-stage"
FAMILY = "ml-deploy-dev-stage"
CONFIGURATION = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{FAMILY}:4"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/images-service:0123456789ab-model-x"
DEPLOYMENT = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{CLUSTER}/{SERVICE}/abc123"
# ServiceDeployment lifecycleStage, in the order a blue/green deployment passes them (ECS API
# reference, API_ServiceDeployment.html):
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html
STAGES = (
    "SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
)
# Promised by the command: a line at each change of status or stage, and at least once a minute.
EVERY_SECONDS = 60
POLL_SECONDS = 15
ELAPSED = re.compile(r"\[\s*(\d+)m(\d\d)s\]")


def _poll(status: str, stage: str, running: int) -> dict[str, Any]:
    return {
        "serviceDeploymentArn": DEPLOYMENT,
        "status": status,
        "lifecycleStage": stage,
        "targetServiceRevision": {
            "arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{CLUSTER}/{SERVICE}/5",
            "requestedTaskCount": 2,
            "runningTaskCount": running,
            "pendingTaskCount": 2 - running,
        },
    }


# One answer per poll (15 s apart), and whether the command must print a line at it.
TIMELINE: list[tuple[dict[str, Any], bool]] = [
    (_poll("PENDING", "RECONCILE_SERVICE", 0), True),  # the first answer
    (_poll("IN_PROGRESS", "SCALE_UP", 0), True),  # status and stage changed
    *[(_poll("IN_PROGRESS", "SCALE_UP", 1), False)] * 3,  # 30..60 s: same stage, under a minute
    (_poll("IN_PROGRESS", "SCALE_UP", 2), True),  # 75 s: a minute since the last line
    *[(_poll("IN_PROGRESS", stage, 2), True) for stage in STAGES[1:]],
    *[(_poll("IN_PROGRESS", "BAKE_TIME", 2), False)] * 3,
    (_poll("IN_PROGRESS", "BAKE_TIME", 2), True),  # a minute into the bake time
    (_poll("SUCCESSFUL", "CLEAN_UP", 2), True),
]


def _services_answer() -> dict[str, Any]:
    deployment = {"id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": "IN_PROGRESS"}
    return {
        "services": [
            {"serviceName": SERVICE, "deployments": [{**deployment, "runningCount": 2, "desiredCount": 2}]}
        ]
    }


@pytest.fixture
def ecs() -> Any:
    return boto3.client("ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def _stub_start(stubber: Stubber) -> None:
    """DescribeTaskDefinition, RegisterTaskDefinition, UpdateService: the deployment begins."""
    container = {"name": "model-server", "image": f"{IMAGE.rsplit(':', 1)[0]}:bootstrap"}
    described = {"family": FAMILY, "revision": 4, "taskDefinitionArn": CONFIGURATION}
    stubber.add_response(
        "describe_task_definition",
        {"taskDefinition": {**described, "containerDefinitions": [container]}, "tags": []},
        {"taskDefinition": CONFIGURATION, "include": ["TAGS"]},
    )
    registered = {"family": FAMILY, "revision": 5, "taskDefinitionArn": CONFIGURATION[:-1] + "5"}
    # Pulumi's revision with only the model server's image replaced, marked as a deploy's.
    request = {
        "family": FAMILY,
        "containerDefinitions": [{**container, "image": IMAGE}],
        "tags": [{"key": "ml-deploy:registered-by", "value": "deploy"}],
    }
    stubber.add_response("register_task_definition", {"taskDefinition": registered}, request)
    stubber.add_response(
        "update_service",
        {"service": {"serviceName": SERVICE, "currentServiceDeployment": DEPLOYMENT}},
        {"cluster": CLUSTER, "service": SERVICE, "taskDefinition": registered["taskDefinitionArn"]},
    )


def _stub_polls(stubber: Stubber, timeline: list[tuple[dict[str, Any], bool]]) -> None:
    for answer, reports in timeline:
        stubber.add_response(
            "describe_service_deployments",
            {"serviceDeployments": [answer]},
            {"serviceDeploymentArns": [DEPLOYMENT]},
        )
        if reports:  # the rollout state is read for a line only
            stubber.add_response(
                "describe_services", _services_answer(), {"cluster": CLUSTER, "services": [SERVICE]}
            )


def _deploy(ecs: Any, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    argv = ["deploy", "--cluster", CLUSTER, "--service", SERVICE, "--task-definition", CONFIGURATION]
    code = main([*argv, "--image", IMAGE], environ={}, client=lambda service: ecs)
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def _seconds(line: str) -> int:
    found = ELAPSED.search(line)
    assert found, f"no elapsed time in {line!r}"
    return int(found[1]) * 60 + int(found[2])


def test_deploy_prints_stage_tasks_rollout_and_elapsed_time_while_it_waits(
    ecs: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(deploy_module.time, "sleep", slept.append)
    with Stubber(ecs) as stubber:
        _stub_start(stubber)
        _stub_polls(stubber, TIMELINE)
        code, out, err = _deploy(ecs, capsys)
        stubber.assert_no_pending_responses()
    assert (code, err) == (0, ""), err
    *progress, summary = out
    assert "service deployment SUCCESSFUL" in summary, summary
    assert len(progress) == sum(reports for _, reports in TIMELINE), "\n".join(progress)
    assert all(line.startswith(f"{SERVICE}: [") for line in progress), progress
    # Every stage ECS passed through is named, with the new revision's tasks and the rollout.
    for stage in STAGES:
        assert any(f"stage {stage}" in line for line in progress), f"{stage} never shown"
    assert "new revision 1/2 tasks running (1 pending)" not in "\n".join(progress)  # not a line's poll
    assert "new revision 2/2 tasks running" in progress[-2]
    assert all("rollout IN_PROGRESS, service 2/2 tasks running" in line for line in progress)
    # Elapsed time as waited, and never a minute of silence.
    times = [_seconds(line) for line in progress]
    assert times[0] == 0 and times[-1] == POLL_SECONDS * (len(TIMELINE) - 1), times
    assert all(b - a <= EVERY_SECONDS for a, b in itertools.pairwise(times)), times
    assert progress[-1].endswith(
        "SUCCESSFUL, stage CLEAN_UP, new revision 2/2 tasks running, "
        "rollout IN_PROGRESS, service 2/2 tasks running"
    )
    assert slept == [POLL_SECONDS] * (len(TIMELINE) - 1)


def test_a_rolled_back_deploy_shows_its_progress_then_fails_with_ecss_reason(
    ecs: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy_module.time, "sleep", lambda _: None)
    alarm = "serving-stage-never-healthy-alternate"
    rolled_back = {
        **_poll("ROLLBACK_SUCCESSFUL", "CLEAN_UP", 0),
        "statusReason": f"CloudWatch alarm {alarm} in ALARM",
        "alarms": {"status": "TRIGGERED", "alarmNames": [alarm], "triggeredAlarmNames": [alarm]},
    }
    with Stubber(ecs) as stubber:
        _stub_start(stubber)
        _stub_polls(stubber, [(_poll("IN_PROGRESS", "SCALE_UP", 0), True), (rolled_back, True)])
        code, out, err = _deploy(ecs, capsys)
        stubber.assert_no_pending_responses()
    assert code == 1
    assert f"ended ROLLBACK_SUCCESSFUL: CloudWatch alarm {alarm} in ALARM" in err, err
    assert len(out) == 2 and "stage SCALE_UP" in out[0], out
    assert f"alarms in ALARM: {alarm}" in out[1], out
