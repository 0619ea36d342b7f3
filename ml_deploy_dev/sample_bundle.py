"""One recipe for a real bundle trained on the sample data, shared by the tests and the benches.

The tests' session fixtures, `bench/archive_bundle.py`, `bench/smoke_hook.py` and
`bench/service.py` all need "a model the retrain job would have trained, packed as the build packs
it"; written once here, a change of the training or the bundle format reaches all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ml_deploy.bundle import GoldenRecords, Manifest, TrainingData, write_bundle
from ml_deploy.schema import FeatureSpec
from ml_deploy_dev import sample_data

TRAINING_ROWS, TRAINING_SEED = 4_000, 7
HOLDOUT_ROWS, HOLDOUT_SEED = 2_000, 8  # fresh rows of the same world, never trained on


@dataclass(frozen=True)
class SampleModel:
    """Everything a bundle holds, before it is packed: tests take the parts, benches the zip."""

    model: Any
    features: list[FeatureSpec]
    manifest: Manifest
    golden_records: GoldenRecords

    def write(self, path: Path) -> Path:
        """The bundle zip at `path`, written as the retrain job writes it."""
        return write_bundle(
            path, model=self.model, manifest=self.manifest, golden_records=self.golden_records
        )


def training_frame(rows: int = TRAINING_ROWS) -> pd.DataFrame:
    return sample_data.generate(rows, seed=TRAINING_SEED)


def holdout_frame(rows: int = HOLDOUT_ROWS) -> pd.DataFrame:
    return sample_data.generate(rows, seed=HOLDOUT_SEED)


def train_sample_model(*, training: pd.DataFrame, holdout: pd.DataFrame, code_version: str) -> SampleModel:
    """Infer the schema, train and evaluate as the retrain job does (seed 0), with golden records."""
    # Imported here: training pulls sklearn (a second), which the callers that only read frames skip.
    from retrain_job.retrain import training as retrain

    features = retrain.infer_features(training, sample_data.TARGET)
    model = retrain.train(training, features, sample_data.TARGET, seed=0)
    manifest = retrain.build_manifest(
        model,
        features=features,
        target=sample_data.TARGET,
        holdout=holdout,
        training_data=TrainingData(
            fingerprint=retrain.fingerprint(training), rows=len(training), source="sample_data"
        ),
        code_version=code_version,
    )
    golden = retrain.golden_records(model, holdout=holdout, features=features)
    return SampleModel(model=model, features=features, manifest=manifest, golden_records=golden)


def write_sample_bundle(
    path: Path, *, code_version: str, rows: int = TRAINING_ROWS, holdout_rows: int = HOLDOUT_ROWS
) -> Path:
    """Train on `rows` sample rows and write the bundle to `path` (the benches' one call)."""
    sample = train_sample_model(
        training=training_frame(rows), holdout=holdout_frame(holdout_rows), code_version=code_version
    )
    return sample.write(path)


def request_records(frame: pd.DataFrame, n: int, *, start: int = 0) -> list[dict[str, Any]]:
    """Rows of the sample data as `/predict` records: NaN becomes null, categories become strings."""
    columns = [*sample_data.NUMERIC_FEATURES, *sample_data.CATEGORICAL_FEATURES]
    rows: Sequence[dict[str, Any]] = frame[columns].iloc[start : start + n].to_dict(orient="records")
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()} for row in rows
    ]
