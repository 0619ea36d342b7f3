"""Quality metrics of one model version's joined rows, each with a seeded bootstrap interval.

Intervals are percentile bootstrap 95% intervals (`INTERVAL`): the rows are resampled with
replacement `samples` times from a generator seeded by the settings' seed, and every metric is
recomputed on each resample, so the intervals of a version are reproducible run to run. A
resample with one class has no ROC AUC and is left out of that metric's percentiles.
Definitions follow training's holdout evaluation (`retrain_job.retrain.training.evaluate`), so
the live value and the holdout value in the manifest mean the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from ml_deploy.payload_log import DECISION_THRESHOLD
from ml_deploy.quality_report import (
    CALIBRATION_BINS,
    HIGHER_IS_BETTER,
    METRIC_NAMES,
    MetricValue,
    Status,
    VersionQuality,
)

INTERVAL = "bootstrap-95"
_LEVEL = 0.95
_EPS = float(np.finfo(np.float64).eps)  # log loss clips probabilities to [eps, 1 - eps], as scikit-learn


def metrics(y: np.ndarray, p: np.ndarray, *, threshold: float = DECISION_THRESHOLD) -> dict[str, float]:
    """Every report metric of labels `y` (0/1) and probabilities `p`; ROC AUC is NaN with one class."""
    return {
        "roc_auc": roc_auc(y, p),
        "log_loss": log_loss(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "calibration_error": calibration_error(y, p),
        **precision_recall(y, p, threshold=threshold),
    }


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """The Mann-Whitney statistic with tied scores counted half (average ranks)."""
    positives = int(np.count_nonzero(y))
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    clipped = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(np.where(y == 1, np.log(clipped), np.log1p(-clipped))))


def calibration_error(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """ECE: row-weighted mean |observed rate - mean probability| over equal-width probability bins."""
    if y.size == 0:
        return 0.0
    index = np.minimum((p * bins).astype(np.int64), bins - 1)
    predicted = np.bincount(index, weights=p, minlength=bins)
    observed = np.bincount(index, weights=y.astype(np.float64), minlength=bins)
    return float(np.abs(observed - predicted).sum() / y.size)


def precision_recall(y: np.ndarray, p: np.ndarray, *, threshold: float) -> dict[str, float]:
    """At the decision threshold; 0 where undefined (no predicted or no observed positive)."""
    predicted = p >= threshold
    true_positive = int(np.count_nonzero(predicted & (y == 1)))
    flagged, actual = int(np.count_nonzero(predicted)), int(np.count_nonzero(y))
    return {
        "precision": true_positive / flagged if flagged else 0.0,
        "recall": true_positive / actual if actual else 0.0,
    }


def bootstrap(
    y: np.ndarray, p: np.ndarray, *, samples: int, seed: int, threshold: float = DECISION_THRESHOLD
) -> dict[str, tuple[float | None, float | None]]:
    """The percentile interval of every metric over `samples` seeded resamples of the rows."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in METRIC_NAMES}
    for _ in range(samples):
        pick = rng.integers(0, y.size, y.size)
        for name, value in metrics(y[pick], p[pick], threshold=threshold).items():
            draws[name].append(value)
    tail = (1 - _LEVEL) / 2 * 100
    intervals: dict[str, tuple[float | None, float | None]] = {}
    for name, values in draws.items():
        finite = np.asarray(values)[np.isfinite(values)]
        if finite.size == 0:
            intervals[name] = (None, None)
        else:
            low, high = np.percentile(finite, [tail, 100 - tail])
            intervals[name] = (float(low), float(high))
    return intervals


@dataclass(frozen=True)
class Scoring:
    """How versions are scored: the floors, the minimum of outcomes, the bootstrap."""

    floors: Mapping[str, float]
    min_outcomes: int
    samples: int
    seed: int
    threshold: float = DECISION_THRESHOLD


def score_version(
    *,
    model_version: str,
    y: np.ndarray,
    p: np.ndarray,
    predictions: int,
    predicted_positive: int,
    holdout: Mapping[str, float],
    scoring: Scoring,
) -> VersionQuality:
    """One version's report entry; `insufficient` below the minimum of outcomes or with one class."""
    enough = y.size >= scoring.min_outcomes and 0 < int(np.count_nonzero(y)) < y.size
    values = metrics(y, p, threshold=scoring.threshold) if y.size else {}
    intervals = (
        bootstrap(y, p, samples=scoring.samples, seed=scoring.seed, threshold=scoring.threshold)
        if enough
        else {}
    )
    entries = {}
    for name in METRIC_NAMES:
        value = values.get(name)
        low, high = intervals.get(name, (None, None))
        reference = holdout.get(name)
        entries[name] = MetricValue(
            value=value if value is not None and np.isfinite(value) else None,
            low=low,
            high=high,
            holdout=reference if reference is not None and np.isfinite(reference) else None,
            floor=scoring.floors.get(name) if name in HIGHER_IS_BETTER else None,
        )
    return VersionQuality(
        model_version=model_version,
        predictions=predictions,
        with_outcome=int(y.size),
        coverage=y.size / predictions if predictions else 0.0,
        status=_status(entries, enough=enough),
        positive_rate_predicted=predicted_positive / predictions if predictions else 0.0,
        positive_rate_observed=float(np.mean(y)) if y.size else None,
        metrics=entries,
    )


def below_floor(entries: Mapping[str, MetricValue]) -> list[str]:
    """The metrics whose interval's low bound fell below their floor."""
    return [
        name
        for name, entry in entries.items()
        if entry.floor is not None and entry.low is not None and entry.low < entry.floor
    ]


def _status(entries: Mapping[str, MetricValue], *, enough: bool) -> Status:
    if not enough:
        return "insufficient"
    return "below_floor" if below_floor(entries) else "ok"
