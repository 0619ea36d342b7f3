"""Multivariate drift: can a classifier tell reference rows from production rows?

The manifest holds histograms, not rows, so reference rows are synthesised: each feature's bin is
drawn independently from its reference histogram. Limitation: synthetic rows carry no correlation
between features, so production rows are decorrelated the same way (each column shuffled on its
own) before the comparison; otherwise the classifier would detect correlation, not drift. The
check therefore sees combined shifts of the marginals, not a changed relation between features.
Both sides are compared as bin indices on the reference's bins (category codes for categoricals,
one extra code for unseen values), so no within-bin detail can give the synthetic rows away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_deploy.bundle import Manifest
from ml_deploy.reference import NumericReference
from retrain_job.monitor.log_parser import Columns
from retrain_job.monitor.window import UNSEEN, Binning


@dataclass
class Sample:
    """A bottom-k sample: each row has a uniform random key, the k smallest keys are kept.

    Merging bottom-k samples of blocks gives a uniform sample of the window without replacement,
    whatever the number of rows, in O(k) memory.
    """

    keys: np.ndarray
    rows: np.ndarray  # (k, features) float64: bin index or category code, NaN for missing

    @classmethod
    def empty(cls, n_features: int) -> Sample:
        return cls(keys=np.empty(0), rows=np.empty((0, n_features)))

    def merge(self, other: Sample, *, size: int) -> None:
        keys = np.concatenate([self.keys, other.keys])
        rows = np.vstack([self.rows, other.rows])
        if keys.size > size:
            keep = np.argpartition(keys, size)[:size]
            keys, rows = keys[keep], rows[keep]
        self.keys, self.rows = keys, rows


@dataclass
class ConceptDrift:
    auc: float
    threshold: float
    drifted: bool
    reference_rows: int
    production_rows: int
    top_features: list[tuple[str, float]]  # (feature, permutation importance in AUC)


def row_keys(columns: Columns) -> np.ndarray:
    """A uniform key in [0, 1) per row, a hash of the row's timestamp and probability.

    A key depends on the row alone, not on which block or hour it was read in, so the bottom-k
    sample of a window merged from hour summaries is the sample a full read of the window draws.
    """
    stamps = columns.stamps if columns.stamps.size == columns.rows else np.zeros(columns.rows, np.int64)
    mixed = stamps.astype(np.uint64) ^ np.ascontiguousarray(columns.probabilities).view(np.uint64)
    # splitmix64's finalizer (uint64 arithmetic wraps, as the mixer expects).
    mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed ^= mixed >> np.uint64(31)
    return np.asarray((mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53)


def sample_block(columns: Columns, binning: Binning, *, names: list[str], size: int) -> Sample:
    """The `size` rows of a block with the smallest keys (`row_keys`), encoded as bin indices."""
    keys = row_keys(columns)
    chosen = np.argpartition(keys, size)[:size] if columns.rows > size else np.arange(columns.rows)
    rows = np.empty((chosen.size, len(names)))
    for j, name in enumerate(names):
        if name in columns.numeric:
            values = columns.numeric[name][chosen]
            index = np.searchsorted(binning.edges[name], values, side="right").astype(np.float64)
            rows[:, j] = np.where(np.isnan(values), np.nan, index)
        else:
            indices, dictionary = columns.categorical[name]
            codes = binning.category_codes(name, indices=indices[chosen], dictionary=dictionary).astype(
                np.float64
            )
            codes[codes == UNSEEN] = len(binning.category_index[name])
            rows[:, j] = np.where(codes < 0, np.nan, codes)
    return Sample(keys=keys[chosen], rows=rows)


def synthetic_reference(manifest: Manifest, *, rows: int, seed: int) -> np.ndarray:
    """Rows drawn feature by feature from the reference histograms (no correlations)."""
    rng = np.random.default_rng(seed)
    out = np.empty((rows, len(manifest.features)))
    for j, spec in enumerate(manifest.features):
        reference = manifest.reference.features[spec.name]
        if isinstance(reference, NumericReference):
            weights = np.asarray(reference.counts, dtype=np.float64)
        else:
            weights = np.array([reference.frequencies.get(c, 0.0) for c in spec.categories or []])
        weights = weights / weights.sum() if weights.sum() else np.full(weights.size, 1.0 / weights.size)
        column = rng.choice(weights.size, size=rows, p=weights).astype(np.float64)
        column[rng.random(rows) < reference.missing_rate] = np.nan
        out[:, j] = column
    return out


def detect(
    manifest: Manifest, sample: Sample, *, threshold: float, seed: int = 0, folds: int = 3
) -> ConceptDrift:
    """Cross-validated ROC AUC of reference-vs-production, and the features that separate them."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(seed)
    production = sample.rows.copy()
    for column in production.T:  # decorrelate, like the synthetic reference (see module doc)
        rng.shuffle(column)
    reference = synthetic_reference(manifest, rows=len(production), seed=seed + 1)
    X = np.vstack([reference, production])
    y = np.concatenate([np.zeros(len(reference)), np.ones(len(production))])
    classifier = HistGradientBoostingClassifier(
        max_iter=60, learning_rate=0.1, max_leaf_nodes=15, early_stopping=False, random_state=seed
    )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(classifier, X, y, cv=splitter, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, scores))
    # Importances on a held-out half: what the classifier relies on to tell the two apart.
    order = rng.permutation(len(y))
    train, test = order[: len(y) // 2], order[len(y) // 2 :]
    classifier.fit(X[train], y[train])
    importance = permutation_importance(
        classifier, X[test], y[test], scoring="roc_auc", n_repeats=3, random_state=seed
    )
    ranked = sorted(
        zip(manifest.feature_names, importance.importances_mean.tolist(), strict=True),
        key=lambda item: -item[1],
    )
    return ConceptDrift(
        auc=auc,
        threshold=threshold,
        drifted=auc > threshold,
        reference_rows=len(reference),
        production_rows=len(production),
        top_features=[(name, round(value, 4)) for name, value in ranked[:5] if value > 0],
    )
