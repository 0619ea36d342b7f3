"""The quality job as `pulumi up -s dev` registers it: its role's scopes, alarms, dashboard row, keys
(infra/jobs/quality.py, infra/jobs/config.py, infra/serving/dashboard.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import ConfigError, parse_config
from ml_deploy.quality_report import BELOW_FLOOR_METRIC, COVERAGE_METRIC, cloudwatch_metric
from ml_deploy_dev.autonaming import generated_name
from ml_deploy_dev.program import REGION, Program, run_program
from tests.infra.jobs.test_component import (
    ALERTS_TOPIC_ARN,
    QUEUE_ARN,
    RETRAIN_DEFINITION_ARNS,
    as_list,
    environment,
    granting,
    statements,
)

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOGS = "arn:aws:s3:::ml-prediction-logs-0a1b2c3"
MODELS = "arn:aws:s3:::ml-models-0a1b2c3"
ROLE = "jobs-quality"


@pytest.fixture(scope="module")
def quiet_program() -> Program:
    """retrainOnQuality off, precision and recall floors set."""
    settings = {"retrainOnQuality": False, "precisionFloor": 0.4, "recallFloor": 0.3}
    return run_program(overrides={f"ml-deploy:{key}": value for key, value in settings.items()})


# The dashboard's own reads (tests/infra/jobs/test_dashboard_access.py), shared with the monitor.
DASHBOARD_SIDS = frozenset(
    {"ListDashboardHistory", "ReadDashboardHistory", "ReadRetrainDecisions", "ListRetrainDecisions"}
)


def _resources(program: Program, action: str, *, but: frozenset[str] = frozenset()) -> list[str]:
    return sorted(
        r for s in granting(program, ROLE, action) if s["Sid"] not in but for r in as_list(s["Resource"])
    )


# --- the role ------------------------------------------------------------------------------------


def test_quality_reads_only_prods_logs_the_outcomes_the_archive_and_the_cooldown(
    dev_program: Program,
) -> None:
    assert _resources(dev_program, "s3:GetObject", but=DASHBOARD_SIDS) == [
        f"{MODELS}/bundles/archive/*",
        f"{LOGS}/monitor/cooldown.json",
        f"{LOGS}/outcomes/*",
        f"{LOGS}/predictions/prod/*",
    ], "the quality job may read more than prod's logs, the outcomes, archived bundles and the cooldown"
    assert not granting(dev_program, ROLE, "s3:GetObjectVersion"), (
        "the job reads bundles by key, not by version"
    )


def test_quality_writes_only_its_report_and_the_cooldown(dev_program: Program) -> None:
    assert _resources(dev_program, "s3:PutObject") == [
        f"{LOGS}/monitor/cooldown.json",
        f"{LOGS}/reports/dashboard/prod/index.html",
        f"{LOGS}/reports/dt=*/*/quality.json",
        f"{LOGS}/reports/latest/prod/quality.json",
    ], "the quality job may write more than quality.json, the cooldown and prod's dashboard"
    written = json.dumps(granting(dev_program, ROLE, "s3:PutObject"))
    assert MODELS not in written, "the quality job may write to the model bucket"


def test_quality_lists_only_under_what_it_reads_and_writes(dev_program: Program) -> None:
    listings = {
        s["Resource"]: s["Condition"]
        for s in granting(dev_program, ROLE, "s3:ListBucket")
        if s["Sid"] not in DASHBOARD_SIDS
    }
    assert listings == {
        LOGS: {
            "StringLike": {
                "s3:prefix": ["predictions/prod/*", "outcomes/*", "reports/*", "monitor/cooldown.json"]
            }
        },
        MODELS: {"StringLike": {"s3:prefix": ["bundles/archive/*"]}},
    }


def test_quality_may_submit_only_the_retrain_job_to_this_queue(dev_program: Program) -> None:
    (submit,) = granting(dev_program, ROLE, "batch:SubmitJob")
    assert sorted(submit["Resource"]) == sorted([*RETRAIN_DEFINITION_ARNS, QUEUE_ARN])


def test_quality_submits_nothing_when_retrain_on_quality_is_off(quiet_program: Program) -> None:
    assert not granting(quiet_program, ROLE, "batch:SubmitJob")
    assert environment(quiet_program, "quality")["RETRAIN_ON_QUALITY"] == "false"


def test_quality_uses_the_stack_key_only_through_s3_and_sns(dev_program: Program) -> None:
    (kms,) = granting(dev_program, ROLE, "kms:Decrypt")
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == [
        f"s3.{REGION}.amazonaws.com",
        f"sns.{REGION}.amazonaws.com",
    ]
    assert {s["Sid"] for s in statements(dev_program, ROLE)} >= {"ReadArchivedBundles", "WriteQualityReports"}


# --- the environment -----------------------------------------------------------------------------


def test_the_floors_reach_the_job_only_when_set(dev_program: Program, quiet_program: Program) -> None:
    unset = environment(dev_program, "quality")
    assert "PRECISION_FLOOR" not in unset and "RECALL_FLOOR" not in unset
    assert unset["AUC_FLOOR"] == "0.65"
    tuned = environment(quiet_program, "quality")
    assert (tuned["PRECISION_FLOOR"], tuned["RECALL_FLOOR"]) == ("0.4", "0.3")


# --- alarms and the dashboard --------------------------------------------------------------------


def _alarm(program: Program, name: str) -> dict[str, Any]:
    return program.one(ALARM, name).inputs


def test_quality_below_floor_alarms_the_alerts_topic(dev_program: Program) -> None:
    alarm = _alarm(dev_program, "jobs-quality-below-floor")
    (query,) = alarm["metricQueries"]
    assert query["expression"] == (
        f'SELECT MAX({BELOW_FLOOR_METRIC}) FROM SCHEMA("MlDeploy", Environment, ModelVersion) '
        "WHERE Environment = 'prod'"
    )
    assert query["returnData"] is True
    # Metrics Insights alarms evaluate at most the last 3 hours
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-limits.html).
    assert query["period"] * alarm["evaluationPeriods"] <= 3 * 3600
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
    # Between daily runs there is no datum: the state stays the latest run's verdict.
    assert alarm["treatMissingData"] == "ignore"
    assert alarm["alarmActions"] == alarm["okActions"] == [ALERTS_TOPIC_ARN]


def test_outcomes_that_stop_arriving_alarm(dev_program: Program) -> None:
    alarm = _alarm(dev_program, "jobs-quality-no-outcomes")
    (query,) = alarm["metricQueries"]
    assert f"MAX({COVERAGE_METRIC})" in query["expression"]
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("LessThanOrEqualToThreshold", 0)
    assert alarm["alarmActions"] == [ALERTS_TOPIC_ARN]


def _dashboard_widgets(program: Program) -> list[dict[str, Any]]:
    body = json.loads(program.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    return list(body["widgets"])


def test_the_dashboard_has_a_quality_row_with_auc_its_interval_and_coverage(dev_program: Program) -> None:
    widgets = _dashboard_widgets(dev_program)
    expressions = [
        line[0]["expression"]
        for widget in widgets
        for line in widget["properties"]["metrics"]
        if isinstance(line[0], dict) and "expression" in line[0]
    ]
    for metric in (
        cloudwatch_metric("roc_auc"),
        cloudwatch_metric("roc_auc", bound="low"),
        cloudwatch_metric("roc_auc", bound="high"),
        COVERAGE_METRIC,
    ):
        wanted = f'MetricName="{metric}" Environment="prod"'
        assert any(wanted in e for e in expressions), f"no dashboard line for {metric} of prod"
    quality = [w for w in widgets if "ROC AUC" in w["properties"]["title"]]
    assert len(quality) == 1 and quality[0]["x"] == 0, "the quality widgets are not a row of their own"
    assert max(w["y"] for w in widgets) == quality[0]["y"], "the quality row is not the last"


# --- stack keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        (
            {"maturityMinDays": 60, "maturityMaxDays": 30},
            "maturityMinDays (60) must be less than maturityMaxDays (30)",
        ),
        (
            {"maturityMinDays": 30, "maturityMaxDays": 30},
            "maturityMinDays (30) must be less than maturityMaxDays",
        ),
        ({"aucFloor": 1.5}, "ml-deploy:aucFloor"),
        ({"precisionFloor": -0.1}, "ml-deploy:precisionFloor"),
        ({"recallFloor": 2}, "ml-deploy:recallFloor"),
        ({"minOutcomes": 5}, "ml-deploy:minOutcomes"),
        ({"bootstrapSamples": 10}, "ml-deploy:bootstrapSamples"),
        ({"retrainOnQuality": "sometimes"}, "ml-deploy:retrainOnQuality"),
        ({"qualitySchedule": "daily"}, "ml-deploy:qualitySchedule"),
        ({"qualityJob": {"vcpu": 1, "memory": 16384}}, "ml-deploy:qualityJob memory 16384"),
        ({"maxVcpus": 2, "qualityJob": {"vcpu": 4, "memory": 8192}}, "maxVcpus must be at least 4"),
    ],
)
def test_bad_quality_settings_fail_with_the_key_named(setting: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"codeRepository": "acme/model", "allowPlainHttpProd": True, **setting}, region=REGION)
    assert complaint in str(raised.value), f"unclear message: {raised.value}"
    assert "\n" not in str(raised.value), "the message is not one line"


def test_quality_defaults_are_the_runtimes() -> None:
    jobs = parse_config({"codeRepository": "acme/model", "allowPlainHttpProd": True}, region=REGION).jobs
    assert (jobs.maturity_min_days, jobs.maturity_max_days, jobs.min_outcomes) == (30, 60, 200)
    assert (jobs.auc_floor, jobs.precision_floor, jobs.recall_floor) == (0.65, None, None)
    assert (jobs.quality_job.vcpu, jobs.quality_job.memory, jobs.quality_job.timeout_minutes) == (1, 4096, 60)
    assert jobs.quality_schedule == "rate(1 day)"
    assert generated_name("jobs-quality").startswith("jobs-quality-")
