"""What the serving settings mean and accept: stage and prod sizing and deployments, ports, logs,
alarms, the metrics collector and the deployment smoke test's bounds (the edge: `edge_config.py`).

Read into `ServingConfig` by `infra/config.py`; `infra/serving/` gets this section only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from infra.section import Section, check_cidr, check_fargate_task, check_image_tag, check_log_retention
from infra.serving.edge_config import EdgeConfig
from ml_deploy.settings import ServiceSettings, SmokeHookSettings

DeploymentStrategy = Literal["CANARY", "BLUE_GREEN"]
# Prod shifts a slice of real traffic first; stage has no real traffic to slice, so it shifts all
# at once, after the same smoke test on the test listener (a canary there would only add waiting).
DEFAULT_STRATEGY: dict[str, DeploymentStrategy] = {"prod": "CANARY", "stage": "BLUE_GREEN"}
# Each environment's own defaults over EnvironmentConfig's, written once: an environment left
# unset gets them, and a partial one keeps those it does not give (Section.over_defaults).
ENVIRONMENT_DEFAULTS: dict[str, dict[str, Any]] = {
    "stage": {"min_count": 1, "max_count": 2},
    "prod": {"min_count": 2, "max_count": 6},
}
# ECS accepts 0-1440 minutes for every bake time (pulumi-aws ecs.Service deploymentConfiguration).
MAX_BAKE_MINUTES = 1440

# ECS-native strategies whose deployments have test traffic: the smoke-test hook runs at
# POST_TEST_TRAFFIC_SHIFT, which ROLLING deployments do not have ("Amazon ECS blue/green service
# deployments workflow", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
# blue-green-deployment-how-it-works.html). LINEAR would need its own step settings; not offered.
DEPLOYMENT_STRATEGIES = ("CANARY", "BLUE_GREEN")


def check_deployment_strategy(value: str | None) -> str | None:
    if value is not None and value not in DEPLOYMENT_STRATEGIES:
        raise ValueError(
            f"must be one of {', '.join(DEPLOYMENT_STRATEGIES)}: only deployments with test traffic "
            "let the smoke-test hook check the new revision before it takes production traffic"
        )
    return value


class EnvironmentConfig(Section):
    """Sizing of one serving environment (stage or prod)."""

    cpu: int = Field(
        512,
        json_schema_extra={"accepts": "a Fargate task size: 256, 512, 1024, 2048, 4096, 8192 or 16384"},
        description="Fargate task CPU units (256, 512, 1024, 2048, 4096, 8192, 16384).",
    )
    memory: int = Field(
        1024,
        json_schema_extra={"accepts": "a size Fargate pairs with the CPU"},
        description="Fargate task memory (MiB), a size Fargate pairs with cpu.",
    )
    min_count: int = Field(1, ge=1, description="Fewest running tasks (autoscaling floor).")
    max_count: int = Field(2, ge=1, description="Most running tasks (autoscaling ceiling).")
    requests_per_target: int = Field(500, ge=1, description="Target ALB requests per task per minute.")
    cpu_target_percent: int = Field(60, ge=10, le=95, description="Target average CPU for autoscaling.")
    workers: int = Field(
        1, ge=1, le=16, description="Server processes per task (one batches best; scale with tasks)."
    )
    deployment_strategy: DeploymentStrategy | None = Field(
        None, description="CANARY or BLUE_GREEN; unset: CANARY for prod, BLUE_GREEN for stage."
    )
    canary_percent: float = Field(
        10.0, ge=0.1, le=100, description="CANARY: % of production traffic the new revision takes first."
    )
    canary_bake_minutes: int = Field(
        5, ge=0, le=MAX_BAKE_MINUTES, description="CANARY: minutes at that % before shifting the rest."
    )
    bake_minutes: int = Field(
        5,
        ge=0,
        le=MAX_BAKE_MINUTES,
        description="Minutes both revisions keep running after the full shift (instant rollback).",
    )

    @field_validator("deployment_strategy", mode="before")
    @classmethod
    def _strategy(cls, value: str | None) -> str | None:
        """Before the type check, so a refused strategy is told why, not only what is accepted."""
        return check_deployment_strategy(value)

    @model_validator(mode="after")
    def _counts_in_order(self) -> EnvironmentConfig:
        if self.max_count < self.min_count:
            raise ValueError("maxCount must be at least minCount")
        return self

    @model_validator(mode="after")
    def _fargate_size(self) -> EnvironmentConfig:
        """ECS refuses the task definition otherwise, after the rest of the stack was created."""
        check_fargate_task(self.cpu, self.memory)
        return self


class ServingConfig(EdgeConfig):
    """Both serving environments: the edge settings (`EdgeConfig`) and everything else they share."""

    container_port: int = Field(
        ServiceSettings.default("port"), ge=1024, le=65535, description="Port the service listens on."
    )
    initial_image_tag: str = Field(
        "bootstrap",
        json_schema_extra={"accepts": "an OCI image tag, never `latest`"},
        description=(
            "Image tag of the first task definition, before any pipeline run (never `latest`; tags are "
            "immutable)."
        ),
    )
    service_log_retention_days: int = Field(
        30,
        json_schema_extra={
            "accepts": "a CloudWatch Logs retention period (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)"
        },
        description="CloudWatch Logs retention of service logs.",
    )
    startup_grace_seconds: int = Field(
        60,
        ge=10,
        le=300,
        description="Seconds a new task may spend loading its model before health checks count.",
    )
    error_rate_alarm_percent: float = Field(
        5.0,
        gt=0,
        le=100,
        description="Alarm when more than this % of an environment's requests answer 5xx.",
    )
    latency_alarm_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description=(
            "Alarm when an environment's p99 response time exceeds this (also a deployment rollback alarm)."
        ),
    )
    collector_image: str = Field(
        "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0",
        json_schema_extra={"accepts": "an image pinned to a version tag or a digest"},
        description="Metrics collector sidecar image (ADOT), pinned to a version tag.",
    )
    metrics_scrape_seconds: int = Field(
        30, ge=15, le=60, description="How often the collector scrapes the service's /metrics."
    )
    smoke_test_max_p99_ms: float = Field(
        SmokeHookSettings.default("max_p99_ms"),
        gt=0,
        description="The deployment smoke test fails when its replay's p99 latency exceeds this (ms).",
    )
    smoke_test_timeout_seconds: int = Field(
        120, ge=10, le=900, description="Longest one smoke-test run (the hook Lambda's timeout) may take."
    )
    test_listener_cidrs: list[str] = Field(
        default_factory=list,
        json_schema_extra={"accepts": "IPv4 CIDR blocks written as their network address"},
        description=(
            "IPv4 CIDR blocks admitted to an internet-facing (`publicEndpoint`) test listener besides "
            "the stack's NAT gateways; required then with `vpcId`. An internal test listener admits the"
            " smoke hook's security group."
        ),
    )
    stage: EnvironmentConfig = Field(
        default_factory=lambda: EnvironmentConfig.model_validate(ENVIRONMENT_DEFAULTS["stage"]),
        description=(
            "Stage sizing and deployment: cpu, memory, minCount, maxCount, requestsPerTarget, "
            "cpuTargetPercent, workers, deploymentStrategy (`CANARY` or `BLUE_GREEN`; `ROLLING` has no "
            "test traffic for the smoke test), canaryPercent (0.1-100), canaryBakeMinutes and "
            "bakeMinutes (0-1440); keys left out keep stage's defaults."
        ),
    )
    prod: EnvironmentConfig = Field(
        default_factory=lambda: EnvironmentConfig.model_validate(ENVIRONMENT_DEFAULTS["prod"]),
        description=(
            "Prod sizing and deployment, same keys as stage; keys left out keep prod's defaults "
            "(minCount >= 2 keeps a task in each AZ)."
        ),
    )

    @field_validator("stage", "prod", mode="before")
    @classmethod
    def _over_environment_defaults(cls, value: object, info: ValidationInfo) -> object:
        return EnvironmentConfig.over_defaults(ENVIRONMENT_DEFAULTS[str(info.field_name)], value)

    @field_validator("service_log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return check_log_retention(value)

    @field_validator("collector_image")
    @classmethod
    def _pinned_image(cls, value: str) -> str:
        """A moving tag would change what every new task runs without a `pulumi up`."""
        repository, _, tag = value.rpartition(":")
        pinned = "@sha256:" in value or (repository and tag not in ("", "latest") and "/" not in tag)
        if not pinned:
            raise ValueError("must name an exact version tag or digest, e.g. <image>:v0.49.0")
        return value

    @field_validator("initial_image_tag")
    @classmethod
    def _image_tag(cls, value: str) -> str:
        return check_image_tag(value)

    @field_validator("test_listener_cidrs")
    @classmethod
    def _test_listener_cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            check_cidr(value)
        return values

    def strategy(self, environment: str) -> DeploymentStrategy:
        """The environment's ECS deployment strategy: its own setting, or its default."""
        configured = (self.prod if environment == "prod" else self.stage).deployment_strategy
        return DEFAULT_STRATEGY[environment] if configured is None else configured
