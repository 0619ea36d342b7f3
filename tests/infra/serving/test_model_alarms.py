"""The alarms on the model: dropped prediction-log lines, mean probability off band, two versions."""

from __future__ import annotations

from typing import Any

import pytest

from infra.serving.collector import METRIC_DECLARATIONS
from ml_deploy.layout import METRICS_NAMESPACE
from ml_deploy_dev.program import Program

ENVIRONMENTS = ("stage", "prod")
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html:
# an alarm on metric math needs exactly one query returning data.
EXPORTED_PER_ENVIRONMENT = {
    metric for d in METRIC_DECLARATIONS if ("Environment",) in d.dimensions for metric in d.metrics
}


def _alarm(program: Program, env: str, suffix: str) -> dict[str, Any]:
    inputs: dict[str, Any] = program.one(ALARM, f"serving-{env}-{suffix}").inputs
    return inputs


def _queries(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {query["id"]: query for query in alarm["metricQueries"]}


def _reads_exported_metrics(alarm: dict[str, Any], env: str) -> None:
    for query in alarm["metricQueries"]:
        if "metric" in query:
            metric = query["metric"]
            assert metric["namespace"] == METRICS_NAMESPACE
            assert metric["dimensions"] == {"Environment": env}, metric
            assert metric["metricName"] in EXPORTED_PER_ENVIRONMENT, (
                f"{metric['metricName']} is not exported by Environment alone: the alarm sees no data"
            )
    assert sum(bool(q.get("returnData")) for q in alarm["metricQueries"]) == 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_any_dropped_prediction_log_line_alarms(dev_program: Program, env: str) -> None:
    alarm = _alarm(dev_program, env, "dropped-log-lines")
    assert (alarm["namespace"], alarm["metricName"]) == (
        METRICS_NAMESPACE,
        "payload_log_records_dropped_total",
    )
    assert alarm["dimensions"] == {"Environment": env}
    assert alarm["metricName"] in EXPORTED_PER_ENVIRONMENT
    assert (alarm["statistic"], alarm["comparisonOperator"], alarm["threshold"]) == (
        "Sum",
        "GreaterThanThreshold",
        0,
    ), "a single dropped line must fire"
    assert (alarm["period"], alarm["evaluationPeriods"]) == (60, 1)
    assert alarm["alarmActions"] == alarm["okActions"] == [dev_program.outputs["alertsTopicArn"]]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_mean_probability_outside_the_models_own_band_over_15_minutes_alarms(
    dev_program: Program, env: str
) -> None:
    alarm = _alarm(dev_program, env, "mean-probability")
    _reads_exported_metrics(alarm, env)
    queries = _queries(alarm)
    assert {q["id"]: q["metric"]["metricName"] for q in queries.values() if "metric" in q} == {
        "live": "prediction_probability",
        "records": "prediction_probability",
        "low": "model_expected_mean_probability_low",
        "high": "model_expected_mean_probability_high",
    }
    assert queries["live"]["metric"]["stat"] == "Average"
    assert {q["metric"]["period"] for q in queries.values() if "metric" in q} == {900}, (
        "not a 15-minute window"
    )
    expression = queries["outside"]["expression"]
    assert "live < low" in expression and "live > high" in expression, expression
    assert (alarm["comparisonOperator"], alarm["threshold"], alarm["treatMissingData"]) == (
        "GreaterThanThreshold",
        0,
        "notBreaching",
    )
    assert alarm["alarmActions"] == [dev_program.outputs["alertsTopicArn"]]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_two_model_versions_serving_longer_than_a_deploy_alarms(dev_program: Program, env: str) -> None:
    alarm = _alarm(dev_program, env, "model-versions")
    _reads_exported_metrics(alarm, env)
    queries = _queries(alarm)
    assert {(q["metric"]["metricName"], q["metric"]["stat"]) for q in queries.values() if "metric" in q} == {
        ("model_bundle_created_timestamp_seconds", "Maximum"),
        ("model_bundle_created_timestamp_seconds", "Minimum"),
    }
    assert queries["spread"]["expression"] == "newest - oldest"
    minutes = alarm["evaluationPeriods"] * queries["newest"]["metric"]["period"] / 60
    assert minutes >= 15, f"{env}: alarms after {minutes} minutes, a normal deploy can take that long"
    assert alarm["datapointsToAlarm"] == alarm["evaluationPeriods"], "a short overlap must not fire"
    assert alarm["alarmActions"] == [dev_program.outputs["alertsTopicArn"]]
