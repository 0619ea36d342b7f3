"""The quality job end to end in moto: logs and outcomes in S3, report, metrics, alert and retrain out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_deploy import outcomes
from ml_deploy.layout import archived_bundle_key
from ml_deploy.payload_log import utc_timestamp
from ml_deploy.quality_report import QualityReport, cloudwatch_metric
from ml_deploy.settings import MonitorSettings, QualitySettings
from ml_deploy.tracking import dashboard_key
from ml_deploy_dev import sample_data
from retrain_job import quality
from retrain_job.monitor import publishing
from tests.retrain_job.conftest import LOG_BUCKET, MODEL_BUCKET, World, write_logs

NOW = datetime(2026, 12, 31, 6, 0, tzinfo=UTC)
PREDICTED_AT = datetime(2026, 11, 15, 10, 0, tzinfo=UTC)  # 46 days before NOW: matured
OBSERVED_AT = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(world: World, trained_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    for name, value in {
        "QUALITY_NOW": NOW.isoformat(), "RETRAIN_ON_QUALITY": "true", "MIN_OUTCOMES": "200",
        "BOOTSTRAP_SAMPLES": "100", "AUC_FLOOR": "0.7",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    key = archived_bundle_key("bundles/archive/", world.manifest.bundle_version)
    world.s3.upload_file(str(trained_bundle), MODEL_BUCKET, key)
    return world


def _log(world: World, frame: pd.DataFrame, *, version: str | None = None, prefix: str = "req") -> None:
    lines = [
        line.replace(b'"req-', f'"{prefix}-'.encode()) for line in world.lines(frame, model_version=version)
    ]
    write_logs(world.s3, lines, when=PREDICTED_AT, objects=3)


def _outcomes(world: World, labels: Sequence[int], *, prefix: str = "req") -> None:
    rows = [
        (i, {"request_id": f"{prefix}-{i:06d}", "record_index": 0, "label": int(label),
             "observed_at": utc_timestamp(OBSERVED_AT)})
        for i, label in enumerate(labels)
    ]  # fmt: skip
    validated = outcomes.validate_rows(rows, now=NOW)
    assert validated.bad == []
    for key, body in outcomes.encode_objects(validated.records, prefix="outcomes/"):
        world.s3.put_object(Bucket=LOG_BUCKET, Key=key, Body=body)


def _changed_world(labels: Sequence[int], *, seed: int = 0) -> list[int]:
    """Outcomes of a world whose churn no longer follows the model: 40% of them flipped."""
    flip = np.random.default_rng(seed).random(len(labels)) < 0.4
    return [int(1 - label if flipped else label) for label, flipped in zip(labels, flip, strict=True)]


def _run(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = quality.main([])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _report(world: World) -> QualityReport:
    body = world.s3.get_object(Bucket=LOG_BUCKET, Key="reports/latest/prod/quality.json")["Body"].read()
    return QualityReport.model_validate_json(body)


def test_outcomes_of_the_training_world_score_ok_against_the_holdout(
    env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = sample_data.generate(3_000, seed=31)
    _log(env, frame)
    _outcomes(env, frame["churned"].tolist()[:2_000])
    code, out, err = _run(capsys)
    assert code == 0, err
    report = _report(env)
    [version] = report.versions
    assert version.model_version == env.manifest.bundle_version
    assert (version.predictions, version.with_outcome, version.coverage) == (
        3_000,
        2_000,
        pytest.approx(2 / 3),
    )
    assert version.status == "ok", out
    auc = version.metrics["roc_auc"]
    assert auc.holdout == env.manifest.metrics["roc_auc"] and auc.floor == 0.7
    assert auc.low is not None and auc.high is not None and auc.low <= auc.value <= auc.high  # type: ignore[operator]
    assert set(version.metrics) == {
        "roc_auc",
        "log_loss",
        "brier",
        "calibration_error",
        "precision",
        "recall",
    }
    assert report.interval == "bootstrap-95" and report.window.end == NOW.replace(hour=0) - timedelta(days=30)
    assert env.alerts() == [] and env.retrain_jobs() == []
    names = {m["MetricName"] for m in env.cloudwatch.list_metrics(Namespace="MlDeploy")["Metrics"]}
    assert {
        cloudwatch_metric("roc_auc"),
        cloudwatch_metric("roc_auc", bound="low"),
        "QualityCoverage",
    } <= names
    dims = env.cloudwatch.list_metrics(Namespace="MlDeploy", MetricName="QualityRocAucLow")["Metrics"][0][
        "Dimensions"
    ]
    assert {d["Name"]: d["Value"] for d in dims} == {
        "Environment": "prod",
        "ModelVersion": version.model_version,
    }


def test_outcomes_of_a_changed_world_fall_below_the_floor_alert_and_retrain_once(
    env: World, drifted_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    _log(env, drifted_frame)
    _outcomes(env, _changed_world(drifted_frame["churned"].tolist()))
    code, out, err = _run(capsys)
    assert code == 0, err
    [version] = _report(env).versions
    assert version.status == "below_floor", out
    assert version.metrics["roc_auc"].low < 0.7  # type: ignore[operator]
    [alert] = env.alerts()
    assert (
        alert["Subject"].startswith("ml-deploy quality: quality below floor in prod")
        and len(alert["Subject"]) <= 100
    )
    assert "roc_auc" in alert["Message"] and len(env.retrain_jobs()) == 1
    assert env.retrain_jobs()[0]["jobName"].startswith("retrain-on-quality-"), env.retrain_jobs()
    code, out, _ = _run(capsys)
    assert code == 0 and "cooldown" in out and len(env.retrain_jobs()) == 1, "the cooldown holds the second"


def test_versions_in_one_window_are_scored_apart(
    env: World, drifted_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    good = sample_data.generate(1_000, seed=32)
    _log(env, good, prefix="good")
    _outcomes(env, good["churned"].tolist(), prefix="good")
    _log(env, drifted_frame, version="20261201T000000Z-0badbad0", prefix="bad")
    _outcomes(env, _changed_world(drifted_frame["churned"].tolist()), prefix="bad")
    code, _, err = _run(capsys)
    assert code == 0, err
    versions = {v.model_version: v for v in _report(env).versions}
    assert versions[env.manifest.bundle_version].status == "ok"
    other = versions["20261201T000000Z-0badbad0"]
    assert other.status == "below_floor" and other.with_outcome == 2_000
    assert other.metrics["roc_auc"].holdout is None, "no archived bundle: nothing to compare with"


def test_too_few_outcomes_is_not_enough_yet_and_never_alerts(
    env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = sample_data.generate(1_000, seed=33)
    _log(env, frame)
    _outcomes(env, [1 - label for label in frame["churned"].tolist()[:150]])  # wrong, but too few to judge
    code, out, _ = _run(capsys)
    assert code == 0 and "not enough outcomes yet" in out
    assert _report(env).versions[0].status == "insufficient"
    assert env.alerts() == [] and env.retrain_jobs() == []


def test_an_empty_window_is_not_enough_outcomes_not_a_crash(
    env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys)
    assert code == 0 and "not enough outcomes yet" in out
    assert _report(env).versions == []


def test_the_report_is_beside_the_monitors_by_its_rule(
    env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    latest = publishing.report_prefixes(MonitorSettings.from_env(), now=NOW, run_id="r1")[1]
    _run(capsys)
    listed = env.s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix="reports/")["Contents"]
    keys = [item["Key"] for item in listed if item["Key"] != dashboard_key("reports/", "prod")]
    assert sorted(key.rsplit("/", 1)[1] for key in keys) == ["quality.json", "quality.json"]
    assert any(key.startswith(f"reports/dt={NOW:%Y-%m-%d}/") for key in keys)
    assert f"{latest}quality.json" in keys, "the newest quality report is not beside the monitor's"
    assert json.loads(env.s3.get_object(Bucket=LOG_BUCKET, Key=keys[0])["Body"].read())["kind"] == "quality"


def test_a_run_regenerates_the_dashboard_with_its_report(
    env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = sample_data.generate(1_000, seed=33)
    _log(env, frame)
    _outcomes(env, frame["churned"].tolist())
    code, out, err = _run(capsys)
    assert code == 0, err
    page = env.s3.get_object(Bucket=LOG_BUCKET, Key=dashboard_key("reports/", "prod"))["Body"].read().decode()
    assert f"Generated {NOW:%Y-%m-%d %H:%M}Z from 0 monitor runs, 1 quality runs" in page, page[:800]
    assert "dashboard s3://" in out, out


def test_bad_settings_are_one_line_and_exit_2(
    env: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MATURITY_MIN_DAYS", "90")
    code, _, err = _run(capsys)
    assert code == 2 and "MATURITY_MIN_DAYS" in err and len(err.strip().splitlines()) == 1, err


def test_help_names_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        QualitySettings.from_args(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert all(
        QualitySettings.variable(name) in out for name in ("maturity_min_days", "auc_floor", "min_outcomes")
    )
