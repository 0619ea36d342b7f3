"""Drift statistics between the reference histograms in the manifest and a window's counts.

Everything here is O(bins): the rows were reduced to counts on the reference's own bins while
streaming. Drift is decided on effect sizes, one sensitivity across types: the KS statistic for
numeric features, the total variation distance of the category shares for categorical ones (for
two categories it equals KS), the absolute change of the missing rate for both, and PSI for both.
p-values are reported alongside, but at production row counts they are tiny for any visible
difference, so they never decide.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import special  # scipy.stats would add ~1 s of import time to every run

from ml_deploy.bundle import Manifest
from ml_deploy.reference import CategoricalReference, NumericReference, PredictionReference
from ml_deploy.settings import MonitorSettings
from retrain_job.monitor.text import clip
from retrain_job.monitor.window import FeatureCounts, WindowCounts

PSI_EPSILON = 1e-4  # share given to an empty bin so PSI stays finite
# "absent": the window has rows, but none carries this feature (a broken upstream join).
Status = Literal["drift", "absent", "moderate", "ok", "no data"]
ALERTING: tuple[Status, ...] = ("drift", "absent")


@dataclass(frozen=True)
class Thresholds:
    """Effect sizes that mark drift; PSI below `psi_moderate` is stable by convention.

    `category` is a total variation distance, `missing` an absolute change of the missing rate,
    `unseen` the share of a feature's values one unseen category must reach to alert by name.
    Defaults are the monitor's settings' own (`MonitorSettings`), written there only.
    """

    psi_drift: float = field(default_factory=lambda: _default("psi_threshold"))
    psi_moderate: float = field(default_factory=lambda: _default("psi_moderate"))
    ks: float = field(default_factory=lambda: _default("ks_threshold"))
    category: float = field(default_factory=lambda: _default("category_threshold"))
    missing: float = field(default_factory=lambda: _default("missing_threshold"))
    unseen: float = field(default_factory=lambda: _default("unseen_threshold"))
    min_rows: int = field(default_factory=lambda: int(_default("min_rows")))


def _default(setting: str) -> float:
    return float(MonitorSettings.default(setting))


@dataclass
class FeatureDrift:
    """One feature's comparison, with the shares per bin for the report's chart."""

    name: str
    kind: Literal["numeric", "categorical"]
    status: Status
    psi: float
    test: Literal["ks", "chi2"]
    statistic: float  # KS D for numeric, chi-squared for categorical
    p_value: float
    rows: int
    missing_rate_reference: float
    missing_rate_current: float
    bin_labels: list[str]
    reference_shares: list[float]
    current_shares: list[float]
    unseen: dict[str, int] = field(default_factory=dict)
    distance: float | None = None  # total variation of the category shares (categorical only)
    reasons: list[str] = field(default_factory=list)  # why the status is drift or absent, in words

    @property
    def ks(self) -> float | None:
        return self.statistic if self.test == "ks" else None

    @property
    def missing_change(self) -> float:
        return self.missing_rate_current - self.missing_rate_reference


@dataclass
class PredictionDrift:
    """The model's output distribution: PSI and binned KS on the 20 fixed probability bins."""

    psi: float
    ks: float
    p_value: float
    positive_rate_reference: float
    positive_rate_current: float
    status: Status
    reference_shares: list[float]
    current_shares: list[float]


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two count vectors on the same bins."""
    expected = _shares(reference)
    actual = _shares(current)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def binned_ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Binned two-sample KS statistic and its asymptotic p-value.

    The statistic is max |F_ref - F_cur| over the bin edges: exact at the edges, a lower bound of
    the row-level KS statistic (which could peak inside a bin). With the reference's fine quantile
    bins the gap is small. The p-value is the asymptotic Kolmogorov distribution at the effective
    sample size n*m/(n+m) with Stephens' finite-n correction: within ~2% of
    `scipy.stats.ks_2samp(method="asymp")` (which uses `kstwo`), without importing scipy.stats.
    """
    n, m = float(reference.sum()), float(current.sum())
    if n == 0 or m == 0:
        return 0.0, 1.0
    gap = np.abs(np.cumsum(reference) / n - np.cumsum(current) / m)
    statistic = float(gap.max())
    root_n = np.sqrt(n * m / (n + m))
    return statistic, float(special.kolmogorov((root_n + 0.12 + 0.11 / root_n) * statistic))


def chi_squared(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of homogeneity on a 2 x k table of counts (empty columns dropped).

    The same statistic and p-value as `scipy.stats.chi2_contingency(table, correction=False)`.
    """
    table = np.vstack([reference, current]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, float(special.chdtrc(table.shape[1] - 1, statistic))


def compare(manifest: Manifest, counts: WindowCounts, *, thresholds: Thresholds) -> list[FeatureDrift]:
    """Every manifest feature compared with its reference, in manifest order."""
    results = []
    for spec in manifest.features:
        reference = manifest.reference.features[spec.name]
        current = counts.features[spec.name]
        if isinstance(reference, NumericReference):
            results.append(_numeric(spec.name, reference, current=current, thresholds=thresholds))
        else:
            results.append(
                _categorical(
                    spec.name,
                    reference,
                    current=current,
                    thresholds=thresholds,
                    categories=spec.categories or [],
                )
            )
    return results


def compare_predictions(
    reference: PredictionReference, counts: WindowCounts, *, thresholds: Thresholds
) -> PredictionDrift:
    expected = np.asarray(reference.counts, dtype=np.int64)
    actual = counts.probabilities
    statistic, p_value = binned_ks(expected, actual)
    value = psi(expected, actual)
    return PredictionDrift(
        psi=value,
        ks=statistic,
        p_value=p_value,
        positive_rate_reference=reference.positive_rate,
        positive_rate_current=counts.positives / counts.rows if counts.rows else 0.0,
        status=_status(value, statistic, thresholds=thresholds, rows=int(actual.sum())),
        reference_shares=_shares(expected, epsilon=0.0).tolist(),
        current_shares=_shares(actual, epsilon=0.0).tolist(),
    )


def _numeric(
    name: str, reference: NumericReference, *, current: FeatureCounts, thresholds: Thresholds
) -> FeatureDrift:
    expected = np.asarray(reference.counts, dtype=np.int64)
    statistic, p_value = binned_ks(expected, current.counts)
    value = psi(expected, current.counts) if current.present else math.nan
    edges = reference.bin_edges
    labels = [f"< {edges[0]:g}"] if edges else ["all"]
    labels += [f"[{low:g}, {high:g})" for low, high in itertools.pairwise(edges)]
    labels += [f">= {edges[-1]:g}"] if edges else []
    reasons = [f"KS {statistic:.3f} >= {thresholds.ks}"] if statistic >= thresholds.ks else []
    feature = FeatureDrift(
        name=name,
        kind="numeric",
        status="ok",
        psi=value,
        test="ks",
        statistic=statistic,
        p_value=p_value,
        rows=current.present,
        missing_rate_reference=reference.missing_rate,
        missing_rate_current=_missing_rate(current),
        bin_labels=labels,
        reference_shares=_shares(expected, epsilon=0.0).tolist(),
        current_shares=_shares(current.counts, epsilon=0.0).tolist(),
    )
    return _decide(feature, reasons, thresholds=thresholds, seen=current.present + current.missing)


def _categorical(
    name: str,
    reference: CategoricalReference,
    *,
    current: FeatureCounts,
    thresholds: Thresholds,
    categories: list[str],
) -> FeatureDrift:
    # The manifest stores shares; the reference's own row count turns them back into counts.
    present = reference.count * (1.0 - reference.missing_rate)
    expected = np.array([reference.frequencies.get(c, 0.0) * present for c in categories] + [0.0])
    unseen_total = sum(current.unseen.values())
    actual = np.append(current.counts, unseen_total).astype(np.float64)
    statistic, p_value = chi_squared(np.rint(expected), actual)
    value = psi(expected, actual) if current.present else math.nan
    reference_shares = _shares(expected, epsilon=0.0)
    current_shares = _shares(actual, epsilon=0.0)
    # Total variation: the largest difference in share any set of categories can show, on the
    # same 0..1 scale as KS (for two categories the two are equal), so one threshold fits both.
    distance = 0.5 * float(np.abs(current_shares - reference_shares).sum()) if current.present else 0.0
    reasons = [f"category shares moved by {distance:.3f} (total variation) >= {thresholds.category}"]
    reasons = reasons if distance >= thresholds.category else []
    for value_name, count in current.unseen.most_common():
        share = count / current.present
        if share < thresholds.unseen:
            break
        reasons.append(f"unseen value {value_name!r} in {share:.1%} of rows")
    feature = FeatureDrift(
        name=name,
        kind="categorical",
        status="ok",
        psi=value,
        test="chi2",
        statistic=statistic,
        p_value=p_value,
        rows=current.present,
        missing_rate_reference=reference.missing_rate,
        missing_rate_current=_missing_rate(current),
        bin_labels=[clip(c) for c in categories] + ["(unseen)"],
        reference_shares=reference_shares.tolist(),
        current_shares=current_shares.tolist(),
        unseen=dict(current.unseen.most_common(20)),
        distance=distance,
    )
    return _decide(feature, reasons, thresholds=thresholds, seen=current.present + current.missing)


def _decide(feature: FeatureDrift, reasons: list[str], *, thresholds: Thresholds, seen: int) -> FeatureDrift:
    """The status from the type's own reasons plus those every feature shares (PSI, missing rate)."""
    if seen == 0:
        feature.status = "no data"
        return feature
    if feature.rows == 0:
        feature.status = "absent"
        feature.reasons = [
            f"absent from all {seen} rows (missing in {feature.missing_rate_reference:.1%} of the reference)"
        ]
        return feature
    if feature.psi >= thresholds.psi_drift:
        reasons.append(f"PSI {feature.psi:.3f} >= {thresholds.psi_drift}")
    if abs(feature.missing_change) >= thresholds.missing:
        reasons.append(
            f"missing rate {feature.missing_rate_reference:.1%} -> {feature.missing_rate_current:.1%}"
        )
    feature.reasons = reasons
    if reasons:
        feature.status = "drift"
    elif feature.psi >= thresholds.psi_moderate:
        feature.status = "moderate"
    return feature


def _status(psi_value: float, ks_value: float | None, *, thresholds: Thresholds, rows: int) -> Status:
    """The predictions' status: their distribution has no missing values or categories."""
    if rows == 0:
        return "no data"
    if psi_value >= thresholds.psi_drift or (ks_value is not None and ks_value >= thresholds.ks):
        return "drift"
    if psi_value >= thresholds.psi_moderate:
        return "moderate"
    return "ok"


def _shares(counts: np.ndarray, *, epsilon: float = PSI_EPSILON) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts)
    return np.maximum(shares, epsilon) if epsilon else shares


def _missing_rate(counts: FeatureCounts) -> float:
    seen = counts.present + counts.missing
    return counts.missing / seen if seen else 0.0
