"""How requests reach one serving environment: its ALB, target groups, listeners, security groups.

Created as children of the ServiceEnvironment that uses them (see `infra/serving/environment.py`).
Two target groups and two listener rules, because ECS's own blue/green and canary deployments
need them ("Application Load Balancer resources for blue/green, linear, and canary deployments",
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html):
the production rule on the serving listener and the test rule on a listener of its own, each
forwarding to both groups; ECS moves the weights between them as a deployment proceeds.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import PROJECT_NAMESPACE
from infra.network import Network
from infra.serving.config import ServingConfig

# TLS 1.3 and 1.2 only: AWS's recommended policy for new HTTPS listeners.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# The access-log bucket's policy admits ELB delivery under alb/AWSLogs/<account>/ only, so the
# prefix is exactly "alb"; both environments' logs are told apart by the ALB name in each key.
ACCESS_LOG_PREFIX = "alb"
HTTP_PORT = 80
ANYWHERE = "0.0.0.0/0"
HTTPS_PORT = 443
# IPv4 only: the subnets the stack creates have no IPv6 range. The DNS records that name a load
# balancer follow this (`infra/serving/domain.py`: A, and AAAA too for "dualstack").
IP_ADDRESS_TYPE = "ipv4"
# The test listener: only the new revision answers here during a deployment, for the smoke-test
# hook. Plain HTTP: the hook calls the load balancer's own DNS name, which no certificate of the
# stack names, and only the hook may connect: from its own security group to an internal load
# balancer, from the stack's NAT addresses to an internet-facing one (see `_test_port_rules`).
TEST_PORT = 9000
# Every path: the rules must carry a condition, and the whole site moves between revisions.
ALL_PATHS = "/*"
# Rules win over the listener's default action; each listener has one rule, so any priority.
RULE_PRIORITY = 1
# The load balancer's /ready check: a target is unhealthy after UNHEALTHY_THRESHOLD failures
# INTERVAL apart, healthy again after HEALTHY_THRESHOLD successes (the rollback alarms' timing).
HEALTH_CHECK_INTERVAL_SECONDS = 15
HEALTHY_THRESHOLD = 2
UNHEALTHY_THRESHOLD = 3
# Target group names: at most 32 letters, digits and hyphens, not starting or ending with a hyphen
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html);
# pulumi-aws's generated `<logical name>-<7 characters>` does not fit "serving-stage-tg-alternate".
TARGET_GROUP_NAME_MAX = 32
STACK_HASH_LENGTH = 6
# Rule actions ECS rewrites during every deployment (weights of the two target groups):
# `pulumi up` must leave them where the last deployment put them.
ECS_OWNED_RULE_INPUTS = ["actions"]
# Mutual TLS that rejects a client without a certificate the trust store verifies, during the TLS
# handshake ("Mutual authentication with TLS in Application Load Balancer",
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/mutual-authentication.html);
# "passthrough" would leave the check to the service, "off" would not ask.
MUTUAL_TLS_MODE = "verify"


@dataclass(frozen=True)
class Ingress:
    """What the service and its alarms need from the environment's front door."""

    load_balancer: aws.lb.LoadBalancer
    # The group the first revision's tasks register in; ECS alternates deployments between the two.
    target_group: aws.lb.TargetGroup
    alternate_target_group: aws.lb.TargetGroup
    listeners: list[aws.lb.Listener]
    # The rules ECS moves traffic with: clients' requests, and the smoke test's (new revision only).
    production_rule: aws.lb.ListenerRule
    test_rule: aws.lb.ListenerRule
    task_security_group: aws.ec2.SecurityGroup
    # What the smoke-test hook's security group is admitted by, when the load balancer is internal.
    load_balancer_security_group: aws.ec2.SecurityGroup
    url: pulumi.Output[str]
    test_url: pulumi.Output[str]

    @property
    def target_groups(self) -> list[aws.lb.TargetGroup]:
        return [self.target_group, self.alternate_target_group]


def create_ingress(
    name: str,
    *,
    environment: str,
    network: Network,
    config: ServingConfig,
    access_logs: aws.s3.Bucket,
    test_sources: list[pulumi.Input[str]],
    certificate_arn: pulumi.Input[str] | None,
    trust_store_arn: pulumi.Input[str] | None,
    host: str | None,
    depends_on: list[pulumi.Resource],
    parent: pulumi.Resource,
) -> Ingress:
    """An ALB forwarding to ip targets on the container port: internal unless ``publicEndpoint``.

    Internal: in the private subnets, its DNS name resolving to private addresses only. Internet-
    facing (``publicEndpoint``): in the public subnets, HTTPS with mutual TLS against
    `trust_store_arn`. With a certificate: HTTPS on 443 and a permanent redirect from HTTP;
    without: HTTP only. Clients are admitted from the VPC and ``ingressCidrs``; the test port
    from `test_sources` (CIDRs, internet-facing only; the hook's group is admitted by
    `deployment_hook`). `depends_on`: what must exist before the load balancer is created (the
    internet gateway when public, the access-log bucket policy). The URL names `host` (the
    environment's name on the stack's domain) if there is one, else the load balancer's own DNS name.
    """
    child = pulumi.ResourceOptions(parent=parent)
    container_port = config.container_port
    listener_ports = (HTTP_PORT, HTTPS_PORT) if certificate_arn is not None else (HTTP_PORT,)
    alb_sg, task_sg = _security_groups(
        name,
        environment=environment,
        vpc_id=network.vpc_id,
        listener_ports=listener_ports,
        vpc_cidr=network.vpc_cidr,
        client_cidrs=config.client_cidrs,
        container_port=container_port,
        child=child,
    )
    _test_port_rules(name, alb_sg=alb_sg, sources=test_sources, child=child)
    public = config.public_endpoint
    load_balancer = aws.lb.LoadBalancer(
        f"{name}-alb",
        load_balancer_type="application",
        internal=not public,
        subnets=network.public_subnet_ids if public else network.private_subnet_ids,
        security_groups=[alb_sg.id],
        drop_invalid_header_fields=True,
        ip_address_type=IP_ADDRESS_TYPE,
        access_logs=aws.lb.LoadBalancerAccessLogsArgs(
            bucket=access_logs.bucket, prefix=ACCESS_LOG_PREFIX, enabled=True
        ),
        # Internet-facing: each TLS handshake too, with the client certificate and whether it was
        # verified, so a refused caller is on record (delivered under the access logs' own path,
        # "Connection logs for your Application Load Balancer", load-balancer-connection-logs.html).
        connection_logs=aws.lb.LoadBalancerConnectionLogsArgs(
            bucket=access_logs.bucket, prefix=ACCESS_LOG_PREFIX, enabled=True
        )
        if public
        else None,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )
    target_group, alternate = (
        _target_group(
            resource_name,
            physical_name=target_group_name(stack=pulumi.get_stack(), environment=environment, slot=slot),
            vpc_id=network.vpc_id,
            container_port=container_port,
            child=child,
        )
        for resource_name, slot in ((f"{name}-tg", "a"), (f"{name}-tg-alternate", "b"))
    )
    listeners = _listeners(
        name,
        load_balancer=load_balancer,
        target_group=target_group,
        certificate_arn=certificate_arn,
        trust_store_arn=trust_store_arn,
        child=child,
    )
    # The forwarding listener (HTTPS with a certificate, else HTTP) carries the production rule.
    production_rule = _forward_rule(
        f"{name}-production", listener=listeners[-1], live=target_group, idle=alternate, child=child
    )
    test_listener = aws.lb.Listener(
        f"{name}-test",
        load_balancer_arn=load_balancer.arn,
        port=TEST_PORT,
        protocol="HTTP",
        default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=alternate.arn)],
        opts=child,
    )
    # Test traffic starts on the group the next revision will use; ECS re-points it per deployment.
    test_rule = _forward_rule(
        f"{name}-test", listener=test_listener, live=alternate, idle=target_group, child=child
    )
    scheme = "https://" if certificate_arn is not None else "http://"
    return Ingress(
        load_balancer=load_balancer,
        target_group=target_group,
        alternate_target_group=alternate,
        listeners=[*listeners, test_listener],
        production_rule=production_rule,
        test_rule=test_rule,
        task_security_group=task_sg,
        load_balancer_security_group=alb_sg,
        url=pulumi.Output.concat(scheme, host or load_balancer.dns_name),
        test_url=pulumi.Output.concat("http://", load_balancer.dns_name, f":{TEST_PORT}"),
    )


def _forward_rule(
    resource_name: str,
    *,
    listener: aws.lb.Listener,
    live: aws.lb.TargetGroup,
    idle: aws.lb.TargetGroup,
    child: pulumi.ResourceOptions,
) -> aws.lb.ListenerRule:
    """Every path to `live` (weight 100), `idle` listed at weight 0 for ECS to shift traffic to."""
    forward = aws.lb.ListenerRuleActionForwardArgs(
        target_groups=[
            aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=live.arn, weight=100),
            aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=idle.arn, weight=0),
        ]
    )
    return aws.lb.ListenerRule(
        resource_name,
        listener_arn=listener.arn,
        priority=RULE_PRIORITY,
        actions=[aws.lb.ListenerRuleActionArgs(type="forward", forward=forward)],
        conditions=[
            aws.lb.ListenerRuleConditionArgs(
                path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=[ALL_PATHS])
            )
        ],
        opts=pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(ignore_changes=ECS_OWNED_RULE_INPUTS)
        ),
    )


def _test_port_rules(
    name: str,
    *,
    alb_sg: aws.ec2.SecurityGroup,
    sources: list[pulumi.Input[str]],
    child: pulumi.ResourceOptions,
) -> None:
    """An internet-facing test port admits the smoke-test hook only: from its NAT addresses.

    The hook runs in the private subnets and reaches an internet-facing load balancer through
    the NAT gateway(s); nobody else may reach a revision before it is judged. (An internal load
    balancer admits the hook's own security group instead: no `sources`.)
    """
    for index, source in enumerate(sources):
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-alb-in-test-{index}",
            security_group_id=alb_sg.id,
            description="Smoke-test hook, through the NAT gateway",
            cidr_ipv4=source,
            ip_protocol="tcp",
            from_port=TEST_PORT,
            to_port=TEST_PORT,
            opts=child,
        )


def target_group_name(*, stack: str, environment: str, slot: str) -> str:
    """`ml-deploy-<stack>-<environment>-<slot>`, unique per stack and at most 32 characters.

    A stack name too long to fit is cut and followed by a hash of the whole name, so two long
    stack names sharing a beginning still get different groups.
    """
    tail = f"-{environment}-{slot}"
    head = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9-]", "-", f"{PROJECT_NAMESPACE}-{stack}")).strip("-")
    if len(head) + len(tail) > TARGET_GROUP_NAME_MAX:
        digest = hashlib.sha256(stack.encode()).hexdigest()[:STACK_HASH_LENGTH]
        keep = TARGET_GROUP_NAME_MAX - len(tail) - len(digest) - 1
        head = f"{head[:keep].rstrip('-')}-{digest}"
    return f"{head}{tail}"


def _target_group(
    resource_name: str,
    *,
    physical_name: str,
    vpc_id: pulumi.Input[str],
    container_port: int,
    child: pulumi.ResourceOptions,
) -> aws.lb.TargetGroup:
    return aws.lb.TargetGroup(
        resource_name,
        name=physical_name,
        target_type="ip",
        port=container_port,
        protocol="HTTP",
        vpc_id=vpc_id,
        # The server answers in milliseconds; deploys should not wait minutes for draining.
        deregistration_delay=30,
        # /ready, not /health: a task gets traffic only once its model is loaded.
        health_check=aws.lb.TargetGroupHealthCheckArgs(
            path="/ready",
            matcher="200",
            interval=HEALTH_CHECK_INTERVAL_SECONDS,
            timeout=5,
            healthy_threshold=HEALTHY_THRESHOLD,
            unhealthy_threshold=UNHEALTHY_THRESHOLD,
        ),
        opts=child,
    )


def _listeners(
    name: str,
    *,
    load_balancer: aws.lb.LoadBalancer,
    target_group: aws.lb.TargetGroup,
    certificate_arn: pulumi.Input[str] | None,
    trust_store_arn: pulumi.Input[str] | None,
    child: pulumi.ResourceOptions,
) -> list[aws.lb.Listener]:
    """HTTP forwarding; or, with a certificate, HTTPS forwarding and HTTP redirecting to it.

    With a trust store the HTTPS listener verifies every client's certificate (mutual TLS).
    """
    forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)]
    if certificate_arn is None:
        http = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=load_balancer.arn,
            port=HTTP_PORT,
            protocol="HTTP",
            default_actions=forward,
            opts=child,
        )
        return [http]

    redirect = aws.lb.Listener(
        f"{name}-http",
        load_balancer_arn=load_balancer.arn,
        port=HTTP_PORT,
        protocol="HTTP",
        default_actions=[
            aws.lb.ListenerDefaultActionArgs(
                type="redirect",
                redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                    protocol="HTTPS", port=str(HTTPS_PORT), status_code="HTTP_301"
                ),
            )
        ],
        opts=child,
    )
    https = aws.lb.Listener(
        f"{name}-https",
        load_balancer_arn=load_balancer.arn,
        port=HTTPS_PORT,
        protocol="HTTPS",
        ssl_policy=TLS_POLICY,
        certificate_arn=certificate_arn,
        mutual_authentication=None
        if trust_store_arn is None
        else aws.lb.ListenerMutualAuthenticationArgs(mode=MUTUAL_TLS_MODE, trust_store_arn=trust_store_arn),
        default_actions=forward,
        opts=child,
    )
    return [redirect, https]


def _security_groups(
    name: str,
    *,
    environment: str,
    vpc_id: pulumi.Input[str],
    listener_ports: tuple[int, ...],
    vpc_cidr: pulumi.Input[str],
    client_cidrs: list[str],
    container_port: int,
    child: pulumi.ResourceOptions,
) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
    """The ALB admits its listener ports from the VPC and the client CIDRs; tasks admit it only.

    Rules are separate resources (not inline) so each has its own description and id.
    """
    alb_sg = aws.ec2.SecurityGroup(
        f"{name}-alb", vpc_id=vpc_id, description=f"{environment} load balancer", opts=child
    )
    task_sg = aws.ec2.SecurityGroup(
        f"{name}-tasks", vpc_id=vpc_id, description=f"{environment} service tasks", opts=child
    )
    for port in listener_ports:
        # Callers in the VPC (and a PrivateLink NLB's nodes, which connect from its addresses).
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-alb-in-{port}-vpc",
            security_group_id=alb_sg.id,
            description="Clients in the VPC",
            cidr_ipv4=vpc_cidr,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            opts=child,
        )
        for index, cidr in enumerate(client_cidrs):
            # The first block keeps the name the single internet-wide rule always had.
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-alb-in-{port}" + (f"-{index}" if index else ""),
                security_group_id=alb_sg.id,
                description="Clients from the internet" if cidr == ANYWHERE else f"Clients from {cidr}",
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                opts=child,
            )
    allow_group_to_group(
        source=alb_sg,
        target=task_sg,
        port=container_port,
        outbound=GroupRule(f"{name}-alb-to-tasks", "Requests and health checks to the service tasks"),
        inbound=GroupRule(
            f"{name}-tasks-from-alb", f"Requests and health checks from the {environment} load balancer"
        ),
        child=child,
    )
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-tasks-out-https",
        security_group_id=task_sg.id,
        description="ECR, S3, CloudWatch Logs and STS over HTTPS",
        cidr_ipv4=ANYWHERE,
        ip_protocol="tcp",
        from_port=HTTPS_PORT,
        to_port=HTTPS_PORT,
        opts=child,
    )
    return alb_sg, task_sg


@dataclass(frozen=True)
class GroupRule:
    """One side of a group-to-group opening: the rule's resource name and its description."""

    name: str
    description: str


def allow_group_to_group(
    *,
    source: aws.ec2.SecurityGroup,
    target: aws.ec2.SecurityGroup,
    port: int,
    outbound: GroupRule,
    inbound: GroupRule,
    child: pulumi.ResourceOptions,
) -> None:
    """TCP `port` from `source` to `target`, both sides naming the other group: no address range."""
    aws.vpc.SecurityGroupEgressRule(
        outbound.name,
        security_group_id=source.id,
        description=outbound.description,
        referenced_security_group_id=target.id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        opts=child,
    )
    aws.vpc.SecurityGroupIngressRule(
        inbound.name,
        security_group_id=target.id,
        description=inbound.description,
        referenced_security_group_id=source.id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        opts=child,
    )
