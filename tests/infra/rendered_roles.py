"""The program's roles and ARNs as the permission tests read them: the one reader of rendered roles.

`role_policy` gives a role's whole policy (its inline policies and the managed ones it attaches),
for the offline evaluator (`tests/enforcement/policy_eval.py`) and for moto's enforcement
(`tests/enforcement/rendered.py`); `concrete_names` gives the values the placeholders of
`tests/infra/documented_permissions.py` stand for.
"""

from __future__ import annotations

import json
from typing import Any

from ml_deploy_dev.program import ACCOUNT, REGION, Program, Resource
from tests.enforcement.policy_eval import Request
from tests.infra.documented_permissions import Need

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
# A managed policy the stack creates for people to attach (the analysts'), checked like a role.
POLICY = "aws:iam/policy:Policy"
_ELB = "arn:aws:elasticloadbalancing:*:*:"
# The AWS managed policies the program may attach, as their reference pages print them; any
# other attachment fails the coverage check. AWS revises these (the reason they are attached and
# not copied): this is the version read, enough to show the documented needs are met.
# AmazonECSInfrastructureRolePolicyForLoadBalancers (v2 as read; the page was at v6 in 2026):
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSInfrastructureRolePolicyForLoadBalancers.html
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers": [
        {
            "Sid": "ELBReadOperations",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            "Resource": "*",
        },
        {
            "Sid": "TargetGroupOperations",
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            "Resource": f"{_ELB}targetgroup/*/*",
        },
        {
            "Sid": "ALBModifyListeners",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:ModifyListener",
            "Resource": [f"{_ELB}listener/app/*/*/*"],
        },
        {
            "Sid": "NLBModifyListeners",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:ModifyListener",
            "Resource": [f"{_ELB}listener/net/*/*/*"],
        },
        {
            "Sid": "ALBModifyRules",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:ModifyRule",
            "Resource": [f"{_ELB}listener-rule/app/*/*/*/*"],
        },
    ],
}


def _arn(program: Program, type_token: str, name: str) -> str:
    return str(program.one(type_token, name).state["arn"])


def concrete_names(program: Program) -> dict[str, str]:
    """The values the documented needs' placeholders stand for, as this program registers them."""
    names = {
        "region": REGION,
        "account": ACCOUNT,
        "model_bucket": _arn(program, "aws:s3/bucket:Bucket", "ml-models"),
        "model_key": str(program.outputs["modelKey"]),
        "model_archive_prefix": str(program.outputs["modelArchivePrefix"]),
        "artifacts_bucket": _arn(program, "aws:s3/bucket:Bucket", "ml-artifacts"),
        "key": _arn(program, "aws:kms/key:Key", "data-key"),
        "approval_topic": str(program.outputs["approvalTopicArn"]),
        "connection": str(program.outputs["codeConnectionArn"]),
        "build_project": _arn(program, "aws:codebuild/project:Project", "delivery-build"),
        "promote_project": _arn(program, "aws:codebuild/project:Project", "delivery-promote-jobs"),
        "pipeline": _arn(program, "aws:codepipeline/pipeline:Pipeline", "delivery-pipeline"),
        "pipeline_name": str(program.outputs["pipelineName"]),
        "cluster": str(program.outputs["clusterName"]),
        "build_logs": _arn(program, "aws:cloudwatch/logGroup:LogGroup", "delivery-build-logs"),
        "promote_logs": _arn(program, "aws:cloudwatch/logGroup:LogGroup", "delivery-promote-jobs-logs"),
        "service_repo": _arn(program, "aws:ecr/repository:Repository", "images-service"),
        "jobs_repo": _arn(program, "aws:ecr/repository:Repository", "images-jobs"),
        "jobs_logs": _arn(program, "aws:cloudwatch/logGroup:LogGroup", "jobs-logs"),
        "queue": _arn(program, "aws:batch/jobQueue:JobQueue", "jobs-queue"),
        "dead_letters": _arn(program, "aws:sqs/queue:Queue", "jobs-schedule-dlq"),
        "jobs_image_parameter": _arn(program, "aws:ssm/parameter:Parameter", "jobs-image-tag"),
    }
    for group in program.of_type("aws:codebuild/reportGroup:ReportGroup"):
        names[group.name.replace("delivery-junit-", "report_group_")] = str(group.state["arn"])
    for kind in ("retrain", "monitor"):
        definition = program.one("aws:batch/jobDefinition:JobDefinition", f"jobs-{kind}")
        names[f"{kind}_definition_prefix"] = str(definition.state["arnPrefix"])
    for env in ("stage", "prod"):
        names[f"{env}_service"] = str(program.outputs[f"{env}ServiceName"])
        names[f"{env}_family"] = str(
            program.one("aws:ecs/taskDefinition:TaskDefinition", f"serving-{env}-task").inputs["family"]
        )
        names[f"{env}_task_role"] = _arn(program, ROLE, f"serving-{env}-task")
        names[f"{env}_execution_role"] = _arn(program, ROLE, f"serving-{env}-execution")
        names[f"{env}_logs"] = _arn(program, "aws:cloudwatch/logGroup:LogGroup", f"serving-{env}-logs")
        names[f"{env}_metrics_logs"] = _arn(
            program, "aws:cloudwatch/logGroup:LogGroup", f"serving-{env}-metrics-logs"
        )
        names.update(_deployment_names(program, env))
        names[f"{env}_deploy_project"] = _arn(
            program, "aws:codebuild/project:Project", f"delivery-deploy-{env}"
        )
    names["log_bucket"] = _arn(program, "aws:s3/bucket:Bucket", "ml-prediction-logs")
    names["workgroup"] = _arn(program, "aws:athena/workgroup:Workgroup", "analytics-workgroup")
    names["glue_database"] = _arn(program, "aws:glue/catalogDatabase:CatalogDatabase", "analytics-database")
    for table in ("predictions", "outcomes"):
        logical = "analytics-prediction-logs" if table == "predictions" else "analytics-outcomes"
        names[f"{table}_table"] = _arn(program, "aws:glue/catalogTable:CatalogTable", logical)
    return names


def _deployment_names(program: Program, env: str) -> dict[str, str]:
    """What ECS's deployments and the smoke-test hook of `env` touch (issue 17)."""
    # The forwarding listener: HTTPS with a certificate, HTTP without.
    listeners = {r.name for r in program.of_type("aws:lb/listener:Listener")}
    serving_listener = "https" if f"serving-{env}-https" in listeners else "http"
    return {
        f"{env}_target_group": _arn(program, "aws:lb/targetGroup:TargetGroup", f"serving-{env}-tg"),
        f"{env}_alternate_target_group": _arn(
            program, "aws:lb/targetGroup:TargetGroup", f"serving-{env}-tg-alternate"
        ),
        f"{env}_serving_listener": _arn(
            program, "aws:lb/listener:Listener", f"serving-{env}-{serving_listener}"
        ),
        f"{env}_test_listener": _arn(program, "aws:lb/listener:Listener", f"serving-{env}-test"),
        f"{env}_production_rule": _arn(
            program, "aws:lb/listenerRule:ListenerRule", f"serving-{env}-production"
        ),
        f"{env}_test_rule": _arn(program, "aws:lb/listenerRule:ListenerRule", f"serving-{env}-test"),
        f"{env}_smoke_hook": _arn(program, "aws:lambda/function:Function", f"serving-{env}-smoke-hook"),
        f"{env}_smoke_hook_logs": _arn(
            program, "aws:cloudwatch/logGroup:LogGroup", f"serving-{env}-smoke-hook-logs"
        ),
    }


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _belongs_to(attachment: Resource, role: Resource) -> bool:
    """A role policy or attachment names its role by the role's id or its name in AWS."""
    return attachment.inputs.get("role") in (role.id, role.state.get("name"))


def attached_policies(program: Program, role: Resource) -> list[str]:
    """ARNs of the managed policies attached to the role."""
    return [str(a.inputs["policyArn"]) for a in program.of_type(ATTACHMENT) if _belongs_to(a, role)]


def policy_of(program: Program, role: Resource) -> dict[str, Any]:
    """The role's whole policy as one document: inline policies (both ways of writing them) and the
    managed policies it attaches, the latter as MANAGED_POLICIES holds them."""
    statements: list[dict[str, Any]] = [
        statement
        for policy in program.of_type(ROLE_POLICY)
        if _belongs_to(policy, role)
        for statement in _statements(_json(policy.inputs["policy"]))
    ]
    statements += [
        s for inline in role.inputs.get("inlinePolicies") or [] for s in _statements(_json(inline["policy"]))
    ]
    assert statements, f"role {role.name} has no inline policy"
    for arn in attached_policies(program, role):
        assert arn in MANAGED_POLICIES, f"{role.name} attaches {arn}, whose documented content no test holds"
        statements += MANAGED_POLICIES[arn]
    return {"Version": "2012-10-17", "Statement": statements}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return [statements] if isinstance(statements, dict) else list(statements)


def role_policy(program: Program, role_name: str) -> dict[str, Any]:
    """The whole policy of the role the program registers as `role_name`, or of the managed policy
    the stack creates under that name (the analysts' query policy)."""
    created = [policy for policy in program.of_type(POLICY) if policy.name == role_name]
    if created:
        return {"Version": "2012-10-17", "Statement": _statements(_json(created[0].inputs["policy"]))}
    return policy_of(program, program.one(ROLE, role_name))


def request_of(need: Need, names: dict[str, str]) -> Request:
    """The documented need with its placeholders filled by the program's names."""
    return Request(
        action=need.action,
        resource=need.resource.format(**names),
        context={key: value.format(**names) for key, value in need.context.items()},
    )
