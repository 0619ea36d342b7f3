"""Session fixtures shared by every test suite: small generated frames and one real bundle.

They build real objects once per session (a real model trained on a few thousand rows), so
suites stay fast because the data is small, not because anything is faked.
"""

from __future__ import annotations

import os

# Before sklearn loads OpenMP: tiny fits and predictions are fastest single-threaded, and two
# spinning OpenMP threads on a busy 2-core machine turn a 0.2 s fit into 10 s.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from ml_deploy.bundle import GoldenRecords, Manifest, TrainingData, write_bundle
from ml_deploy.schema import FeatureSpec
from ml_deploy_dev import sample_data
from retrain_job.retrain.training import build_manifest, fingerprint, golden_records, infer_features, train

TARGET = sample_data.TARGET


@pytest.fixture(scope="session")
def sample_frame() -> pd.DataFrame:
    """4,000 training-world rows (seed 7)."""
    return sample_data.generate(4_000, seed=7)


@pytest.fixture(scope="session")
def holdout_frame() -> pd.DataFrame:
    """2,000 fresh training-world rows (seed 8), never trained on."""
    return sample_data.generate(2_000, seed=8)


@pytest.fixture(scope="session")
def drifted_frame() -> pd.DataFrame:
    """2,000 drifted rows (seed 9): shifted numbers, an unseen payment method, new churn drivers."""
    return sample_data.generate(2_000, seed=9, drifted=True)


@pytest.fixture(scope="session")
def sample_features(sample_frame: pd.DataFrame) -> list[FeatureSpec]:
    return infer_features(sample_frame, TARGET)


@pytest.fixture(scope="session")
def trained_model(
    sample_frame: pd.DataFrame, sample_features: list[FeatureSpec]
) -> HistGradientBoostingClassifier:
    return train(sample_frame, sample_features, TARGET, seed=0)


@pytest.fixture(scope="session")
def trained_manifest(
    trained_model: HistGradientBoostingClassifier,
    sample_frame: pd.DataFrame,
    holdout_frame: pd.DataFrame,
    sample_features: list[FeatureSpec],
) -> Manifest:
    return build_manifest(
        trained_model,
        features=sample_features,
        target=TARGET,
        holdout=holdout_frame,
        training_data=TrainingData(
            fingerprint=fingerprint(sample_frame), rows=len(sample_frame), source="sample_data"
        ),
        code_version="test",
    )


@pytest.fixture(scope="session")
def trained_golden_records(
    trained_model: HistGradientBoostingClassifier,
    holdout_frame: pd.DataFrame,
    sample_features: list[FeatureSpec],
) -> GoldenRecords:
    """The holdout rows the session's bundle carries, with the probabilities training recorded."""
    return golden_records(trained_model, holdout=holdout_frame, features=sample_features)


@pytest.fixture(scope="session")
def trained_bundle(
    tmp_path_factory: pytest.TempPathFactory,
    trained_model: HistGradientBoostingClassifier,
    trained_manifest: Manifest,
    trained_golden_records: GoldenRecords,
) -> Path:
    """A real, verified bundle zip with golden records; copy it before changing it, other tests share it."""
    path = tmp_path_factory.mktemp("bundle") / "model-bundle.zip"
    return write_bundle(
        path, model=trained_model, manifest=trained_manifest, golden_records=trained_golden_records
    )
