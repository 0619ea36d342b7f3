"""Training, evaluation and data fingerprinting: the retrain job's step, also used by benches and
test fixtures (the shipped library `ml_deploy` holds only the contract a bundle must meet).

The model is a plain `HistGradientBoostingClassifier` on the encoded float array (see
`ml_deploy.schema`): native categoricals and NaN, linear in rows, and few types for skops to trust.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import (
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from threadpoolctl import threadpool_limits

from ml_deploy.bundle import GoldenRecord, GoldenRecords, Manifest, TrainingData, new_bundle_version
from ml_deploy.bundle.golden import Value, record_problem
from ml_deploy.reference import build_reference
from ml_deploy.schema import FeatureSpec, SchemaError, encode_frame

MAX_CATEGORIES = 250  # HistGradientBoosting bins categories into at most 255 codes
SMALL_DATA_ROWS = 50_000  # train single-threaded below this
RANGE_MARGIN = 0.25  # numeric bounds are widened by this share of the observed range
# Holdout rows a bundle carries for the deployment smoke test: enough for a p99 of single-record
# requests and a spread of probabilities, few enough to replay in seconds.
GOLDEN_RECORD_COUNT = 256
DEFAULT_PARAMS: Mapping[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 200,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
}


def infer_features(
    df: pd.DataFrame, target: str, *, exclude: Iterable[str] = ("event_timestamp",)
) -> list[FeatureSpec]:
    """The feature schema of a training frame: every column but the target, excluded and dates."""
    skipped = {target, *exclude}
    features: list[FeatureSpec] = []
    for name in df.columns:
        column = df[name]
        if name in skipped or pd.api.types.is_datetime64_any_dtype(column.dtype):
            continue
        nullable = bool(column.isna().any())
        is_category = isinstance(column.dtype, pd.CategoricalDtype)
        if pd.api.types.is_numeric_dtype(column.dtype) and not is_category:
            features.append(_numeric_spec(str(name), column, nullable=nullable))
        else:
            features.append(_categorical_spec(str(name), column, nullable=nullable))
    if not features:
        raise SchemaError(f"no feature columns besides target {target!r} in {list(df.columns)}")
    return features


def _numeric_spec(name: str, column: pd.Series, *, nullable: bool) -> FeatureSpec:
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(values).all():
        return FeatureSpec(name=name, type="numeric", nullable=True)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    margin = RANGE_MARGIN * (high - low) or max(abs(high), 1.0)
    # Data that never went negative (counts, money, ages) stays non-negative in the schema.
    lower = 0.0 if low >= 0.0 and low - margin < 0.0 else low - margin
    return FeatureSpec(name=name, type="numeric", nullable=nullable, min=lower, max=high + margin)


def _categorical_spec(name: str, column: pd.Series, *, nullable: bool) -> FeatureSpec:
    if isinstance(column.dtype, pd.CategoricalDtype):
        counts = column.value_counts(sort=False)
        observed = [str(category) for category, n in counts.items() if n > 0]
    else:
        observed = [str(value) for value in column.dropna().unique()]
    categories = sorted(set(observed))
    if not categories:
        raise SchemaError(f"column {name!r} has no values, so no categories can be inferred")
    if len(categories) > MAX_CATEGORIES:
        raise SchemaError(
            f"column {name!r} has {len(categories)} distinct values; at most {MAX_CATEGORIES} "
            "categories are supported (is it an id or a numeric column read as text?)"
        )
    return FeatureSpec(name=name, type="categorical", nullable=nullable, categories=categories)


def labels(df: pd.DataFrame, target: str) -> np.ndarray:
    """The binary target as int8; SchemaError naming the column if it is not 0/1."""
    if target not in df.columns:
        raise SchemaError(f"data has no target column {target!r}")
    column = df[target]
    if column.isna().any():
        raise SchemaError(f"target column {target!r} has {int(column.isna().sum())} missing values")
    values = pd.to_numeric(column, errors="coerce") if column.dtype == object else column
    unique = set(pd.unique(np.asarray(values)).tolist())
    if not unique <= {0, 1}:
        raise SchemaError(f"target column {target!r} must be binary 0/1, found {sorted(unique)[:5]}")
    return np.asarray(values, dtype=np.int8)


def train(
    df: pd.DataFrame,
    features: Sequence[FeatureSpec],
    target: str,
    *,
    seed: int,
    params: Mapping[str, Any] | None = None,
) -> HistGradientBoostingClassifier:
    """Fit a gradient-boosted classifier on the encoded features of `df`."""
    X = encode_frame(df, features)
    y = labels(df, target)
    # Categoricals arrive as their manifest codes and are split on as ordered codes, not through
    # HistGradientBoosting's native categorical path: that path wraps every predict in an internal
    # ColumnTransformer costing ~2 ms a call, four times the trees themselves, for a holdout ROC AUC
    # 0.001 better on the sample data (bench/service.py; the service predicts per request).
    # With a few dozen categories at most, two splits isolate any one of them.
    model = HistGradientBoostingClassifier(
        categorical_features=None,
        random_state=seed,
        **{**DEFAULT_PARAMS, **(params or {})},
    )
    # Below ~50k rows, OpenMP threads cost more in synchronisation than they save, and on a
    # busy machine their spin-waiting makes a one-second fit take tens of seconds.
    with threadpool_limits(limits=1 if len(X) < SMALL_DATA_ROWS else None, user_api="openmp"):
        return model.fit(X, y)


def evaluate(model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Holdout metrics; `roc_auc` is the primary metric the retrain gate compares."""
    y = np.asarray(y)
    probabilities = model.predict_proba(X)[:, 1]
    predicted = (probabilities >= 0.5).astype(np.int8)
    both_classes = np.unique(y).size == 2
    return {
        "roc_auc": float(roc_auc_score(y, probabilities)) if both_classes else float("nan"),
        "log_loss": float(log_loss(y, probabilities, labels=[0, 1])),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "brier": float(brier_score_loss(y, probabilities)),
        "calibration_error": expected_calibration_error(y, probabilities),
        "positive_rate": float(y.mean()) if y.size else 0.0,
        "rows": float(y.size),
    }


def expected_calibration_error(y: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> float:
    """Row-weighted mean |observed rate - mean probability| over equal-width probability bins."""
    if y.size == 0:
        return 0.0
    index = np.minimum((probabilities * bins).astype(np.int64), bins - 1)
    predicted = np.bincount(index, weights=probabilities, minlength=bins)
    observed = np.bincount(index, weights=y.astype(np.float64), minlength=bins)
    return float(np.abs(observed - predicted).sum() / y.size)


def fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 over a canonical form of the data: columns sorted, numbers as float64 bytes.

    Cheap at millions of rows (hashes column buffers, no row loop); sensitive to row order,
    which is stable for a given set of input files because they are read in sorted key order.
    """
    digest = hashlib.sha256()
    for name in sorted(str(column) for column in df.columns):
        column = df[name]
        digest.update(f"{name}\0".encode())
        if pd.api.types.is_numeric_dtype(column.dtype) and not isinstance(column.dtype, pd.CategoricalDtype):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        elif pd.api.types.is_datetime64_any_dtype(column.dtype):
            instants = pd.to_datetime(column, utc=True).astype("datetime64[ns, UTC]")
            values = instants.astype("int64").to_numpy()
        else:
            # pandas hashes equal strings equally whether the column is categorical or text.
            values = pd.util.hash_pandas_object(column, index=False).to_numpy()
        digest.update(np.ascontiguousarray(values).data)
    return digest.hexdigest()


def build_manifest(
    model: Any,
    *,
    features: Sequence[FeatureSpec],
    target: str,
    holdout: pd.DataFrame,
    training_data: TrainingData,
    code_version: str,
    now: datetime | None = None,
) -> Manifest:
    """Describe a fitted model: holdout metrics and reference statistics on the same holdout.

    The holdout is a random sample of the training distribution the model has not seen, so its
    feature statistics stand for the training data and its predictions for unseen data.
    """
    X = encode_frame(holdout, features)
    y = labels(holdout, target)
    probabilities = model.predict_proba(X)[:, 1]
    created_at = (now or datetime.now(UTC)).astimezone(UTC)
    return Manifest(
        bundle_version=new_bundle_version(created_at),
        created_at=created_at,
        target=target,
        features=list(features),
        metrics=evaluate(model, X, y),
        training_data=training_data,
        code_version=code_version,
        reference=build_reference(X, probabilities, features),
    )


def golden_records(
    model: Any,
    *,
    holdout: pd.DataFrame,
    features: Sequence[FeatureSpec],
    count: int = GOLDEN_RECORD_COUNT,
    seed: int = 0,
) -> GoldenRecords:
    """A random sample of holdout rows the service accepts, with the probability the model gives each.

    The probabilities come from the training path (`encode_frame` on a frame); the service and the
    deployment smoke test score the same rows through the request path, so any skew shows.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    chosen: list[int] = []
    records: list[dict[str, Value]] = []
    order = np.random.default_rng(seed).permutation(len(holdout))
    # Rows are converted a chunk at a time, so a holdout of millions costs a few hundred rows.
    for start in range(0, len(order), 4 * count):
        positions = order[start : start + 4 * count]
        rows = holdout.iloc[positions].to_dict(orient="records")
        for position, row in zip(positions.tolist(), rows, strict=True):
            record = _request_record(row, features)
            if len(chosen) < count and record_problem(record, features) is None:
                chosen.append(position)
                records.append(record)
        if len(chosen) == count:
            break
    if not chosen:
        raise SchemaError(f"none of the {len(holdout)} holdout rows fits the schema, so no golden records")
    probabilities = model.predict_proba(encode_frame(holdout.iloc[chosen], features))[:, -1]
    return GoldenRecords(
        records=[
            GoldenRecord(record=record, probability=float(probability))
            for record, probability in zip(records, probabilities, strict=True)
        ]
    )


def _request_record(row: Mapping[str, Any], features: Sequence[FeatureSpec]) -> dict[str, Value]:
    """One frame row as a JSON request record: NaN and missing as null, categories as text."""
    record: dict[str, Value] = {}
    for spec in features:
        value = row.get(spec.name)
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            record[spec.name] = None
        elif spec.type == "numeric":
            record[spec.name] = float(value)
        else:
            record[spec.name] = str(value)
    return record
