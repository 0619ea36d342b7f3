"""The deployment smoke test: a Lambda ECS calls when test traffic reaches a new revision.

It replays the bundle's golden records through the test listener (only the new revision answers
there) and fails the hook, so ECS rolls the deployment back, on any failed request, any
probability off by more than the tolerance, or a slow p99. Its code is `smoke_hook/handler.py`,
zipped by Pulumi from that folder (no Docker); its settings are `ml_deploy.settings.SmokeHookSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.iam import objects, service_role
from infra.network import Network
from infra.serving.config import ServingConfig
from infra.serving.ingress import ANYWHERE, HTTPS_PORT, TEST_PORT, GroupRule, allow_group_to_group
from ml_deploy.layout import ObjectLayout
from ml_deploy.settings import SmokeHookSettings, environment

# Beside this module, not relative to the working directory `pulumi up` runs in.
HOOK_CODE = Path(__file__).resolve().parent / "smoke_hook"
HOOK_RUNTIME = "python3.12"
HOOK_HANDLER = "handler.handler"
HOOK_MEMORY_MB = 512
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


@dataclass(frozen=True)
class HookInputs:
    """What the hook reads, calls and writes: one environment's buckets, test URL and limits."""

    environment: str
    network: Network
    models: aws.s3.Bucket
    # The log bucket: smoke-test verdicts sit beside the drift reports (`ObjectLayout.reports_prefix`).
    results: aws.s3.Bucket
    layout: ObjectLayout
    key: aws.kms.Key
    test_url: pulumi.Output[str]
    # An internal load balancer's group: the hook reaches it from its own group (SG to SG);
    # None for an internet-facing one, reached through the NAT gateways.
    load_balancer_security_group: aws.ec2.SecurityGroup | None
    config: ServingConfig
    # The hook reads its service's desired count (a revision with no task has nothing to test).
    cluster_name: pulumi.Output[str]


def smoke_hook(name: str, *, inputs: HookInputs, parent: pulumi.Resource) -> aws.lambda_.Function:
    """`<name>-smoke-hook`: the function, its log group, its security group and its role."""
    child = pulumi.ResourceOptions(parent=parent)
    config = inputs.config
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-smoke-hook-logs",
        retention_in_days=config.service_log_retention_days,
        kms_key_id=inputs.key.arn,
        opts=child,
    )
    role = service_role(
        f"{name}-smoke-hook",
        service=LAMBDA_PRINCIPAL,
        statements=hook_statements(inputs, log_group=log_group),
        description=f"{inputs.environment} deployment smoke test",
        parent=parent,
    )
    security_group = _security_group(name, inputs=inputs, child=child)
    settings = environment(
        SmokeHookSettings,
        environment=inputs.environment,
        model_bucket=inputs.models.bucket,
        test_url=inputs.test_url,
        bundle_key_template=inputs.layout.archived_bundle_key("{version}"),
        result_bucket=inputs.results.bucket,
        result_key_template=inputs.layout.smoke_test_key("{environment}", "{version}"),
        max_p99_ms=config.smoke_test_max_p99_ms,
    )
    return aws.lambda_.Function(
        f"{name}-smoke-hook",
        description=f"{inputs.environment}: replay the bundle's golden records against a new revision",
        runtime=HOOK_RUNTIME,
        handler=HOOK_HANDLER,
        code=pulumi.FileArchive(str(HOOK_CODE)),
        role=role.role.arn,
        timeout=config.smoke_test_timeout_seconds,
        memory_size=HOOK_MEMORY_MB,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=settings),
        # Private subnets: to an internal load balancer directly, to an internet-facing one through
        # the NAT gateway(s), the test port's only sources then.
        vpc_config=aws.lambda_.FunctionVpcConfigArgs(
            subnet_ids=inputs.network.private_subnet_ids, security_group_ids=[security_group.id]
        ),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
        # Lambda creates the function's network interfaces with its role: the policy comes first.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role.policy]),
    )


def hook_statements(inputs: HookInputs, *, log_group: aws.cloudwatch.LogGroup) -> list[dict[str, Any]]:
    """Its own logs, the archived bundles (read), its environment's verdicts (write), VPC access."""
    region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=log_group))
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=log_group))
    via_s3 = {
        "StringEquals": {"kms:ViaService": pulumi.Output.concat("s3.", region.region, ".amazonaws.com")}
    }
    # Any version, this environment only; and only the bundle files of the archive.
    verdicts = inputs.layout.smoke_test_key(inputs.environment, "*")
    bundles = inputs.layout.archived_bundle_key("*")
    return [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": pulumi.Output.concat(log_group.arn, ":log-stream:*"),
        },
        {
            "Sid": "ReadArchivedBundles",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects(inputs.models.arn, bundles),
        },
        {
            # The service is named by Pulumi after the hook exists (it names the hook), so the
            # statement names the services of this stack's cluster, read-only.
            "Sid": "ReadDesiredCountOfClusterServices",
            "Effect": "Allow",
            "Action": "ecs:DescribeServices",
            "Resource": pulumi.Output.concat(
                "arn:aws:ecs:",
                region.region,
                ":",
                identity.account_id,
                ":service/",
                inputs.cluster_name,
                "/*",
            ),
        },
        {
            "Sid": "WriteVerdictsOfThisEnvironment",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": objects(inputs.results.arn, verdicts),
        },
        {
            # Both buckets encrypt with the stack key: reading needs Decrypt, writing a data key.
            "Sid": "UseStackKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": inputs.key.arn,
            "Condition": via_s3,
        },
        *_vpc_access_statements(region=region.region, account=identity.account_id),
    ]


def _vpc_access_statements(*, region: pulumi.Input[str], account: pulumi.Input[str]) -> list[dict[str, Any]]:
    """What AWSLambdaVPCAccessExecutionRole grants, scoped as far as AWS allows: a Lambda in a VPC
    creates and deletes its own network interfaces."""
    return [
        {
            # Describe* have no resource type: AWS authorizes them on "*" only.
            "Sid": "DescribeNetworkForVpcAccess",
            "Effect": "Allow",
            "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            "Resource": "*",
        },
        {
            # The interfaces' ids are Lambda's to choose; the Lambda guide scopes these to the
            # account and region (arn:aws:ec2:<region>:<account>:*), no narrower.
            "Sid": "ManageNetworkInterfacesForVpcAccess",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": pulumi.Output.concat("arn:aws:ec2:", region, ":", account, ":*"),
        },
    ]


def _security_group(name: str, *, inputs: HookInputs, child: pulumi.ResourceOptions) -> aws.ec2.SecurityGroup:
    """Nothing in; out to the load balancer's test port and to S3 over HTTPS."""
    group = aws.ec2.SecurityGroup(
        f"{name}-smoke-hook",
        vpc_id=inputs.network.vpc_id,
        description=f"{inputs.environment} deployment smoke test",
        opts=child,
    )
    if inputs.load_balancer_security_group is not None:
        _internal_test_port_rules(
            name, hook=group, load_balancer=inputs.load_balancer_security_group, child=child
        )
    # An internet-facing load balancer's public addresses are not fixed, so its test port is opened
    # to any address; its side admits only the NAT gateways (`ingress._test_port_rules`).
    outbound = [("https", HTTPS_PORT, "S3: the bundle and the verdict")]
    if inputs.load_balancer_security_group is None:
        outbound.insert(
            0, ("test-port", TEST_PORT, "Golden records to the test listener of the load balancer")
        )
    for rule_name, port, description in outbound:
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-smoke-hook-out-{rule_name}",
            security_group_id=group.id,
            description=description,
            cidr_ipv4=ANYWHERE,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            opts=child,
        )
    return group


def _internal_test_port_rules(
    name: str,
    *,
    hook: aws.ec2.SecurityGroup,
    load_balancer: aws.ec2.SecurityGroup,
    child: pulumi.ResourceOptions,
) -> None:
    """The hook to an internal load balancer's test port, group to group: no address range either side."""
    allow_group_to_group(
        source=hook,
        target=load_balancer,
        port=TEST_PORT,
        outbound=GroupRule(
            f"{name}-smoke-hook-out-test-port", "Golden records to the test listener of the load balancer"
        ),
        inbound=GroupRule(f"{name}-alb-in-test-hook", "Smoke-test hook, from its security group"),
        child=child,
    )
