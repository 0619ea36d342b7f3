"""Start and readiness: 503 until the verified model is loaded; a bad bundle stops the start."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from ml_deploy.bundle import BundleError, encode_frame, read_bundle, verify_bundle, write_bundle
from ml_deploy.settings import ServiceSettings, SettingsError
from ml_deploy_dev import sample_data
from service.app import create_app

REPO = Path(__file__).resolve().parents[2]


def test_not_ready_until_loaded_then_ready(trained_bundle: Path, valid_record: dict[str, Any]) -> None:
    app = create_app(ServiceSettings(model_bundle_path=trained_bundle))
    before = TestClient(app)  # no lifespan yet: the state a load balancer sees while the task starts
    assert before.get("/health").status_code == 200
    assert before.get("/ready").status_code == 503
    assert before.post("/predict", json={"record": valid_record}).status_code == 503
    with TestClient(app) as loaded:
        ready = loaded.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["model_version"]
    assert TestClient(app).get("/ready").status_code == 503, "after shutdown the app must not claim ready"


def test_version_names_code_and_model(make_client: Any) -> None:
    with make_client(CODE_VERSION="abc1234", ENVIRONMENT="stage") as client:
        body = client.get("/version").json()
    assert body["code_version"] == "abc1234"
    assert body["environment"] == "stage"
    assert body["model_version"] and body["bundle_created_at"]


def test_code_version_and_log_folder_come_from_the_environment(trained_bundle: Path) -> None:
    settings = ServiceSettings.from_env(
        {"MODEL_BUNDLE_PATH": str(trained_bundle), "CODE_VERSION": "deadbeef", "ENVIRONMENT": "stage"}
    )
    assert settings.code_version == "deadbeef"
    assert settings.environment_log_prefix == "predictions/stage/", "each environment logs in its own folder"


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="UNKNOWN_CATEGORY"):
        ServiceSettings.from_env({"UNKNOWN_CATEGORY": "ignore"})
    with pytest.raises(SettingsError, match="PORT"):
        ServiceSettings.from_env({"PORT": "http"})


def _tampered(source: Path, target: Path) -> Path:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            copy.writestr(item, data + b"\0" if item.filename == "model.skops" else data)
    return target


def _mismatched(source: Path, target: Path) -> Path:
    """A sound bundle whose manifest names one feature fewer than its model was trained on."""
    bundle = read_bundle(source)
    features = bundle.manifest.features[:-1]
    reference = bundle.manifest.reference.model_copy(
        update={"features": {spec.name: bundle.manifest.reference.features[spec.name] for spec in features}}
    )
    manifest = bundle.manifest.model_copy(update={"features": features, "reference": reference})
    return write_bundle(target, model=bundle.model, manifest=manifest)


@pytest.fixture(params=["missing", "corrupt", "tampered", "mismatched"])
def bad_bundle(request: pytest.FixtureRequest, trained_bundle: Path, tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "model-bundle.zip"
    if request.param == "missing":
        return path, "not found"
    if request.param == "corrupt":
        shutil.copy(trained_bundle, path)
        path.write_bytes(path.read_bytes()[:200])
        return path, "corrupt"
    if request.param == "tampered":
        return _tampered(trained_bundle, path), "checksum mismatch"
    assert verify_bundle(_mismatched(trained_bundle, path)), (
        "the mismatch must pass every check without the model"
    )
    return path, "cannot score"


def test_bad_bundle_stops_the_app_start(bad_bundle: tuple[Path, str]) -> None:
    path, reason = bad_bundle
    with (
        pytest.raises(BundleError, match=reason),
        TestClient(create_app(ServiceSettings(model_bundle_path=path))),
    ):
        pass


def test_server_refuses_to_start_on_a_tampered_bundle(trained_bundle: Path, tmp_path: Path) -> None:
    bundle = _tampered(trained_bundle, tmp_path / "model-bundle.zip")
    env = {**os.environ, "MODEL_BUNDLE_PATH": str(bundle), "PORT": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "service"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0, "a tampered bundle must stop the server (ECS rolls the deploy back)"
    assert "refusing to start" in result.stderr and "checksum mismatch" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def _wrong_model(
    source: Path, target: Path, frame: pd.DataFrame, kind: str, *, keep_golden: bool = False
) -> Path:
    """A bundle with a valid checksum holding the wrong model for its manifest."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    bundle = read_bundle(source)
    encoded = encode_frame(frame, bundle.manifest.features)
    target_values = frame[sample_data.TARGET].to_numpy()
    model: Any
    if kind == "regressor":
        model = HistGradientBoostingRegressor(max_iter=5).fit(encoded, target_values)
    else:  # trained on 3 features while the manifest lists 9
        model = HistGradientBoostingClassifier(max_iter=5).fit(encoded[:, :3], target_values)
    golden = bundle.golden_records if keep_golden else None
    return write_bundle(target, model=model, manifest=bundle.manifest, golden_records=golden)


@pytest.mark.parametrize(("kind", "keep_golden"), [("regressor", False), ("three-features", False),
                                                  ("three-features", True)])  # fmt: skip
def test_server_refuses_a_sound_bundle_holding_the_wrong_model(
    trained_bundle: Path, tmp_path: Path, sample_frame: pd.DataFrame, kind: str, keep_golden: bool
) -> None:
    bundle = _wrong_model(
        trained_bundle, tmp_path / "model-bundle.zip", sample_frame.head(300), kind, keep_golden=keep_golden
    )
    assert verify_bundle(bundle), "the wrong model must pass every check made without the model"
    env = {**os.environ, "MODEL_BUNDLE_PATH": str(bundle), "PORT": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "service"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, f"exit {result.returncode}: {result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to start" in lines[0] and "cannot score" in lines[0], lines
    if keep_golden:  # the check scores the bundle's own holdout rows, not records made from the schema
        golden = read_bundle(trained_bundle).golden_records
        assert golden is not None
        assert f"cannot score {len(golden.records)} records" in lines[0], lines
