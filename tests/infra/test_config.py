"""Stack config: defaults, and errors that name the key and what is expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import KEY_SECTIONS, ConfigError, StackConfig, parse_config
from tests.infra.program import ROOT, dev_stack_config, run_program

MINIMAL = {"codeRepository": "acme/churn"}


def _parse(**raw: Any) -> StackConfig:
    return parse_config({**MINIMAL, **raw}, region="eu-west-1")


def test_minimal_config_takes_the_documented_defaults() -> None:
    config = _parse()
    assert config.pipeline.code_source == "github"
    assert config.storage.model_key == "bundles/current/model-bundle.zip"
    assert config.storage.bucket_encryption == "kms"
    assert config.serving.prod.min_count >= 2, "prod must default to at least two tasks"
    assert config.jobs.retrain_schedule.startswith("cron(")


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
        ({"stage": {"cpu": 300}}, "ml-deploy:stage.cpu"),
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
    ],
)
def test_invalid_value_names_the_key_and_what_is_expected(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        _parse(**raw)
    assert expected in str(error.value), f"message {str(error.value)!r} does not say {expected!r}"


def test_missing_required_key_is_named() -> None:
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
