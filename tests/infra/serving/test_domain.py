"""HTTPS on the stack's own names (infra/serving/domain.py): the certificate, its DNS validation,
each environment's alias record, and the settings that choose between them (issue 24)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import ConfigError, StackConfig, parse_config
from ml_deploy_dev.mocks import HOSTED_ZONES
from ml_deploy_dev.program import REGION, Program, Resource, run_program

ENVIRONMENTS = ("stage", "prod")
CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
LISTENER = "aws:lb/listener:Listener"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
DOMAIN = "ml.example.com"
# The mocks' public zone of example.com (ml_deploy_dev/mocks.py HOSTED_ZONES).
ZONE = "Z0EXAMPLEPUBLIC1"
EXTERNAL_CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"

# ACM, "RequestCertificate", DomainName
# (https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html): "the length of
# the domain name (technically, the Common Name) that you provide cannot exceed 64 octets
# (characters), including periods"; longer names only as Subject Alternative Names.
ACM_COMMON_NAME_MAX = 64
# Elastic Load Balancing endpoints (https://docs.aws.amazon.com/general/latest/gr/elb.html):
# "Route 53 Hosted Zone ID (Application Load Balancers, Classic Load Balancers)", Europe (Ireland).
ALB_ZONE_IDS = {"eu-west-1": "Z32O12XQLNTSW2"}
# Route 53, "Routing traffic to an ELB load balancer"
# (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-to-elb-load-balancer.html):
# an alias record of type A for IPv4, and another of type AAAA for a dualstack load balancer.
ALIAS_TYPES = {"ipv4": {"A"}, "dualstack": {"A", "AAAA"}}
# ACM DNS validation: a CNAME record per domain name, whose name and value ACM gives
# (DomainValidation.ResourceRecord, https://docs.aws.amazon.com/acm/latest/APIReference/API_DomainValidation.html);
# the record stays, ACM reads it again to renew ("Managed certificate renewal",
# https://docs.aws.amazon.com/acm/latest/userguide/managed-renewal.html).
VALIDATION_RECORD_TYPE = "CNAME"


@pytest.fixture(scope="module")
def domain_program() -> Program:
    """The dev stack served on ml.example.com from the account's public example.com zone."""
    return run_program(
        overrides={"ml-deploy:domainName": DOMAIN, "ml-deploy:hostedZoneId": ZONE},
        remove=("ml-deploy:allowPlainHttpProd",),
    )


def _parse(**raw: Any) -> StackConfig:
    return parse_config({"codeRepository": "acme/churn", **raw}, region=REGION)


def _sources(resource: Resource, input_name: str) -> list[str]:
    return resource.input_sources.get(input_name, [])


def _comes_from(program: Program, resource: Resource, input_name: str, source: Resource) -> bool:
    return any(urn.endswith(program.urn_of(source)) for urn in _sources(resource, input_name))


# --- settings ------------------------------------------------------------------------------


def test_a_domain_in_a_zone_serves_https_on_its_own_names() -> None:
    serving = _parse(domainName=DOMAIN, hostedZoneId=ZONE).serving
    assert serving.serves_https
    assert [serving.host(env) for env in ENVIRONMENTS] == [f"stage.{DOMAIN}", f"prod.{DOMAIN}"]
    assert _parse(allowPlainHttpProd=True).serving.host("prod") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"domainName": "ml"}, "ml-deploy:domainName must be a DNS name such as ml.example.com"),
        ({"domainName": "ML.Example.com"}, "ml-deploy:domainName must be a DNS name"),
        ({"domainName": "ml.example.com."}, "ml-deploy:domainName must be a DNS name"),
        ({"domainName": "*.example.com"}, "ml-deploy:domainName must be a DNS name"),
        ({"domainName": "-ml.example.com"}, "ml-deploy:domainName must be a DNS name"),
        ({"domainName": "ml-.example.com"}, "ml-deploy:domainName must be a DNS name"),
        ({"domainName": "ml..example.com"}, "ml-deploy:domainName must be a DNS name"),
        ({"domainName": f"{'a' * 64}.example.com"}, "ml-deploy:domainName must be a DNS name"),
        ({"hostedZoneId": "zone-1"}, "ml-deploy:hostedZoneId must be a Route 53 hosted zone id"),
        ({"hostedZoneId": "Z" + "A" * 32}, "ml-deploy:hostedZoneId must be a Route 53 hosted zone id"),
        ({"hostedZoneId": f"/hostedzone/{ZONE}"}, f"must be the zone id alone: {ZONE}"),
    ],
)
def test_a_malformed_domain_or_zone_names_the_key(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        _parse(allowPlainHttpProd=True, **raw)
    assert expected in str(error.value), f"{str(error.value)!r} does not say {expected!r}"


def test_the_domain_fits_the_certificates_common_name() -> None:
    """prod.<domainName> is the certificate's common name: 64 characters at most, per ACM."""
    room = ACM_COMMON_NAME_MAX - len("prod.")
    longest = ".".join(["a" * 50, "b" * (room - 51 - 4), "com"])
    assert len(longest) == room
    assert _parse(domainName=longest, hostedZoneId=ZONE).serving.domain_name == longest
    with pytest.raises(ConfigError, match="ml-deploy:domainName is too long"):
        _parse(domainName="a" + longest, hostedZoneId=ZONE)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"domainName": DOMAIN}, "ml-deploy:hostedZoneId is required with ml-deploy:domainName"),
        ({"hostedZoneId": ZONE}, "ml-deploy:domainName is required with ml-deploy:hostedZoneId"),
        (
            {"domainName": DOMAIN, "hostedZoneId": ZONE, "certificateArn": EXTERNAL_CERTIFICATE},
            "ml-deploy:certificateArn cannot be combined with ml-deploy:hostedZoneId",
        ),
    ],
)
def test_combinations_that_leave_the_certificate_or_its_names_unclear_are_refused(
    raw: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        _parse(**raw)
    assert str(error.value).startswith(expected), str(error.value)


def test_a_certificate_managed_elsewhere_may_name_the_domain_it_covers() -> None:
    """certificateArn with domainName: the URLs name the hosts the certificate covers; DNS is the user's."""
    serving = _parse(domainName=DOMAIN, certificateArn=EXTERNAL_CERTIFICATE).serving
    assert serving.serves_https and serving.hosted_zone_id is None
    assert serving.host("stage") == f"stage.{DOMAIN}"


# --- the certificate and its validation ----------------------------------------------------


def test_one_certificate_names_exactly_the_two_hosts_and_is_validated_by_dns(domain_program: Program) -> None:
    certificate = domain_program.one(CERTIFICATE).inputs
    names = [certificate["domainName"], *certificate.get("subjectAlternativeNames", [])]
    assert sorted(names) == sorted(f"{env}.{DOMAIN}" for env in ENVIRONMENTS), names
    assert len(certificate["domainName"]) <= ACM_COMMON_NAME_MAX
    assert certificate["validationMethod"] == "DNS", "email validation needs a person at every renewal"


def test_each_name_gets_the_validation_record_acm_asked_for_in_the_zone(domain_program: Program) -> None:
    certificate = domain_program.one(CERTIFICATE)
    asked = {
        (o["resourceRecordName"], o["resourceRecordType"], o["resourceRecordValue"])
        for o in certificate.state["domainValidationOptions"]
    }
    records = [r for r in domain_program.of_type(RECORD) if "aliases" not in r.inputs]
    written = {(r.inputs["name"], r.inputs["type"], r.inputs["records"][0]) for r in records}
    assert written == asked, f"validation records {written} are not the ones ACM gave {asked}"
    assert {r.inputs["type"] for r in records} == {VALIDATION_RECORD_TYPE}
    assert all(r.inputs["zoneId"] == ZONE and len(r.inputs["records"]) == 1 for r in records)
    assert len(records) == len(asked) == len(ENVIRONMENTS)


def test_the_validation_waits_for_exactly_those_records(domain_program: Program) -> None:
    validation = domain_program.one(VALIDATION)
    certificate = domain_program.one(CERTIFICATE)
    assert validation.inputs["certificateArn"] == certificate.state["arn"]
    records = [r for r in domain_program.of_type(RECORD) if "aliases" not in r.inputs]
    assert sorted(validation.inputs["validationRecordFqdns"]) == sorted(r.state["fqdn"] for r in records)
    for record in records:
        assert _comes_from(domain_program, validation, "validationRecordFqdns", record), record.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_https_listener_serves_the_validated_certificate(domain_program: Program, env: str) -> None:
    """The ARN comes from the validation, so the listener is created only once ACM issued it."""
    https = domain_program.one(LISTENER, f"serving-{env}-https")
    validation = domain_program.one(VALIDATION)
    assert https.inputs["certificateArn"] == domain_program.one(CERTIFICATE).state["arn"]
    assert _comes_from(domain_program, https, "certificateArn", validation), (
        f"{env}'s HTTPS listener takes its certificate from {_sources(https, 'certificateArn')}, "
        "not from the validation: it would be created while the certificate is still pending"
    )
    http = domain_program.one(LISTENER, f"serving-{env}-http").inputs
    assert http["defaultActions"][0]["redirect"]["protocol"] == "HTTPS", f"{env} serves plain HTTP"


# --- names for the load balancers ----------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_host_is_an_alias_of_its_own_load_balancer(domain_program: Program, env: str) -> None:
    alb = domain_program.one(LOAD_BALANCER, f"serving-{env}-alb")
    aliases = [r for r in domain_program.of_type(RECORD) if r.inputs.get("name") == f"{env}.{DOMAIN}"]
    address_type = alb.inputs["ipAddressType"]
    assert {r.inputs["type"] for r in aliases} == ALIAS_TYPES[address_type], (
        f"{env}: records {[r.inputs['type'] for r in aliases]} for a {address_type} load balancer"
    )
    for record in aliases:
        assert record.inputs["zoneId"] == ZONE
        (target,) = record.inputs["aliases"]
        assert target["name"] == alb.state["dnsName"], f"{env} points at {target['name']}"
        # The alias target's zone is the region's ELB zone, never the stack's own zone.
        assert target["zoneId"] == alb.state["zoneId"] == ALB_ZONE_IDS[REGION], target
        assert not record.inputs.get("allowOverwrite"), "an existing record under the name would be replaced"


# CreateLoadBalancer, Scheme (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html):
# "The DNS name of an internal load balancer is publicly resolvable to the private IP addresses of
# the nodes." So an alias to an internal load balancer belongs in the public zone as well, and ACM
# validates through its own CNAMEs, never through the load balancer.


def test_a_private_stacks_names_are_aliases_of_its_internal_load_balancers(domain_program: Program) -> None:
    """Issue 29: the stack's names resolve for everyone, and only callers with a route connect."""
    for env in ENVIRONMENTS:
        alb = domain_program.one(LOAD_BALANCER, f"serving-{env}-alb")
        assert alb.inputs["internal"] is True, f"{env} is internet-facing without publicEndpoint"
        aliases = [r for r in domain_program.of_type(RECORD) if r.inputs.get("name") == f"{env}.{DOMAIN}"]
        assert aliases and all(r.inputs["zoneId"] == ZONE for r in aliases), f"{env}: {aliases}"
    assert domain_program.one(CERTIFICATE).inputs["validationMethod"] == "DNS"


def test_the_urls_name_the_hosts_the_certificate_covers(domain_program: Program) -> None:
    names = set(domain_program.one(CERTIFICATE).inputs["subjectAlternativeNames"])
    names.add(domain_program.one(CERTIFICATE).inputs["domainName"])
    for env in ENVIRONMENTS:
        url = domain_program.outputs[f"{env}Url"]
        assert url == f"https://{env}.{DOMAIN}", url
        assert url.removeprefix("https://") in names


def test_a_certificate_managed_elsewhere_serves_the_domains_urls_without_records() -> None:
    program = run_program(
        overrides={"ml-deploy:domainName": DOMAIN, "ml-deploy:certificateArn": EXTERNAL_CERTIFICATE}
    )
    assert not program.of_type(CERTIFICATE) and not program.of_type(RECORD), "DNS is the user's here"
    for env in ENVIRONMENTS:
        assert program.one(LISTENER, f"serving-{env}-https").inputs["certificateArn"] == EXTERNAL_CERTIFICATE
        assert program.outputs[f"{env}Url"] == f"https://{env}.{DOMAIN}"
        # What the user points {env}.<domain> at.
        alb = program.one(LOAD_BALANCER, f"serving-{env}-alb")
        assert program.outputs[f"{env}LoadBalancerDnsName"] == alb.state["dnsName"]


def test_the_dev_stack_keeps_plain_http_and_no_dns(dev_program: Program) -> None:
    assert not dev_program.of_type(CERTIFICATE) and not dev_program.of_type(RECORD)
    assert dev_program.outputs["prodUrl"].startswith("http://serving-prod-alb-")


# --- the zone, read before anything is created ----------------------------------------------


@pytest.mark.parametrize(
    ("zone", "domain", "expected"),
    [
        ("Z0EXAMPLEPRIVATE", DOMAIN, "ml-deploy:hostedZoneId Z0EXAMPLEPRIVATE (example.com) is a private"),
        ("Z0OTHERPUBLIC001", DOMAIN, "ml-deploy:domainName ml.example.com is not in ml-deploy:hostedZoneId"),
        # A zone of "ample.com" does not hold "example.com": names match by whole labels.
        (ZONE, "ml.notexample.com", "ml-deploy:domainName ml.notexample.com is not in"),
    ],
)
def test_a_zone_that_cannot_serve_the_domain_is_refused(zone: str, domain: str, expected: str) -> None:
    assert zone in HOSTED_ZONES
    with pytest.raises(ConfigError) as error:
        run_program(
            overrides={"ml-deploy:domainName": domain, "ml-deploy:hostedZoneId": zone},
            remove=("ml-deploy:allowPlainHttpProd",),
        )
    assert expected in str(error.value), str(error.value)


def test_no_runtime_role_gains_dns_or_certificate_permissions(domain_program: Program) -> None:
    for resource, _, document in domain_program.policy_documents():
        statements = document["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            granted = [a for a in actions if a.split(":")[0] in ("acm", "route53")]
            assert not granted, f"{resource.name} grants {granted}"
