from __future__ import annotations

import numpy as np
import pandas as pd

from ml_deploy_dev import sample_data


def test_same_seed_gives_identical_data() -> None:
    first = sample_data.generate(500, seed=3)
    second = sample_data.generate(500, seed=3)
    pd.testing.assert_frame_equal(first, second)


def test_frame_has_mixed_features_missing_values_and_binary_target() -> None:
    df = sample_data.generate(5_000, seed=1)
    for name in sample_data.CATEGORICAL_FEATURES:
        assert isinstance(df[name].dtype, pd.CategoricalDtype), f"{name} should be categorical"
    for name in sample_data.NUMERIC_FEATURES:
        assert df[name].dtype == np.float64, f"{name} should be float64, is {df[name].dtype}"
    assert set(df[sample_data.TARGET].unique()) == {0, 1}
    assert 0.1 < df[sample_data.TARGET].mean() < 0.4, "churn rate should look like churn data"
    assert df["age"].isna().any() and df["payment_method"].isna().any(), "expected missing values"
    assert isinstance(df[sample_data.TIMESTAMP].dtype, pd.DatetimeTZDtype)


def test_drifted_data_shifts_numbers_and_adds_an_unseen_category() -> None:
    base = sample_data.generate(20_000, seed=1)
    drifted = sample_data.generate(20_000, seed=1, drifted=True)
    assert drifted["monthly_charges"].mean() > base["monthly_charges"].mean() + 5
    assert drifted["tenure_months"].mean() < base["tenure_months"].mean()
    assert sample_data.NEW_PAYMENT_METHOD not in set(base["payment_method"].dropna())
    assert sample_data.NEW_PAYMENT_METHOD in set(drifted["payment_method"].dropna())
    assert drifted[sample_data.TIMESTAMP].min() > base[sample_data.TIMESTAMP].max()


def test_support_calls_relation_to_churn_changes_under_drift() -> None:
    def slope(df: pd.DataFrame) -> float:
        many = df[df["support_calls"] >= 3][sample_data.TARGET].mean()
        few = df[df["support_calls"] == 0][sample_data.TARGET].mean()
        return float(many - few)

    base = slope(sample_data.generate(40_000, seed=2))
    drifted = slope(sample_data.generate(40_000, seed=2, drifted=True))
    assert base > drifted + 0.1, f"support-call effect should weaken: {base:.3f} vs {drifted:.3f}"
