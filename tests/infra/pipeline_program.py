"""Run the pipeline component under the recording mocks, with stand-ins for the serving outputs.

`infra/__main__.py` does not wire the pipeline yet (the serving component lives on another
branch), so these tests build the real StackKey, Buckets, Registry and Alerts from the dev
stack config and give the pipeline literal deploy targets.
"""

from __future__ import annotations

import json
from typing import Any

from infra.alerts import Alerts
from infra.config import load_config
from infra.encryption import StackKey
from infra.pipeline import DeployTarget, Pipeline
from infra.registry import Registry
from infra.storage import Buckets
from infra.tagging import component_options
from tests.infra.program import ACCOUNT, Program, Resource, run_under_mocks

CONTAINER_NAME = "model-server"


def deploy_target(name: str) -> DeployTarget:
    """What the serving component will expose for one environment, as literal strings."""
    return DeployTarget(
        name=name,
        cluster_name=f"ml-{name}-cluster",
        service_name=f"ml-{name}-service",
        url=f"https://{name}.ml.example.com",
        pass_role_arns=[
            f"arn:aws:iam::{ACCOUNT}:role/ml-{name}-task",
            f"arn:aws:iam::{ACCOUNT}:role/ml-{name}-execution",
        ],
    )


def build_pipeline() -> Pipeline:
    """The pipeline and what it depends on, wired as `__main__` will wire them."""
    config = load_config()
    encryption = StackKey("data", opts=component_options("encryption", config=config))
    buckets = Buckets(
        "ml",
        config=config.storage,
        key=encryption.key,
        opts=component_options("storage", config=config),
    )
    registry = Registry(
        "images",
        config=config.registry,
        key=encryption.key,
        force_delete=config.storage.force_destroy,
        opts=component_options("registry", config=config),
    )
    alerts = Alerts(
        "alerts",
        config=config.alerts,
        key=encryption.key,
        opts=component_options("alerts", config=config),
    )
    return Pipeline(
        "delivery",
        config=config.pipeline,
        model_key=config.storage.model_key,
        key=encryption.key,
        buckets=buckets,
        registry=registry,
        alerts=alerts,
        stage=deploy_target("stage"),
        prod=deploy_target("prod"),
        container_name=CONTAINER_NAME,
        opts=component_options("pipeline", config=config),
    )


def run_pipeline(overrides: dict[str, Any] | None = None) -> Program:
    """The pipeline under the dev config, changed by `overrides` (keys without the namespace)."""
    full = {key if ":" in key else f"ml-deploy:{key}": value for key, value in (overrides or {}).items()}
    return run_under_mocks(build_pipeline, overrides=full)


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
