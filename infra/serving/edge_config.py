"""The serving settings of the edge: who may call the model, over which names and certificates.

The base of `ServingConfig` (`infra/serving/config.py`): HTTPS on the stack's own names (issue 24),
private by default and authenticated when public (issue 29), PrivateLink to prod.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, field_validator, model_validator

from infra.section import Section, check_arn, check_cidr
from infra.serving.edge_checks import (
    check_ca_bundle,
    check_domain_name,
    check_endpoint_service_principal,
    check_hosted_zone_id,
)

# A rate-based rule's limit per evaluation window: at least 10 ("Rate-based rule high-level
# settings", https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html),
# at most 2,000,000,000 (RateBasedStatement, WAF API reference).
WAF_RATE_LIMIT_MIN = 10
WAF_RATE_LIMIT_MAX = 2_000_000_000
ANYWHERE = "0.0.0.0/0"


class EdgeConfig(Section):
    """The listeners' names, certificate and who they admit; `ServingConfig` adds the rest."""

    certificate_arn: str | None = Field(
        None,
        json_schema_extra={"accepts": "an ACM certificate ARN in the stack's region; not with hostedZoneId"},
        description=(
            "An ACM certificate managed elsewhere: HTTPS listener and HTTP->HTTPS redirect. DNS is then"
            " yours: point `stage.`/`prod.<domainName>` at "
            "`stageLoadBalancerDnsName`/`prodLoadBalancerDnsName`. With `domainName` the URLs name your"
            " domain; without it they are the load balancers' own names, which your certificate does "
            "not cover."
        ),
    )
    allow_plain_http_prod: bool = Field(
        False,
        description=(
            "Dev only: lets a stack without `domainName`+`hostedZoneId` or `certificateArn` serve prod "
            "over plain HTTP. Without one of them, config fails."
        ),
    )
    # --- HTTPS on the stack's own names (issue 24) ---
    domain_name: str | None = Field(
        None,
        json_schema_extra={"accepts": "a lower-case DNS name of two labels or more, at most 59 characters"},
        description=(
            "Domain the environments are served under: `https://stage.<domainName>` and "
            "`https://prod.<domainName>` (e.g. `ml.example.com`, at most 59 characters: "
            "`prod.<domainName>` is the certificate's common name, which ACM limits to 64). With "
            "`hostedZoneId` the stack issues and renews the certificate and writes both names."
        ),
    )
    hosted_zone_id: str | None = Field(
        None,
        json_schema_extra={"accepts": "a Route 53 zone id (`Z...`), without `/hostedzone/`"},
        description=(
            "The public Route 53 hosted zone holding `domainName` (its id, e.g. "
            "`Z0123456789ABCDEFGHIJ`, without `/hostedzone/`). The stack creates ACM's validation "
            "CNAMEs and an alias record per environment there. The zone is checked at `pulumi up`: a "
            "private zone, or one that does not hold the domain, is refused. Not with `certificateArn`."
        ),
    )
    # --- who may call the model (issue 29): private by default, authenticated when public ---
    public_endpoint: bool = Field(
        False,
        description=(
            "Put the load balancers on the internet: internet-facing, with mutual TLS against "
            "`clientCaBundle` and AWS WAF. Requires HTTPS (`domainName`+`hostedZoneId` or "
            "`certificateArn`). False: internal, reachable from the VPC and `ingressCidrs` only."
        ),
    )
    ingress_cidrs: list[str] = Field(
        default_factory=list,
        json_schema_extra={"accepts": "IPv4 CIDR blocks written as their network address"},
        description=(
            "IPv4 CIDR blocks admitted besides the VPC's own (peered VPCs, VPN ranges). With "
            "`publicEndpoint` and this empty, any address may connect (callers still need a client "
            "certificate). `0.0.0.0/0` is refused without `publicEndpoint`."
        ),
    )
    client_ca_bundle: str | None = Field(
        None,
        json_schema_extra={"accepts": "a PEM file of 1 to 25 CA certificates of at most 16 KB"},
        description=(
            "With `publicEndpoint` (required then): the PEM file, as a path from the project root, of "
            "the CA certificates that issue your callers' client certificates. At most 25 certificates "
            "of at most 16 KB each. The stack uploads it and builds the load balancers' trust store "
            "from it."
        ),
    )
    waf_rate_limit: int = Field(
        2000,
        ge=WAF_RATE_LIMIT_MIN,
        le=WAF_RATE_LIMIT_MAX,
        description=(
            "With `publicEndpoint`: the requests one address may send in 5 minutes before AWS WAF "
            "blocks it with 403."
        ),
    )
    private_link_allowed_principals: list[str] = Field(
        default_factory=list,
        json_schema_extra={"accepts": "IAM account-root, role or user ARNs (never `*`)"},
        description=(
            "IAM principal ARNs (`arn:aws:iam::<account>:root`, `…:role/<name>`) allowed to reach prod "
            "from their own VPCs through a VPC endpoint service (PrivateLink). The endpoint service's "
            "name is the `prodPrivateLinkServiceName` output; accept each connection. Empty: no "
            "endpoint service."
        ),
    )

    @field_validator("certificate_arn")
    @classmethod
    def _acm_arn(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_arn(value, kind="an ACM certificate", services=("acm",), resource="certificate")

    @field_validator("domain_name")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None else check_domain_name(value)

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_hosted_zone_id(value)

    @field_validator("ingress_cidrs")
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
    def _public_on_purpose(self) -> Self:
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

    def host(self, environment: str) -> str | None:
        """The environment's DNS name on the stack's domain (``<environment>.<domainName>``), if any."""
        return None if self.domain_name is None else f"{environment}.{self.domain_name}"

    @model_validator(mode="after")
    def _domain_settings(self) -> Self:
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
    def _prod_over_tls(self) -> Self:
        """Prod answers /predict on the internet: plain HTTP only when a stack says so by name."""
        if not self.serves_https and not self.allow_plain_http_prod:
            raise ValueError(
                "domainName is required (with ml-deploy:hostedZoneId), or ml-deploy:certificateArn: "
                "without a certificate prod serves /predict over plain HTTP. Set ml-deploy:domainName "
                "and ml-deploy:hostedZoneId (the stack issues the certificate), or ml-deploy:certificateArn "
                "to an ACM certificate ARN, or, for a dev stack only, ml-deploy:allowPlainHttpProd: true"
            )
        return self
