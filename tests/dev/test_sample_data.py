"""`python -m ml_deploy_dev.sample_data`: the training data a first deploy starts from, as a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from ml_deploy_dev import sample_data

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ml_deploy_dev.sample_data", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_writes_the_generated_rows_as_parquet(tmp_path: Path) -> None:
    out = tmp_path / "training.parquet"
    done = _run("--rows", "500", "--seed", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    written = pd.read_parquet(out)
    pd.testing.assert_frame_equal(written, sample_data.generate(500, seed=3), check_dtype=False)
    assert "500 rows" in done.stdout


def test_refuses_no_rows_with_a_usage_error(tmp_path: Path) -> None:
    done = _run("--rows", "0", "--out", str(tmp_path / "x.parquet"))
    assert done.returncode == 2 and "--rows must be at least 1" in done.stderr
    assert not (tmp_path / "x.parquet").exists()


def test_concept_drift_keeps_the_customers_and_turns_who_churns() -> None:
    """Same features as the drifted world, other labels: a model of the training world ranks
    the drifted world's churners well, the concept-drifted world's worse than chance."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    def encoded(frame: pd.DataFrame) -> pd.DataFrame:
        features = frame.drop(columns=[sample_data.TARGET, sample_data.TIMESTAMP])
        for name in sample_data.CATEGORICAL_FEATURES:
            features[name] = features[name].cat.codes.where(features[name].notna())
        return features

    drifted = sample_data.generate(4_000, seed=3, drifted=True)
    concept = sample_data.generate(4_000, seed=3, drifted=True, concept_drift=True)
    features = [c for c in drifted.columns if c != sample_data.TARGET]
    pd.testing.assert_frame_equal(drifted[features], concept[features])
    assert (drifted[sample_data.TARGET] != concept[sample_data.TARGET]).mean() > 0.2

    training = sample_data.generate(6_000, seed=1)
    model = HistGradientBoostingClassifier(random_state=0).fit(
        encoded(training), training[sample_data.TARGET]
    )
    score = {
        name: roc_auc_score(frame[sample_data.TARGET], model.predict_proba(encoded(frame))[:, 1])
        for name, frame in (("drifted", drifted), ("concept", concept))
    }
    assert score["drifted"] > 0.7 and score["concept"] < 0.45, score
