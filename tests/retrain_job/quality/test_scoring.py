"""Quality metrics against scikit-learn, the bootstrap interval's coverage, and the floor rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import brier_score_loss, log_loss, precision_score, recall_score, roc_auc_score

from retrain_job.quality.scoring import Scoring, below_floor, bootstrap, metrics, roc_auc, score_version
from retrain_job.retrain.training import expected_calibration_error


def _sample(n: int, *, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Binormal scores (negatives N(0,1), positives N(d,1)) squashed to probabilities: the true
    ROC AUC is Phi(d / sqrt 2), and ranks (so AUC) are unchanged by the squash."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int8)
    scores = rng.normal(0.0, 1.0, n) + separation * y
    return y, 1.0 / (1.0 + np.exp(-(scores - 1.0)))


def test_metrics_equal_scikit_learns_on_the_same_rows() -> None:
    y, p = _sample(5000, separation=1.0, seed=1)
    p = np.round(p, 2)  # ties: the rank statistic must count them half, as scikit-learn does
    # Log loss at 0 and 1: "probabilities are clipped to max(eps, min(1 - eps, p))", eps the dtype's
    # (https://scikit-learn.org/stable/modules/generated/sklearn.metrics.log_loss.html).
    p[:3] = [0.0, 1.0, 1.0]
    ours = metrics(y, p, threshold=0.5)
    predicted = (p >= 0.5).astype(int)
    expected = {
        "roc_auc": roc_auc_score(y, p),
        "log_loss": log_loss(y, p, labels=[0, 1]),
        "brier": brier_score_loss(y, p),
        "calibration_error": expected_calibration_error(y, p),  # training's holdout definition
        "precision": precision_score(y, predicted, zero_division=0),
        "recall": recall_score(y, predicted, zero_division=0),
    }
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_auc_is_undefined_with_one_class() -> None:
    assert np.isnan(roc_auc(np.ones(10, dtype=np.int8), np.linspace(0, 1, 10)))


def test_the_interval_covers_the_true_auc_at_its_stated_rate() -> None:
    """200 seeded samples of 400 rows; the 95% percentile bootstrap (200 resamples) must cover the
    true AUC in 95% of them, within +-4 points (binomial sd ~1.5 points at 200 reps; the percentile
    bootstrap is known to under-cover slightly at this size)."""
    separation = 1.2
    true_auc = float(norm.cdf(separation / np.sqrt(2)))
    covered = 0
    reps = 200
    for rep in range(reps):
        y, p = _sample(400, separation=separation, seed=1000 + rep)
        low, high = bootstrap(y, p, samples=200, seed=rep)["roc_auc"]
        assert low is not None and high is not None
        covered += low <= true_auc <= high
    assert 0.91 <= covered / reps <= 0.99, f"coverage {covered / reps:.3f} of a 95% interval"


def test_the_bootstrap_is_reproducible_by_seed() -> None:
    y, p = _sample(500, separation=1.0, seed=3)
    assert bootstrap(y, p, samples=60, seed=7) == bootstrap(y, p, samples=60, seed=7)
    assert bootstrap(y, p, samples=60, seed=7) != bootstrap(y, p, samples=60, seed=8)


def _scored(y: np.ndarray, p: np.ndarray, *, floors: dict[str, float], min_outcomes: int = 50) -> object:
    return score_version(
        model_version="v1", y=y, p=p, predictions=2 * y.size, predicted_positive=int((p >= 0.5).sum()),
        holdout={"roc_auc": 0.9, "rows": 100.0},
        scoring=Scoring(floors=floors, min_outcomes=min_outcomes, samples=100, seed=0),
    )  # fmt: skip


def test_the_alert_fires_when_and_only_when_the_low_bound_crosses_the_floor() -> None:
    y, p = _sample(1000, separation=1.0, seed=4)
    low = bootstrap(y, p, samples=100, seed=0)["roc_auc"][0]
    assert low is not None
    above = score_version(
        model_version="v1",
        y=y,
        p=p,
        predictions=1000,
        predicted_positive=0,
        holdout={},
        scoring=Scoring(floors={"roc_auc": low - 1e-9}, min_outcomes=50, samples=100, seed=0),
    )
    below = score_version(
        model_version="v1",
        y=y,
        p=p,
        predictions=1000,
        predicted_positive=0,
        holdout={},
        scoring=Scoring(floors={"roc_auc": low + 1e-9}, min_outcomes=50, samples=100, seed=0),
    )
    assert above.status == "ok" and below_floor(above.metrics) == []
    assert below.status == "below_floor" and below_floor(below.metrics) == ["roc_auc"]
    assert below.metrics["roc_auc"].value is not None and below.metrics["roc_auc"].value > low, (
        "the point value is above the floor: the bound, not the value, decides"
    )


def test_a_version_is_compared_with_its_holdout_and_floors_apply_only_upward_metrics() -> None:
    y, p = _sample(1000, separation=1.0, seed=5)
    version = _scored(y, p, floors={"roc_auc": 0.5, "log_loss": 0.1})
    assert version.metrics["roc_auc"].holdout == 0.9  # type: ignore[attr-defined]
    assert version.metrics["log_loss"].floor is None, "a loss has no floor: lower is better"  # type: ignore[attr-defined]
    assert version.coverage == 0.5 and version.positive_rate_observed == pytest.approx(y.mean())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("rows", "labels"), [(40, "both"), (200, "positive"), (0, "none")], ids=["too-few", "one-class", "empty"]
)
def test_too_few_outcomes_or_one_class_is_insufficient_and_never_below_floor(rows: int, labels: str) -> None:
    y, p = _sample(rows, separation=1.0, seed=6)
    if labels == "positive":
        y = np.ones(rows, dtype=np.int8)
    version = _scored(y, p, floors={"roc_auc": 0.99})
    assert version.status == "insufficient"  # type: ignore[attr-defined]
    assert version.metrics["roc_auc"].low is None  # type: ignore[attr-defined]


def test_the_bootstrap_equals_resampling_the_rows_and_asking_scikit_learn() -> None:
    """The interval weighs rows by their multiplicity; resampling the rows themselves (same draws)
    and scoring each with scikit-learn must give the same percentiles."""
    y, p = _sample(300, separation=1.0, seed=8)
    p = np.round(p, 2)
    rng = np.random.default_rng(11)
    aucs, losses = [], []
    for _ in range(80):
        pick = rng.integers(0, y.size, y.size)
        aucs.append(roc_auc_score(y[pick], p[pick]))
        losses.append(log_loss(y[pick], p[pick], labels=[0, 1]))
    intervals = bootstrap(y, p, samples=80, seed=11)
    assert intervals["roc_auc"] == pytest.approx(tuple(np.percentile(aucs, [2.5, 97.5])), rel=1e-9)
    assert intervals["log_loss"] == pytest.approx(tuple(np.percentile(losses, [2.5, 97.5])), rel=1e-9)
