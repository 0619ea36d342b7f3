"""Helpers for the pipeline tests: the whole program under the mocks, and views of its pipeline."""

from __future__ import annotations

import json
from typing import Any

from infra.delivery.targets import DeployTarget
from infra.serving.task_definition import CONTAINER_NAME
from ml_deploy_dev.program import Program, Resource
from tests.infra.shared_program import shared_program

__all__ = [
    "CONTAINER_NAME",
    "action",
    "deploy_target",
    "event_pattern",
    "run_pipeline",
    "stages",
    "the_pipeline",
]


def deploy_target(program: Program, name: str) -> DeployTarget:
    """What the serving component handed the pipeline for one environment, as recorded."""
    service = program.one("aws:ecs/service:Service", f"serving-{name}-service")
    load_balancer = program.one("aws:lb/loadBalancer:LoadBalancer", f"serving-{name}-alb")
    return DeployTarget(
        name=name,
        cluster_name=program.one("aws:ecs/cluster:Cluster").state["name"],
        service_name=service.state["name"],
        url=f"http://{load_balancer.state['dnsName']}",
        task_definition_arn=program.one(
            "aws:ecs/taskDefinition:TaskDefinition", f"serving-{name}-task"
        ).state["arn"],
        pass_role_arns=[
            program.one("aws:iam/role:Role", f"serving-{name}-task").state["arn"],
            program.one("aws:iam/role:Role", f"serving-{name}-execution").state["arn"],
        ],
    )


def run_pipeline(overrides: dict[str, Any] | None = None) -> Program:
    """The whole program under the dev config, changed by `overrides` (keys without the namespace)."""
    full = {key if ":" in key else f"ml-deploy:{key}": value for key, value in (overrides or {}).items()}
    return shared_program(full)


def the_pipeline(program: Program) -> Resource:
    return program.one("aws:codepipeline/pipeline:Pipeline")


def stages(program: Program) -> list[dict[str, Any]]:
    return list(the_pipeline(program).inputs["stages"])


def action(program: Program, stage: str, name: str | None = None) -> dict[str, Any]:
    """The action of a stage (the one named `name` if the stage has several)."""
    (found,) = [s for s in stages(program) if s["name"] == stage]
    actions = [a for a in found["actions"] if name is None or a["name"] == name]
    assert len(actions) == 1, f"stage {stage} has actions {[a['name'] for a in found['actions']]}"
    return dict(actions[0])


def event_pattern(rule: Resource) -> dict[str, Any]:
    return dict(json.loads(rule.inputs["eventPattern"]))
