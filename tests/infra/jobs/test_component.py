"""The Batch jobs component as `pulumi up -s dev` registers it (infra/jobs/)."""

from __future__ import annotations

import json
import re
import runpy
from typing import Any

import pytest

from infra.config import ConfigError, parse_config
from ml_deploy_cli.aws.jobs import job_command
from ml_deploy_dev.autonaming import generated_name
from ml_deploy_dev.program import (
    ACCOUNT,
    FIRST_BUILD_IMAGES,
    MAIN,
    REGION,
    Program,
    Resource,
    dev_stack_config,
    run_program,
    run_under_mocks,
)
from tests.infra import iam_lint
from tests.infra.shared_program import shared_program

JOB_DEFINITION = "aws:batch/jobDefinition:JobDefinition"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
QUEUE = generated_name("jobs-queue")
QUEUE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/{QUEUE}"
ALERTS_TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{generated_name('alerts-topic')}"
RETRAIN_DEFINITION_ARNS = [
    f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{generated_name('jobs-retrain')}:*"
]
JOB_KINDS = ["retrain", "monitor", "quality"]
# The monitor's definition is named, not autonamed: its own fan-out submits it by that name.
MONITOR_DEFINITION = "ml-deploy-dev-monitor"
DEFINITIONS = {
    "retrain": generated_name("jobs-retrain"),
    "monitor": MONITOR_DEFINITION,
    "quality": generated_name("jobs-quality"),
}
MONITOR_DEFINITION_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{MONITOR_DEFINITION}:*"
# Actions AWS authorises on no resource but "*" (each statement scopes them otherwise).
STAR_ONLY_ACTIONS = {"cloudwatch:PutMetricData", "ecr:GetAuthorizationToken"}


@pytest.fixture(scope="module")
def tuned_program() -> Program:
    """The dev stack with the job knobs turned away from their dev values."""
    settings = {
        "useFargateSpot": False,
        "retrainSchedule": "cron(30 4 ? * SUN *)",
        "monitorSchedule": "rate(6 hours)",
        "qualitySchedule": "cron(0 6 * * ? *)",
        "scheduleTimezone": "Europe/Berlin",
        "jobsImageTag": "a1b2c3d-model-7",
        "retrainOnDrift": False,
        "retrainOnQuality": False,
        "qualityJob": {"vcpu": 2, "memory": 4096},
        "retrainJob": {"vcpu": 4, "memory": 16384, "timeoutMinutes": 90, "attempts": 2},
    }
    return run_program(overrides={f"ml-deploy:{key}": value for key, value in settings.items()})


def container(program: Program, kind: str) -> dict[str, Any]:
    properties: dict[str, Any] = json.loads(
        program.one(JOB_DEFINITION, f"jobs-{kind}").inputs["containerProperties"]
    )
    return properties


def environment(program: Program, kind: str) -> dict[str, str]:
    return {pair["name"]: pair["value"] for pair in container(program, kind)["environment"]}


def statements(program: Program, role: str) -> list[dict[str, Any]]:
    document: dict[str, Any] = json.loads(program.one(ROLE_POLICY, role).inputs["policy"])
    return list(document["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granting(program: Program, role: str, action: str) -> list[dict[str, Any]]:
    return [s for s in statements(program, role) if action in as_list(s["Action"])]


def schedule_for(program: Program, kind: str) -> Resource:
    return program.one(SCHEDULE, f"jobs-{kind}-schedule")


# --- schedules ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", JOB_KINDS)
def test_each_schedule_submits_its_own_job_to_the_queue(dev_program: Program, kind: str) -> None:
    config = dev_stack_config()
    target = schedule_for(dev_program, kind).inputs["target"]
    request = json.loads(target["input"])

    assert target["arn"] == "arn:aws:scheduler:::aws-sdk:batch:submitJob", "not Batch SubmitJob"
    assert request["JobDefinition"] == DEFINITIONS[kind], (
        f"the {kind} schedule submits {request['JobDefinition']}, not the {kind} job definition "
        "(by name, so the latest revision the pipeline registered runs)"
    )
    assert request["JobQueue"] == QUEUE_ARN, f"the {kind} schedule submits to another queue"
    assert target["roleArn"].endswith(f":role/{generated_name('jobs-scheduler')}"), (
        "schedule runs as another role"
    )
    assert target["deadLetterConfig"]["arn"].endswith(f":{generated_name('jobs-schedule-dlq')}"), (
        "no dead-letter queue"
    )
    schedule = schedule_for(dev_program, kind).inputs
    assert schedule["scheduleExpression"] == config[f"ml-deploy:{kind}Schedule"]
    assert schedule["scheduleExpressionTimezone"] == config["ml-deploy:scheduleTimezone"]
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}, "jobs must start on time"


# EventBridge Scheduler: "An EventBridge Scheduler schedule has two states: enabled and disabled"
# (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-state.html); the
# Schedule resource's `state` takes exactly these two values.
SCHEDULE_STATES = {"ENABLED", "DISABLED"}


@pytest.mark.parametrize("kind", JOB_KINDS)
def test_schedules_stay_disabled_until_the_images_are_published(dev_program: Program, kind: str) -> None:
    """A fresh account: ECR lists no image in the jobs repository; a job would only fail to pull."""
    state = schedule_for(dev_program, kind).inputs.get("state")
    assert state in SCHEDULE_STATES, f"the {kind} schedule's state {state!r} is not a Scheduler state"
    assert state == "DISABLED", f"the {kind} schedule runs before the pipeline has pushed the jobs image"


def test_publishing_the_images_enables_every_schedule() -> None:
    program = shared_program(images=FIRST_BUILD_IMAGES)
    states = {kind: schedule_for(program, kind).inputs.get("state") for kind in JOB_KINDS}
    assert states == dict.fromkeys(JOB_KINDS, "ENABLED"), states


def test_an_untagged_or_service_only_image_keeps_the_schedules_off() -> None:
    """ListImages lists untagged images too (an interrupted push): no tag, nothing a job can pull."""
    untagged = run_program(
        images={
            generated_name("images-jobs"): [""],
            generated_name("images-service"): FIRST_BUILD_IMAGES[generated_name("images-service")],
        }
    )
    states = {kind: schedule_for(untagged, kind).inputs.get("state") for kind in JOB_KINDS}
    assert states == dict.fromkeys(JOB_KINDS, "DISABLED"), states


def test_schedules_follow_the_configured_expressions_and_time_zone(tuned_program: Program) -> None:
    schedules = {kind: schedule_for(tuned_program, kind).inputs for kind in JOB_KINDS}
    assert {kind: s["scheduleExpression"] for kind, s in schedules.items()} == {
        "retrain": "cron(30 4 ? * SUN *)",
        "monitor": "rate(6 hours)",
        "quality": "cron(0 6 * * ? *)",
    }
    assert {s["scheduleExpressionTimezone"] for s in schedules.values()} == {"Europe/Berlin"}, (
        "the configured time zone does not reach every schedule"
    )


def test_scheduler_role_submits_only_the_three_jobs_to_this_queue(dev_program: Program) -> None:
    (submit,) = granting(dev_program, "jobs-scheduler", "batch:SubmitJob")
    assert sorted(submit["Resource"]) == sorted(
        [
            *RETRAIN_DEFINITION_ARNS,
            MONITOR_DEFINITION_ARN,
            f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{generated_name('jobs-quality')}:*",
            QUEUE_ARN,
        ]
    ), f"the scheduler may submit more than the three jobs: {submit['Resource']}"
    trust = json.loads(dev_program.one(ROLE, "jobs-scheduler").inputs["assumeRolePolicy"])
    (assume,) = trust["Statement"]
    assert assume["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert assume["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, (
        "scheduler trust is open to schedules of other accounts (confused deputy)"
    )


# --- retry and timeout -------------------------------------------------------------------

_BATCH_GLOB = re.compile(r"^[A-Za-z0-9.:\s]*\*?$")


def batch_decision(
    evaluate_on_exit: list[dict[str, str]], *, exit_code: int | None, status_reason: str
) -> str:
    """What Batch does with a failed attempt: the first entry whose conditions all match wins;
    when none matches, Batch retries. Globs may only end in '*'."""
    for entry in evaluate_on_exit:
        conditions = {k: v for k, v in entry.items() if k.startswith("on")}
        for pattern in conditions.values():
            assert _BATCH_GLOB.match(pattern), f"Batch rejects the glob {pattern!r}"

        def matches(pattern: str, value: str) -> bool:
            return value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern

        code_ok = "onExitCode" not in conditions or (
            exit_code is not None and matches(conditions["onExitCode"], str(exit_code))
        )
        reason_ok = "onStatusReason" not in conditions or matches(conditions["onStatusReason"], status_reason)
        if code_ok and reason_ok:
            return entry["action"].upper()
    return "RETRY"


@pytest.mark.parametrize("kind", JOB_KINDS)
@pytest.mark.parametrize(
    ("exit_code", "status_reason", "expected"),
    [
        (3, "Essential container in task exited", "EXIT"),  # gate rejected the challenger
        (2, "Essential container in task exited", "EXIT"),  # bad input data
        (1, "Essential container in task exited", "EXIT"),  # our bug: retrying will not fix it
        (None, "ResourceInitializationError: unable to pull secrets or registry auth", "RETRY"),
        (None, "Task failed to start", "RETRY"),
        (143, "Your Spot Task was interrupted.", "RETRY"),
    ],
)
def test_only_infrastructure_failures_are_retried(
    dev_program: Program, kind: str, exit_code: int | None, status_reason: str, expected: str
) -> None:
    strategy = dev_program.one(JOB_DEFINITION, f"jobs-{kind}").inputs["retryStrategy"]
    decision = batch_decision(strategy["evaluateOnExits"], exit_code=exit_code, status_reason=status_reason)
    assert decision == expected, (
        f"{kind}: exit code {exit_code} with '{status_reason}' leads to {decision}, not {expected}"
    )
    assert len(strategy["evaluateOnExits"]) <= 5, "Batch takes at most five evaluateOnExit entries"


def test_attempts_and_timeouts_come_from_config(tuned_program: Program) -> None:
    definition = tuned_program.one(JOB_DEFINITION, "jobs-retrain").inputs
    assert definition["retryStrategy"]["attempts"] == 2, "retrainJob.attempts not applied"
    assert definition["timeout"] == {"attemptDurationSeconds": 90 * 60}, "timeout not applied"
    monitor = tuned_program.one(JOB_DEFINITION, "jobs-monitor").inputs
    assert monitor["timeout"] == {"attemptDurationSeconds": 60 * 60}, "monitor timeout missing"


# --- job definitions ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", JOB_KINDS)
def test_jobs_run_the_jobs_image_privately_on_fargate(dev_program: Program, kind: str) -> None:
    definition = dev_program.one(JOB_DEFINITION, f"jobs-{kind}").inputs
    properties = container(dev_program, kind)
    assert definition["platformCapabilities"] == ["FARGATE"]
    assert properties["command"] == ["python", "-m", f"retrain_job.{kind}"] == job_command(kind), (
        "the CLI's run-job --backfill overrides the definition's command with job_command(kind)"
    )
    assert properties["image"].endswith(f"/{generated_name('images-jobs')}:bootstrap"), (
        f"{kind} does not run the jobs image at the configured tag: {properties['image']}"
    )
    assert properties["networkConfiguration"] == {"assignPublicIp": "DISABLED"}
    assert "platformVersion" in properties["fargatePlatformConfiguration"]
    assert properties["jobRoleArn"].endswith(f":role/{generated_name(f'jobs-{kind}')}"), (
        "job runs with another role"
    )
    assert properties["executionRoleArn"].endswith(f":role/{generated_name('jobs-execution')}")
    log_options = properties["logConfiguration"]["options"]
    assert properties["logConfiguration"]["logDriver"] == "awslogs"
    log_group = dev_program.called("aws:cloudwatch/logGroup:LogGroup", log_options["awslogs-group"])
    assert log_group.inputs.get("kmsKeyId"), "job logs are not encrypted with the stack key"
    assert log_group.inputs["retentionInDays"] == 14, "job log retention is not the configured one"


def test_sizes_and_image_tag_come_from_config(tuned_program: Program) -> None:
    properties = container(tuned_program, "retrain")
    assert sorted(properties["resourceRequirements"], key=lambda r: r["type"]) == [
        {"type": "MEMORY", "value": "16384"},
        {"type": "VCPU", "value": "4"},
    ]
    assert properties["image"].endswith(":a1b2c3d-model-7"), "jobsImageTag not applied"


def test_retrain_job_is_told_where_everything_is(dev_program: Program) -> None:
    env = environment(dev_program, "retrain")
    assert env == {
        "AWS_REGION": REGION,
        "MODEL_BUCKET": "ml-models-0a1b2c3",
        "MODEL_KEY": "bundles/current/model-bundle.zip",
        "MODEL_ARCHIVE_PREFIX": "bundles/archive/",
        "DECISIONS_PREFIX": "retrain/decisions/",
        "TRAINING_DATA_URI": "s3://ml-training-data-0a1b2c3/training/",
        "ALERTS_TOPIC_ARN": ALERTS_TOPIC_ARN,
        "METRICS_NAMESPACE": "MlDeploy",
        "GATE_TOLERANCE": "0.01",
        "GATE_FLOOR": "0.7",
    }


def test_monitor_job_is_told_where_everything_is(dev_program: Program) -> None:
    env = environment(dev_program, "monitor")
    assert env == {
        "AWS_REGION": REGION,
        "ENVIRONMENT": "prod",
        "MODEL_BUCKET": "ml-models-0a1b2c3",
        "MODEL_KEY": "bundles/current/model-bundle.zip",
        "LOG_BUCKET": "ml-prediction-logs-0a1b2c3",
        "LOG_PREFIX": "predictions/",
        "REPORTS_PREFIX": "reports/",
        "WINDOW_HOURS": "24",
        "PSI_THRESHOLD": "0.25",
        "KS_THRESHOLD": "0.1",
        "CATEGORY_THRESHOLD": "0.1",
        "MISSING_THRESHOLD": "0.1",
        "UNSEEN_THRESHOLD": "0.01",
        "ALERTS_TOPIC_ARN": ALERTS_TOPIC_ARN,
        "METRICS_NAMESPACE": "MlDeploy",
        "RETRAIN_ON_DRIFT": "true",
        "RETRAIN_COOLDOWN_HOURS": "24",
        "RETRAIN_JOB_QUEUE": QUEUE,
        "RETRAIN_JOB_DEFINITION": generated_name("jobs-retrain"),
        "COOLDOWN_KEY": "monitor/cooldown.json",
        "SUMMARIES_PREFIX": "monitor/summaries/",
        "SUMMARY_GRACE_MINUTES": "30",
        "SHARD_OBJECTS": "20000",
        "MAX_ARRAY_SIZE": "100",
        "MONITOR_JOB_QUEUE": QUEUE,
        "MONITOR_JOB_DEFINITION": MONITOR_DEFINITION,
        "DECISIONS_PREFIX": "retrain/decisions/",
        "PIPELINE_NAME": "ml-deploy-dev",
    }


# --- compute ------------------------------------------------------------------------------


def test_fargate_spot_follows_config(dev_program: Program, tuned_program: Program) -> None:
    compute = "aws:batch/computeEnvironment:ComputeEnvironment"
    spot = dev_program.one(compute).inputs["computeResources"]
    on_demand = tuned_program.one(compute).inputs["computeResources"]
    assert spot["type"] == "FARGATE_SPOT", "useFargateSpot: true does not give Fargate Spot"
    assert on_demand["type"] == "FARGATE", "useFargateSpot: false does not give on-demand Fargate"
    assert spot["maxVcpus"] == 16


def test_jobs_sit_in_private_subnets_with_https_egress_only(dev_program: Program) -> None:
    resources = dev_program.one("aws:batch/computeEnvironment:ComputeEnvironment").inputs["computeResources"]
    private = {s.id for s in dev_program.of_type("aws:ec2/subnet:Subnet") if "private" in s.name}
    assert private and set(resources["subnets"]) == private, "jobs are not in the private subnets"
    assert resources["securityGroupIds"] == ["jobs-tasks-id"]
    group = dev_program.one("aws:ec2/securityGroup:SecurityGroup", "jobs-tasks").inputs
    assert not group.get("ingress") and not group.get("egress"), "inline rules on the jobs group"
    rules = [
        r.inputs
        for r in dev_program.resources
        if r.type.startswith("aws:vpc/securityGroup") and r.inputs["securityGroupId"] == "jobs-tasks-id"
    ]
    assert rules == [
        {
            "securityGroupId": "jobs-tasks-id",
            "description": rules[0]["description"],
            "ipProtocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrIpv4": "0.0.0.0/0",
        }
    ], f"the jobs group allows more than HTTPS out: {rules}"


# --- roles --------------------------------------------------------------------------------


def _submits(program: Program) -> dict[str, list[str]]:
    return {s["Sid"]: sorted(s["Resource"]) for s in granting(program, "jobs-monitor", "batch:SubmitJob")}


def test_monitor_may_submit_only_the_retrain_job_and_itself_to_this_queue(dev_program: Program) -> None:
    assert _submits(dev_program) == {
        "SubmitRetrainOnDrift": sorted([*RETRAIN_DEFINITION_ARNS, QUEUE_ARN]),
        # Every revision of its own definition (PromoteJobs registers new ones), the fan-out's.
        "SubmitOwnFanOutJobs": sorted([MONITOR_DEFINITION_ARN, QUEUE_ARN]),
    }, f"the monitor may submit more than the retrain job and itself: {_submits(dev_program)}"


def test_monitor_submits_only_its_fan_out_when_retrain_on_drift_is_off(tuned_program: Program) -> None:
    submits = _submits(tuned_program)
    assert list(submits) == ["SubmitOwnFanOutJobs"], f"retrainOnDrift is false but the monitor may: {submits}"
    assert environment(tuned_program, "monitor")["RETRAIN_ON_DRIFT"] == "false"


def test_retrain_role_never_touches_the_prediction_logs(dev_program: Program) -> None:
    touching = [
        s["Sid"] for s in statements(dev_program, "jobs-retrain") if "ml-prediction-logs" in json.dumps(s)
    ]
    assert not touching, f"retrain statements reach the log bucket: {touching}"


def test_retrain_reads_only_the_training_prefix(dev_program: Program) -> None:
    training = "arn:aws:s3:::ml-training-data-0a1b2c3"
    reads = [
        r
        for s in granting(dev_program, "jobs-retrain", "s3:GetObject")
        for r in as_list(s["Resource"])
        if r.startswith(training)
    ]
    assert reads == [f"{training}/training/*"], f"retrain reads more training data: {reads}"
    (listing,) = [
        s for s in granting(dev_program, "jobs-retrain", "s3:ListBucket") if s["Resource"] == training
    ]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["training/*"]}}


def test_retrain_writes_only_the_bundle_archive_and_decisions(dev_program: Program) -> None:
    writes = sorted(
        r for s in granting(dev_program, "jobs-retrain", "s3:PutObject") for r in as_list(s["Resource"])
    )
    models = "arn:aws:s3:::ml-models-0a1b2c3"
    assert writes == [
        f"{models}/bundles/archive/*",
        f"{models}/bundles/current/model-bundle.zip",
        f"{models}/retrain/decisions/*",
    ], f"retrain may write elsewhere: {writes}"


def test_monitor_writes_only_reports_its_cooldown_and_hour_summaries(dev_program: Program) -> None:
    writes = sorted(
        r for s in granting(dev_program, "jobs-monitor", "s3:PutObject") for r in as_list(s["Resource"])
    )
    logs = "arn:aws:s3:::ml-prediction-logs-0a1b2c3"
    assert writes == [
        f"{logs}/monitor/cooldown.json",
        f"{logs}/monitor/summaries/*",
        f"{logs}/reports/*",
        f"{logs}/reports/dashboard/prod/index.html",
    ], f"the monitor may write elsewhere (the model bucket?): {writes}"


@pytest.mark.parametrize("role", ["jobs-retrain", "jobs-monitor", "jobs-quality"])
def test_jobs_put_metrics_only_in_our_namespace_and_alert_only_our_topic(
    dev_program: Program, role: str
) -> None:
    (metrics,) = granting(dev_program, role, "cloudwatch:PutMetricData")
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "MlDeploy"}}
    (publish,) = granting(dev_program, role, "sns:Publish")
    assert publish["Resource"] == ALERTS_TOPIC_ARN


def test_execution_role_pulls_only_the_jobs_image(dev_program: Program) -> None:
    (pull,) = granting(dev_program, "jobs-execution", "ecr:BatchGetImage")
    assert pull["Resource"] == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{generated_name('images-jobs')}"
    (logs,) = granting(dev_program, "jobs-execution", "logs:PutLogEvents")
    assert (
        logs["Resource"]
        == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{generated_name('jobs-logs')}:log-stream:*"
    )


JOB_ROLES = ["jobs-retrain", "jobs-monitor", "jobs-quality", "jobs-execution", "jobs-scheduler"]


@pytest.mark.parametrize("role", JOB_ROLES)
def test_every_statement_says_what_it_is_for_and_stars_only_where_aws_insists(
    dev_program: Program, role: str
) -> None:
    for statement in statements(dev_program, role):
        assert statement.get("Sid"), f"{role}: a statement has no Sid: {statement}"
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= STAR_ONLY_ACTIONS, (
                f"{role}: {statement['Sid']} grants {statement['Action']} on '*'"
            )


@pytest.mark.parametrize("role", JOB_ROLES)
def test_job_policies_are_parliament_clean(dev_program: Program, role: str) -> None:
    document = dev_program.one(ROLE_POLICY, role).inputs["policy"]
    unexpected = iam_lint.findings(document, star_only_actions=STAR_ONLY_ACTIONS)
    assert not unexpected, f"{role}: parliament findings {unexpected}"


def _actions(detail: Any) -> list[str]:
    if isinstance(detail, list):
        return [d["action"] if isinstance(d, dict) else str(d) for d in detail]
    return [str(detail)]


# --- failure alerts, outputs, hygiene ------------------------------------------------------


def test_failed_jobs_of_this_queue_reach_the_alerts_topic(dev_program: Program) -> None:
    rule = dev_program.one("aws:cloudwatch/eventRule:EventRule", "jobs-failed")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern == {
        "source": ["aws.batch"],
        "detail-type": ["Batch Job State Change"],
        "detail": {"status": ["FAILED"], "jobQueue": [QUEUE_ARN]},
    }, f"the failure rule matches the wrong events: {pattern}"
    target = dev_program.one("aws:cloudwatch/eventTarget:EventTarget", "jobs-failed-to-alerts").inputs
    assert target["rule"] == generated_name("jobs-failed")
    assert target["arn"] == ALERTS_TOPIC_ARN, "not sent to alerts"
    transformer = target["inputTransformer"]
    placeholders = set(re.findall(r"<(\w+)>", transformer["inputTemplate"]))
    assert placeholders <= set(transformer["inputPaths"]), "template uses an undefined placeholder"
    assert {"job", "reason"} <= placeholders, "the alert does not say which job failed and why"


def test_undeliverable_schedules_alert(dev_program: Program) -> None:
    alarm = dev_program.one("aws:cloudwatch/metricAlarm:MetricAlarm", "jobs-schedule-dlq-not-empty")
    assert alarm.inputs["dimensions"] == {"QueueName": generated_name("jobs-schedule-dlq")}
    assert alarm.inputs["alarmActions"] == [ALERTS_TOPIC_ARN]


def test_outputs_say_how_to_run_a_job_by_hand(dev_program: Program) -> None:
    outputs = dev_program.outputs
    assert outputs["jobQueueName"] == QUEUE
    assert outputs["retrainJobDefinitionName"] == generated_name("jobs-retrain")
    assert outputs["monitorJobDefinitionName"] == MONITOR_DEFINITION
    assert outputs["qualityJobDefinitionName"] == generated_name("jobs-quality")
    for kind in JOB_KINDS:
        assert outputs[f"{kind}SubmitCommand"] == (
            f"aws batch submit-job --job-name {kind}-manual --job-queue {QUEUE} "
            f"--job-definition {DEFINITIONS[kind]} --region {REGION}"
        )


def test_the_pipeline_is_told_which_roles_revisions_pass() -> None:
    seen: list[str] = []

    def build() -> None:
        jobs = runpy.run_path(str(MAIN), run_name="__main__")["jobs"]
        for role in jobs.passed_roles:
            role.arn.apply(seen.append)

    run_under_mocks(build)
    assert sorted(a.rsplit("/", 1)[1] for a in seen) == [
        generated_name("jobs-execution"),
        generated_name("jobs-monitor"),
        generated_name("jobs-quality"),
        generated_name("jobs-retrain"),
    ], f"passed_roles does not list exactly the job definitions' roles: {seen}"


def test_jobs_use_no_deprecated_resource_or_argument(dev_program: Program) -> None:
    deprecated = [w for w in dev_program.warnings if "is deprecated" in w]
    assert not deprecated, f"deprecated resources/arguments: {deprecated}"


def test_every_jobs_resource_is_tagged_by_the_jobs_provider(dev_program: Program) -> None:
    untagged = [
        r.name for r in dev_program.resources if r.name.startswith("jobs-") and r.provider != "aws-jobs"
    ]
    assert not untagged, f"jobs resources outside the jobs provider (untagged): {untagged}"


# --- config --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ({"jobsImageTag": "latest"}, "ml-deploy:jobsImageTag must not be 'latest'"),
        ({"jobsImageTag": "no spaces"}, "ml-deploy:jobsImageTag must be an image tag"),
        ({"retrainJob": {"vcpu": 1, "memory": 16384}}, "ml-deploy:retrainJob memory 16384"),
        ({"jobLogRetentionDays": 10}, "ml-deploy:jobLogRetentionDays must be a CloudWatch"),
    ],
)
def test_bad_job_settings_fail_with_the_key_named(setting: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"codeRepository": "acme/model", **setting}, region=REGION)
    assert complaint in str(raised.value), f"unclear message: {raised.value}"


def test_job_defaults_are_valid_fargate_sizes() -> None:
    jobs = parse_config({"codeRepository": "acme/model", "allowPlainHttpProd": True}, region=REGION).jobs
    assert jobs.jobs_image_tag == "bootstrap"
    assert (jobs.retrain_job.vcpu, jobs.retrain_job.memory) == (2, 8192)
