"""Session fixtures shared by every test suite: small generated frames and one real bundle.

They build real objects once per session (a real model trained on a few thousand rows), so
suites stay fast because the data is small, not because anything is faked.
"""

from __future__ import annotations

import os
from dataclasses import replace

# Before sklearn loads OpenMP: tiny fits and predictions are fastest single-threaded, and two
# spinning OpenMP threads on a busy 2-core machine turn a 0.2 s fit into 10 s.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from ml_deploy.bundle import GoldenRecords, Manifest
from ml_deploy.schema import FeatureSpec
from ml_deploy_dev import sample_bundle, sample_data
from ml_deploy_dev.program import Program
from tests.infra.shared_program import shared_program

TARGET = sample_data.TARGET


@pytest.fixture(scope="session")
def dev_program() -> Program:
    """Everything `pulumi up -s dev` would register (under the mocks), rendered once per session."""
    return shared_program()


@pytest.fixture(scope="session")
def sample_frame() -> pd.DataFrame:
    """4,000 training-world rows (seed 7)."""
    return sample_bundle.training_frame()


@pytest.fixture(scope="session")
def holdout_frame() -> pd.DataFrame:
    """2,000 fresh training-world rows (seed 8), never trained on."""
    return sample_bundle.holdout_frame()


@pytest.fixture(scope="session")
def drifted_frame() -> pd.DataFrame:
    """2,000 drifted rows (seed 9): shifted numbers, an unseen payment method, new churn drivers."""
    return sample_data.generate(2_000, seed=9, drifted=True)


@pytest.fixture(scope="session")
def sample_model(sample_frame: pd.DataFrame, holdout_frame: pd.DataFrame) -> sample_bundle.SampleModel:
    """The session's model and everything its bundle holds, by the recipe the benches use too."""
    return sample_bundle.train_sample_model(training=sample_frame, holdout=holdout_frame, code_version="test")


@pytest.fixture(scope="session")
def sample_features(sample_model: sample_bundle.SampleModel) -> list[FeatureSpec]:
    return sample_model.features


@pytest.fixture(scope="session")
def trained_model(sample_model: sample_bundle.SampleModel) -> HistGradientBoostingClassifier:
    return sample_model.model


@pytest.fixture(scope="session")
def trained_manifest(sample_model: sample_bundle.SampleModel) -> Manifest:
    return sample_model.manifest


@pytest.fixture(scope="session")
def trained_golden_records(sample_model: sample_bundle.SampleModel) -> GoldenRecords:
    """The holdout rows the session's bundle carries, with the probabilities training recorded."""
    return sample_model.golden_records


@pytest.fixture(scope="session")
def trained_bundle(tmp_path_factory: pytest.TempPathFactory, sample_model: sample_bundle.SampleModel) -> Path:
    """A real, verified bundle zip with golden records; copy it before changing it, other tests share it."""
    return sample_model.write(tmp_path_factory.mktemp("bundle") / "model-bundle.zip")


@pytest.fixture
def other_bundle_same_version(tmp_path: Path, sample_model: sample_bundle.SampleModel) -> Path:
    """A sound bundle with the session bundle's version and other content (another code version)."""
    manifest = sample_model.manifest.model_copy(update={"code_version": "retrained-elsewhere"})
    return replace(sample_model, manifest=manifest).write(tmp_path / "other.zip")
