"""Stack config: defaults, and errors that name the key and what is expected."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from infra.config import KEY_SECTIONS, ConfigError, StackConfig, load_config, parse_config
from ml_deploy_dev.program import ROOT, dev_stack_config, run_program, run_under_mocks

CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
MINIMAL = {"codeRepository": "acme/churn", "certificateArn": CERTIFICATE}


def _parse(**raw: Any) -> StackConfig:
    return parse_config({**MINIMAL, **raw}, region="eu-west-1")


def test_minimal_config_takes_the_documented_defaults() -> None:
    config = _parse()
    assert config.pipeline.code_source == "github"
    assert config.storage.model_key == "bundles/current/model-bundle.zip"
    assert config.storage.bucket_encryption == "kms"
    assert config.serving.prod.min_count >= 2, "prod must default to at least two tasks"
    assert config.jobs.retrain_schedule.startswith("cron(")
    # Issue 17: prod a 10% canary for 5 minutes; stage blue/green (no real traffic to slice).
    assert (config.serving.strategy("prod"), config.serving.strategy("stage")) == ("CANARY", "BLUE_GREEN")
    assert (config.serving.prod.canary_percent, config.serving.prod.canary_bake_minutes) == (10, 5)


def test_an_environment_given_without_a_strategy_takes_its_own_default() -> None:
    config = _parse(stage={"cpu": 512}, prod={"minCount": 2})
    assert (config.serving.strategy("prod"), config.serving.strategy("stage")) == ("CANARY", "BLUE_GREEN")
    assert _parse(prod={"deploymentStrategy": "BLUE_GREEN"}).serving.strategy("prod") == "BLUE_GREEN"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"retrainSchedule": "every monday"},
            "ml-deploy:retrainSchedule must be an EventBridge Scheduler expression",
        ),
        (
            {"monitorSchedule": "rate(one day)"},
            "ml-deploy:monitorSchedule must be an EventBridge Scheduler expression",
        ),
        (
            {"scheduleTimezone": "Mars/Olympus"},
            "ml-deploy:scheduleTimezone must be an IANA time zone",
        ),
        ({"bucketEncryption": "rot13"}, "ml-deploy:bucketEncryption"),
        ({"modelKey": "/bundles/model.tar"}, "ml-deploy:modelKey must be an S3 key"),
        ({"trainingDataPrefix": "training"}, "ml-deploy:trainingDataPrefix must be an S3 prefix"),
        ({"vpcCidr": "10.0.0.0"}, "ml-deploy:vpcCidr must be an IPv4 CIDR block"),
        (
            {"vpcId": "vpc-0123456789abcdef0"},
            "ml-deploy:vpcId is set, so publicSubnetIds and privateSubnetIds",
        ),
        (
            {"prod": {"minCount": 3, "maxCount": 2}},
            "ml-deploy:prod maxCount must be at least minCount",
        ),
        ({"stage": {"cpu": 300}}, "ml-deploy:stage cpu 300 is not a Fargate task size"),
        (
            {"retrainJob": {"vcpu": 3}},
            "ml-deploy:retrainJob.vcpu must be one of 0.25, 0.5, 1, 2, 4, 8, 16",
        ),
        ({"stage": {"cpus": 512}}, "ml-deploy:stage.cpus is not a known setting"),
        (
            {"approvalEmails": ["not-an-address"]},
            "ml-deploy:approvalEmails 'not-an-address' is not an email",
        ),
        (
            {"certificateArn": "arn:aws:iam::1:cert"},
            "ml-deploy:certificateArn must be an ACM certificate ARN",
        ),
        (
            {"logTransitionDays": 90, "logExpirationDays": 30},
            "logExpirationDays must be greater than logTransitionDays",
        ),
        (
            {"logTransitionDays": 30, "logExpirationDays": 60, "maturityMaxDays": 60},
            "ml-deploy:maturityMaxDays (60) must be less than logExpirationDays (60)",
        ),
        ({"codeRepository": "just-a-name"}, "ml-deploy:codeRepository must be 'owner/name'"),
        ({"gateFloor": 1.5}, "ml-deploy:gateFloor"),
        # Issue 17: ECS's deployment settings (pulumi-aws ecs.Service deploymentConfiguration:
        # canaryPercent 0.1-100.0, bake times 0-1440 minutes).
        (
            {"prod": {"deploymentStrategy": "ROLLING"}},
            "ml-deploy:prod.deploymentStrategy must be one of CANARY, BLUE_GREEN: only deployments "
            "with test traffic",
        ),
        ({"prod": {"canaryPercent": 0}}, "ml-deploy:prod.canaryPercent"),
        ({"prod": {"canaryPercent": 100.5}}, "ml-deploy:prod.canaryPercent"),
        ({"stage": {"canaryBakeMinutes": -1}}, "ml-deploy:stage.canaryBakeMinutes"),
        ({"prod": {"bakeMinutes": 1441}}, "ml-deploy:prod.bakeMinutes"),
        ({"smokeTestMaxP99Ms": 0}, "ml-deploy:smokeTestMaxP99Ms"),
        ({"smokeTestTimeoutSeconds": 901}, "ml-deploy:smokeTestTimeoutSeconds"),
        ({"testListenerCidrs": ["10.0.0.1"]}, "ml-deploy:testListenerCidrs must be an IPv4 CIDR block"),
    ],
)
def test_invalid_value_names_the_key_and_what_is_expected(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        _parse(**raw)
    assert expected in str(error.value), f"message {str(error.value)!r} does not say {expected!r}"


def test_missing_required_key_is_named() -> None:
    raw = {"certificateArn": CERTIFICATE}
    with pytest.raises(ConfigError, match="ml-deploy:codeRepository is required"):
        parse_config(raw, region="eu-west-1")


def test_an_empty_stack_names_each_missing_key() -> None:
    with pytest.raises(ConfigError, match="ml-deploy:codeRepository is required"):
        parse_config({}, region="eu-west-1")


def test_missing_region_says_how_to_set_it() -> None:
    with pytest.raises(ConfigError, match="aws:region is required"):
        parse_config(MINIMAL, region=None)


def test_misspelled_key_is_rejected_not_ignored() -> None:
    with pytest.raises(ConfigError, match="ml-deploy:retrainSchedul is not a setting"):
        _parse(retrainSchedul="rate(1 day)")


def test_program_fails_up_front_with_the_config_error() -> None:
    with pytest.raises(
        ConfigError, match="ml-deploy:monitorSchedule must be an EventBridge Scheduler expression"
    ):
        run_program(overrides={"ml-deploy:monitorSchedule": "hourly"})


def test_program_without_required_key_fails_naming_it() -> None:
    with pytest.raises(ConfigError, match="ml-deploy:codeRepository is required"):
        run_program(remove=("ml-deploy:codeRepository",))


def test_dev_stack_sets_only_known_keys() -> None:
    keys = {key.split(":", 1)[1] for key in dev_stack_config() if key.startswith("ml-deploy:")}
    assert keys <= set(KEY_SECTIONS), f"unknown keys in Pulumi.dev.yaml: {keys - set(KEY_SECTIONS)}"


def test_project_file_defaults_agree_with_the_config_object() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    defaults = _parse()
    for name, spec in project["config"].items():
        namespace, key = name.split(":", 1)
        if namespace != "ml-deploy" or "default" not in spec:
            continue
        section = getattr(defaults, KEY_SECTIONS[key])
        field_name = next(n for n, f in type(section).model_fields.items() if (f.alias or n) == key)
        assert getattr(section, field_name) == spec["default"], f"Pulumi.yaml default of {name} disagrees"


def test_the_reference_page_documents_every_key() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text()
    missing = [key for key in KEY_SECTIONS if f"`{key}`" not in reference]
    assert not missing, f"docs/configuration.md does not document: {missing}"


# --- issue 15: values AWS refuses, and prod over plain HTTP -----------------------------------

# "Troubleshoot Amazon ECS task definition invalid CPU or memory errors", the table of valid
# CPU and memory combinations for Fargate:
# https://docs.aws.amazon.com/AmazonECS/latest/userguide/task-cpu-memory-error.html
# The same pairs are documented for Batch jobs on Fargate (ResourceRequirement, type MEMORY):
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html
FARGATE_TASK_SIZES: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: [1024, 2048, 3072, 4096],
    1024: [2048, 3072, 4096, 5120, 6144, 7168, 8192],
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}
# Pairs outside the table, each a mistake the old checks let through or would have.
INVALID_TASK_SIZES = [(256, 1536), (256, 4096), (512, 512), (1024, 1024), (8192, 18432), (300, 1024)]


@pytest.mark.parametrize(
    ("cpu", "memory"), [(cpu, memory) for cpu, sizes in FARGATE_TASK_SIZES.items() for memory in sizes]
)
def test_every_documented_fargate_size_is_accepted_for_services_and_jobs(cpu: int, memory: int) -> None:
    size = {"cpu": cpu, "memory": memory, "minCount": 2, "maxCount": 2}
    assert _parse(prod=size).serving.prod.memory == memory
    assert _parse(retrainJob={"vcpu": cpu / 1024, "memory": memory}).jobs.retrain_job.memory == memory


@pytest.mark.parametrize(("cpu", "memory"), INVALID_TASK_SIZES)
def test_a_fargate_size_aws_refuses_is_rejected_naming_the_key(cpu: int, memory: int) -> None:
    with pytest.raises(ConfigError, match=r"ml-deploy:stage (cpu|memory) \d+ (is not|does not fit)"):
        _parse(stage={"cpu": cpu, "memory": memory})
    with pytest.raises(ConfigError, match=r"ml-deploy:monitorJob(\.vcpu must be| memory \d+ does not fit)"):
        _parse(monitorJob={"vcpu": cpu / 1024, "memory": memory})


def test_standard_ia_transition_before_30_days_is_rejected() -> None:
    """S3 refuses a Standard-IA transition under 30 days ("Constraints and considerations for
    transitions": https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html).
    """
    with pytest.raises(ConfigError, match="ml-deploy:logTransitionDays must be at least 30"):
        _parse(logTransitionDays=29)
    assert _parse(logTransitionDays=30).storage.log_transition_days == 30


def test_prod_without_a_certificate_needs_the_named_opt_out() -> None:
    raw = {"codeRepository": "acme/churn"}
    with pytest.raises(ConfigError) as error:
        parse_config(raw, region="eu-west-1")
    message = str(error.value)
    assert message.startswith("ml-deploy:domainName is required"), message
    for way_out in (
        "ml-deploy:hostedZoneId",
        "ml-deploy:certificateArn",
        "ml-deploy:allowPlainHttpProd: true",
    ):
        assert way_out in message, f"{way_out} is not named: {message}"
    opted_out = parse_config({**raw, "allowPlainHttpProd": True}, region="eu-west-1")
    assert opted_out.serving.certificate_arn is None


def test_ingress_cidrs_must_be_cidr_blocks_and_default_to_the_vpc_only() -> None:
    """Issue 29: nothing beyond the VPC unless named; the whole internet only with publicEndpoint."""
    assert _parse().serving.ingress_cidrs == [] and _parse().serving.public_endpoint is False
    with pytest.raises(ConfigError, match="ml-deploy:ingressCidrs must be an IPv4 CIDR block"):
        _parse(ingressCidrs=["10.0.0.0/8", "my office"])
    with pytest.raises(ConfigError) as error:
        _parse(ingressCidrs=["10.8.0.0/16", "0.0.0.0/0"])
    assert "ml-deploy:ingressCidrs 0.0.0.0/0" in str(error.value)
    assert "ml-deploy:publicEndpoint: true" in str(error.value)


@pytest.mark.parametrize("value", [True, False, "soon"])
def test_images_published_is_retired_with_the_next_step(value: object) -> None:
    """The registry says whether images exist; a stack file still setting the key is told what to do."""
    with pytest.raises(ConfigError) as error:
        _parse(imagesPublished=value)
    message = str(error.value)
    assert message.startswith("ml-deploy:imagesPublished is no longer a setting"), message
    assert "pulumi config rm ml-deploy:imagesPublished" in message and "ml-deploy bootstrap" in message


# --- issue 24: config keeps its promises ---------------------------------------------------


def _setting(config: StackConfig, key: str) -> Any:
    """The value the program uses for the flat stack key `key`."""
    section = getattr(config, KEY_SECTIONS[key])
    name = next(n for n, f in type(section).model_fields.items() if (f.alias or n) == key)
    return getattr(section, name)


def test_the_readme_example_works_on_a_new_stack() -> None:
    """`pulumi config set --path prod.minCount 3` stores only minCount: prod keeps its maxCount 6."""
    prod = _parse(prod={"minCount": 3}).serving.prod
    assert (prod.min_count, prod.max_count) == (3, 6)


@pytest.mark.parametrize(
    ("key", "given"),
    [
        ("prod", {"minCount": 3}),
        ("prod", {"cpu": 1024, "memory": 2048}),
        ("prod", {"canaryPercent": 25}),
        ("stage", {"workers": 2}),
        ("retrainJob", {"timeoutMinutes": 30}),
        ("retrainJob", {"vcpu": 4}),
        ("monitorJob", {"attempts": 1}),
        ("monitorJob", {"timeout_minutes": 15}),
    ],
)
def test_a_partial_size_object_keeps_the_rest_of_its_own_defaults(key: str, given: dict[str, Any]) -> None:
    unset = _setting(_parse(), key)
    partial = _setting(_parse(**{key: given}), key)
    names = {field.alias or name: name for name, field in type(unset).model_fields.items()}
    expected = {**unset.model_dump(), **{names.get(k, k): v for k, v in given.items()}}
    assert partial.model_dump() == expected, f"{key} {given} lost its own defaults: {partial!r}"


def _load(**stack: str) -> StackConfig:
    """`load_config` as `pulumi up` runs it: every value handed over as text, as Pulumi does."""
    loaded: list[StackConfig] = []
    values = {f"ml-deploy:{key}": value for key, value in stack.items()}
    run_under_mocks(lambda: loaded.append(load_config()), overrides=values)
    return loaded[0]


# Pulumi passes each value as text: objects and arrays as JSON, scalars as written; `config set
# --path` keeps "true"/"false" and integers typed and stores everything else as a string
# (https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/).
@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("codeBranch", "2024"),
        ("codeBranch", "true"),
        ("jobsImageTag", "20240101"),
        ("initialImageTag", "1.5"),
        ("codeRepository", "acme/2024"),
    ],
)
def test_a_string_key_takes_any_string_even_one_that_looks_like_json(key: str, text: str) -> None:
    assert _setting(_load(**{key: text}), key) == text


def test_typed_keys_are_still_decoded_from_their_json_text() -> None:
    config = _load(maxVcpus="32", retrainOnDrift="false", prod='{"minCount": 3}', alertEmails='["a@b.io"]')
    assert config.jobs.max_vcpus == 32 and config.jobs.retrain_on_drift is False
    assert (config.serving.prod.min_count, config.serving.prod.max_count) == (3, 6)
    assert config.alerts.alert_emails == ["a@b.io"]


# "Schedule types in EventBridge Scheduler", https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html:
# rate(value unit) with a positive integer and minute|minutes|hour|hours|day|days (singular only
# for 1); cron(minutes hours day-of-month month day-of-week year) with the table of values and
# wildcards (minutes 0-59 , - * /; hours 0-23 , - * /; day-of-month 1-31 , - * ? / L W; month 1-12
# or JAN-DEC , - * /; day-of-week 1-7 or SUN-SAT , - * ? L #; year 1970-2199 , - * /), one of the
# day fields ?, a single expression with #; at(yyyy-mm-ddThh:mm:ss) for one-time schedules.
SCHEDULES_ACCEPTED = [
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 hour)",
    "rate(12 hours)",
    "rate(1 day)",
    "rate(7 days)",
    "cron(0 3 ? * MON *)",
    "cron(0 10 * * ? *)",
    "cron(15 12 * * ? *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(0 8 1 * ? *)",
    "cron(0/15 * * * ? *)",
    "cron(0/5 8-17 ? * MON-FRI *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(15 10 ? * 6L 2026-2030)",
    "cron(0 0 L * ? *)",
    "cron(0 8 3W * ? *)",
    "cron(0 12 1,15 JAN,JUL ? *)",
    "at(2030-01-31T09:00:00)",
]
SCHEDULES_REFUSED = {
    "rate(1 days)": "a value of 1 takes the singular unit",
    "rate(1 minutes)": "a value of 1 takes the singular unit",
    "rate(2 hour)": "a value above 1 takes the plural unit",
    "rate(0 minutes)": "positive integer",
    "rate(1 week)": "minute(s)|hour(s)|day(s)",
    "rate(1.5 hours)": "minute(s)|hour(s)|day(s)",
    "cron(0 3 * * *)": "six fields",
    "cron(0 3 * * MON *)": "exactly one of day-of-month and day-of-week must be ?",
    "cron(0 3 ? * ? *)": "exactly one of day-of-month and day-of-week must be ?",
    "cron(60 3 ? * MON *)": "minutes '60' is not 0-59",
    "cron(0 24 ? * MON *)": "hours '24' is not 0-23",
    "cron(0 3 32 * ? *)": "day-of-month '32' is not 1-31",
    "cron(0 3 ? 13 * *)": "month '13' is not 1-12",
    "cron(0 3 ? * 0 *)": "day-of-week '0' is not 1-7",
    "cron(0 3 ? * MON 1969)": "year '1969' is not 1970-2199",
    "cron(0 3 ? * 3#1,6#3 *)": "with # the field holds one expression",
    "cron(0 3 ? * 3#6 *)": "1-5",
    "cron(0 3 ? * MON/2 *)": "day-of-week 'MON/2'",
    "cron(0 3 L * MON *)": "exactly one of day-of-month and day-of-week must be ?",
    "at(2030-02-30T09:00:00)": "is not a date and time",
    "at(2030-1-31 09:00)": "at(yyyy-mm-ddThh:mm:ss)",
    "every monday": "none of rate(value unit), cron(fields), at(",
}


@pytest.mark.parametrize("expression", SCHEDULES_ACCEPTED)
def test_every_documented_schedule_form_is_accepted(expression: str) -> None:
    config = _parse(retrainSchedule=expression, monitorSchedule=expression)
    assert (config.jobs.retrain_schedule, config.jobs.monitor_schedule) == (expression, expression)


@pytest.mark.parametrize(("expression", "problem"), sorted(SCHEDULES_REFUSED.items()))
def test_a_schedule_scheduler_refuses_fails_naming_the_key(expression: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        _parse(monitorSchedule=expression)
    message = str(error.value)
    assert message.startswith("ml-deploy:monitorSchedule must be an EventBridge Scheduler expression"), (
        message
    )
    assert problem in message, f"{message!r} does not say {problem!r}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"vpcCidr": "300.0.0.0/99"}, "ml-deploy:vpcCidr must be an IPv4 CIDR block"),
        (
            {"vpcCidr": "10.0.0.1/16"},
            "ml-deploy:vpcCidr must be an IPv4 CIDR block such as 10.0.0.0/16: "
            "10.0.0.1/16 has host bits set; use 10.0.0.0/16",
        ),
        ({"vpcCidr": "10.0.0.0/15"}, "ml-deploy:vpcCidr must be a /16 to /18 block"),
        ({"vpcCidr": "10.0.0.0/19"}, "ml-deploy:vpcCidr must be a /16 to /18 block"),
        ({"ingressCidrs": ["203.0.113.7/24"]}, "ml-deploy:ingressCidrs must be an IPv4 CIDR block"),
        ({"testListenerCidrs": ["203.0.113.0/33"]}, "ml-deploy:testListenerCidrs must be an IPv4 CIDR block"),
        ({"vpcId": "vpc-123"}, "ml-deploy:vpcId 'vpc-123' is not a vpc id"),
        ({"vpcId": "subnet-0123456789abcdef0"}, "ml-deploy:vpcId 'subnet-0123456789abcdef0' is not a vpc id"),
        (
            {"vpcId": "vpc-1a2b3c4d", "privateSubnetIds": ["subnet-1a2b3c4d", "subnet-1a2b3c4d"]},
            "ml-deploy:privateSubnetIds lists a subnet twice",
        ),
        ({"publicSubnetIds": ["subnet-a"]}, "ml-deploy:publicSubnetIds 'subnet-a' is not a subnet id"),
        (
            {"certificateArn": "arn:aws:acm:eu-west-1:1234:certificate/abc"},
            "ml-deploy:certificateArn must be an ACM certificate ARN such as",
        ),
        (
            {"certificateArn": CERTIFICATE.replace("eu-west-1", "us-east-1")},
            "ml-deploy:certificateArn is a certificate in us-east-1, but the stack's load balancers are in "
            "eu-west-1",
        ),
        (
            {"codeConnectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:repository/x"},
            "ml-deploy:codeConnectionArn must be a CodeConnections ARN such as",
        ),
        ({"codeBranch": "feature..x"}, "ml-deploy:codeBranch 'feature..x' is not a git branch name"),
        ({"codeBranch": "my branch"}, "ml-deploy:codeBranch 'my branch' is not a git branch name"),
        ({"codeBranch": "release/"}, "is not a git branch name"),
        ({"codeBranch": "-x"}, "is not a git branch name"),
        ({"codeBranch": "topic.lock"}, "is not a git branch name"),
        ({"codeBranch": "a/.hidden"}, "is not a git branch name"),
        ({"codeBranch": "x@{1}"}, "is not a git branch name"),
        ({"codeRepository": "-acme/churn"}, "ml-deploy:codeRepository must be 'owner/name'"),
        ({"codeRepository": "acme/"}, "ml-deploy:codeRepository must be 'owner/name'"),
        (
            {"codeSource": "codecommit", "codeRepository": "churn.git"},
            "ml-deploy:codeRepository must be a CodeCommit repository name",
        ),
        (
            {"codeSource": "codecommit", "codeRepository": "churn model"},
            "ml-deploy:codeRepository must be a CodeCommit repository name",
        ),
        ({"initialImageTag": "latest"}, "ml-deploy:initialImageTag must not be 'latest'"),
        ({"initialImageTag": ".hidden"}, "ml-deploy:initialImageTag must be an image tag"),
        ({"jobsImageTag": "x" * 129}, "ml-deploy:jobsImageTag must be an image tag"),
        ({"alertEmails": ["oncall@example.com\n"]}, "ml-deploy:alertEmails"),
        ({"maxVcpus": 1}, "ml-deploy:maxVcpus must be at least 2, the vCPUs of the largest job"),
        ({"scheduleTimezone": "localtime"}, "ml-deploy:scheduleTimezone must be an IANA time zone"),
        ({"scheduleTimezone": "posix/Europe/Berlin"}, "ml-deploy:scheduleTimezone must be an IANA time zone"),
        ({"scheduleTimezone": "right/UTC"}, "ml-deploy:scheduleTimezone must be an IANA time zone"),
    ],
)
def test_a_value_aws_would_refuse_later_fails_at_load_naming_the_key(
    raw: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        _parse(**raw)
    assert expected in str(error.value), f"message {str(error.value)!r} does not say {expected!r}"


@pytest.mark.parametrize(
    "raw",
    [
        {"vpcCidr": "10.0.0.0/18"},
        {"vpcCidr": "172.16.0.0/16"},
        {"ingressCidrs": ["203.0.113.7/32", "172.16.0.0/12"]},
        {
            "vpcId": "vpc-1a2b3c4d",
            "publicSubnetIds": ["subnet-0aaaaaaaaaaaaaa01", "subnet-0aaaaaaaaaaaaaa02"],
            "privateSubnetIds": ["subnet-1a2b3c4d", "subnet-5e6f7a8b"],
        },
        {"codeConnectionArn": "arn:aws:codestar-connections:eu-west-1:123456789012:connection/0a1b2c3d-aaaa"},
        {"codeConnectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/0a1b2c3d-aaaa"},
        {"codeBranch": "release/2024.1"},
        {"codeBranch": "2024"},
        {"codeSource": "codecommit", "codeRepository": "churn_model.v2"},
        {"codeRepository": "acme-ml/churn.model_v2"},
        {"initialImageTag": "a1b2c3d4e5f6-7"},
        {"maxVcpus": 2},
        {"scheduleTimezone": "Europe/Berlin"},
        {"scheduleTimezone": "America/Argentina/Buenos_Aires"},
    ],
)
def test_values_of_the_documented_shapes_are_accepted(raw: dict[str, Any]) -> None:
    config = _parse(**raw)
    for key, value in raw.items():
        assert _setting(config, key) == value


@pytest.mark.parametrize(
    ("region", "expected"),
    [("eu-west", "aws:region must be an AWS region such as eu-west-1"), ("EU-WEST-1", "aws:region must be")],
)
def test_a_malformed_region_is_named(region: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_config(MINIMAL, region=region)


def test_the_largest_vpc_block_accepted_gives_the_network_its_four_subnets() -> None:
    program = run_program(overrides={"ml-deploy:vpcCidr": "10.40.0.0/18"})
    blocks = sorted(subnet.inputs["cidrBlock"] for subnet in program.of_type("aws:ec2/subnet:Subnet"))
    assert blocks == ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20", "10.40.48.0/20"], blocks


# PutRetentionPolicy, retentionInDays: "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150,
# 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653"
# (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557]
LOG_RETENTION_DAYS += [2922, 3288, 3653]


@pytest.mark.parametrize("key", ["serviceLogRetentionDays", "jobLogRetentionDays"])
def test_log_retention_takes_exactly_the_documented_periods(key: str) -> None:
    for days in LOG_RETENTION_DAYS:
        assert _setting(_parse(**{key: days}), key) == days
    for days in [*sorted({d + 1 for d in LOG_RETENTION_DAYS} - set(LOG_RETENTION_DAYS)), 0]:
        with pytest.raises(ConfigError, match=f"ml-deploy:{key} must be a CloudWatch Logs retention period"):
            _parse(**{key: days})
