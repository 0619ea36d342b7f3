"""The promotion gate and the decision record kept for every run, whatever it decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ml_deploy.bundle import Manifest
from ml_deploy.settings import RetrainSettings
from retrain_job.retrain.champion import Champion


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)


def gate(
    manifest: Manifest, champion_metrics: dict[str, float] | None, *, settings: RetrainSettings
) -> GateResult:
    """Pass iff the challenger clears the floor and is within tolerance of the champion."""
    metric = manifest.primary_metric
    challenger = manifest.metrics[metric]
    result = GateResult(passed=True)
    if not challenger >= settings.gate_floor:
        result.passed = False
        result.reasons.append(
            f"challenger {metric} {challenger:.4f} is below "
            f"{settings.variable('gate_floor')} {settings.gate_floor:.4f}"
        )
    if champion_metrics is not None:
        champion = champion_metrics[metric]
        if not challenger >= champion - settings.gate_tolerance:
            result.passed = False
            result.reasons.append(
                f"challenger {metric} {challenger:.4f} is worse than champion {champion:.4f} "
                f"by more than {settings.variable('gate_tolerance')} {settings.gate_tolerance:.4f}"
            )
    if result.passed:
        result.reasons.append(f"challenger {metric} {challenger:.4f} passed the gate")
    return result


def decision_record(
    *,
    settings: RetrainSettings,
    manifest: Manifest,
    champion: Champion | None,
    champion_metrics: dict[str, float] | None,
    result: GateResult,
) -> dict[str, Any]:
    """The JSON kept for every decision: what was compared, on what, and why."""
    return {
        "decision": "promoted" if result.passed else "rejected",
        "reasons": result.reasons,
        "decided_at": datetime.now(UTC).isoformat(),
        "code_version": settings.code_version,
        "primary_metric": manifest.primary_metric,
        "gate": {"tolerance": settings.gate_tolerance, "floor": settings.gate_floor},
        "training_data": manifest.training_data.model_dump(),
        "challenger_version": manifest.bundle_version,
        "challenger_metrics": manifest.metrics,
        "champion_version": champion.manifest.bundle_version if champion else None,
        "champion_object_version": champion.stored.version_id if champion else None,
        "champion_metrics": champion_metrics,
        "model_key": settings.model_key,
    }


def unchanged_record(*, settings: RetrainSettings, champion: Champion) -> dict[str, Any]:
    """The record of a run on exactly the champion's training data: nothing was trained."""
    return {
        "decision": "unchanged",
        "reasons": ["training data fingerprint equals the champion's; nothing to retrain"],
        "decided_at": datetime.now(UTC).isoformat(),
        "code_version": settings.code_version,
        "champion_version": champion.manifest.bundle_version,
        "champion_object_version": champion.stored.version_id,
        "training_data": champion.manifest.training_data.model_dump(),
        "model_key": settings.model_key,
    }
