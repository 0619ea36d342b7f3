"""The model's input contract: the feature schema and the encoding of records and frames.

A model in a bundle sees a 2-D float64 array with one column per manifest feature, in manifest
order; a categorical value is its index in the feature's category list; a missing or unknown
value is NaN. Keeping that contract here means the service, the monitor and training encode alike.
The schema's types live in `schema_types` (no numpy or pandas), for readers of a manifest alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ml_deploy.schema_types import FeatureSpec, SchemaError

__all__ = [
    "FeatureSpec",
    "SchemaError",
    "category_codes",
    "encode_frame",
    "encode_records",
    "numeric_values",
]


def encode_records(records: Sequence[Mapping[str, Any]], features: Sequence[FeatureSpec]) -> np.ndarray:
    """Encode request records without building a DataFrame: this is the service's hot path.

    Absent keys, None, and unknown categories become NaN; a numeric value that is not a number
    raises SchemaError naming the field.
    """
    plan = [(spec.name, spec.category_index if spec.type == "categorical" else None) for spec in features]
    nan = math.nan
    rows: list[list[float]] = []
    for record in records:
        row: list[float] = []
        for name, index in plan:
            value = record.get(name)
            if value is None:
                row.append(nan)
            elif index is not None:
                code = index.get(value) if isinstance(value, str) else index.get(str(value))
                row.append(nan if code is None else float(code))
            else:
                row.append(_as_float(name, value))
        rows.append(row)
    if not rows:
        return np.empty((0, len(plan)), dtype=np.float64)
    return np.array(rows, dtype=np.float64)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SchemaError(f"field {name!r}: expected a number, got {value!r}") from None
    return float(value)


def encode_frame(df: pd.DataFrame, features: Sequence[FeatureSpec]) -> np.ndarray:
    """Encode a whole frame column by column (vectorised), in manifest feature order."""
    missing = [spec.name for spec in features if spec.name not in df.columns]
    if missing:
        raise SchemaError(f"data is missing feature column(s) {missing}")
    out = np.empty((len(df), len(features)), dtype=np.float64)
    for j, spec in enumerate(features):
        column = df[spec.name]
        if spec.type == "numeric":
            out[:, j] = numeric_values(column, name=spec.name)
        else:
            out[:, j] = category_codes(column, spec.categories or []).astype(np.float64)
            out[out[:, j] < 0, j] = np.nan
    return out


def numeric_values(column: pd.Series, *, name: str) -> np.ndarray:
    """A column as float64 with NaN for missing; SchemaError naming it if it holds non-numbers."""
    if isinstance(column.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(column.dtype) or column.isna().all()
    ):
        try:
            column = pd.to_numeric(column, errors="raise")
        except (TypeError, ValueError):
            sample = column.dropna().head(3).tolist()
            raise SchemaError(
                f"column {name!r}: expected numeric values, got dtype {column.dtype} (e.g. {sample})"
            ) from None
    return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def category_codes(column: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Codes of a column's values in `categories` (int16), -1 for missing or unknown."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        # Recode the small category table, then map codes: no per-row string hashing.
        source = column.cat.categories.astype(str)
        lookup = pd.Index(list(categories)).get_indexer(source)
        codes = column.cat.codes.to_numpy()
        table = np.append(lookup, -1).astype(np.int16)  # codes == -1 index the trailing -1
        return np.asarray(table[codes], dtype=np.int16)
    values = column.astype("string") if not pd.api.types.is_string_dtype(column.dtype) else column
    codes = pd.Categorical(values, categories=list(categories)).codes
    return np.asarray(codes, dtype=np.int16)
