"""HTTPS on the stack's own names: ``https://stage.<domainName>`` and ``https://prod.<domainName>``.

With ``hostedZoneId`` the stack issues one ACM certificate naming both hosts, proves it owns them
with ACM's DNS validation (a CNAME per name, in the zone), and points each name at its
environment's load balancer with a Route 53 alias. The listeners take the ARN from the
`aws.acm.CertificateValidation`, so they are created only once ACM has issued the certificate.
With ``certificateArn`` instead, certificate and DNS are managed elsewhere and nothing here runs.

Why the zone by id rather than looked up by name (``aws.route53.get_zone(name=...)``): the zone of
``ml.example.com`` may be ``example.com`` or ``ml.example.com``, and a public and a private zone
may share a name; an id names exactly one zone. The zone is still read once, to refuse a private
zone or one that does not hold the domain before anything is created.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import pulumi
import pulumi_aws as aws

from infra.config import ConfigError
from infra.serving.config import ServingConfig

# The environments a certificate names; prod first: the common name ("Subject") of the certificate.
ENVIRONMENTS = ("prod", "stage")
# ACM reads the validation CNAMEs again at every renewal, so they stay ("Managed certificate
# renewal", https://docs.aws.amazon.com/acm/latest/userguide/managed-renewal.html); a short TTL
# lets a record fixed by hand reach ACM quickly.
VALIDATION_RECORD_TTL = 300
# The address records an alias needs per load balancer IP address type: A for IPv4, AAAA as well
# when the load balancer is dualstack ("Routing traffic to an ELB load balancer",
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-to-elb-load-balancer.html).
ALIAS_RECORD_TYPES: dict[str, tuple[str, ...]] = {"ipv4": ("A",), "dualstack": ("A", "AAAA")}


class ServingCertificate(pulumi.ComponentResource):
    """One DNS-validated ACM certificate for prod.<domainName> and stage.<domainName>.

    One certificate for both load balancers rather than one each: both names are the stack's, are
    validated in the same zone and renew together; a listener serves any certificate whose names
    include the host the client asked for. Named hosts, not ``*.<domainName>``: the certificate
    covers what the stack serves and nothing else.
    """

    certificate_arn: pulumi.Output[str]

    def __init__(
        self, name: str, *, config: ServingConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-deploy:serving:Certificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        zone_id = public_zone_id(config)
        hosts = [_host(config, environment) for environment in ENVIRONMENTS]
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=hosts[0],
            subject_alternative_names=hosts[1:],
            validation_method="DNS",
            opts=child,
        )
        records = [
            _validation_record(
                f"{name}-validation-{environment}",
                certificate=certificate,
                host=host,
                zone_id=zone_id,
                child=child,
            )
            for environment, host in zip(ENVIRONMENTS, hosts, strict=True)
        ]
        # Waits until ACM has issued the certificate (it fails the update if ACM does not in time).
        validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn for record in records],
            opts=child,
        )
        self.certificate_arn = validation.certificate_arn
        self.register_outputs({"certificate_arn": self.certificate_arn})


def serving_certificate(
    name: str, *, config: ServingConfig, opts: pulumi.ResourceOptions | None = None
) -> pulumi.Input[str] | None:
    """What the HTTPS listeners serve: issued here (hostedZoneId), given (certificateArn), or none."""
    if config.hosted_zone_id is None:
        return config.certificate_arn
    return ServingCertificate(name, config=config, opts=opts).certificate_arn


def public_zone_id(config: ServingConfig) -> str:
    """``hostedZoneId``, once Route 53 says it is public and holds ``domainName``.

    ACM reads the validation records, and clients resolve the hosts, through public DNS: records
    in a private zone, or in a zone of another domain, would leave the certificate pending and the
    URLs unresolvable, found out only after the rest of the stack was created.
    """
    zone_id, domain = config.hosted_zone_id, config.domain_name
    assert zone_id is not None and domain is not None, "the config requires both together"
    zone = aws.route53.get_zone(zone_id=zone_id)
    zone_name = zone.name.rstrip(".").lower()
    if zone.private_zone:
        raise ConfigError(
            f"ml-deploy:hostedZoneId {zone_id} ({zone_name}) is a private hosted zone: ACM validates "
            "the certificate, and clients find the environments, through public DNS; give the public zone"
        )
    if domain != zone_name and not domain.endswith(f".{zone_name}"):
        raise ConfigError(
            f"ml-deploy:domainName {domain} is not in ml-deploy:hostedZoneId {zone_id}, the zone of "
            f"{zone_name}: give the zone that holds {domain}, or a domainName under {zone_name}"
        )
    return zone_id


def alias_records(
    name: str,
    *,
    config: ServingConfig,
    environment: str,
    load_balancer: aws.lb.LoadBalancer,
    ip_address_type: str,
    parent: pulumi.Resource,
) -> list[aws.route53.Record]:
    """``<environment>.<domainName>`` to the environment's load balancer, in the stack's zone.

    An alias, not a CNAME: Route 53 answers with the load balancer's current addresses, and its
    zone id is the load balancer's own (the region's ELB zone), not the stack's zone. No overwrite:
    a record someone else made under that name stops the update rather than being replaced.
    An internal load balancer (the default) is aliased the same way: its DNS name resolves
    publicly to its private addresses, so the name resolves everywhere and connects only from
    the VPC, its peers and PrivateLink; ACM validates through its own CNAMEs, not the load balancer.
    """
    assert config.hosted_zone_id is not None, "alias records only where the stack owns the zone"
    return [
        aws.route53.Record(
            f"{name}-alias-{record_type.lower()}",
            zone_id=config.hosted_zone_id,
            name=_host(config, environment),
            type=record_type,
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=load_balancer.dns_name,
                    zone_id=load_balancer.zone_id,
                    evaluate_target_health=True,
                )
            ],
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for record_type in ALIAS_RECORD_TYPES[ip_address_type]
    ]


def _host(config: ServingConfig, environment: str) -> str:
    host = config.host(environment)
    assert host is not None, "a host only with domainName"
    return host


def _validation_record(
    resource_name: str,
    *,
    certificate: aws.acm.Certificate,
    host: str,
    zone_id: str,
    child: pulumi.ResourceOptions,
) -> aws.route53.Record:
    """The CNAME ACM asks for to validate `host`, picked from the certificate's options by name.

    One record per name, created outside any `apply` (so `pulumi preview` shows them): the names
    are known from config, only their values wait for ACM. ACM gives the same record for the same
    name to every certificate of the account (a stack recreated, a second certificate), so an
    existing one is taken over (``allow_overwrite``, as in the pulumi-aws CertificateValidation
    example), not refused.
    """
    record = certificate.domain_validation_options.apply(lambda options: _record_for(options, host))
    return aws.route53.Record(
        resource_name,
        zone_id=zone_id,
        name=record.apply(lambda r: r.name),
        type=record.apply(lambda r: r.type),
        records=[record.apply(lambda r: r.value)],
        ttl=VALIDATION_RECORD_TTL,
        allow_overwrite=True,
        opts=child,
    )


class _Record(NamedTuple):
    name: str
    type: str
    value: str


def _record_for(options: Sequence[aws.acm.outputs.CertificateDomainValidationOption], host: str) -> _Record:
    """The record ACM gave for `host`; exactly one, complete, or the update stops here."""
    found = [option for option in options if option.domain_name == host]
    if len(found) != 1:
        raise ValueError(f"ACM gave {len(found)} validation records for {host}, expected one")
    name, record_type, value = (
        found[0].resource_record_name,
        found[0].resource_record_type,
        found[0].resource_record_value,
    )
    if name is None or record_type is None or value is None:
        raise ValueError(f"ACM's validation record for {host} is incomplete: {found[0]}")
    return _Record(name, record_type, value)
