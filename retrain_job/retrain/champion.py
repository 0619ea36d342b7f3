"""The champion: the bundle at the trigger key, loaded, scored on the new holdout, and the schema
a challenger must keep."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ml_deploy.bundle import BundleError, Manifest, read_bundle
from ml_deploy.schema import FeatureSpec, encode_frame
from ml_deploy.settings import RetrainSettings
from retrain_job.retrain.data import RetrainInputError
from retrain_job.retrain.publishing import StoredObject, download_champion
from retrain_job.retrain.training import evaluate, infer_features, labels


@dataclass(frozen=True)
class Champion:
    """The bundle currently at the trigger key, loaded."""

    manifest: Manifest
    model: Any
    stored: StoredObject


def load_champion(s3: Any, *, settings: RetrainSettings, workdir: Path) -> Champion | None:
    """The current bundle at the trigger key, or None on the first run."""
    where = f"s3://{settings.model_bucket}/{settings.model_key}"
    path = workdir / "champion.zip"
    stored = download_champion(s3, bucket=settings.model_bucket, key=settings.model_key, target=path)
    if stored is None:
        print(f"retrain: no champion at {where}")
        return None
    try:
        bundle = read_bundle(path)
    except BundleError as error:
        raise RetrainInputError(
            f"champion bundle {where} is invalid, fix or replace it before retraining: {error}"
        ) from None
    return Champion(manifest=bundle.manifest, model=bundle.model, stored=stored)


def challenger_features(
    train_frame: pd.DataFrame, *, target: str, champion: Champion | None
) -> list[FeatureSpec]:
    """Schema inferred from the new data, restricted to the champion's features and types.

    Categories and ranges follow the data (a new category is learnt); the feature set does not
    change under the service's feet.
    """
    if champion is None:
        return infer_features(train_frame, target)
    names = champion.manifest.feature_names
    inferred = {spec.name: spec for spec in infer_features(train_frame[[*names, target]], target)}
    for spec in champion.manifest.features:
        if inferred[spec.name].type != spec.type:
            raise RetrainInputError(
                f"training data column {spec.name!r}: expected {spec.type} as in the champion, "
                f"inferred {inferred[spec.name].type}"
            )
    return [inferred[name] for name in names]


def evaluate_champion(
    champion: Champion | None, *, holdout: pd.DataFrame, target: str
) -> dict[str, float] | None:
    """The champion's metrics on the challenger's holdout, so both are scored on the same rows."""
    if champion is None:
        return None
    X = encode_frame(holdout, champion.manifest.features)
    return evaluate(champion.model, X, labels(holdout, target))
