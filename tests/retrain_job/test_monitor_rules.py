"""The drifts users care about, end to end: missing values, category shares, unseen values, and
inputs that must not break the run (huge values, a missing log bucket, impossible probabilities).

Each test writes logs of the reference world with one thing changed, runs the job against moto,
and reads the report and the alert the job produced.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ml_deploy_dev import sample_data
from retrain_job import monitor
from retrain_job.monitor.text import SNS_MESSAGE_BYTES
from tests.retrain_job.conftest import World, write_logs


@pytest.fixture(scope="module")
def calm_frame() -> pd.DataFrame:
    """Fresh rows of the training-time world: nothing drifted."""
    return sample_data.generate(3_000, seed=23)


def _run(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = monitor.main([])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _feature(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in report["features"] if f["name"] == name)


def _edited(lines: list[bytes], edit: Any) -> list[bytes]:
    """Log lines with `edit(input)` applied to each record's input."""
    out = []
    for line in lines:
        record = json.loads(line)
        edit(record["input"])
        out.append(json.dumps(record).encode())
    return out


def test_a_feature_going_missing_is_drift(
    world: World, calm_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = calm_frame.copy()
    # total_charges is 2% missing in the reference world; a broken join makes it 30%.
    frame.loc[np.random.default_rng(1).random(len(frame)) < 0.3, "total_charges"] = np.nan
    write_logs(world.s3, world.lines(frame))
    code, out, err = _run(capsys)
    report = json.loads(world.report())
    assert code == 0, err
    assert report["drifted_features"] == ["total_charges"], f"{report['drifted_features']}: {out}"
    feature = _feature(report, "total_charges")
    assert feature["missing_rate_current"] == pytest.approx(0.31, abs=0.03), feature
    assert any("missing rate" in reason for reason in feature["reasons"]), feature["reasons"]
    alerts = world.alerts()
    assert len(alerts) == 1 and "total_charges" in alerts[0]["Message"], alerts


def test_a_feature_absent_from_every_row_is_its_own_alert(
    world: World, calm_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _edited(world.lines(calm_frame), lambda inputs: inputs.pop("age"))
    write_logs(world.s3, lines)
    code, _, err = _run(capsys)
    report = json.loads(world.report())
    assert code == 0, err
    age = _feature(report, "age")
    assert age["status"] == "absent" and age["missing_rate_current"] == 1.0, age
    assert age["psi"] is None, f"a vanished feature has no PSI to publish, got {age['psi']}"
    assert report["status"] == "drift" and "age" in report["drifted_features"], report["drifted_features"]
    message = world.alerts()[0]["Message"]
    assert "age" in message and "absent from all 3000 rows" in message, message


def test_a_feature_absent_from_some_rows_counts_as_missing(
    world: World, calm_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = world.lines(calm_frame)
    lines[::2] = _edited(lines[::2], lambda inputs: inputs.pop("monthly_charges"))
    write_logs(world.s3, lines)
    assert _run(capsys)[0] == 0
    feature = _feature(json.loads(world.report()), "monthly_charges")
    assert feature["missing_rate_current"] == pytest.approx(0.5), feature
    assert feature["status"] == "drift", feature


def test_a_category_whose_share_moves_like_a_drifted_number_is_drift(
    world: World, calm_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    """One level from 25% to 40%: PSI ~0.10 (only "moderate"), total variation 0.15 >= 0.1."""
    frame = calm_frame.copy()
    regions = np.random.default_rng(2).choice(sample_data.REGIONS, size=len(frame), p=[0.4, 0.2, 0.2, 0.2])
    frame["region"] = pd.Categorical(regions, categories=sample_data.REGIONS)
    write_logs(world.s3, world.lines(frame))
    code, out, err = _run(capsys)
    report = json.loads(world.report())
    assert code == 0, err
    assert report["drifted_features"] == ["region"], f"{report['drifted_features']}: {out}"
    region = _feature(report, "region")
    assert region["distance"] == pytest.approx(0.15, abs=0.03) and region["psi"] < 0.25, region
    assert "region (TV 0.1" in world.alerts()[0]["Message"]


def test_an_unseen_category_at_two_percent_alerts_by_name(
    world: World, calm_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = world.lines(calm_frame)
    lines[::50] = _edited(lines[::50], lambda inputs: inputs.update(payment_method="crypto_wallet"))
    write_logs(world.s3, lines)
    code, out, err = _run(capsys)
    report = json.loads(world.report())
    assert code == 0, err
    assert report["drifted_features"] == ["payment_method"], f"{report['drifted_features']}: {out}"
    message = world.alerts()[0]["Message"]
    assert "unseen value 'crypto_wallet' in 2.0% of rows" in message, message


def test_a_huge_unseen_value_is_clipped_and_the_alert_still_goes_out(
    world: World, drifted_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = "x" * 10_000_000
    lines = world.lines(drifted_frame)
    lines[:40] = _edited(lines[:40], lambda inputs: inputs.update(payment_method=huge))
    write_logs(world.s3, lines)
    code, _, err = _run(capsys)
    assert code == 0, f"a 10 MB category value broke the run: {err[-2000:]}"
    report_json = world.report()
    assert len(report_json) < 200_000, f"report.json is {len(report_json):,} characters"
    unseen = _feature(json.loads(report_json), "payment_method")["unseen"]
    assert max(len(name) for name in unseen) <= 120 and any("10,000,000 chars" in n for n in unseen), unseen
    alerts = world.alerts()
    assert len(alerts) == 1, "the drift alert was lost"
    assert len(alerts[0]["Message"].encode()) <= SNS_MESSAGE_BYTES


def test_a_missing_log_bucket_is_invalid_input(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_BUCKET", "no-such-log-bucket")
    code, _, err = _run(capsys)
    assert code == 2, f"expected exit 2 for a bucket that does not exist, got {code}: {err[-500:]}"
    assert "LOG_BUCKET" in err and "no-such-log-bucket" in err and "Traceback" not in err, err


def test_probabilities_outside_zero_one_are_malformed(
    world: World, calm_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = world.lines(calm_frame.head(1_000))
    impossible = []
    for line, probability in zip(lines[:3], (1.7, -0.2, 12.0), strict=True):
        record = json.loads(line)
        record["output"]["probability"] = probability
        impossible.append(json.dumps(record).encode())
    # Once among well-formed lines (the fast parser), once beside a broken line (the slow path).
    write_logs(world.s3, lines[3:500] + impossible[:2], objects=1)
    write_logs(world.s3, [*lines[500:], impossible[2], b"{broken"], objects=1)
    assert _run(capsys)[0] == 0
    rows = json.loads(world.report())["rows"]
    assert (rows["seen"], rows["malformed"]) == (997, 4), rows
