"""The stack's settings, read once from Pulumi config into one typed, validated object.

Each component's section (its keys, defaults and checks) lives beside the component:
`infra/platform_config.py` (network, storage, registry, alerts), `infra/serving/config.py`,
`infra/jobs/config.py`, `infra/delivery/config.py`, `infra/analytics/config.py`. Components receive
this object (or a part of it) and never call ``pulumi.Config()`` themselves. A missing or invalid
key fails the program with a message that names the key and what is expected.
"""

from __future__ import annotations

import json
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pulumi
from pydantic import BaseModel, ConfigDict, ValidationError

from infra.analytics.config import AnalyticsConfig
from infra.delivery.config import PipelineConfig
from infra.jobs.config import JobsConfig
from infra.platform_config import AlertsConfig, NetworkConfig, RegistryConfig, StorageConfig
from infra.section import Section, arn_region, check_region
from infra.serving.config import ServingConfig

PROJECT_NAMESPACE = "ml-deploy"
# Keys this project no longer reads -> what to do instead. Rejected by name, so an old stack file
# fails with the next step rather than "not a setting".
RETIRED_KEYS = {
    "imagesPublished": (
        "is no longer a setting: `pulumi up` asks ECR whether the pipeline has pushed the images "
        "and starts the services and the job schedules once it has; remove it with "
        "`pulumi config rm ml-deploy:imagesPublished` (and from Pulumi.<stack>.yaml), and run "
        "`ml-deploy bootstrap` for a first deploy"
    ),
}


class ConfigError(pulumi.RunError):
    """A stack setting is missing or invalid; the message names the key.

    A ``RunError`` so that `pulumi up` prints the message alone, without a Python traceback.
    """


class StackConfig(BaseModel):
    """All settings of one stack, grouped by the component that uses them.

    In Pulumi.<stack>.yaml the keys are flat (``ml-deploy:retrainSchedule``); each belongs to
    exactly one section here, so a component gets only its own part.
    """

    model_config = ConfigDict(frozen=True)

    region: str
    network: NetworkConfig
    storage: StorageConfig
    registry: RegistryConfig
    serving: ServingConfig
    jobs: JobsConfig
    pipeline: PipelineConfig
    alerts: AlertsConfig
    analytics: AnalyticsConfig


_SECTIONS: dict[str, type[Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in StackConfig.model_fields.items()
    if name != "region"
}


# Flat stack key -> every section that reads it. Nearly every key belongs to one section; a key
# two components must agree on is declared by both, with the same default, and given to each.
def _key_readers() -> dict[str, tuple[str, ...]]:
    readers: dict[str, tuple[str, ...]] = {}
    for section, model in _SECTIONS.items():
        for name, field in model.model_fields.items():
            key = field.alias or name
            readers[key] = (*readers.get(key, ()), section)
    return readers


def _takes_text(annotation: Any) -> bool:
    """A str field (or a choice of strings), optionally None: its value is never JSON."""
    if get_origin(annotation) in (Union, UnionType):
        return all(_takes_text(arg) for arg in get_args(annotation) if arg is not type(None))
    if get_origin(annotation) is Literal:
        return all(isinstance(choice, str) for choice in get_args(annotation))
    return annotation is str


KEY_READERS = _key_readers()
# Keys whose stack value is taken as it is written (see `_decode`).
TEXT_KEYS = frozenset(
    field.alias or name
    for model in _SECTIONS.values()
    for name, field in model.model_fields.items()
    if _takes_text(field.annotation)
)
# Flat stack key -> the (first) section that reads it.
KEY_SECTIONS: dict[str, str] = {key: readers[0] for key, readers in KEY_READERS.items()}


def parse_config(raw: dict[str, Any], *, region: str | None) -> StackConfig:
    """Validate raw ``ml-deploy:*`` values (already JSON-decoded) into a StackConfig."""
    retired = sorted(set(raw) & set(RETIRED_KEYS))
    if retired:
        raise ConfigError(f"{PROJECT_NAMESPACE}:{retired[0]} {RETIRED_KEYS[retired[0]]}")
    unknown = sorted(set(raw) - set(KEY_SECTIONS))
    if unknown:
        raise ConfigError(
            f"{PROJECT_NAMESPACE}:{unknown[0]} is not a setting of this project "
            "(see the stack config reference, docs/configuration.md)"
        )
    if not region:
        raise ConfigError("aws:region is required: run `pulumi config set aws:region <region>`")
    try:
        check_region(region)
    except ValueError as problem:
        raise ConfigError(f"aws:region {problem}") from None
    grouped: dict[str, dict[str, Any]] = {section: {} for section in _SECTIONS}
    for key, value in raw.items():
        for section in KEY_READERS[key]:
            grouped[section][key] = value
    sections = {}
    problems: list[str] = []
    for section, model in _SECTIONS.items():
        try:
            sections[section] = model.model_validate(grouped[section])
        except ValidationError as error:
            problems.extend(_describe(error))
    if problems:
        # A shared key's problem is found by each section that reads it; say it once.
        raise ConfigError("; ".join(dict.fromkeys(problems)))
    config = StackConfig.model_validate({"region": region, **sections})
    _check_regions(config)
    _check_quality_window(config)
    return config


def _check_regions(config: StackConfig) -> None:
    """ACM certificates are regional: a load balancer takes only one of its own region
    ("Supported Regions", https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html)."""
    certificate = config.serving.certificate_arn
    if certificate and arn_region(certificate) != config.region:
        raise ConfigError(
            f"{PROJECT_NAMESPACE}:certificateArn is a certificate in {arn_region(certificate)}, but the "
            f"stack's load balancers are in {config.region} (aws:region): request or import the "
            "certificate in that region"
        )


def _check_quality_window(config: StackConfig) -> None:
    """The quality job joins outcomes to predictions up to maturityMaxDays old: the log bucket's
    lifecycle must keep them that long, or it judges nothing and says only "no outcomes"."""
    oldest, kept = config.jobs.maturity_max_days, config.storage.log_expiration_days
    if oldest >= kept:
        raise ConfigError(
            f"{PROJECT_NAMESPACE}:maturityMaxDays ({oldest}) must be less than logExpirationDays ({kept}): "
            "the quality job judges predictions up to maturityMaxDays old, and the log bucket deletes "
            "them after logExpirationDays"
        )


def _describe(error: ValidationError) -> list[str]:
    """One message per problem, each naming the flat key: `ml-deploy:<key>[.<sub>] ...`."""
    messages = []
    for issue in error.errors():
        location = [str(part) for part in issue["loc"]]
        message = issue["msg"].removeprefix("Value error, ")
        if issue["type"] == "missing":
            message = "is required"
        elif issue["type"] == "extra_forbidden":
            message = "is not a known setting"
        # Section-level checks name their keys themselves.
        target = ".".join(location) if location else message.split(" ", 1)[0]
        if not location:
            message = message.split(" ", 1)[1]
        messages.append(f"{PROJECT_NAMESPACE}:{target} {message}")
    return messages


def load_config() -> StackConfig:
    """Read every ``ml-deploy:*`` key of the running stack, once."""
    config = pulumi.Config(PROJECT_NAMESPACE)
    raw: dict[str, Any] = {}
    for key in _configured_keys():
        value = config.get(key)
        if value is not None:
            raw[key] = _decode(key, value)
    return parse_config(raw, region=pulumi.Config("aws").get("region"))


def _decode(key: str, text: str) -> Any:
    """A stack value as the program gets it (always text) as the value the stack file meant.

    Pulumi hands every value over as a string: objects and arrays as JSON text, and scalars as
    written (`minCount: 3` as "3"; `pulumi config set --path` stores "true"/"false" and integers
    as such, everything else as a string). A string-typed key takes its text as it is, so
    `codeBranch: "2024"` is the branch 2024, not a number the key refuses.
    """
    if key in TEXT_KEYS:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _configured_keys() -> set[str]:
    """Every ml-deploy key set on the stack, so a misspelled key is reported, not ignored."""
    from pulumi.runtime import config as runtime_config

    names = set(runtime_config.get_config_env()) | set(runtime_config.CONFIG.get())
    prefix = f"{PROJECT_NAMESPACE}:"
    return {name.removeprefix(prefix) for name in names if name.startswith(prefix)}
