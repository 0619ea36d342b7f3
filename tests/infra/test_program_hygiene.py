"""Checks over everything the program registers: tags, IAM lint, no deprecated resources."""

from __future__ import annotations

import gc
import json

import pulumi
import pulumi_aws as aws
import pytest

from ml_deploy_dev.program import Program, run_under_mocks
from tests.infra import iam_lint

COMPONENTS = {
    "encryption",
    "network",
    "storage",
    "registry",
    "alerts",
    "analytics",
    "serving",
    "jobs",
    "pipeline",
}

# Actions AWS authorizes only on "*": a narrower Resource is impossible for them.
STAR_ONLY_ACTIONS = {
    # ECR Public's login (cli/latest/reference/ecr-public/get-login-password.html): no resource type.
    "ecr-public:GetAuthorizationToken",
    "sts:GetServiceBearerToken",
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "logs:DescribeLogGroups",
    "codestar-connections:ListConnections",
    "codeconnections:ListConnections",
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "codebuild:CreateReportGroup",
    # ELB's and EC2's describe calls (ECS deployments' role, the smoke-test hook in the VPC).
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
}


def test_every_aws_resource_is_tagged_with_project_stack_and_component(
    dev_program: Program,
) -> None:
    providers = {p.name: p for p in dev_program.of_type("pulumi:providers:aws")}
    assert providers, "no explicit AWS providers: default tags would not apply"
    for name, provider in providers.items():
        tags = provider.inputs["defaultTags"]
        tags = (json.loads(tags) if isinstance(tags, str) else tags)["tags"]
        assert tags["project"] == "ml-deploy" and tags["stack"] == "dev", f"{name} tags: {tags}"
        assert tags["component"] in COMPONENTS and name == f"aws-{tags['component']}"
    untagged = [
        r.name for r in dev_program.resources if r.type.startswith("aws:") and r.provider not in providers
    ]
    assert not untagged, f"resources outside a tagging provider: {untagged}"


def test_iam_documents_pass_parliament(dev_program: Program) -> None:
    problems = [
        f"{resource.name}.{field}: {problem}"
        for resource, field, document in dev_program.policy_documents()
        for problem in iam_lint.findings(
            document, star_only_actions=STAR_ONLY_ACTIONS, field=field, resource_type=resource.type
        )
    ]
    assert not problems, "parliament findings:\n" + "\n".join(problems)


def test_program_uses_no_deprecated_resource_or_argument(dev_program: Program) -> None:
    deprecated = [w for w in dev_program.warnings if "deprecated" in w]
    assert not deprecated, f"the program uses deprecated pulumi-aws APIs: {deprecated}"


def test_deprecation_detector_catches_a_deprecated_resource() -> None:
    """Guards the guard: pulumi-aws warns at *use* of a deprecated class, and the harness sees it."""

    def build() -> None:
        provider = aws.Provider("aws-probe", region="eu-west-1")
        aws.s3.BucketV2("probe", opts=pulumi.ResourceOptions(provider=provider))

    program = run_under_mocks(build)
    assert any("deprecated" in w for w in program.warnings), program.warnings


@pytest.mark.parametrize("enabled", [True, False], ids=["gc-on", "gc-off"])
def test_a_render_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    """The harness pauses the cyclic GC while rendering; a failing program must not leave it off."""

    def build() -> None:
        raise ValueError("the program failed")

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(ValueError, match="the program failed"):
            run_under_mocks(build)
        assert gc.isenabled() is enabled, f"the cyclic GC is {'off' if enabled else 'on'} after a render"
    finally:
        (gc.enable if was else gc.disable)()
