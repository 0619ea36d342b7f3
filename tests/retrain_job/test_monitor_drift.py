"""Drift statistics, window counts, the concept check and the report, without AWS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ml_deploy.bundle import Manifest
from ml_deploy.schema import encode_frame
from ml_deploy_dev import sample_data
from retrain_job.monitor import concept, drift, report
from retrain_job.monitor.log_parser import Columns
from retrain_job.monitor.window import Binning, count_block


def test_binned_ks_is_exact_when_values_sit_on_bin_edges() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.poisson(3.0, 2_000), rng.poisson(3.15, 1_500)
    edges = np.arange(0.5, 20.5)  # one integer value per bin: the binned CDF is the exact CDF

    def count(values: np.ndarray) -> np.ndarray:
        return np.bincount(np.searchsorted(edges, values), minlength=edges.size + 1)

    statistic, p_value = drift.binned_ks(count(a), count(b))
    exact = stats.ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(exact.statistic), "binned KS differs from the exact KS at the edges"
    assert p_value == pytest.approx(exact.pvalue, rel=0.05), f"p-value {p_value} vs ks_2samp {exact.pvalue}"


def test_psi_is_zero_for_equal_shares_and_finite_with_empty_bins() -> None:
    assert drift.psi(np.array([10, 20, 30]), np.array([20, 40, 60])) == pytest.approx(0.0)
    value = drift.psi(np.array([50, 50, 0]), np.array([25, 25, 50]))
    assert np.isfinite(value) and value > 0.25, f"a new bin holding half the rows must be drift, PSI={value}"


def test_chi_squared_matches_scipy_and_counts_a_new_category() -> None:
    reference, current = np.array([300, 200, 0]), np.array([100, 120, 80])
    statistic, p_value = drift.chi_squared(reference, current)
    expected = stats.chi2_contingency(np.vstack([reference, current]), correction=False)
    assert (statistic, p_value) == pytest.approx((expected.statistic, expected.pvalue))


def _columns(frame: pd.DataFrame, manifest: Manifest) -> Columns:
    """A frame as the log reader would hand it over."""
    X = encode_frame(frame, manifest.features)
    numeric, categorical = {}, {}
    for j, spec in enumerate(manifest.features):
        if spec.type == "numeric":
            numeric[spec.name] = X[:, j]
        else:
            values = frame[spec.name].astype(object).where(frame[spec.name].notna(), None)
            codes, uniques = pd.factorize(values)
            categorical[spec.name] = (codes.astype(np.int32), [str(u) for u in uniques])
    probabilities = np.random.default_rng(0).random(len(frame))
    return Columns(len(frame), 0, 0, numeric, categorical, probabilities)


def test_counts_of_blocks_add_up_to_the_counts_of_the_whole(
    trained_manifest: Manifest, drifted_frame: pd.DataFrame
) -> None:
    binning = Binning.from_manifest(trained_manifest)
    whole = count_block(_columns(drifted_frame, trained_manifest), binning)
    parts = binning.empty_counts()
    for piece in np.array_split(np.arange(len(drifted_frame)), 3):
        parts.merge(count_block(_columns(drifted_frame.iloc[piece], trained_manifest), binning))
    for name, feature in whole.features.items():
        other = parts.features[name]
        assert np.array_equal(feature.counts, other.counts), f"{name}: block counts do not add up"
        assert (feature.missing, dict(feature.unseen)) == (other.missing, dict(other.unseen)), name
    assert whole.features["payment_method"].unseen == {
        sample_data.NEW_PAYMENT_METHOD: pytest.approx(400, rel=0.2)
    }


def _sample(frame: pd.DataFrame, manifest: Manifest) -> concept.Sample:
    binning = Binning.from_manifest(manifest)
    return concept.sample_block(
        _columns(frame, manifest), binning, names=manifest.feature_names, size=len(frame)
    )


def test_concept_check_separates_drifted_rows_but_not_reference_rows(
    trained_manifest: Manifest, drifted_frame: pd.DataFrame
) -> None:
    same_world = sample_data.generate(2_000, seed=31)
    calm = concept.detect(trained_manifest, _sample(same_world, trained_manifest), threshold=0.7)
    assert calm.auc < 0.6 and not calm.drifted, f"reference-world rows separated with AUC {calm.auc:.3f}"
    shifted = concept.detect(trained_manifest, _sample(drifted_frame, trained_manifest), threshold=0.7)
    assert shifted.auc > 0.7 and shifted.drifted, f"drifted rows not separated: AUC {shifted.auc:.3f}"
    top = {name for name, _ in shifted.top_features}
    assert top & {"payment_method", "tenure_months", "monthly_charges", "age"}, shifted.top_features


def test_sample_of_blocks_stays_bounded() -> None:
    sample = concept.Sample.empty(2)
    rng = np.random.default_rng(1)
    for _ in range(5):
        sample.merge(concept.Sample(keys=rng.random(300), rows=rng.random((300, 2))), size=200)
    assert sample.rows.shape == (200, 2) and sample.keys.max() < 0.2, "not the 200 smallest keys"


def test_html_report_escapes_text_from_the_data() -> None:
    evil = "<script>alert(1)</script>"
    feature = drift.FeatureDrift(
        name=evil, kind="categorical", status="drift", psi=1.0, test="chi2", statistic=5.0, p_value=0.0,
        rows=10, missing_rate_reference=0.0, missing_rate_current=0.1, bin_labels=["a", evil],
        reference_shares=[1.0, 0.0], current_shares=[0.5, 0.5], unseen={evil: 5},
    )  # fmt: skip
    counts = Binning(edges={}, category_index={}, probability_bins=20).empty_counts()
    document = report.build_report(
        run={"environment": evil}, counts=counts, thresholds=drift.Thresholds(), status="drift",
        features=[feature], prediction=None, concept=None,
    )  # fmt: skip
    html = report.render_html(document)
    assert "<script" not in html, "text from the data reached the HTML unescaped"
    assert "&lt;script&gt;" in html


def test_unseen_values_by_name_stay_bounded() -> None:
    from retrain_job.monitor.window import MAX_UNSEEN_NAMES, OTHER_UNSEEN, FeatureCounts

    feature = FeatureCounts(counts=np.zeros(2, dtype=np.int64))
    for start in range(0, 5_000, 500):
        feature.add_unseen({f"id-{i}": 1 for i in range(start, start + 500)})
    assert len(feature.unseen) <= MAX_UNSEEN_NAMES, "an id-like column grew the unseen table without bound"
    assert sum(feature.unseen.values()) == 5_000 and feature.unseen[OTHER_UNSEEN] > 0
