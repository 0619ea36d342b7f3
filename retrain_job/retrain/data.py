"""Loading training data (S3 prefix or local path; CSV or Parquet) and checking it first."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_deploy.schema import FeatureSpec, SchemaError, category_codes, numeric_values
from ml_deploy.settings import RetrainSettings
from retrain_job.common import JobInputError
from retrain_job.retrain.training import labels

DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_DATA_URI = RetrainSettings.variable("training_data_uri")


class RetrainInputError(JobInputError):
    """Bad input to the retrain job (data, champion bundle); printed without a traceback, exit 2."""


@dataclass(frozen=True)
class DataLimits:
    """Bounds a training set must meet before anything is trained."""

    min_rows: int
    max_label_imbalance: float  # largest allowed share of the majority class

    @classmethod
    def of(cls, settings: RetrainSettings) -> DataLimits:
        return cls(min_rows=settings.min_rows, max_label_imbalance=settings.max_label_imbalance)


def load_training_data(uri: str, *, s3: Any) -> pd.DataFrame:
    """All data files under `uri` (s3://bucket/prefix or a local file/dir), read in sorted order.

    `s3` is the job's client, used only for an s3:// URI.

    Sorted order makes the frame, and so its fingerprint, the same for the same set of files.
    """
    if uri.startswith("s3://"):
        frames = [_read(name, body) for name, body in _s3_files(uri, s3=s3)]
    else:
        frames = [_read(path.name, path.read_bytes()) for path in _local_files(Path(uri))]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    text_columns = frame.select_dtypes(include=["object", "string"]).columns
    # Categoricals keep 5M rows of text lean and make encoding a code lookup.
    return frame.astype(dict.fromkeys(text_columns, "category"))


def _local_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise RetrainInputError(f"{_DATA_URI} {path}: no such file or directory")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(DATA_SUFFIXES))
    if not files:
        raise RetrainInputError(f"{_DATA_URI} {path}: no {'/'.join(DATA_SUFFIXES)} files in the directory")
    return files


def _s3_files(uri: str, *, s3: Any) -> list[tuple[str, bytes]]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise RetrainInputError(f"{_DATA_URI} {uri!r}: expected s3://bucket/prefix/")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    data_keys = sorted(key for key in keys if key.endswith(DATA_SUFFIXES))
    if not data_keys:
        raise RetrainInputError(f"{_DATA_URI} {uri}: no {'/'.join(DATA_SUFFIXES)} objects under the prefix")
    return [(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in data_keys]


def _read(name: str, body: bytes) -> pd.DataFrame:
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(io.BytesIO(body))
        compression = "gzip" if name.endswith(".gz") else None
        return pd.read_csv(io.BytesIO(body), compression=compression, engine="pyarrow")
    except (ValueError, OSError) as error:
        raise RetrainInputError(f"training data file {name} could not be read: {error}") from None


def validate_training_data(
    df: pd.DataFrame,
    *,
    features: Sequence[FeatureSpec] | None,
    target: str,
    limits: DataLimits,
) -> None:
    """Refuse data that does not fit the champion's schema or is too small or too one-sided."""
    if features is not None:
        missing = [spec.name for spec in features if spec.name not in df.columns]
        if missing:
            raise RetrainInputError(
                f"training data lacks column(s) {missing} that the champion model uses "
                f"(columns present: {list(df.columns)})"
            )
        for spec in features:
            _check_type(df[spec.name], spec)
    try:
        y = labels(df, target)
    except SchemaError as error:
        raise RetrainInputError(f"training data: {error}") from None
    if len(df) < limits.min_rows:
        raise RetrainInputError(
            f"training data has {len(df)} rows, {RetrainSettings.variable('min_rows')} requires "
            f"at least {limits.min_rows}"
        )
    majority = max(float(y.mean()), 1.0 - float(y.mean()))
    if majority > limits.max_label_imbalance:
        raise RetrainInputError(
            f"target column {target!r}: majority class is {majority:.1%} of rows, above "
            f"{RetrainSettings.variable('max_label_imbalance')} {limits.max_label_imbalance:.1%}"
        )


def _check_type(column: pd.Series, spec: FeatureSpec) -> None:
    if spec.type == "numeric":
        try:
            numeric_values(column, name=spec.name)
        except SchemaError as error:
            raise RetrainInputError(f"training data: {error} as the champion does") from None
        return
    codes = category_codes(column, spec.categories or [])
    present = column.notna().to_numpy()
    if present.any() and not np.any(codes[present] >= 0):
        examples = column.dropna().head(3).tolist()
        raise RetrainInputError(
            f"training data column {spec.name!r}: expected categorical values like "
            f"{(spec.categories or [])[:5]}, got none of them (e.g. {examples})"
        )
