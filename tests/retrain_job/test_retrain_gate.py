from __future__ import annotations

import pytest

from ml_deploy.bundle import Manifest
from ml_deploy.settings import RetrainSettings, SettingsError
from retrain_job.retrain.gate import gate

SETTINGS = RetrainSettings.from_args(
    [],
    {"MODEL_BUCKET": "b", "TRAINING_DATA_URI": "/d", "GATE_TOLERANCE": "0.01", "GATE_FLOOR": "0.7"},
)


def _with_auc(manifest: Manifest, auc: float) -> Manifest:
    return manifest.model_copy(update={"metrics": {**manifest.metrics, "roc_auc": auc}})


@pytest.mark.parametrize(
    ("challenger", "champion", "passed"),
    [
        (0.80, 0.80, True),
        (0.795, 0.80, True),
        (0.78, 0.80, False),
        (0.69, None, False),
        (0.71, None, True),
    ],
)
def test_gate_compares_with_tolerance_and_floor(
    trained_manifest: Manifest, challenger: float, champion: float | None, passed: bool
) -> None:
    result = gate(
        _with_auc(trained_manifest, challenger),
        None if champion is None else {"roc_auc": champion},
        settings=SETTINGS,
    )
    assert result.passed is passed, result.reasons


def test_flags_override_environment() -> None:
    env = {"MODEL_BUCKET": "from-env", "TRAINING_DATA_URI": "/d", "GATE_FLOOR": "0.6"}
    settings = RetrainSettings.from_args(["--model-bucket", "from-flag"], env)
    assert settings.model_bucket == "from-flag" and settings.gate_floor == 0.6
    assert settings.metrics_namespace == "MlDeploy" and settings.gate_tolerance == 0.01


def test_bad_number_names_the_variable() -> None:
    with pytest.raises(
        SettingsError, match="GATE_FLOOR / --gate-floor = 'high': Input should be a valid number"
    ):
        RetrainSettings.from_args([], {"MODEL_BUCKET": "b", "TRAINING_DATA_URI": "/d", "GATE_FLOOR": "high"})


def test_gate_reasons_name_the_setting(trained_manifest: Manifest) -> None:
    result = gate(_with_auc(trained_manifest, 0.5), {"roc_auc": 0.8}, settings=SETTINGS)
    assert any("GATE_FLOOR" in reason for reason in result.reasons), result.reasons
    assert any("GATE_TOLERANCE" in reason for reason in result.reasons), result.reasons
