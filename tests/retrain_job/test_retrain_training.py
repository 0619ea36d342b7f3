from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_deploy.schema import SchemaError, encode_frame
from ml_deploy_dev import sample_data
from retrain_job.retrain.training import evaluate, fingerprint, infer_features, labels, train

TARGET = sample_data.TARGET


def test_infer_features_types_ranges_and_categories(sample_frame: pd.DataFrame) -> None:
    features = {spec.name: spec for spec in infer_features(sample_frame, TARGET)}
    assert TARGET not in features and sample_data.TIMESTAMP not in features
    assert set(features) == {*sample_data.NUMERIC_FEATURES, *sample_data.CATEGORICAL_FEATURES}
    age = features["age"]
    assert age.type == "numeric" and age.nullable
    assert age.min is not None and age.max is not None
    assert age.min <= sample_frame["age"].min() and age.max > sample_frame["age"].max()
    assert age.min >= 0, "non-negative data keeps a non-negative lower bound"
    assert features["contract"].categories == sorted(sample_data.CONTRACTS)
    assert not features["contract"].nullable


def test_model_learns_and_evaluate_reports_all_metrics(
    trained_model, holdout_frame: pd.DataFrame, sample_features
) -> None:
    metrics = evaluate(
        trained_model, encode_frame(holdout_frame, sample_features), labels(holdout_frame, TARGET)
    )
    expected = {"roc_auc", "log_loss", "f1", "precision", "recall", "brier", "calibration_error"}
    assert expected <= set(metrics)
    assert metrics["roc_auc"] > 0.75, f"model should learn the churn signal: {metrics}"
    assert 0 <= metrics["calibration_error"] < 0.1


def test_shuffled_labels_give_a_useless_model(
    sample_frame: pd.DataFrame, holdout_frame: pd.DataFrame, sample_features
) -> None:
    shuffled = sample_frame.assign(
        **{TARGET: np.random.default_rng(0).permutation(sample_frame[TARGET].to_numpy())}
    )
    model = train(shuffled, sample_features, TARGET, seed=0)
    metrics = evaluate(model, encode_frame(holdout_frame, sample_features), labels(holdout_frame, TARGET))
    assert metrics["roc_auc"] < 0.6, metrics


def test_unseen_category_predicts_without_error(trained_model, drifted_frame, sample_features) -> None:
    probabilities = trained_model.predict_proba(encode_frame(drifted_frame, sample_features))
    assert np.isfinite(probabilities).all()


def test_fingerprint_is_stable_and_sensitive(sample_frame: pd.DataFrame) -> None:
    same = sample_frame.copy()
    assert fingerprint(same) == fingerprint(sample_frame)
    as_text = sample_frame.assign(contract=sample_frame["contract"].astype(object))
    assert fingerprint(as_text) == fingerprint(sample_frame), "dtype of text must not matter"
    changed = sample_frame.copy()
    changed.loc[0, "age"] = 99.0
    assert fingerprint(changed) != fingerprint(sample_frame)


def test_non_binary_target_is_named() -> None:
    with pytest.raises(SchemaError, match="'churned' must be binary"):
        labels(pd.DataFrame({"churned": [0, 1, 2]}), TARGET)
