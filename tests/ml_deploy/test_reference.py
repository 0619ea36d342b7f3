from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ml_deploy.reference import (
    PROBABILITY_EDGES,
    bin_numeric,
    bin_probabilities,
    build_reference,
    count_categories,
    quantile_edges,
)
from ml_deploy.schema import FeatureSpec


def test_bin_numeric_uses_open_outer_bins_and_excludes_nan() -> None:
    counts = bin_numeric(np.array([-100.0, 0.0, 0.5, 1.0, 100.0, np.nan]), [0.0, 1.0])
    assert counts.tolist() == [1, 2, 2], "bins: (-inf,0), [0,1), [1,inf); NaN not counted"


def test_quantile_edges_are_unique_and_sorted_for_discrete_data() -> None:
    edges = quantile_edges(np.array([0, 0, 0, 1, 1, 2, 3, np.nan] * 100, dtype=float))
    assert edges.tolist() == sorted(set(edges.tolist())) and 1 <= edges.size <= 4


def test_count_categories_drops_nan_negative_and_out_of_range() -> None:
    counts = count_categories(np.array([0.0, 1.0, 1.0, np.nan, -1.0, 7.0]), 3)
    assert counts.tolist() == [1, 2, 0]


def test_probabilities_use_twenty_fixed_bins() -> None:
    counts = bin_probabilities(np.array([0.0, 0.049, 0.05, 0.5, 1.0]))
    assert len(PROBABILITY_EDGES) == 21 and counts.size == 20
    assert counts[0] == 2 and counts[1] == 1 and counts[10] == 1 and counts[19] == 1


def test_reference_summarises_each_feature(
    sample_frame: pd.DataFrame, sample_features: list[FeatureSpec]
) -> None:
    probabilities = np.linspace(0, 1, len(sample_frame))
    reference = build_reference(sample_frame, probabilities, sample_features)
    age = reference.features["age"]
    assert age.kind == "numeric"
    assert sum(age.counts) == round(age.count * (1 - age.missing_rate))
    assert 20 <= len(age.bin_edges) <= 50, f"age has {len(age.bin_edges)} edges"
    assert 0.03 < age.missing_rate < 0.08
    contract = reference.features["contract"]
    assert contract.kind == "categorical"
    assert abs(sum(contract.frequencies.values()) - 1.0) < 1e-3
    assert reference.prediction.count == len(sample_frame)
    assert sum(reference.prediction.counts) == len(sample_frame)
    size = len(json.dumps(reference.model_dump()))
    assert size < 20_000, f"reference JSON is {size} bytes; the service reads it at start"


def test_monitor_binning_reproduces_reference_counts(
    sample_frame: pd.DataFrame, sample_features: list[FeatureSpec]
) -> None:
    reference = build_reference(sample_frame, np.zeros(len(sample_frame)), sample_features)
    tenure = reference.features["tenure_months"]
    recount = bin_numeric(sample_frame["tenure_months"].to_numpy(), tenure.bin_edges)
    assert recount.tolist() == tenure.counts


def test_probability_edges_are_the_twenty_equal_bins_of_0_to_1_rounded_as_numpy_rounds() -> None:
    """Written without numpy (manifests are read without it); the values manifests hold are numpy's."""
    assert tuple(np.round(np.linspace(0.0, 1.0, 21), 2).tolist()) == PROBABILITY_EDGES
