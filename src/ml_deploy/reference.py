"""Reference statistics of the training data, and the one definition of how values are binned.

The monitor bins production data with the same edges and the same helpers as training data was
binned here, so a drift statistic compares like with like. The statistics' types live in
`reference_types` (no numpy or pandas), for readers of a manifest alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ml_deploy.reference_types import (
    PROBABILITY_EDGES,
    CategoricalReference,
    FeatureReference,
    NumericReference,
    PredictionReference,
    Reference,
)
from ml_deploy.schema import FeatureSpec, encode_frame

__all__ = [
    "NUMERIC_BINS",
    "PROBABILITY_EDGES",
    "CategoricalReference",
    "FeatureReference",
    "NumericReference",
    "PredictionReference",
    "Reference",
    "bin_numeric",
    "bin_probabilities",
    "build_reference",
    "count_categories",
    "quantile_edges",
]

NUMERIC_BINS = 32  # quantile bins before deduplication: 31 interior edges


def quantile_edges(values: np.ndarray, n_bins: int = NUMERIC_BINS) -> np.ndarray:
    """Interior bin edges at quantiles of the non-missing values, deduplicated and sorted."""
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return np.empty(0, dtype=np.float64)
    quantiles = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    # Six significant digits keep the manifest small; counts are taken on the rounded edges.
    rounded = [float(f"{edge:.6g}") for edge in np.quantile(finite, quantiles)]
    return np.unique(np.array(rounded, dtype=np.float64))


def bin_numeric(values: np.ndarray, edges: np.ndarray | Sequence[float]) -> np.ndarray:
    """Counts per bin, len(edges) + 1 bins: bin i holds edges[i-1] <= v < edges[i].

    NaN is excluded; count it separately with `np.isnan(values).sum()`.
    """
    edges_array = np.asarray(edges, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    bins = np.searchsorted(edges_array, present, side="right")
    return np.bincount(bins, minlength=edges_array.size + 1).astype(np.int64)


def count_categories(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Counts per category code 0..n_categories-1; NaN, negative and out-of-range codes excluded."""
    codes = np.asarray(codes)
    if codes.dtype.kind == "f":
        codes = codes[~np.isnan(codes)]
    valid = codes[(codes >= 0) & (codes < n_categories)].astype(np.int64)
    return np.bincount(valid, minlength=n_categories).astype(np.int64)


def bin_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Counts of probabilities in the 20 fixed bins; 1.0 falls in the last bin."""
    interior = np.asarray(PROBABILITY_EDGES[1:-1])
    return bin_numeric(np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0), interior)


def build_reference(
    data: pd.DataFrame | np.ndarray,
    probabilities: np.ndarray,
    features: Sequence[FeatureSpec],
) -> Reference:
    """Reference statistics of `data` (a frame, or an array already encoded in manifest order)."""
    encoded = encode_frame(data, features) if isinstance(data, pd.DataFrame) else np.asarray(data)
    if encoded.ndim != 2 or encoded.shape[1] != len(features):
        raise ValueError(f"reference data has shape {encoded.shape}, expected (rows, {len(features)})")
    references: dict[str, NumericReference | CategoricalReference] = {}
    for j, spec in enumerate(features):
        column = encoded[:, j]
        if spec.type == "numeric":
            references[spec.name] = _numeric_reference(column)
        else:
            references[spec.name] = _categorical_reference(column, spec.categories or [])
    probabilities = np.asarray(probabilities, dtype=np.float64)
    prediction = PredictionReference(
        counts=bin_probabilities(probabilities).tolist(),
        positive_rate=float(np.mean(probabilities >= 0.5)) if probabilities.size else 0.0,
        count=int(probabilities.size),
    )
    return Reference(features=references, prediction=prediction)


def _numeric_reference(column: np.ndarray) -> NumericReference:
    present = column[~np.isnan(column)]
    edges = quantile_edges(column)
    has_values = present.size > 0
    return NumericReference(
        bin_edges=[float(edge) for edge in edges],
        counts=bin_numeric(present, edges).tolist(),
        missing_rate=_rate(column.size - present.size, column.size),
        count=int(column.size),
        mean=float(present.mean()) if has_values else None,
        std=float(present.std()) if has_values else None,
        min=float(present.min()) if has_values else None,
        max=float(present.max()) if has_values else None,
    )


def _categorical_reference(column: np.ndarray, categories: Sequence[str]) -> CategoricalReference:
    counts = count_categories(column, len(categories))
    present = int(counts.sum())
    return CategoricalReference(
        frequencies={
            category: _rate(int(n), present) for category, n in zip(categories, counts, strict=True)
        },
        missing_rate=_rate(column.size - present, column.size),
        count=int(column.size),
    )


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0
