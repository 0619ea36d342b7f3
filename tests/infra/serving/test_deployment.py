"""Issue 17: prod deploys as an ECS canary, stage blue/green, both judged by the smoke-test hook.

What ECS requires and does is test data here, each naming the AWS page it comes from; the
program's resources (under the mocks) are checked against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import ConfigError
from ml_deploy.settings import SmokeHookSettings
from ml_deploy_dev.program import ACCOUNT, REGION, ROOT, Program, Resource, run_program
from tests.infra.serving.conftest import EXISTING_VPC, public_overrides
from tests.infra.shared_program import shared_program

ENVIRONMENTS = ("stage", "prod")
SERVICE = "aws:ecs/service:Service"
RULE = "aws:lb/listenerRule:ListenerRule"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
UNHEALTHY = "UnHealthyHostCount"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
TEST_PORT = 9000

# "Amazon ECS canary deployments" (Resources involved in a canary deployment):
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/canary-deployment.html
CANARY_TERMS = {
    "Canary percentage": "The percentage of traffic routed to the new version during the evaluation period.",
    "Canary bake time": "The duration to monitor the canary version before proceeding with full deployment.",
    "Deployment bake time": (
        "The time, in minutes, Amazon ECS waits after shifting all production traffic to the new "
        "service revision, before it terminates the old service revision."
    ),
}
# "Required resources for Amazon ECS canary deployments":
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/canary-deployment-implementation.html
CANARY_REQUIRES = ("Set the service deployment controller to ECS.",)
# "Application Load Balancer resources for blue/green, linear, and canary deployments":
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html
ALB_RESOURCES = {
    "target groups": (
        "A primary target group for the blue service revision (current production traffic)",
        "An alternate target group for the green service revision (new version)",
    ),
    "both target groups": {"targetType": "ip", "protocol": "HTTP"},
    "limitation": (
        "Blue/green deployments are not supported when using Application Load Balancer listeners "
        "that have multiple action types configured with non-forward actions."
    ),
}
# ServiceDeployment lifecycleStage (ECS API reference, as the SDKs carry it):
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html
LIFECYCLE_STAGES = {
    "TEST_TRAFFIC_SHIFT": (
        "The blue and green service revisions are running. The blue service revision handles 100% "
        "of the production traffic. The green service revision is migrating from 0% to 100% of "
        "test traffic."
    ),
    "POST_TEST_TRAFFIC_SHIFT": (
        "The test traffic shift is complete. The green service revision handles 100% of the test traffic."
    ),
    "PRODUCTION_TRAFFIC_SHIFT": (
        "Production traffic is shifting to the green service revision. The green service revision "
        "is migrating from 0% to 100% of production traffic."
    ),
}
# "Permissions required for Lambda functions in Amazon ECS blue/green deployments":
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-permissions.html
HOOK_INVOKER = {"action": "lambda:InvokeFunction", "principal": "ecs.amazonaws.com"}
# "AmazonECSInfrastructureRolePolicyForLoadBalancers" (AWS managed policy reference; v2 in July
# 2025, v6 since February 2026: AWS revises it, so it is attached by ARN, never copied):
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSInfrastructureRolePolicyForLoadBalancers.html
LOAD_BALANCER_POLICY = {"arn": "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"}


@pytest.fixture(scope="module")
def https_program() -> Program:
    return shared_program({"ml-deploy:certificateArn": CERTIFICATE})


def _of(program: Program, type_token: str, env: str, suffix: str) -> Resource:
    return program.one(type_token, f"serving-{env}-{suffix}")


def _service(program: Program, env: str) -> dict[str, Any]:
    return _of(program, SERVICE, env, "service").inputs


def _arn(resource: Resource) -> str:
    return str(resource.state["arn"])


def _granted(program: Program, role: str) -> set[tuple[str, str]]:
    policy = program.one("aws:iam/rolePolicy:RolePolicy", role)
    granted = set()
    for statement in json.loads(policy.inputs["policy"])["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        granted |= {(action, resource) for action in actions for resource in resources}
    return granted


def test_prod_deploys_as_a_ten_percent_canary_and_stage_blue_green(dev_program: Program) -> None:
    """Pulumi.dev.yaml: prod CANARY 10% / 5 min, bake 5 min; stage BLUE_GREEN, bake 5 min."""
    assert "Deployment bake time" in CANARY_TERMS and "controller to ECS" in CANARY_REQUIRES[0]
    prod, stage = _service(dev_program, "prod"), _service(dev_program, "stage")
    assert prod["deploymentController"] == {"type": "ECS"}, "ECS's own strategies need its controller"
    deployment = prod["deploymentConfiguration"]
    assert (deployment["strategy"], deployment["bakeTimeInMinutes"]) == ("CANARY", "5"), deployment
    assert deployment["canaryConfiguration"] == {"canaryPercent": 10, "canaryBakeTimeInMinutes": "5"}
    assert stage["deploymentController"] == {"type": "ECS"}
    assert stage["deploymentConfiguration"]["strategy"] == "BLUE_GREEN", stage["deploymentConfiguration"]
    assert "canaryConfiguration" not in stage["deploymentConfiguration"]


def test_deployment_settings_come_from_the_environments_config() -> None:
    program = run_program(
        overrides={
            "ml-deploy:prod": {"canaryPercent": 25, "canaryBakeMinutes": 15, "bakeMinutes": 30},
            "ml-deploy:stage": {"deploymentStrategy": "CANARY", "canaryPercent": 50},
        }
    )
    prod = _service(program, "prod")["deploymentConfiguration"]
    assert prod["strategy"] == "CANARY", "prod given without a strategy must stay a canary"
    assert prod["canaryConfiguration"] == {"canaryPercent": 25, "canaryBakeTimeInMinutes": "15"}
    assert prod["bakeTimeInMinutes"] == "30"
    stage = _service(program, "stage")["deploymentConfiguration"]
    assert (stage["strategy"], stage["canaryConfiguration"]["canaryPercent"]) == ("CANARY", 50)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_smoke_test_runs_when_only_the_new_revision_has_test_traffic(
    dev_program: Program, env: str
) -> None:
    """POST_TEST_TRAFFIC_SHIFT: the green revision has all test traffic, production none yet."""
    assert "handles 100% of the test traffic" in LIFECYCLE_STAGES["POST_TEST_TRAFFIC_SHIFT"]
    (hook,) = _service(dev_program, env)["deploymentConfiguration"]["lifecycleHooks"]
    assert hook["lifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT"], hook
    assert hook["targetType"] == "AWS_LAMBDA"
    assert hook["hookTargetArn"] == _arn(_of(dev_program, FUNCTION, env, "smoke-hook")), (
        f"{env} runs another environment's smoke test: {hook['hookTargetArn']}"
    )
    assert hook["roleArn"] == _arn(_of(dev_program, "aws:iam/role:Role", env, "deployments"))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_ecs_gets_the_alternate_target_group_and_both_listener_rules(
    https_program: Program, env: str
) -> None:
    program = https_program
    (balanced,) = _service(program, env)["loadBalancers"]
    primary, alternate = (_of(program, TARGET_GROUP, env, name) for name in ("tg", "tg-alternate"))
    assert balanced["targetGroupArn"] == _arn(primary)
    advanced = balanced["advancedConfiguration"]
    production, test = (_of(program, RULE, env, name) for name in ("production", "test"))
    assert advanced == {
        "alternateTargetGroupArn": _arn(alternate),
        "productionListenerRule": _arn(production),
        "testListenerRule": _arn(test),
        "roleArn": _arn(_of(program, "aws:iam/role:Role", env, "deployments")),
    }, f"{env}: {advanced}"
    # Both groups alike: either one serves production after a deployment.
    same = ("targetType", "protocol", "port", "vpcId", "healthCheck", "deregistrationDelay")
    assert {k: primary.inputs.get(k) for k in same} == {k: alternate.inputs.get(k) for k in same}
    assert {k: primary.inputs[k] for k in ALB_RESOURCES["both target groups"]} == ALB_RESOURCES[
        "both target groups"
    ]
    # The production rule sits on the listener that forwards (HTTPS here), the test rule on port 9000.
    https, test_listener = _of(program, LISTENER, env, "https"), _of(program, LISTENER, env, "test")
    assert production.inputs["listenerArn"] == _arn(https)
    assert (test.inputs["listenerArn"], test_listener.inputs["port"]) == (_arn(test_listener), TEST_PORT)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_listener_rules_forward_to_both_groups_and_pulumi_leaves_their_weights_to_ecs(
    https_program: Program, env: str
) -> None:
    primary, alternate = (_arn(_of(https_program, TARGET_GROUP, env, n)) for n in ("tg", "tg-alternate"))
    expected = {"production": {primary: 100, alternate: 0}, "test": {alternate: 100, primary: 0}}
    for name, weights in expected.items():
        rule = _of(https_program, RULE, env, name)
        (action,) = rule.inputs["actions"]
        assert action["type"] == "forward", f"{env} {name}: {ALB_RESOURCES['limitation']}"
        forwarded = {g["arn"]: g["weight"] for g in action["forward"]["targetGroups"]}
        assert forwarded == weights, f"{env} {name} rule forwards {forwarded}"
        assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/*"]}}]
        assert "actions" in rule.ignore_changes, (
            f"{env} {name}: `pulumi up` would reset the weights ECS moved in the last deployment"
        )
    # No listener mixes forward and non-forward actions (the redirect listener carries no rule).
    for listener in (_of(https_program, LISTENER, env, n) for n in ("https", "test")):
        assert {a["type"] for a in listener.inputs["defaultActions"]} == {"forward"}, listener.name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rollback_alarms_watch_the_5xx_rate_p99_and_unhealthy_targets_of_each_target_group(
    dev_program: Program, env: str
) -> None:
    """The new revision lands in whichever group was idle: each group has its own pair."""
    alarm_names = _service(dev_program, env)["alarms"]["alarmNames"]
    watched: dict[str, set[str]] = {}
    for alarm in (r for r in dev_program.of_type(ALARM) if r.state["name"] in alarm_names):
        queries = alarm.inputs.get("metricQueries") or [{"metric": alarm.inputs}]
        for query in queries:
            metric = query.get("metric")
            if metric and metric.get("dimensions"):
                group = metric["dimensions"]["TargetGroup"].split("/")[1]
                watched.setdefault(group, set()).add(metric.get("metricName") or metric["metric_name"])
    both = {"HTTPCode_Target_5XX_Count", "RequestCount", "TargetResponseTime", UNHEALTHY}
    groups = (_of(dev_program, TARGET_GROUP, env, n).inputs["name"] for n in ("tg", "tg-alternate"))
    assert watched == dict.fromkeys(groups, both), f"{env} rollback alarms watch {watched}"
    assert _service(dev_program, env)["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


def test_an_internet_facing_test_port_admits_only_the_nat_gateways(public_program: Program) -> None:
    program = public_program
    nat_addresses = {f"{r.state['publicIp']}/32" for r in program.of_type("aws:ec2/natGateway:NatGateway")}
    assert nat_addresses, "the dev stack has a NAT gateway"
    for env in ENVIRONMENTS:
        alb_sg = _of(program, "aws:ec2/securityGroup:SecurityGroup", env, "alb")
        on_test_port = [
            r.inputs.get("cidrIpv4", r.inputs.get("referencedSecurityGroupId"))
            for r in program.of_type(INGRESS_RULE)
            if r.inputs["securityGroupId"] == alb_sg.id and r.inputs["toPort"] == TEST_PORT
        ]
        assert set(on_test_port) == nat_addresses, f"{env} test port admits {on_test_port}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_hook_reaches_an_internal_test_port_from_its_own_security_group(
    dev_program: Program, env: str
) -> None:
    """Issue 29: no address range on either side; the hook's group and the ALB's name each other."""
    alb_sg = _of(dev_program, "aws:ec2/securityGroup:SecurityGroup", env, "alb")
    hook_sg = _of(dev_program, "aws:ec2/securityGroup:SecurityGroup", env, "smoke-hook")
    admitted = [
        r.inputs
        for r in dev_program.of_type(INGRESS_RULE)
        if r.inputs["securityGroupId"] == alb_sg.id and r.inputs["toPort"] == TEST_PORT
    ]
    assert [(r.get("referencedSecurityGroupId"), r.get("cidrIpv4")) for r in admitted] == [
        (hook_sg.id, None)
    ], f"{env} test port admits {admitted}"
    sent = [
        r.inputs
        for r in dev_program.of_type(EGRESS_RULE)
        if r.inputs["securityGroupId"] == hook_sg.id and r.inputs["toPort"] == TEST_PORT
    ]
    assert [(r.get("referencedSecurityGroupId"), r.get("cidrIpv4")) for r in sent] == [(alb_sg.id, None)], (
        f"{env} hook sends test traffic to {sent}"
    )


def test_an_existing_vpc_needs_the_test_listener_sources_named_only_when_public(
    existing_vpc_program: Program, client_ca_bundle: Path
) -> None:
    # Internal: the hook's security group is admitted, whatever the NAT addresses are (the fixture
    # renders the existing VPC without testListenerCidrs).
    assert existing_vpc_program.outputs["vpcId"] == EXISTING_VPC["ml-deploy:vpcId"]
    existing = {**EXISTING_VPC, **public_overrides(client_ca_bundle)}
    with pytest.raises(ConfigError, match="ml-deploy:testListenerCidrs is required with vpcId"):
        run_program(overrides=existing)
    program = run_program(overrides={**existing, "ml-deploy:testListenerCidrs": ["198.51.100.20/32"]})
    alb_sg = _of(program, "aws:ec2/securityGroup:SecurityGroup", "prod", "alb")
    assert {
        r.inputs["cidrIpv4"]
        for r in program.of_type(INGRESS_RULE)
        if r.inputs["securityGroupId"] == alb_sg.id and r.inputs["toPort"] == TEST_PORT
    } == {"198.51.100.20/32"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_hook_is_packaged_from_the_repository_and_runs_in_the_private_subnets(
    dev_program: Program, env: str
) -> None:
    function = _of(dev_program, FUNCTION, env, "smoke-hook").inputs
    assert (function["runtime"], function["handler"]) == ("python3.12", "handler.handler")
    assert Path(function["code"].path) == ROOT / "infra" / "serving" / "smoke_hook", function["code"].path
    assert function["vpcConfig"]["subnetIds"] == dev_program.outputs["privateSubnetIds"]
    group = _of(dev_program, "aws:ec2/securityGroup:SecurityGroup", env, "smoke-hook")
    assert function["vpcConfig"]["securityGroupIds"] == [group.id]
    assert not [r for r in dev_program.of_type(INGRESS_RULE) if r.inputs["securityGroupId"] == group.id]
    egress = {
        (r.inputs["fromPort"], r.inputs["cidrIpv4"])
        for r in dev_program.of_type(EGRESS_RULE)
        if r.inputs["securityGroupId"] == group.id and "cidrIpv4" in r.inputs
    }
    assert egress == {(443, "0.0.0.0/0")}, f"{env} hook may send {egress} (the test port: group to group)"
    assert 10 <= function["timeout"] <= 900
    logs = _of(dev_program, "aws:cloudwatch/logGroup:LogGroup", env, "smoke-hook-logs")
    assert function["loggingConfig"]["logGroup"] == logs.state["name"]
    assert (logs.inputs["retentionInDays"], logs.inputs["kmsKeyId"]) == (14, dev_program.outputs["kmsKeyArn"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_hooks_environment_is_the_runtime_contracts(dev_program: Program, env: str) -> None:
    variables = _of(dev_program, FUNCTION, env, "smoke-hook").inputs["environment"]["variables"]
    settings = SmokeHookSettings.from_env(variables)
    alb = _of(dev_program, "aws:lb/loadBalancer:LoadBalancer", env, "alb").state["dnsName"]
    assert settings.test_url == f"http://{alb}:{TEST_PORT}", "the hook must call the test listener"
    assert settings.environment == env
    assert settings.model_bucket == dev_program.outputs["modelBucket"]
    assert settings.result_bucket == dev_program.outputs["predictionLogBucket"]
    # Pulumi.dev.yaml's layout: the archive and reports prefixes the jobs write under.
    assert settings.bundle_key_template.format(version="v7") == "bundles/archive/v7/model-bundle.zip"
    assert settings.result_key_template.format(environment=env, version="v7") == (
        f"reports/smoke-tests/{env}/v7.json"
    )
    assert (settings.max_p99_ms, settings.probability_tolerance) == (250, 1e-6)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_hooks_role_reaches_only_what_the_smoke_test_reads_and_writes(
    dev_program: Program, env: str
) -> None:
    models = f"arn:aws:s3:::{dev_program.outputs['modelBucket']}"
    logs = f"arn:aws:s3:::{dev_program.outputs['predictionLogBucket']}"
    log_group = _arn(_of(dev_program, "aws:cloudwatch/logGroup:LogGroup", env, "smoke-hook-logs"))
    key = dev_program.outputs["kmsKeyArn"]
    interfaces = f"arn:aws:ec2:{REGION}:{ACCOUNT}:*"
    assert _granted(dev_program, f"serving-{env}-smoke-hook") == {
        ("logs:CreateLogStream", f"{log_group}:log-stream:*"),
        ("logs:PutLogEvents", f"{log_group}:log-stream:*"),
        ("s3:GetObject", f"{models}/bundles/archive/*/model-bundle.zip"),
        ("s3:PutObject", f"{logs}/reports/smoke-tests/{env}/*.json"),
        ("kms:Decrypt", key),
        ("kms:GenerateDataKey", key),
        ("ec2:DescribeNetworkInterfaces", "*"),
        ("ec2:DescribeSubnets", "*"),
        # A revision with no task to test passes without a request: the hook reads the desired count.
        (
            "ecs:DescribeServices",
            f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{dev_program.outputs['clusterName']}/*",
        ),
        *{
            (action, interfaces)
            for action in (
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            )
        },
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_ecs_deploys_through_the_managed_load_balancer_policy_and_invokes_only_its_hook(
    https_program: Program, env: str
) -> None:
    """AWS's current AmazonECSInfrastructureRolePolicyForLoadBalancers, attached, not a stale copy;
    the one inline grant is invoking this environment's own hook."""
    program = https_program
    role = _of(program, "aws:iam/role:Role", env, "deployments")
    attached = [
        a.inputs["policyArn"]
        for a in program.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.state["name"]
    ]
    assert attached == [LOAD_BALANCER_POLICY["arn"]], f"{env} deployments role attaches {attached}"
    assert _granted(program, f"serving-{env}-deployments") == {
        (HOOK_INVOKER["action"], _arn(_of(program, FUNCTION, env, "smoke-hook"))),
    }, "ELB permissions come from the managed policy; a copy inline goes stale when AWS revises it"
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": [HOOK_INVOKER["principal"]]}
    # The service is handed the role only once both grants exist.
    service = _of(program, SERVICE, env, "service")
    attachment = program.one(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"serving-{env}-deployments-load-balancers"
    )
    assert program.depends_explicitly_on(service, attachment), f"{env}: {service.depends_on}"
