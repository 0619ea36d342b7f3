"""What the serving settings mean and accept: stage and prod sizing and deployments, ports, TLS,
who may connect, and the deployment smoke test's bounds.

Read into `ServingConfig` by `infra/config.py`; `infra/serving/` gets this section only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from infra.config_base import Section
from infra.config_checks import (
    check_arn,
    check_ca_bundle,
    check_cidr,
    check_deployment_strategy,
    check_domain_name,
    check_endpoint_service_principal,
    check_fargate_task,
    check_hosted_zone_id,
    check_image_tag,
    check_log_retention,
)
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
# A rate-based rule's limit per evaluation window: at least 10 ("Rate-based rule high-level
# settings", https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html),
# at most 2,000,000,000 (RateBasedStatement, WAF API reference).
WAF_RATE_LIMIT_MIN = 10
WAF_RATE_LIMIT_MAX = 2_000_000_000
ANYWHERE = "0.0.0.0/0"


class EnvironmentConfig(Section):
    """Sizing of one serving environment (stage or prod)."""

    cpu: int = Field(512, description="Fargate task CPU units (256, 512, 1024, 2048, 4096, 8192, 16384).")
    memory: int = Field(1024, description="Fargate task memory (MiB), a size Fargate pairs with cpu.")
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


class ServingConfig(Section):
    container_port: int = Field(
        ServiceSettings.default("port"), ge=1024, le=65535, description="Port the service listens on."
    )
    initial_image_tag: str = Field(
        "bootstrap",
        description="Image tag of the first task definition, before any pipeline run (never 'latest'; "
        "tags are immutable).",
    )
    certificate_arn: str | None = Field(
        None,
        description=(
            "ACM certificate managed elsewhere (with it, you write DNS): HTTPS listener and "
            "HTTP->HTTPS redirect. Not with hostedZoneId, which has the stack issue its own."
        ),
    )
    allow_plain_http_prod: bool = Field(
        False,
        description="Dev only: let a stack without domainName or certificateArn serve prod over plain HTTP.",
    )
    # --- HTTPS on the stack's own names (issue 24) ---
    domain_name: str | None = Field(
        None,
        description=(
            "Domain the environments are served under: https://stage.<domainName> and "
            "https://prod.<domainName>; with hostedZoneId the stack issues their certificate."
        ),
    )
    hosted_zone_id: str | None = Field(
        None,
        description=(
            "Public Route 53 hosted zone (id, e.g. Z0123456789ABCDEFGHIJ) holding domainName: "
            "the certificate's validation records and each environment's alias record go there."
        ),
    )
    # --- who may call the model (issue 29): private by default, authenticated when public ---
    public_endpoint: bool = Field(
        False,
        description=(
            "Put the load balancers on the internet (internet-facing, mutual TLS against clientCaBundle, "
            "AWS WAF); false: internal, reachable from the VPC and ingressCidrs only."
        ),
    )
    ingress_cidrs: list[str] = Field(
        default_factory=list,
        description=(
            "IPv4 CIDR blocks admitted besides the VPC's own (peered VPCs, VPN ranges); with "
            "publicEndpoint, empty admits any address (callers still need a client certificate)."
        ),
    )
    client_ca_bundle: str | None = Field(
        None,
        description=(
            "With publicEndpoint: PEM file (path from the project root) of the CA certificates that "
            "issue callers' client certificates; the load balancers' trust store."
        ),
    )
    waf_rate_limit: int = Field(
        2000,
        ge=WAF_RATE_LIMIT_MIN,
        le=WAF_RATE_LIMIT_MAX,
        description=(
            "With publicEndpoint: requests one address may send in 5 minutes before AWS WAF blocks it."
        ),
    )
    private_link_allowed_principals: list[str] = Field(
        default_factory=list,
        description=(
            "IAM principals (ARNs) of other accounts allowed to connect to prod through a VPC "
            "endpoint service (PrivateLink); empty: no endpoint service."
        ),
    )
    service_log_retention_days: int = Field(30, description="CloudWatch Logs retention of service logs.")
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
        1.0, gt=0, le=60, description="Alarm when an environment's p99 response time exceeds this."
    )
    collector_image: str = Field(
        "public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0",
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
        description=(
            "IPv4 CIDR blocks admitted to the test listener besides the stack's NAT gateways; "
            "required with vpcId, whose NAT addresses the stack does not know."
        ),
    )
    stage: EnvironmentConfig = Field(
        default_factory=lambda: EnvironmentConfig.model_validate(ENVIRONMENT_DEFAULTS["stage"]),
        description=(
            "Stage sizing and deployment: cpu, memory, minCount, maxCount, requestsPerTarget, "
            "cpuTargetPercent, workers, deploymentStrategy, canaryPercent, canaryBakeMinutes, bakeMinutes; "
            "keys left out keep stage's defaults."
        ),
    )
    prod: EnvironmentConfig = Field(
        default_factory=lambda: EnvironmentConfig.model_validate(ENVIRONMENT_DEFAULTS["prod"]),
        description=(
            "Prod sizing, same keys as stage; keys left out keep prod's defaults (minCount 2, maxCount 6: "
            "a task in each AZ)."
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

    @field_validator("certificate_arn")
    @classmethod
    def _acm_arn(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_arn(value, kind="an ACM certificate", services=("acm",), resource="certificate")

    @field_validator("initial_image_tag")
    @classmethod
    def _image_tag(cls, value: str) -> str:
        return check_image_tag(value)

    @field_validator("domain_name")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None else check_domain_name(value)

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_hosted_zone_id(value)

    @field_validator("ingress_cidrs", "test_listener_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            check_cidr(value)
        return values

    @field_validator("client_ca_bundle")
    @classmethod
    def _ca_bundle(cls, value: str | None) -> str | None:
        return None if value is None else check_ca_bundle(value)

    @field_validator("private_link_allowed_principals")
    @classmethod
    def _principals(cls, values: list[str]) -> list[str]:
        for value in values:
            check_endpoint_service_principal(value)
        return values

    @model_validator(mode="after")
    def _public_on_purpose(self) -> ServingConfig:
        """The internet only by name, and then over HTTPS with client certificates (mutual TLS)."""
        if not self.public_endpoint:
            if ANYWHERE in self.ingress_cidrs:
                raise ValueError(
                    f"ml-deploy:ingressCidrs {ANYWHERE} is the whole internet, but the load balancers are "
                    "internal (ml-deploy:publicEndpoint is false): list the peered or VPN ranges that may "
                    "call the model, or set ml-deploy:publicEndpoint: true (with ml-deploy:clientCaBundle) "
                    "to face the internet with mutual TLS"
                )
            if self.client_ca_bundle is not None:
                raise ValueError(
                    "ml-deploy:clientCaBundle is used only with ml-deploy:publicEndpoint: true (mutual TLS "
                    "on the internet-facing load balancers); unset it, or set ml-deploy:publicEndpoint: true"
                )
            return self
        if not self.serves_https:
            raise ValueError(
                "ml-deploy:publicEndpoint needs HTTPS: mutual TLS runs on HTTPS listeners only. Set "
                "ml-deploy:domainName with ml-deploy:hostedZoneId, or ml-deploy:certificateArn"
            )
        if self.client_ca_bundle is None:
            raise ValueError(
                "ml-deploy:clientCaBundle is required with ml-deploy:publicEndpoint: give the PEM file "
                "(path from the project root) of the CA certificates that issue your callers' client "
                "certificates; the load balancers admit only clients presenting one"
            )
        return self

    @property
    def client_cidrs(self) -> list[str]:
        """Who the listeners admit besides the VPC: ``ingressCidrs``; public and unset: anyone (mTLS)."""
        if self.public_endpoint and not self.ingress_cidrs:
            return [ANYWHERE]
        return list(self.ingress_cidrs)

    def strategy(self, environment: str) -> DeploymentStrategy:
        """The environment's ECS deployment strategy: its own setting, or its default."""
        configured = (self.prod if environment == "prod" else self.stage).deployment_strategy
        return DEFAULT_STRATEGY[environment] if configured is None else configured

    def host(self, environment: str) -> str | None:
        """The environment's DNS name on the stack's domain (``<environment>.<domainName>``), if any."""
        return None if self.domain_name is None else f"{environment}.{self.domain_name}"

    @model_validator(mode="after")
    def _domain_settings(self) -> ServingConfig:
        """Who issues the certificate and who writes DNS: the stack (a zone) or someone else (an ARN)."""
        if self.hosted_zone_id is not None and self.domain_name is None:
            raise ValueError(
                "domainName is required with ml-deploy:hostedZoneId: set ml-deploy:domainName to the "
                "name (in that zone) the environments are served under, e.g. ml.example.com"
            )
        if self.hosted_zone_id is not None and self.certificate_arn is not None:
            raise ValueError(
                "certificateArn cannot be combined with ml-deploy:hostedZoneId: with a hosted zone the "
                "stack issues and renews the certificate for stage./prod.<domainName> itself; unset "
                "ml-deploy:certificateArn, or unset ml-deploy:hostedZoneId to bring certificate and DNS"
            )
        if self.domain_name is not None and self.hosted_zone_id is None and self.certificate_arn is None:
            raise ValueError(
                "hostedZoneId is required with ml-deploy:domainName: set ml-deploy:hostedZoneId to the "
                "public Route 53 hosted zone of the domain (the stack then issues the certificate and "
                "writes the DNS records), or set ml-deploy:certificateArn to a certificate covering "
                "stage. and prod.<domainName> and point those names at the load balancers yourself"
            )
        return self

    @property
    def serves_https(self) -> bool:
        """The listeners get a certificate: the stack's (hostedZoneId), or a given one (certificateArn)."""
        return self.hosted_zone_id is not None or self.certificate_arn is not None

    @model_validator(mode="after")
    def _prod_over_tls(self) -> ServingConfig:
        """Prod answers /predict on the internet: plain HTTP only when a stack says so by name."""
        if not self.serves_https and not self.allow_plain_http_prod:
            raise ValueError(
                "domainName is required (with ml-deploy:hostedZoneId), or ml-deploy:certificateArn: "
                "without a certificate prod serves /predict over plain HTTP. Set ml-deploy:domainName "
                "and ml-deploy:hostedZoneId (the stack issues the certificate), or ml-deploy:certificateArn "
                "to an ACM certificate ARN, or, for a dev stack only, ml-deploy:allowPlainHttpProd: true"
            )
        return self
