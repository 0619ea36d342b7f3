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
