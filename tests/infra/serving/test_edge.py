"""Issue 29: private by default; on the internet only with ``publicEndpoint``, and then authenticated.

AWS's documented constraints are test data here, each naming its page; the program's resources
(under the mocks) are checked against them.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.config import ConfigError, parse_config
from ml_deploy_dev.program import ACCOUNT, REGION, Program, Resource, run_program
from tests.infra.serving.conftest import CERTIFICATE, ca_certificate_pem, public_overrides

ENVIRONMENTS = ("stage", "prod")
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TRUST_STORE = "aws:lb/trustStore:TrustStore"
BUNDLE_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
BUCKET = "aws:s3/bucket:Bucket"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
TEST_PORT = 9000

# "Mutual authentication with TLS in Application Load Balancer"
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/mutual-authentication.html) and
# the Listener MutualAuthentication property (aws-properties-elasticloadbalancingv2-listener-
# mutualauthentication.html): modes off | passthrough | verify; only verify has the load balancer
# reject a client whose certificate does not chain to the trust store; mTLS is an HTTPS listener's.
MUTUAL_TLS_MODES = ("off", "passthrough", "verify")
MUTUAL_TLS_PROTOCOL = "HTTPS"
# CreateTrustStore (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTrustStore.html):
# Name 1-32 characters, ^([a-zA-Z0-9]+-)*[a-zA-Z0-9]+$. Pulumi autonames it `<resource name>-<7 chars>`.
TRUST_STORE_NAME = re.compile(r"([a-zA-Z0-9]+-)*[a-zA-Z0-9]+")
TRUST_STORE_NAME_MAX = 32
PULUMI_AUTONAME_SUFFIX = "-0a1b2c3"
# "Quotas for your Application Load Balancers", Certificates
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html):
# 25 CA certificates per trust store, a CA certificate at most 16 KB.
CA_CERTIFICATES_PER_TRUST_STORE = 25
CA_CERTIFICATE_MAX_BYTES = 16 * 1024
# VisibilityConfig (https://docs.aws.amazon.com/waf/latest/APIReference/API_VisibilityConfig.html):
# MetricName "can contain only A-Z, a-z, 0-9, - (hyphen), and _ (underscore)", 1-128 characters,
# not a name reserved for AWS WAF such as All and Default_Action.
WAF_METRIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
WAF_RESERVED_METRIC_NAMES = {"All", "Default_Action"}
# "Rate-based rule high-level settings"
# (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html):
# the lowest rate limit is 10; RateBasedStatement's Limit at most 2,000,000,000.
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)
# Load balancers are regional: a web ACL for them has scope REGIONAL (WebAcl scope, pulumi-aws
# wafv2.WebAcl: "CLOUDFRONT or REGIONAL").
WAF_SCOPE_FOR_ALB = "REGIONAL"
# The managed rule groups (AWS managed rule groups list,
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html).
REQUIRED_MANAGED_GROUPS = {
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
}
# LoggingConfiguration (https://docs.aws.amazon.com/waf/latest/APIReference/API_LoggingConfiguration.html):
# "The name that you give the destination must start with aws-waf-logs-".
WAF_LOG_DESTINATION_PREFIX = "aws-waf-logs-"
# The provider's bucket_prefix (pulumi-aws s3.Bucket): "Must be lowercase and less than or equal
# to 37 characters in length".
BUCKET_PREFIX_MAX = 37
# "Logs sent to Amazon S3" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html):
# delivery.logs.amazonaws.com puts objects under AWSLogs/<account>/ and reads the bucket ACL.
LOG_DELIVERY = "delivery.logs.amazonaws.com"


def _of(program: Program, type_token: str, name: str) -> Resource:
    return program.one(type_token, name)


def _policy(program: Program, bucket_resource: str) -> dict[str, Any]:
    document = program.one("aws:s3/bucketPolicy:BucketPolicy", bucket_resource).inputs["policy"]
    return dict(json.loads(document) if isinstance(document, str) else document)


# --- private by default ----------------------------------------------------------------------


def test_a_private_stack_has_nothing_on_the_internet_and_no_edge(dev_program: Program) -> None:
    for env in ENVIRONMENTS:
        alb = _of(dev_program, LOAD_BALANCER, f"serving-{env}-alb").inputs
        assert alb["internal"] is True, f"{env} faces the internet without publicEndpoint"
    present = {t: dev_program.of_type(t) for t in (TRUST_STORE, WEB_ACL, ASSOCIATION, WAF_LOGGING)}
    assert not any(present.values()), f"a private stack creates {present}"


def test_a_private_stack_admits_the_vpc_and_no_address_of_the_internet(dev_program: Program) -> None:
    vpc_cidr = dev_program.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"]
    for env in ENVIRONMENTS:
        alb_sg = _of(dev_program, "aws:ec2/securityGroup:SecurityGroup", f"serving-{env}-alb")
        sources = {
            r.inputs.get("cidrIpv4")
            for r in dev_program.of_type(INGRESS_RULE)
            if r.inputs["securityGroupId"] == alb_sg.id and "cidrIpv4" in r.inputs
        }
        assert sources == {vpc_cidr}, f"{env} load balancer admits {sources}"


# --- public only on purpose, and then authenticated --------------------------------------------


BUNDLE = "<the client CA bundle>"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"publicEndpoint": True, "clientCaBundle": BUNDLE, "allowPlainHttpProd": True},
            "ml-deploy:publicEndpoint needs HTTPS",
        ),
        ({"publicEndpoint": True, "certificateArn": CERTIFICATE}, "ml-deploy:clientCaBundle is required"),
        (
            {"clientCaBundle": BUNDLE, "certificateArn": CERTIFICATE},
            "ml-deploy:clientCaBundle is used only with ml-deploy:publicEndpoint",
        ),
        (
            {"ingressCidrs": ["0.0.0.0/0"], "certificateArn": CERTIFICATE},
            "ml-deploy:ingressCidrs 0.0.0.0/0 is the whole internet",
        ),
        (
            {"wafRateLimit": WAF_RATE_LIMIT_RANGE[0] - 1},
            f"ml-deploy:wafRateLimit Input should be greater than or equal to {WAF_RATE_LIMIT_RANGE[0]}",
        ),
        (
            {"wafRateLimit": WAF_RATE_LIMIT_RANGE[1] + 1},
            f"ml-deploy:wafRateLimit Input should be less than or equal to {WAF_RATE_LIMIT_RANGE[1]}",
        ),
        ({"privateLinkAllowedPrincipals": ["*"]}, "ml-deploy:privateLinkAllowedPrincipals must be an IAM"),
        (
            {"privateLinkAllowedPrincipals": ["arn:aws:iam::21098765432:root"]},
            "ml-deploy:privateLinkAllowedPrincipals must be an IAM",
        ),
    ],
)
def test_the_internet_only_by_name_and_with_https_and_client_certificates(
    raw: dict[str, Any], expected: str, client_ca_bundle: Path
) -> None:
    given = {key: str(client_ca_bundle) if value == BUNDLE else value for key, value in raw.items()}
    with pytest.raises(ConfigError) as error:
        parse_config({"codeRepository": "acme/churn", "allowPlainHttpProd": True, **given}, region=REGION)
    assert expected in str(error.value), str(error.value)


def test_the_edge_settings_at_their_bounds_are_accepted(client_ca_bundle: Path) -> None:
    public = parse_config(
        {
            "codeRepository": "acme/churn",
            "publicEndpoint": True,
            "certificateArn": CERTIFICATE,
            "clientCaBundle": str(client_ca_bundle),
            "wafRateLimit": WAF_RATE_LIMIT_RANGE[0],
            "privateLinkAllowedPrincipals": ["arn:aws:iam::210987654321:role/callers/churn"],
        },
        region=REGION,
    ).serving
    assert public.client_cidrs == ["0.0.0.0/0"], "public and unset: any address, authenticated by mTLS"
    narrowed = public.model_copy(update={"ingress_cidrs": ["198.51.100.0/24"]})
    assert narrowed.client_cidrs == ["198.51.100.0/24"]


def _bundle(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "bundle.pem"
    path.write_text(text)
    return public_overrides(path)


def test_a_ca_bundle_the_trust_store_would_refuse_is_refused_at_load(tmp_path: Path) -> None:
    certificate = ca_certificate_pem()
    with pytest.raises(ConfigError, match="ml-deploy:clientCaBundle must be a readable PEM file"):
        run_program(overrides=public_overrides(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="has none"):
        run_program(overrides=_bundle(tmp_path, "not a certificate\n"))
    too_many = certificate * (CA_CERTIFICATES_PER_TRUST_STORE + 1)
    with pytest.raises(ConfigError, match=f"at most {CA_CERTIFICATES_PER_TRUST_STORE} CA certificates"):
        run_program(overrides=_bundle(tmp_path, too_many))
    body = base64.encodebytes(bytes(CA_CERTIFICATE_MAX_BYTES + 1)).decode("ascii")
    oversized = f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"
    with pytest.raises(ConfigError, match=f"at most {CA_CERTIFICATE_MAX_BYTES} bytes"):
        run_program(overrides=_bundle(tmp_path, oversized))
    # The quota itself is accepted.
    run_program(overrides=_bundle(tmp_path, certificate * CA_CERTIFICATES_PER_TRUST_STORE))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_public_load_balancers_face_the_internet_from_the_public_subnets(
    public_program: Program, env: str
) -> None:
    alb = _of(public_program, LOAD_BALANCER, f"serving-{env}-alb").inputs
    assert alb["internal"] is False and alb["subnets"] == public_program.outputs["publicSubnetIds"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_listener_clients_reach_verifies_their_certificate_or_only_redirects(
    public_program: Program, env: str
) -> None:
    """A caller without a client certificate the trust store verifies gets no HTTP exchange at all."""
    store = public_program.one(TRUST_STORE)
    https = _of(public_program, LISTENER, f"serving-{env}-https").inputs
    assert https["protocol"] == MUTUAL_TLS_PROTOCOL
    assert https["mutualAuthentication"]["mode"] in MUTUAL_TLS_MODES
    assert https["mutualAuthentication"] == {"mode": "verify", "trustStoreArn": store.state["arn"]}, (
        f"{env} HTTPS listener: {https['mutualAuthentication']}"
    )
    http = _of(public_program, LISTENER, f"serving-{env}-http").inputs
    assert [a["type"] for a in http["defaultActions"]] == ["redirect"], f"{env} HTTP forwards: {http}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_public_test_listener_is_reached_only_from_the_nat_gateways(
    public_program: Program, env: str
) -> None:
    """The test port has no client certificate check: nobody but the hook's NAT addresses reaches it."""
    nat = {f"{r.state['publicIp']}/32" for r in public_program.of_type("aws:ec2/natGateway:NatGateway")}
    alb_sg = _of(public_program, "aws:ec2/securityGroup:SecurityGroup", f"serving-{env}-alb")
    on_test_port = [
        r.inputs.get("cidrIpv4", r.inputs.get("referencedSecurityGroupId"))
        for r in public_program.of_type(INGRESS_RULE)
        if r.inputs["securityGroupId"] == alb_sg.id and r.inputs["toPort"] == TEST_PORT
    ]
    assert set(on_test_port) == nat and len(on_test_port) == len(nat), on_test_port
    hook_sg = _of(public_program, "aws:ec2/securityGroup:SecurityGroup", f"serving-{env}-smoke-hook")
    out = {
        (r.inputs["toPort"], r.inputs.get("cidrIpv4"))
        for r in public_program.of_type(EGRESS_RULE)
        if r.inputs["securityGroupId"] == hook_sg.id
    }
    assert out == {(TEST_PORT, "0.0.0.0/0"), (443, "0.0.0.0/0")}, f"{env} hook sends {out}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_refused_handshake_is_on_record(public_program: Program, env: str) -> None:
    """Connection logs (client certificate, verification status) go where the access logs go, whose
    bucket policy admits ELB delivery under alb/AWSLogs/<account>/ ("Connection logs for your
    Application Load Balancer",
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-connection-logs.html)."""
    alb = _of(public_program, LOAD_BALANCER, f"serving-{env}-alb").inputs
    assert (
        alb["connectionLogs"]
        == alb["accessLogs"]
        == {
            "bucket": public_program.outputs["accessLogBucket"],
            "prefix": "alb",
            "enabled": True,
        }
    ), f"{env}: {alb.get('connectionLogs')}"


def test_the_trust_store_holds_exactly_the_uploaded_bundle_version(
    public_program: Program, client_ca_bundle: Path
) -> None:
    (bundle,) = public_program.of_type(BUNDLE_OBJECT)
    assert Path(bundle.inputs["source"].path) == client_ca_bundle
    assert bundle.inputs["bucket"] == public_program.outputs["modelBucket"], "the model bucket is versioned"
    assert bundle.inputs["serverSideEncryption"] == "AES256", "ELB would need the stack key to read it"
    store = public_program.one(TRUST_STORE).inputs
    assert (
        store["caCertificatesBundleS3Bucket"],
        store["caCertificatesBundleS3Key"],
        store["caCertificatesBundleS3ObjectVersion"],
    ) == (bundle.inputs["bucket"], bundle.inputs["key"], bundle.state["versionId"]), store


def test_the_trust_store_name_fits_what_elb_accepts(public_program: Program) -> None:
    store = public_program.one(TRUST_STORE)
    name = store.inputs.get("name") or store.name + PULUMI_AUTONAME_SUFFIX
    assert len(name) <= TRUST_STORE_NAME_MAX and TRUST_STORE_NAME.fullmatch(name), name


def _rules(program: Program) -> list[dict[str, Any]]:
    return list(program.one(WEB_ACL).inputs["rules"])


def test_the_web_acl_is_regional_rate_limits_each_address_and_runs_the_managed_groups(
    public_program: Program,
) -> None:
    acl = public_program.one(WEB_ACL).inputs
    assert acl["scope"] == WAF_SCOPE_FOR_ALB and acl["defaultAction"] == {"allow": {}}
    rules = _rules(public_program)
    assert len({r["name"] for r in rules}) == len(rules), "rule names must be unique in a web ACL"
    assert len({r["priority"] for r in rules}) == len(rules), "rule priorities must be unique"
    first = min(rules, key=lambda r: r["priority"])
    rate = first["statement"]["rateBasedStatement"]
    assert (rate["aggregateKeyType"], rate["limit"], first["action"]) == ("IP", 2000, {"block": {}}), first
    assert WAF_RATE_LIMIT_RANGE[0] <= rate["limit"] <= WAF_RATE_LIMIT_RANGE[1]
    managed = {
        r["statement"]["managedRuleGroupStatement"]["name"]: r
        for r in rules
        if "managedRuleGroupStatement" in r["statement"]
    }
    assert set(managed) >= REQUIRED_MANAGED_GROUPS, f"managed groups: {sorted(managed)}"
    for name, rule in managed.items():
        assert rule["statement"]["managedRuleGroupStatement"]["vendorName"] == "AWS"
        assert rule["overrideAction"] == {"none": {}}, f"{name} is overridden to count only"
        assert "action" not in rule, f"{name}: a rule group takes overrideAction, not action"


def test_the_rate_limit_comes_from_the_config(client_ca_bundle: Path) -> None:
    program = run_program(overrides={**public_overrides(client_ca_bundle), "ml-deploy:wafRateLimit": 600})
    (rate,) = [r for r in _rules(program) if "rateBasedStatement" in r["statement"]]
    assert rate["statement"]["rateBasedStatement"]["limit"] == 600


def test_every_waf_block_is_counted_under_a_metric_name_waf_accepts(public_program: Program) -> None:
    acl = public_program.one(WEB_ACL).inputs
    configs = [acl["visibilityConfig"], *(r["visibilityConfig"] for r in _rules(public_program))]
    for config in configs:
        assert config["cloudwatchMetricsEnabled"] is True and config["sampledRequestsEnabled"] is True
        name = config["metricName"]
        assert WAF_METRIC_NAME.fullmatch(name) and name not in WAF_RESERVED_METRIC_NAMES, name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_load_balancer_answers_through_the_web_acl(public_program: Program, env: str) -> None:
    acl = public_program.one(WEB_ACL)
    alb = _of(public_program, LOAD_BALANCER, f"serving-{env}-alb")
    associated = [
        r.inputs for r in public_program.of_type(ASSOCIATION) if r.inputs["resourceArn"] == alb.state["arn"]
    ]
    assert [a["webAclArn"] for a in associated] == [acl.state["arn"]], f"{env}: {associated}"


def test_waf_logs_every_request_to_a_private_bucket_named_as_waf_requires(public_program: Program) -> None:
    (logging,) = public_program.of_type(WAF_LOGGING)
    assert logging.inputs["resourceArn"] == public_program.one(WEB_ACL).state["arn"]
    assert "loggingFilter" not in logging.inputs, "every request is logged"
    (destination,) = logging.inputs["logDestinationConfigs"]
    (bucket,) = [b for b in public_program.of_type(BUCKET) if b.state["arn"] == destination]
    assert bucket.state["bucket"].startswith(WAF_LOG_DESTINATION_PREFIX), bucket.state["bucket"]
    assert len(bucket.inputs["bucketPrefix"]) <= BUCKET_PREFIX_MAX
    access = public_program.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket.name).inputs
    assert all(
        access[k]
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    statements = {s.get("Sid"): s for s in _policy(public_program, bucket.name)["Statement"]}
    write = statements["LogDeliveryWritesWafLogs"]
    assert write["Principal"] == {"Service": LOG_DELIVERY}
    assert write["Resource"] == f"{destination}/AWSLogs/{ACCOUNT}/*", write["Resource"]
    assert write["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
    assert write["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:*"
    assert statements["LogDeliveryChecksBucketAcl"]["Action"] == "s3:GetBucketAcl"
    assert any(s["Effect"] == "Deny" for s in statements.values()), "plain-HTTP access is not denied"
