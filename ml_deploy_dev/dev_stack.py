"""The dev stack as the demo sees it: Pulumi.dev.yaml read through the stack's own config object.

The environments the demo gives the jobs and the service are built by the program's own builders
(`infra/jobs/environments.py`, `infra/serving/task_environment.py`) from the same stack config;
only the endpoints differ (the local account's bucket names, its region, no alerts topic), plus
the few laptop-run settings in `LOCAL_RUN`, each with its reason. A test renders the dev program
under the mocks and holds the two equal (tests/dev/test_dev_stack.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ml_deploy.layout import ObjectLayout
from ml_deploy.settings import (
    EnvSettings,
    MonitorSettings,
    QualitySettings,
    RetrainSettings,
    ServiceSettings,
    environment,
)

if TYPE_CHECKING:  # infra imports pulumi: only when the stack is read, not when this is imported
    from infra.config import StackConfig
    from infra.jobs.environments import JobContext

ROOT = Path(__file__).resolve().parents[1]
STACK = "dev"

# What a run on a laptop sets beyond the program's environment; none is a stack key but
# retrainOnDrift and retrainOnQuality. Keys are settings fields, so a renamed runtime setting fails here too.
LOCAL_RUN: dict[type[EnvSettings], dict[str, Any]] = {
    # Which build this is: the jobs image bakes the commit in; locally there is no image.
    RetrainSettings: {"code_version": "demo"},
    MonitorSettings: {
        # No Batch to submit to locally: the demo runs the retrain job itself after the monitor.
        "retrain_on_drift": False,
        # The demo's traffic phases are a few hundred requests, not a day of prod traffic.
        "min_rows": 100,
    },
    # No Batch to submit to locally: the demo runs the retrain job itself after the quality job.
    QualitySettings: {"retrain_on_quality": False},
    ServiceSettings: {
        "host": "127.0.0.1",  # never listen beyond this machine
        "log_flush_seconds": 1,  # the demo waits for the logs before the monitor runs
        # Drifted traffic carries a payment method the model never saw: score it as missing.
        "unknown_category": "missing",
        "log_level": "warning",
    },
}


@dataclass(frozen=True)
class DevStack:
    """The names the local account gives the dev stack's buckets, and the stack's settings."""

    model_bucket: str
    training_bucket: str
    log_bucket: str
    config: StackConfig
    event_pattern: dict[str, Any]

    @property
    def layout(self) -> ObjectLayout:
        return self.config.storage.layout

    @property
    def model_key(self) -> str:
        return self.layout.model_key


def local_bucket_name(purpose: str) -> str:
    """The program's logical bucket name (`ml-models`) with the stack for Pulumi's random suffix."""
    from infra.storage import BUCKETS_NAME

    return f"{BUCKETS_NAME}-{purpose}-{STACK}"


def dev_stack(stack_file: Path = ROOT / f"Pulumi.{STACK}.yaml") -> DevStack:
    """Read Pulumi.dev.yaml through the stack's config object: the same validation as `pulumi up`."""
    from infra.config import PROJECT_NAMESPACE, parse_config
    from infra.delivery.model_trigger import model_upload_pattern

    values = yaml.safe_load(stack_file.read_text())["config"]
    prefix = f"{PROJECT_NAMESPACE}:"
    raw = {key.removeprefix(prefix): value for key, value in values.items() if key.startswith(prefix)}
    config = parse_config(raw, region=values.get("aws:region"))
    model_bucket = local_bucket_name("models")
    return DevStack(
        model_bucket=model_bucket,
        training_bucket=local_bucket_name("training-data"),
        log_bucket=local_bucket_name("prediction-logs"),
        config=config,
        event_pattern=model_upload_pattern(model_bucket, config.storage.model_key),
    )


def _local(model: type[EnvSettings]) -> dict[str, str]:
    return environment(model, **LOCAL_RUN[model])


def _job_context(stack: DevStack) -> JobContext:
    from infra.jobs.environments import JobContext

    return JobContext(
        model_bucket=stack.model_bucket,
        training_bucket=stack.training_bucket,
        log_bucket=stack.log_bucket,
        layout=stack.layout,
        config=stack.config.jobs,
    )


def retrain_environment(stack: DevStack) -> dict[str, str]:
    from infra.jobs import environments

    return {**environments.retrain_environment(_job_context(stack)), **_local(RetrainSettings)}


def monitor_environment(stack: DevStack) -> dict[str, str]:
    from infra.jobs import environments

    return {**environments.monitor_environment(_job_context(stack)), **_local(MonitorSettings)}


def quality_environment(stack: DevStack) -> dict[str, str]:
    from infra.jobs import environments

    return {**environments.quality_environment(_job_context(stack)), **_local(QualitySettings)}


def service_environment(
    stack: DevStack, *, bundle: Path, port: int, environment_name: str = "prod"
) -> dict[str, str]:
    from infra.serving.task_environment import service_environment as build

    variables = build(
        environment_name=environment_name,
        sizing=getattr(stack.config.serving, environment_name),
        layout=stack.layout,
        port=port,
        log_bucket=stack.log_bucket,
    )
    bundle_path = environment(ServiceSettings, model_bundle_path=bundle)
    return {**variables, **bundle_path, **_local(ServiceSettings)}
