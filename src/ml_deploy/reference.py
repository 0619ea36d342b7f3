"""Reference statistics of the training data, and the one definition of how values are binned.

The monitor bins production data with the same edges and the same helpers as training data was
binned here, so a drift statistic compares like with like.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ml_deploy.schema import FeatureSpec, encode_frame

NUMERIC_BINS = 32  # quantile bins before deduplication: 31 interior edges
PROBABILITY_EDGES: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 1.0, 21), 2).tolist())


class NumericReference(BaseModel):
    """Histogram on quantile edges (outer bins open to +-inf) plus summary moments."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["numeric"] = "numeric"
    bin_edges: list[float]
    counts: list[int]
    missing_rate: float
    count: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None


class CategoricalReference(BaseModel):
    """Share of each manifest category among non-missing values."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["categorical"] = "categorical"
    frequencies: dict[str, float]
    missing_rate: float
    count: int


class PredictionReference(BaseModel):
    """Distribution of predicted probabilities on fixed edges 0..1 (20 bins)."""

    model_config = ConfigDict(extra="forbid")

    bin_edges: list[float] = Field(default_factory=lambda: list(PROBABILITY_EDGES))
    counts: list[int]
    positive_rate: float
    count: int


FeatureReference = Annotated[NumericReference | CategoricalReference, Field(discriminator="kind")]


class Reference(BaseModel):
    """Everything the monitor compares production against, keyed by feature name."""

    model_config = ConfigDict(extra="forbid")

    features: dict[str, FeatureReference]
    prediction: PredictionReference


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
