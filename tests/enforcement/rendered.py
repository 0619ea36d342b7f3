"""What the Pulumi program renders for a runtime (its role's policy, its environment), and the verdict.

Everything is read from the resources the real program registers under the mocks
(`ml_deploy_dev.program`): a Batch job definition names its job role and environment, an ECS task
definition its task role and the container's environment; a role's policy is what
`tests/infra/rendered_roles.py` reads for it. So the runtimes run here with exactly the names,
keys and ARNs infra gives them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ml_deploy.layout import SERVICE_CONTAINER
from ml_deploy_dev.program import ACCOUNT, REGION, Program
from tests.enforcement.aws_calls import DENIED_ERRORS, Call, StackFacts, requests_for
from tests.enforcement.policy_eval import Request, evaluate, reference_problems
from tests.infra.rendered_roles import policy_of

# moto authorizes S3 and SQS requests on the request's ARN but every other service's on "*", and
# names CloudWatch's actions by its signing name, some in lower case (moto's "IAM-like Access
# Control" page and `moto.core.authorization`; verified against moto 5.2 here). Its view of a
# policy therefore widens those resources to "*": moto still enforces the actions, and the
# offline evaluation (`unproven`) holds the real resources.
MOTO_RESOURCE_SERVICES = {"s3", "sqs"}
MOTO_ACTION_PREFIXES = {"cloudwatch": "monitoring"}
# How moto names an S3 request for its IAM check changed within 5.x: up to 5.2.5 by IAM action
# (with GET /?encryption falling back to the bucket GET's s3:ListBucket, `moto.s3.responses.
# ACTION_MAP`), from 5.2.6 by operation (s3:ListObjectsV2, s3:GetBucketEncryption). The policies
# are written to AWS's names, and the offline evaluation (`unproven`) is the authority on them:
# moto's view grants, beside each IAM action, the operations AWS authorizes with that action (the
# "Permissions" section of each S3 API reference page), so moto's second opinion does not turn on
# how its release spells a request. A grant moto still refuses is reported as "moto denied".
MOTO_OPERATION_NAMES: dict[str, tuple[str, ...]] = {
    # API_ListObjectsV2.html, API_ListObjects.html
    "s3:ListBucket": ("s3:ListObjectsV2", "s3:ListObjects"),
    # API_ListObjectVersions.html
    "s3:ListBucketVersions": ("s3:ListObjectVersions",),
    # API_GetBucketEncryption.html (and moto <= 5.2.5's fallback, s3:ListBucket)
    "s3:GetEncryptionConfiguration": ("s3:GetBucketEncryption", "s3:ListBucket"),
    # API_HeadObject.html, API_GetObject.html: a VersionId is authorized as s3:GetObjectVersion
    "s3:GetObject": ("s3:HeadObject",),
    "s3:GetObjectVersion": ("s3:GetObject", "s3:HeadObject"),
    # API_CopyObject.html: the target is written as s3:PutObject (the source read is checked apart)
    "s3:PutObject": ("s3:CopyObject",),
}


@dataclass(frozen=True)
class RuntimeRole:
    """A runtime as infra deploys it: the role it runs as, that role's policy, its environment."""

    name: str
    arn: str
    policy: dict[str, Any]
    environment: dict[str, str]


def job_role(program: Program, definition: str) -> RuntimeRole:
    """The job role and environment of the Batch job definition named `definition`."""
    job = program.one("aws:batch/jobDefinition:JobDefinition", definition)
    properties = _json(job.inputs["containerProperties"])
    return _runtime(program, properties["jobRoleArn"], properties.get("environment", []))


def task_role(program: Program, task_definition: str) -> RuntimeRole:
    """The task role of an ECS task definition and the environment of its model-server container."""
    task = program.one("aws:ecs/taskDefinition:TaskDefinition", task_definition)
    [container] = [c for c in _json(task.inputs["containerDefinitions"]) if c["name"] == SERVICE_CONTAINER]
    return _runtime(program, task.inputs["taskRoleArn"], container.get("environment", []))


def project_role(program: Program, project: str) -> RuntimeRole:
    """The service role and environment variables of the CodeBuild project named `project`."""
    inputs = program.one("aws:codebuild/project:Project", project).inputs
    return _runtime(program, inputs["serviceRole"], inputs["environment"].get("environmentVariables", []))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _runtime(program: Program, role_arn: str, environment: Sequence[Mapping[str, str]]) -> RuntimeRole:
    role = program.by_id(role_arn)
    return RuntimeRole(
        name=role.name,
        arn=role_arn,
        policy=policy_of(program, role),
        environment={item["name"]: item["value"] for item in environment},
    )


def without_statement(
    role: RuntimeRole, *, name: str, dropped: Callable[[Mapping[str, Any]], bool]
) -> RuntimeRole:
    """`role`, renamed, with the one statement `dropped` picks taken out: what losing that grant leaves."""
    kept = [s for s in role.policy["Statement"] if not dropped(s)]
    assert len(kept) == len(role.policy["Statement"]) - 1, f"expected one statement to drop from {role.name}"
    return replace(role, name=name, policy={**role.policy, "Statement": kept})


def refused_by_both(problems: Sequence[str], *, action: str, resource_prefix: str, role: RuntimeRole) -> bool:
    """moto denied the call and the offline evaluation finds no statement allowing it."""
    service, _, operation = action.partition(":")
    return any(p.startswith(f"moto denied {service} {operation}") for p in problems) and any(
        f"needs {action} on {resource_prefix}" in p
        and p.endswith(f"no statement allows it in the policy of role {role.name}")
        for p in problems
    )


def stack_facts(program: Program, *, job_definition_revision: Callable[[str], int]) -> StackFacts:
    """Which key encrypts which bucket and topic, and the resource policies on them, as rendered."""
    bucket_keys = {}
    for config in program.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ):
        default = config.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        if default["sseAlgorithm"].startswith("aws:kms"):
            bucket_keys[config.inputs["bucket"]] = _key_arn(default["kmsMasterKeyId"])
    topic_keys = {
        topic.state["arn"]: _key_arn(topic.inputs["kmsMasterKeyId"])
        for topic in program.of_type("aws:sns/topic:Topic")
        if topic.inputs.get("kmsMasterKeyId")
    }
    policies: dict[str, Mapping[str, Any]] = {}
    for bucket_policy in program.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        policies[f"arn:aws:s3:::{bucket_policy.inputs['bucket']}"] = _json(bucket_policy.inputs["policy"])
    for topic_policy in program.of_type("aws:sns/topicPolicy:TopicPolicy"):
        policies[topic_policy.inputs["arn"]] = _json(topic_policy.inputs["policy"])
    for key in program.of_type("aws:kms/key:Key"):
        if key.inputs.get("policy"):
            policies[key.state["arn"]] = _json(key.inputs["policy"])
    return StackFacts(
        region=REGION,
        account=ACCOUNT,
        bucket_keys=bucket_keys,
        topic_keys=topic_keys,
        job_definition_revision=job_definition_revision,
        resource_policies=policies,
    )


def _key_arn(key: str) -> str:
    assert key.startswith("arn:aws:kms:"), f"expected a KMS key ARN, got {key!r}: map it in {__name__}"
    return key


def moto_view(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The same grants as moto can enforce them (see MOTO_RESOURCE_SERVICES)."""
    statements = []
    for statement in policy["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        for index, action in enumerate(actions):
            service, _, name = action.partition(":")
            moto_action = f"{MOTO_ACTION_PREFIXES.get(service, service)}:{name}"
            spellings = {moto_action, *MOTO_OPERATION_NAMES.get(action, ())}
            # IAM action names are case-insensitive; moto matches them case-sensitively, and
            # names some (batch:submitjob) in lower case.
            moto_actions = sorted(spellings | {spelling.lower() for spelling in spellings})
            resource = statement["Resource"] if service in MOTO_RESOURCE_SERVICES else "*"
            sid = f"{statement.get('Sid', 'Statement')}{index}"  # Sids stay unique, as IAM requires
            statements.append({**statement, "Sid": sid, "Action": moto_actions, "Resource": resource})
    return {"Version": "2012-10-17", "Statement": statements}


def unproven(calls: Sequence[Call], *, role: RuntimeRole, stack: StackFacts) -> list[str]:
    """One line per call the rendered policy does not prove allowed (empty: all proven)."""
    problems: list[str] = []
    for call in calls:
        if call.error in DENIED_ERRORS:
            problems.append(f"moto denied {call}")
        needs = requests_for(call, stack)
        if needs is None:
            problems.append(
                f"{call}: no IAM mapping for {call.service} {call.operation}; add what AWS authorizes "
                "for it to REQUIREMENTS in tests/enforcement/aws_calls.py"
            )
            continue
        for need in needs:
            problems += [f"{call}: mapping error: {p}" for p in reference_problems(need)]
            problems += [f"{call} needs {need}: {why}" for why in _refusals(need, role=role, stack=stack)]
    return list(dict.fromkeys(problems))  # a retried call reports once


def _refusals(need: Request, *, role: RuntimeRole, stack: StackFacts) -> list[str]:
    # boto3 talks to AWS over TLS: the buckets' and topic's DenyInsecureTransport must not apply.
    request = Request(need.action, need.resource, {**need.context, "aws:SecureTransport": "true"})
    reasons = []
    decision = evaluate(role.policy, request)
    if not decision.allowed:
        reasons.append(f"{decision.reason} in the policy of role {role.name}")
    resource_policy = _resource_policy(stack, need.resource)
    if resource_policy is not None:
        on_resource = evaluate(resource_policy, request, principal=role.arn)
        if on_resource.explicit_deny:
            reasons.append(f"{on_resource.reason} in the resource policy of {need.resource}")
        elif need.action.startswith("kms:") and not on_resource.allowed:
            reasons.append(f"the key policy of {need.resource} lets no IAM policy of this account grant it")
    return reasons


def _resource_policy(stack: StackFacts, resource: str) -> Mapping[str, Any] | None:
    if resource.startswith("arn:aws:s3:::"):
        resource = "arn:aws:s3:::" + resource.removeprefix("arn:aws:s3:::").split("/")[0]
    return stack.resource_policies.get(resource)
