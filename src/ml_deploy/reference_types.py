"""The reference statistics a manifest records, without numpy or pandas.

Reading a manifest needs only these types; `reference` computes them (numpy and pandas) and
re-exports them, so the monitor and training import one module.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Fixed 0..1 edges of the predicted probabilities' 20 bins (0.0, 0.05, ..., 1.0).
PROBABILITY_EDGES: tuple[float, ...] = tuple(round(step / 20, 2) for step in range(21))


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
