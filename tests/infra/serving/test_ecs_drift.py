"""Issue 24: after any number of ECS deployments, `pulumi up` with the same config changes nothing
ECS moved, and a config change still reaches the service.

ECS's own blue/green and canary deployments rewrite part of what Pulumi registered: the replay
below does to the recorded inputs what the documentation says ECS does, and every input it
touches must be in the `ignore_changes` of its resource (the mocks record them as the engine
receives them). What ECS never touches must stay managed, or a config change would be lost.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from ml_deploy_dev.program import Program, Resource, run_program
from tests.infra.serving.conftest import CERTIFICATE
from tests.infra.shared_program import shared_program

ENVIRONMENTS = ("stage", "prod")
SERVICE = "aws:ecs/service:Service"
RULE = "aws:lb/listenerRule:ListenerRule"
LISTENER = "aws:lb/listener:Listener"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"

# What an ECS deployment rewrites, as documented:
# "Amazon ECS blue/green service deployments workflow" and "Application Load Balancer resources for
# blue/green, linear, and canary deployments" (the production and test rules forward to both
# groups; ECS moves their weights from the blue group to the green one):
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-deployment-how-it-works.html
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html
# AdvancedConfiguration (ECS API reference): for an ALB, ECS shifts traffic with the listener
# *rules* it is given; a listener (its default actions) only for an NLB:
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AdvancedConfiguration.html
# terraform-provider-aws issue 45678: after a deployment the service's target group is the one
# the new revision runs in; an IaC update that sets the original one back makes ECS deploy into
# the group that serves production instead of alternating.
ECS_REWRITES = {
    SERVICE: (
        "loadBalancers[0].targetGroupArn",
        "loadBalancers[0].advancedConfiguration.alternateTargetGroupArn",
    ),
    RULE: ("actions[0].forward.targetGroups[*].weight",),
    LISTENER: (),
}


def paths(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of `value` by its Pulumi property path (`a.b[0].c`)."""
    if isinstance(value, dict):
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(paths(item, f"{prefix}.{key}" if prefix else key))
        return leaves or {prefix: {}}
    if isinstance(value, list):
        leaves = {}
        for index, item in enumerate(value):
            leaves.update(paths(item, f"{prefix}[{index}]"))
        return leaves or {prefix: []}
    return {prefix: value}


def changed(desired: dict[str, Any], live: dict[str, Any]) -> set[str]:
    """The property paths `pulumi up` would find different between the program and the live state."""
    ours, theirs = paths(desired), paths(live)
    return {path for path in ours.keys() | theirs.keys() if ours.get(path) != theirs.get(path)}


def ignored(path: str, ignore_changes: list[str]) -> bool:
    """Pulumi ignores a path named in `ignore_changes`, and everything under it."""
    return any(path == i or path.startswith((f"{i}.", f"{i}[")) for i in ignore_changes)


def managed_changes(resource: Resource, live: dict[str, Any]) -> set[str]:
    return {p for p in changed(resource.inputs, live) if not ignored(p, resource.ignore_changes)}


def ecs_deploys(resource: Resource, times: int) -> dict[str, Any]:
    """The resource's live inputs after `times` ECS deployments, each as the pages above describe."""
    live = copy.deepcopy(resource.inputs)
    for _ in range(times):
        if resource.type == SERVICE:
            (balanced,) = live["loadBalancers"]
            advanced = balanced["advancedConfiguration"]
            balanced["targetGroupArn"], advanced["alternateTargetGroupArn"] = (
                advanced["alternateTargetGroupArn"],
                balanced["targetGroupArn"],
            )
        elif resource.type == RULE:
            groups = live["actions"][0]["forward"]["targetGroups"]
            weights = [group["weight"] for group in groups]
            for group, weight in zip(groups, reversed(weights), strict=True):
                group["weight"] = weight
    return live


def _as_pattern(documented: str) -> re.Pattern[str]:
    return re.compile(re.escape(documented).replace(r"\[\*\]", r"\[\d+\]") + "$")


def environment_resources(program: Program, env: str) -> list[Resource]:
    prefix = f"serving-{env}-"
    return [r for kind in ECS_REWRITES for r in program.of_type(kind) if r.name.startswith(prefix)]


@pytest.fixture(scope="module")
def https_program() -> Program:
    return shared_program({"ml-deploy:certificateArn": CERTIFICATE})


@pytest.mark.parametrize("deployments", [1, 2, 3])
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pulumi_up_after_ecs_deployments_changes_no_service_listener_or_rule(
    https_program: Program, env: str, deployments: int
) -> None:
    resources = environment_resources(https_program, env)
    assert {r.type for r in resources} == set(ECS_REWRITES), [r.name for r in resources]
    for resource in resources:
        live = ecs_deploys(resource, deployments)
        moved = changed(resource.inputs, live)
        documented = [_as_pattern(p) for p in ECS_REWRITES[resource.type]]
        # The replay moves exactly what the pages say ECS moves (an even count moves it back).
        assert all(any(d.match(p) for d in documented) for p in moved), f"{resource.name}: {moved}"
        if deployments % 2 and documented:
            assert moved, f"the replay moved nothing on {resource.name}"
        fight = managed_changes(resource, live)
        assert not fight, (
            f"{env}: after {deployments} ECS deployment(s) `pulumi up` would set {sorted(fight)} of "
            f"{resource.name} back (ignore_changes={resource.ignore_changes}): a deployment of its own"
        )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_what_ecs_moves_is_ignored(https_program: Program, env: str) -> None:
    """Everything else about the service, its listeners and rules stays Pulumi's to change."""
    service = https_program.one(SERVICE, f"serving-{env}-service")
    owned_elsewhere = {"taskDefinition", "desiredCount"}  # the pipeline's, autoscaling's (design.md)
    assert set(service.ignore_changes) - owned_elsewhere == set(ECS_REWRITES[SERVICE]), service.ignore_changes
    for listener in (r for r in https_program.of_type(LISTENER) if r.name.startswith(f"serving-{env}-")):
        assert not listener.ignore_changes, f"{listener.name} ignores {listener.ignore_changes}"
    for rule in (r for r in https_program.of_type(RULE) if r.name.startswith(f"serving-{env}-")):
        assert rule.ignore_changes == ["actions"], f"{rule.name} ignores {rule.ignore_changes}"


def test_a_config_change_still_reaches_the_service_and_its_task_definition(dev_program: Program) -> None:
    """cpu, the container port, the startup grace: none of them is an input ECS moves."""
    changed_program = run_program(
        overrides={
            "ml-deploy:startupGraceSeconds": 120,
            "ml-deploy:containerPort": 8081,
            "ml-deploy:stage": {"cpu": 1024, "memory": 2048},
        }
    )
    service_before = dev_program.one(SERVICE, "serving-stage-service")
    service_after = changed_program.one(SERVICE, "serving-stage-service")
    reached = managed_changes(service_before, service_after.inputs)
    assert {"healthCheckGracePeriodSeconds", "loadBalancers[0].containerPort"} <= reached, reached
    task_before = dev_program.one(TASK, "serving-stage-task")
    task_after = changed_program.one(TASK, "serving-stage-task")
    assert {"cpu", "memory"} <= managed_changes(task_before, task_after.inputs)
    group_before = dev_program.one(TARGET_GROUP, "serving-stage-tg")
    group_after = changed_program.one(TARGET_GROUP, "serving-stage-tg")
    assert "port" in managed_changes(group_before, group_after.inputs)
