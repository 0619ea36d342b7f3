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
# scikit-learn's log_loss clips "to max(eps, min(1 - eps, p))" with eps "np.finfo(y_pred.dtype).eps"
# (https://scikit-learn.org/stable/modules/generated/sklearn.metrics.log_loss.html): so do we.
_EPS = float(np.finfo(np.float64).eps)


def metrics(y: np.ndarray, p: np.ndarray, *, threshold: float = DECISION_THRESHOLD) -> dict[str, float]:
    """Every report metric of labels `y` (0/1) and probabilities `p`; ROC AUC is NaN with one class."""
    return _Rows.of(y, p, threshold=threshold).weighted(np.ones(y.size))


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """The Mann-Whitney statistic with tied scores counted half."""
    return metrics(y, p)["roc_auc"]


def bootstrap(
    y: np.ndarray, p: np.ndarray, *, samples: int, seed: int, threshold: float = DECISION_THRESHOLD
) -> dict[str, tuple[float | None, float | None]]:
    """The percentile interval of every metric over `samples` seeded resamples of the rows.

    A resample is the rows' multiplicities (a bincount of `n` draws with replacement), so each
    costs a few weighted sums over the rows already sorted once, not a sort of its own.
    """
    rng = np.random.default_rng(seed)
    rows = _Rows.of(y, p, threshold=threshold)
    draws: dict[str, list[float]] = {name: [] for name in METRIC_NAMES}
    for _ in range(samples):
        weights = np.bincount(rng.integers(0, y.size, y.size), minlength=y.size).astype(np.float64)
        for name, value in rows.weighted(weights).items():
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
class _Rows:
    """Per-row terms of every metric, computed once; a metric is then a weighted sum of them."""

    positive: np.ndarray  # y as float
    score_group: np.ndarray  # index of the row's probability among the distinct ones, ascending
    groups: int
    log_loss: np.ndarray
    squared_error: np.ndarray
    probability: np.ndarray
    calibration_bin: np.ndarray  # equal-width bin of CALIBRATION_BINS
    flagged: np.ndarray  # predicted positive at the threshold, as float

    @classmethod
    def of(cls, y: np.ndarray, p: np.ndarray, *, threshold: float) -> _Rows:
        positive = np.asarray(y, dtype=np.float64)
        p = np.asarray(p, dtype=np.float64)
        distinct, group = np.unique(p, return_inverse=True)
        clipped = np.clip(p, _EPS, 1 - _EPS)  # as scikit-learn's log_loss
        return cls(
            positive=positive,
            score_group=group,
            groups=distinct.size,
            log_loss=-np.where(positive == 1, np.log(clipped), np.log1p(-clipped)),
            squared_error=(p - positive) ** 2,
            probability=p,
            calibration_bin=np.minimum((p * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1),
            flagged=(p >= threshold).astype(np.float64),
        )

    def weighted(self, w: np.ndarray) -> dict[str, float]:
        total = float(w.sum())
        if total == 0:
            nan = float("nan")
            return {name: nan for name in METRIC_NAMES} | {"calibration_error": 0.0}
        positives = float(w @ self.positive)
        flagged = float(w @ self.flagged)
        true_positive = float(w @ (self.flagged * self.positive))
        return {
            "roc_auc": self._auc(w, positives=positives, negatives=total - positives),
            "log_loss": float(w @ self.log_loss) / total,
            "brier": float(w @ self.squared_error) / total,
            "calibration_error": self._calibration(w, total),
            "precision": true_positive / flagged if flagged else 0.0,
            "recall": true_positive / positives if positives else 0.0,
        }

    def _auc(self, w: np.ndarray, *, positives: float, negatives: float) -> float:
        """Each positive beats the negatives of lower score, and ties half of those of equal score."""
        if positives == 0 or negatives == 0:
            return float("nan")
        pos = np.bincount(self.score_group, weights=w * self.positive, minlength=self.groups)
        neg = np.bincount(self.score_group, weights=w * (1 - self.positive), minlength=self.groups)
        below = np.cumsum(neg) - neg
        return float(pos @ (below + 0.5 * neg)) / (positives * negatives)

    def _calibration(self, w: np.ndarray, total: float) -> float:
        """ECE: weighted mean |observed rate - mean probability| over equal-width probability bins."""
        bins = CALIBRATION_BINS
        predicted = np.bincount(self.calibration_bin, weights=w * self.probability, minlength=bins)
        observed = np.bincount(self.calibration_bin, weights=w * self.positive, minlength=bins)
        return float(np.abs(observed - predicted).sum() / total)


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
