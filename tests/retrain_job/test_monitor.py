"""The monitoring job end to end: logs in moto S3 in, report, metrics, alert and retrain out."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ml_deploy_dev import sample_data
from retrain_job import monitor
from retrain_job.monitor import publishing as publish
from tests.retrain_job.conftest import LOG_BUCKET, MODEL_BUCKET, MODEL_KEY, WINDOW_END, World, write_logs

SHIFTED_NUMERICS = {"tenure_months", "monthly_charges", "support_calls", "age"}


@pytest.fixture(scope="module")
def reference_world_frame() -> pd.DataFrame:
    """Fresh rows of the training-time world: what production looks like without drift."""
    return sample_data.generate(3_000, seed=21)


def _run(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = monitor.main([])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_logs_from_the_reference_world_show_no_drift(
    world: World, reference_world_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_logs(world.s3, world.lines(reference_world_frame), hours_back=3)
    code, out, err = _run(capsys)
    report = json.loads(world.report())
    assert code == 0, f"monitor failed: {err}"
    assert report["status"] == "ok", f"expected no drift, got {report['drifted_features']}: {out}"
    assert report["rows"]["seen"] == 3_000, f"rows seen: {report['rows']}"
    assert world.alerts() == [], "an alert was sent although nothing drifted"
    assert world.retrain_jobs() == [], "a retrain was submitted although nothing drifted"


def test_drifted_logs_are_detected_alerted_and_retrained(
    world: World, drifted_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_logs(world.s3, world.lines(drifted_frame), hours_back=1)
    code, out, err = _run(capsys)
    report = json.loads(world.report())
    assert code == 0, f"monitor failed: {err}"
    assert report["status"] == "drift", f"drift not detected: {out}"
    drifted = set(report["drifted_features"])
    assert drifted >= SHIFTED_NUMERICS, f"shifted numerics not all flagged: {drifted}"
    assert "payment_method" in drifted, f"the new payment method was not flagged: {drifted}"
    assert "region" not in drifted, "region has the same mix in both worlds but was flagged"
    payment = next(f for f in report["features"] if f["name"] == "payment_method")
    assert set(payment["unseen"]) == {sample_data.NEW_PAYMENT_METHOD}, f"unseen values: {payment['unseen']}"

    alerts = world.alerts()
    assert len(alerts) == 1, f"expected one alert in the subscribed queue, got {len(alerts)}"
    assert len(alerts[0]["Subject"]) <= 100 and "drift" in alerts[0]["Subject"], alerts[0]["Subject"]
    message = alerts[0]["Message"]
    assert "tenure_months (KS" in message and "PSI" in message, f"the alert does not say how much: {message}"
    assert f"s3://{LOG_BUCKET}/reports/dt=" in message and "report.html" in message, (
        f"no report link: {message}"
    )
    jobs = world.retrain_jobs()
    assert len(jobs) == 1, f"expected one retrain job submitted, got {jobs}"
    assert jobs[0]["jobName"].startswith("retrain-on-drift-"), jobs
    _assert_drift_metrics(world, drifted=len(drifted))
    assert "submitted job" in alerts[0]["Message"], "the alert does not say the retrain was submitted"


def _assert_drift_metrics(world: World, *, drifted: int) -> None:
    by_name: dict[str, set[str]] = {}
    for page in world.cloudwatch.get_paginator("list_metrics").paginate(Namespace="MlDeploy"):
        for item in page["Metrics"]:
            dimensions = {d["Name"]: d["Value"] for d in item["Dimensions"]}
            assert dimensions["Environment"] == "prod", dimensions
            assert dimensions["ModelVersion"] == world.manifest.bundle_version, dimensions
            by_name.setdefault(item["MetricName"], set()).add(dimensions.get("Feature", ""))
    assert by_name["PSI"] == set(world.manifest.feature_names), f"PSI per feature: {by_name['PSI']}"
    numeric = {spec.name for spec in world.manifest.features if spec.type == "numeric"}
    assert by_name["KS"] == numeric, f"KS per numeric feature: {by_name['KS']}"
    assert {"DriftedFeatures", "RowsSeen", "MalformedRows", "PredictionPSI"} <= set(by_name), set(by_name)
    points = world.cloudwatch.get_metric_statistics(
        Namespace="MlDeploy", MetricName="DriftedFeatures", Statistics=["Maximum"], Period=60,
        StartTime=datetime.now(UTC) - timedelta(hours=1), EndTime=datetime.now(UTC) + timedelta(hours=1),
        Dimensions=[{"Name": "Environment", "Value": "prod"},
                    {"Name": "ModelVersion", "Value": world.manifest.bundle_version}],
    )["Datapoints"]  # fmt: skip
    assert [p["Maximum"] for p in points] == [float(drifted)], f"DriftedFeatures datapoints: {points}"


def test_a_second_drift_within_the_cooldown_does_not_resubmit(
    world: World, drifted_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_logs(world.s3, world.lines(drifted_frame), hours_back=1)
    assert _run(capsys)[0] == 0
    code, out, _ = _run(capsys)
    assert code == 0
    assert len(world.retrain_jobs()) == 1, "the second run inside the cooldown submitted another retrain"
    assert "cooldown" in out, f"the second run does not say why it did not retrain: {out}"


def test_a_concurrent_run_holding_the_cooldown_blocks_the_submit(world: World) -> None:
    """Two runs read 'no cooldown', one writes first: the other's conditional write must fail."""
    s3, key, now = world.s3, world.env["COOLDOWN_KEY"], WINDOW_END
    ours = publish.read_cooldown(s3, bucket=LOG_BUCKET, key=key)
    theirs = publish.claim_cooldown(s3, bucket=LOG_BUCKET, key=key, previous=None, now=now, run_id="other")
    assert ours is None and theirs is not None
    assert (
        publish.claim_cooldown(s3, bucket=LOG_BUCKET, key=key, previous=ours, now=now, run_id="ours") is None
    ), "creating the cooldown succeeded although another run had just created it"
    # The same race once a cooldown exists and has expired: IfMatch on the stale ETag must fail.
    later = now + timedelta(days=2)
    stale = publish.read_cooldown(s3, bucket=LOG_BUCKET, key=key)
    assert publish.claim_cooldown(s3, bucket=LOG_BUCKET, key=key, previous=stale, now=later, run_id="x")
    assert (
        publish.claim_cooldown(s3, bucket=LOG_BUCKET, key=key, previous=stale, now=later, run_id="y") is None
    )
    decision = publish.submit_retrain(
        s3,
        world.batch,
        bucket=LOG_BUCKET,
        cooldown_key=key,
        period=timedelta(hours=24),
        now=later,
        run_id="z",
        job_queue=world.env["RETRAIN_JOB_QUEUE"],
        job_definition="retrain",
        reason="test",
        trigger="drift",
    )
    assert not decision.submitted and "cooldown" in decision.reason, decision
    assert world.retrain_jobs() == []


def test_malformed_lines_are_counted_and_skipped(
    world: World, reference_world_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = world.lines(reference_world_frame.head(1_000))
    bad = [
        b"{not json",
        b'{"input": {"age": "old"}, "output": {"probability": 0.2}}',
        b"[1, 2]",
        b'{"output": {"probability": 0.5}}',
        b'{"input": {}, "output": {}}',
    ]
    write_logs(world.s3, lines[:500] + bad + lines[500:], objects=1)
    code, _, err = _run(capsys)
    report = json.loads(world.report())
    assert code == 0, err
    assert report["rows"] == {
        "seen": 1_000, "malformed": 5, "other_model_versions": 0, "outside_window": 0, "corrupt_objects": []
    }  # fmt: skip
    metrics = world.cloudwatch.list_metrics(Namespace="MlDeploy", MetricName="MalformedRows")["Metrics"]
    assert metrics, "no MalformedRows metric published"


def test_other_model_versions_are_filtered_out_when_asked(
    world: World,
    reference_world_frame: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_logs(world.s3, world.lines(reference_world_frame.head(1_200)))
    write_logs(
        world.s3, world.lines(reference_world_frame.tail(300), model_version="20260101T000000Z-00000000")
    )
    monkeypatch.setenv("WINDOW_MODEL_VERSION", world.manifest.bundle_version)
    assert _run(capsys)[0] == 0
    rows = json.loads(world.report())["rows"]
    assert (rows["seen"], rows["other_model_versions"]) == (1_200, 300), rows


def test_an_empty_window_is_no_data_not_a_crash(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys)
    assert code == 0, f"an empty window must exit 0, got {code}: {err}"
    assert "no data" in out.lower(), f"no clear message for an empty window: {out}"
    metrics = world.cloudwatch.get_metric_statistics(
        Namespace="MlDeploy",
        MetricName="RowsSeen",
        Statistics=["Maximum"],
        Period=3600,
        StartTime=WINDOW_END - timedelta(days=3650),
        EndTime=WINDOW_END + timedelta(days=3650),
        Dimensions=[
            {"Name": "Environment", "Value": "prod"},
            {"Name": "ModelVersion", "Value": world.manifest.bundle_version},
        ],
    )["Datapoints"]
    assert [point["Maximum"] for point in metrics] == [0.0], f"RowsSeen=0 not published: {metrics}"
    assert json.loads(world.report())["status"] == "no data"


def test_logs_outside_the_window_are_not_read(
    world: World, reference_world_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_logs(world.s3, world.lines(reference_world_frame.head(600)), hours_back=24)  # just before it
    write_logs(world.s3, world.lines(reference_world_frame.head(600)), environment="stage")
    assert _run(capsys)[0] == 0
    assert json.loads(world.report())["status"] == "no data"


def test_a_bundle_without_reference_is_a_clear_error(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    original = world.s3.get_object(Bucket=MODEL_BUCKET, Key=MODEL_KEY)["Body"].read()
    rewritten = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as source, zipfile.ZipFile(rewritten, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "manifest.json":
                manifest = json.loads(data)
                del manifest["reference"]
                data = json.dumps(manifest).encode()
            target.writestr(name, data)
    world.s3.put_object(Bucket=MODEL_BUCKET, Key=MODEL_KEY, Body=rewritten.getvalue())
    code, _, err = _run(capsys)
    assert code == 2, f"expected exit 2 for a manifest without reference, got {code}"
    assert "reference" in err and MODEL_KEY in err, f"the message does not name what is missing: {err}"
    assert "Traceback" not in err


def test_a_missing_bundle_is_a_clear_error(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.s3.delete_object(Bucket=MODEL_BUCKET, Key=MODEL_KEY)
    code, _, err = _run(capsys)
    assert code == 2 and f"s3://{MODEL_BUCKET}/{MODEL_KEY}" in err and "NoSuchKey" in err, err


def test_reports_are_written_as_json_and_html(
    world: World, drifted_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_logs(world.s3, world.lines(drifted_frame))
    assert _run(capsys)[0] == 0
    keys = [o["Key"] for o in world.s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix="reports/")["Contents"]]
    dated = [
        k for k in keys if k.startswith(f"reports/dt={WINDOW_END:%Y-%m-%d}/") or k.startswith("reports/dt=")
    ]
    assert {k.rsplit("/", 1)[1] for k in dated} == {"report.json", "report.html"}, keys
    html = world.report("report.html")
    assert html.startswith("<!doctype html>") and "<script" not in html and "<svg" in html
    assert "tenure_months" in html and sample_data.NEW_PAYMENT_METHOD in html


def test_missing_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("MODEL_BUCKET", "MODEL_KEY", "LOG_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    assert monitor.main([]) == 2
    assert "MODEL_BUCKET" in capsys.readouterr().err


def test_too_few_rows_is_not_enough_data_and_never_alerts(
    world: World,
    drifted_frame: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_logs(world.s3, world.lines(drifted_frame.head(300)))
    monkeypatch.setenv("MIN_ROWS", "1000")
    code, out, _ = _run(capsys)
    assert code == 0 and json.loads(world.report())["status"] == "not enough data", out
    assert world.alerts() == [] and world.retrain_jobs() == [], "300 rows must not page anyone or retrain"


def test_concept_drift_check_runs_when_enabled(
    world: World,
    drifted_frame: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_logs(world.s3, world.lines(drifted_frame))
    monkeypatch.setenv("CONCEPT_DRIFT", "true")
    monkeypatch.setenv("RETRAIN_ON_DRIFT", "false")
    code, out, err = _run(capsys)
    assert code == 0, err
    found = json.loads(world.report())["concept_drift"]
    assert found and found["drifted"] and found["auc"] > 0.7, f"concept drift not flagged: {found}"
    assert found["production_rows"] == len(drifted_frame), found
    assert "classifier AUC" in out
    assert world.retrain_jobs() == [], "RETRAIN_ON_DRIFT=false but a retrain was submitted"


def test_a_failed_retrain_submit_still_alerts_and_frees_the_cooldown(
    world: World,
    drifted_frame: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_logs(world.s3, world.lines(drifted_frame))
    monkeypatch.setenv("RETRAIN_JOB_DEFINITION", "no-such-definition")
    code = _run(capsys)[0]
    assert code == 1, "a failed retrain submit must fail the job so Batch's failure alert fires"
    alerts = world.alerts()
    assert len(alerts) == 1 and "submitting the retrain job failed" in alerts[0]["Message"], alerts
    cooldown = publish.read_cooldown(world.s3, bucket=LOG_BUCKET, key=world.env["COOLDOWN_KEY"])
    assert cooldown is not None and not cooldown.active(WINDOW_END, timedelta(hours=24)), (
        "the failed submit kept the cooldown, so no retrain could happen for a day"
    )
