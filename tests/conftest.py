"""Session fixtures shared by every test suite: small generated frames and one real bundle.

They build real objects once per session (a real model trained on a few thousand rows), so
suites stay fast because the data is small, not because anything is faked.
"""

from __future__ import annotations

import os
from dataclasses import replace
from itertools import zip_longest

# Before sklearn loads OpenMP: tiny fits and predictions are fastest single-threaded, and two
# spinning OpenMP threads on a busy 2-core machine turn a 0.2 s fit into 10 s.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from ml_deploy.bundle import GoldenRecords, Manifest
from ml_deploy.schema import FeatureSpec
from ml_deploy_dev import sample_bundle, sample_data
from ml_deploy_dev.program import Program
from tests.infra.shared_program import shared_program

if TYPE_CHECKING:  # sklearn costs a second to import: the build's few tests never need it
    from sklearn.ensemble import HistGradientBoostingClassifier

TARGET = sample_data.TARGET

# The end-to-end runs take minutes each, longest first. xdist (`make pytest`: --maxschedchunk 1)
# keeps two tests queued per worker and hands out the rest as workers free up, in collection order:
# each long run goes first, followed by one ordinary test, so both workers start on a long run at
# once and the rest of the suite fills in around them instead of one long run finishing alone.
END_TO_END = (
    "tests/dev/test_local_delivery.py::test_queued",
    "tests/test_demo.py::test_lifecycle",
    "tests/test_demo.py::test_bad_uploads",
    "tests/dev/test_local_delivery.py::",
)


def _end_to_end_rank(item: pytest.Item) -> int | None:
    return next((rank for rank, start in enumerate(END_TO_END) if item.nodeid.startswith(start)), None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    long_runs = sorted((i for i in items if _end_to_end_rank(i) is not None), key=_end_to_end_rank)
    rest = [item for item in items if _end_to_end_rank(item) is None]
    beside = rest[: len(long_runs)]
    interleaved = [item for pair in zip_longest(long_runs, beside) for item in pair if item is not None]
    items[:] = interleaved + rest[len(long_runs) :]


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
