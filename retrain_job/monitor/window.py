"""Histogram counts of a window of production rows, on exactly the reference's bins.

Blocks are binned with `ml_deploy.reference`'s own helpers (`bin_numeric`, `count_categories`,
`bin_probabilities`), so a production bin means what the same bin meant for the training data.
Counts from blocks add up; no row outlives its block.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ml_deploy.bundle import Manifest
from ml_deploy.reference import (
    NumericReference,
    bin_numeric,
    bin_probabilities,
    count_categories,
)
from retrain_job.monitor.log_parser import Columns
from retrain_job.monitor.text import clip

UNSEEN = -2  # code of a category value the manifest does not know
MAX_UNSEEN_NAMES = 1000  # distinct unseen values kept by name; the rest are summed under OTHER_UNSEEN
OTHER_UNSEEN = "(other unseen values)"


@dataclass
class FeatureCounts:
    """Counts of one feature: per bin (numeric) or per manifest category (categorical)."""

    counts: np.ndarray
    missing: int = 0
    unseen: Counter[str] = field(default_factory=Counter)

    @property
    def present(self) -> int:
        return int(self.counts.sum()) + sum(self.unseen.values())

    def add_unseen(self, values: Mapping[str, int]) -> None:
        """Count unseen values by (clipped) name, but never more than MAX_UNSEEN_NAMES names (an
        id-like column would otherwise grow this without bound)."""
        for value, count in values.items():
            self.unseen[clip(value)] += count
        if len(self.unseen) > MAX_UNSEEN_NAMES:
            kept = dict(self.unseen.most_common(MAX_UNSEEN_NAMES - 1))
            rest = sum(self.unseen.values()) - sum(kept.values())
            self.unseen = Counter(kept)
            self.unseen[OTHER_UNSEEN] += rest


@dataclass
class WindowCounts:
    """Everything the drift statistics need from a window, in O(features x bins) memory."""

    features: dict[str, FeatureCounts]
    probabilities: np.ndarray
    positives: int = 0
    rows: int = 0
    malformed: int = 0
    filtered: int = 0
    outside_window: int = 0  # rows in the partitions read but stamped outside [start, end)
    corrupt_objects: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls, manifest: Manifest) -> WindowCounts:
        return Binning.from_manifest(manifest).empty_counts()

    def merge(self, other: WindowCounts) -> None:
        """Add another window's counts (e.g. one block's) into this one."""
        for name, mine in self.features.items():
            theirs = other.features[name]
            mine.counts += theirs.counts
            mine.missing += theirs.missing
            mine.add_unseen(theirs.unseen)
        self.probabilities += other.probabilities
        self.positives += other.positives
        self.rows += other.rows
        self.malformed += other.malformed
        self.filtered += other.filtered
        self.outside_window += other.outside_window
        self.corrupt_objects += other.corrupt_objects


@dataclass(frozen=True)
class Binning:
    """The reference's numeric edges and category codes, prepared once for every block."""

    edges: dict[str, np.ndarray]
    category_index: dict[str, dict[str, int]]
    probability_bins: int

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> Binning:
        edges: dict[str, np.ndarray] = {}
        for name, reference in manifest.reference.features.items():
            if isinstance(reference, NumericReference):
                edges[name] = np.asarray(reference.bin_edges, dtype=np.float64)
        categories = {
            spec.name: spec.category_index for spec in manifest.features if spec.type == "categorical"
        }
        bins = len(manifest.reference.prediction.counts)
        return cls(edges=edges, category_index=categories, probability_bins=bins)

    def empty_counts(self) -> WindowCounts:
        sizes = {name: edges.size + 1 for name, edges in self.edges.items()}
        sizes |= {name: len(index) for name, index in self.category_index.items()}
        return WindowCounts(
            features={
                name: FeatureCounts(counts=np.zeros(size, dtype=np.int64)) for name, size in sizes.items()
            },
            probabilities=np.zeros(self.probability_bins, dtype=np.int64),
        )

    def category_codes(self, name: str, *, indices: np.ndarray, dictionary: list[str]) -> np.ndarray:
        """Per-row manifest codes: -1 missing, UNSEEN for a value the manifest does not know."""
        index = self.category_index[name]
        lookup = np.array([index.get(value, UNSEEN) for value in dictionary] + [-1], dtype=np.int32)
        return np.asarray(lookup[indices])  # index -1 (missing) picks the trailing -1


def count_block(columns: Columns, binning: Binning) -> WindowCounts:
    """Counts of one parsed block, to be merged into the window's.

    Missing values are what the binning helpers leave out (they skip NaN and negative codes), so
    no second pass over the rows is needed to count them.
    """
    counts = binning.empty_counts()
    for name, values in columns.numeric.items():
        if name not in binning.edges:  # read for another model version's features
            continue
        feature = counts.features[name]
        feature.counts += bin_numeric(values, binning.edges[name])
        feature.missing += values.size - int(feature.counts.sum())
    for name, (indices, dictionary) in columns.categorical.items():
        if name not in binning.category_index:
            continue
        feature = counts.features[name]
        codes = binning.category_codes(name, indices=indices, dictionary=dictionary)
        feature.counts += count_categories(codes, feature.counts.size)
        unseen = 0
        if any(binning.category_index[name].get(value) is None for value in dictionary):
            per_value = np.bincount(indices[codes == UNSEEN], minlength=len(dictionary))
            feature.add_unseen({dictionary[i]: int(n) for i, n in enumerate(per_value) if n})
            unseen = int(per_value.sum())
        feature.missing += codes.size - int(feature.counts.sum()) - unseen
    counts.probabilities += bin_probabilities(columns.probabilities)
    counts.positives += int(np.count_nonzero(columns.probabilities >= 0.5))
    counts.rows += columns.rows
    counts.malformed += columns.malformed
    counts.filtered += columns.filtered
    counts.outside_window += columns.outside_window
    return counts
