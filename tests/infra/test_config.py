"""Stack config: defaults, and errors that name the key and what is expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import KEY_SECTIONS, ConfigError, StackConfig, parse_config
from ml_deploy_dev.program import ROOT, dev_stack_config, run_program

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
            "ml-deploy:retrainSchedule must be a cron(...) or rate(...) expression",
        ),
        (
            {"monitorSchedule": "rate(one day)"},
            "ml-deploy:monitorSchedule must be a cron(...) or rate(...) expression",
        ),
        (
            {"scheduleTimezone": "Mars/Olympus"},
            "ml-deploy:scheduleTimezone must be an IANA time zone",
        ),
        ({"bucketEncryption": "rot13"}, "ml-deploy:bucketEncryption"),
        ({"modelKey": "/bundles/model.tar"}, "ml-deploy:modelKey must be an S3 key"),
        ({"trainingDataPrefix": "training"}, "ml-deploy:trainingDataPrefix must be an S3 prefix"),
        ({"vpcCidr": "10.0.0.0"}, "ml-deploy:vpcCidr must be an IPv4 CIDR block"),
        ({"vpcId": "vpc-123"}, "ml-deploy:vpcId is set, so publicSubnetIds and privateSubnetIds"),
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
    with pytest.raises(ConfigError, match="ml-deploy:monitorSchedule must be a cron"):
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


def test_readme_documents_every_key() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [key for key in KEY_SECTIONS if f"`{key}`" not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_infra_requirements_match_the_infra_extra() -> None:
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = sorted(pyproject["project"]["optional-dependencies"]["infra"])
    lines = (Path(ROOT) / "infra" / "requirements.txt").read_text().splitlines()
    requirements = sorted(line for line in lines if line and not line.startswith("#"))
    assert requirements == extra, "infra/requirements.txt drifted from the [infra] extra"


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
    assert message.startswith("ml-deploy:certificateArn is required"), message
    assert "ml-deploy:allowPlainHttpProd: true" in message, f"the opt-out is not named: {message}"
    opted_out = parse_config({**raw, "allowPlainHttpProd": True}, region="eu-west-1")
    assert opted_out.serving.certificate_arn is None


def test_ingress_cidrs_must_be_cidr_blocks_and_default_to_anywhere() -> None:
    assert _parse().serving.ingress_cidrs == ["0.0.0.0/0"]
    with pytest.raises(ConfigError, match="ml-deploy:ingressCidrs must be an IPv4 CIDR block"):
        _parse(ingressCidrs=["10.0.0.0/8", "my office"])
    with pytest.raises(ConfigError, match="ml-deploy:ingressCidrs"):
        _parse(ingressCidrs=[])


@pytest.mark.parametrize("value", [True, False, "soon"])
def test_images_published_is_retired_with_the_next_step(value: object) -> None:
    """The registry says whether images exist; a stack file still setting the key is told what to do."""
    with pytest.raises(ConfigError) as error:
        _parse(imagesPublished=value)
    message = str(error.value)
    assert message.startswith("ml-deploy:imagesPublished is no longer a setting"), message
    assert "pulumi config rm ml-deploy:imagesPublished" in message and "ml-deploy bootstrap" in message
