"""Issue 24: under BLUE_GREEN and CANARY a revision that never gets healthy is rolled back within a
stated bound, by a deployment alarm ECS evaluates, not by the circuit breaker.

The bound is data here, and is checked against the registered resources' own numbers (the
target groups' health checks, the alarms' periods, the service's grace period), for the dev
stack and for the longest startup grace the config accepts.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from ml_deploy_dev.program import Program, Resource, run_program

ENVIRONMENTS = ("stage", "prod")
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
# The promise in docs/design.md: a revision that never gets healthy is rolled back within 15
# minutes of its first task starting (the alarm fires; ECS then rolls back).
BOUND_SECONDS = 15 * 60
# "DeploymentCircuitBreaker" (ECS API reference): not for blue/green or canary.
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentCircuitBreaker.html
CIRCUIT_BREAKER_NOTE = (
    "The deployment circuit breaker can only be used for services using the rolling update (ECS) "
    "deployment type."
)
# "How CloudWatch alarms detect Amazon ECS deployment failures":
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html
ALARM_DETECTION = (
    "You can configure Amazon ECS to set the deployment to failed when it detects that a specified "
    "CloudWatch alarm has gone into the ALARM state."
)
# ALB UnHealthyHostCount is per target group ("CloudWatch metrics for your Application Load
# Balancer", TargetGroup and LoadBalancer dimensions):
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
UNHEALTHY_METRIC = {"namespace": "AWS/ApplicationELB", "metricName": "UnHealthyHostCount"}
MAX_STARTUP_GRACE = 300  # infra/serving/config.py accepts 10..300


@pytest.fixture(scope="module", params=["dev", "longest grace"])
def program(request: pytest.FixtureRequest, dev_program: Program) -> Program:
    if request.param == "dev":
        return dev_program
    return run_program(overrides={"ml-deploy:startupGraceSeconds": MAX_STARTUP_GRACE})


def _never_healthy_alarms(program: Program, env: str) -> dict[str, Resource]:
    """The service's deployment alarms on UnHealthyHostCount, by the target group they watch."""
    names = program.one("aws:ecs/service:Service", f"serving-{env}-service").inputs["alarms"]["alarmNames"]
    found = {}
    for alarm in program.of_type(ALARM):
        inputs = alarm.inputs
        if alarm.state["name"] in names and inputs.get("metricName") == UNHEALTHY_METRIC["metricName"]:
            assert inputs["namespace"] == UNHEALTHY_METRIC["namespace"]
            found[inputs["dimensions"]["TargetGroup"].split("/")[1]] = alarm
    return found


def _window(inputs: dict[str, Any]) -> tuple[int, int, int]:
    return int(inputs["period"]), int(inputs["evaluationPeriods"]), int(inputs["datapointsToAlarm"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_never_healthy_revision_is_rolled_back_within_the_bound(program: Program, env: str) -> None:
    assert "rolling update" in CIRCUIT_BREAKER_NOTE and "ALARM state" in ALARM_DETECTION
    service = program.one("aws:ecs/service:Service", f"serving-{env}-service").inputs
    strategy = service["deploymentConfiguration"]["strategy"]
    assert strategy in ("BLUE_GREEN", "CANARY"), "the circuit breaker alone would do for rolling updates"
    assert service["alarms"] == {**service["alarms"], "enable": True, "rollback": True}
    alarms = _never_healthy_alarms(program, env)
    # The new revision lands in either group: both are watched.
    groups = {
        program.one(TARGET_GROUP, f"serving-{env}-{slot}").inputs["name"] for slot in ("tg", "tg-alternate")
    }
    assert set(alarms) == groups, sorted(alarms)
    grace = int(service["healthCheckGracePeriodSeconds"])
    for group_name, alarm in alarms.items():
        check = program.called(TARGET_GROUP, group_name).inputs["healthCheck"]
        period, periods, datapoints = _window(alarm.inputs)
        assert datapoints == periods, f"{alarm.name}: every minute must breach, not {datapoints} of {periods}"
        assert (alarm.inputs["statistic"], alarm.inputs["threshold"]) == ("Maximum", 0)
        assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
        # A task that never passes /ready: unhealthy after the ALB's verdict, then `periods` full
        # breaching minutes, plus one period for where the first minute starts.
        fires_after = check["unhealthyThreshold"] * check["interval"] + (periods + 1) * period
        assert fires_after <= BOUND_SECONDS, (
            f"{alarm.name} fires {fires_after} s after start > {BOUND_SECONDS}"
        )
        # A normal start: unhealthy while loading its model (the grace period) until the ALB has
        # seen enough good checks; those seconds touch at most ceil(W/period) + 1 datapoints.
        normal_start = grace + check["healthyThreshold"] * check["interval"]
        assert math.ceil(normal_start / period) + 1 < periods, (
            f"{alarm.name} would roll back a healthy revision that took its whole {grace} s grace"
        )
