"""The dev stack as the demo sees it: Pulumi.dev.yaml read through the stack's own config object.

The environments the demo gives the jobs and the service are built from the runtime contract
(`ml_deploy.settings.environment`) with the stack's values, exactly as the Pulumi program builds
the Batch and ECS environments, so the demo cannot drift from what the cloud runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ml_deploy.layout import ObjectLayout
from ml_deploy.settings import MonitorSettings, RetrainSettings, ServiceSettings, environment

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DevStack:
    """The names and settings the dev stack gives the parts the demo runs."""

    model_bucket: str
    training_bucket: str
    log_bucket: str
    layout: ObjectLayout
    gate_tolerance: float
    gate_floor: float
    psi_threshold: float
    ks_threshold: float
    event_pattern: dict[str, Any]

    @property
    def model_key(self) -> str:
        return self.layout.model_key


def dev_stack(stack_file: Path = ROOT / "Pulumi.dev.yaml") -> DevStack:
    """Read Pulumi.dev.yaml through the stack's config object: the same validation as `pulumi up`."""
    from infra.config import PROJECT_NAMESPACE, parse_config
    from infra.delivery.model_trigger import model_upload_pattern

    values = yaml.safe_load(stack_file.read_text())["config"]
    prefix = f"{PROJECT_NAMESPACE}:"
    raw = {key.removeprefix(prefix): value for key, value in values.items() if key.startswith(prefix)}
    config = parse_config(raw, region=values.get("aws:region"))
    # Pulumi names the real buckets `<logical name>-<random suffix>`; locally the suffix is the stack.
    model_bucket = "ml-models-dev"
    return DevStack(
        model_bucket=model_bucket,
        training_bucket="ml-training-data-dev",
        log_bucket="ml-prediction-logs-dev",
        layout=config.storage.layout,
        gate_tolerance=config.jobs.gate_tolerance,
        gate_floor=config.jobs.gate_floor,
        psi_threshold=config.jobs.psi_threshold,
        ks_threshold=config.jobs.ks_threshold,
        event_pattern=model_upload_pattern(model_bucket, config.storage.model_key),
    )


def retrain_environment(stack: DevStack) -> dict[str, str]:
    layout = stack.layout
    return environment(
        RetrainSettings,
        model_bucket=stack.model_bucket,
        model_key=layout.model_key,
        model_archive_prefix=layout.model_archive_prefix,
        decisions_prefix=layout.decisions_prefix,
        training_data_uri=f"s3://{stack.training_bucket}/{layout.training_data_prefix}",
        gate_tolerance=stack.gate_tolerance,
        gate_floor=stack.gate_floor,
        code_version="demo",
    )


def monitor_environment(stack: DevStack) -> dict[str, str]:
    layout = stack.layout
    return environment(
        MonitorSettings,
        model_bucket=stack.model_bucket,
        model_key=layout.model_key,
        log_bucket=stack.log_bucket,
        log_prefix=layout.prediction_log_prefix,
        environment="prod",
        reports_prefix=layout.reports_prefix,
        window_hours=2,
        min_rows=100,
        psi_threshold=stack.psi_threshold,
        ks_threshold=stack.ks_threshold,
        # In the cloud the monitor would submit the retrain job to Batch; the demo runs it itself.
        retrain_on_drift=False,
    )


def service_environment(stack: DevStack, *, bundle: Path, port: int) -> dict[str, str]:
    return environment(
        ServiceSettings,
        model_bundle_path=bundle,
        host="127.0.0.1",
        port=port,
        web_concurrency=1,
        environment="prod",
        log_bucket=stack.log_bucket,
        log_prefix=stack.layout.prediction_log_prefix,
        log_flush_seconds=1,
        # Drifted traffic carries a payment method the model never saw: score it as missing.
        unknown_category="missing",
        log_level="warning",
    )
