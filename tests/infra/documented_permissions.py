"""What AWS documents that its services need when they act for this stack, as test data.

Each entry is one thing a service does on our behalf (a pipeline action type, a task start, a
schedule firing), the page that documents its permissions, the role of this program that must
hold them, and the calls it makes: the action, the concrete resource it touches (an ARN template
filled from the recorded program: see `test_documented_permissions.concrete_names`) and the
condition keys the request carries. A documented action this stack deliberately withholds is
listed under `withheld` with the reason, so leaving one out is a decision someone wrote down.

The documented policies name resources with wildcards; the resources here are what *this*
stack's services touch, so a statement scoped to our bucket, key or family still satisfies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ARN = "arn:aws:{service}:{region}:{account}:"


def arn(service: str, rest: str) -> str:
    """`arn:aws:<service>:{region}:{account}:<rest>`, placeholders left for the program's values."""
    return ARN.replace("{service}", service) + rest


@dataclass(frozen=True)
class Need:
    """One call the service makes: action, resource touched, condition keys the request carries."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)
    # When the call is documented on another page than the entry's (e.g. SSE-KMS reads).
    source: str | None = None


@dataclass(frozen=True)
class DocumentedUse:
    what: str
    url: str
    # The recorded Pulumi name of the role that must hold the permissions.
    role: str
    needs: tuple[Need, ...]
    withheld: Mapping[str, str] = field(default_factory=dict)


def needs(actions: tuple[str, ...], resource: str) -> tuple[Need, ...]:
    """Several actions on the same resource, with no condition keys."""
    return tuple(Need(action, resource) for action in actions)


S3_SSE_KMS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
SNS_KEY_MANAGEMENT = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
VIA_S3 = {"kms:ViaService": "s3.{region}.amazonaws.com"}
VIA_SNS = {"kms:ViaService": "sns.{region}.amazonaws.com"}
# Where CodePipeline writes an action's output: <pipeline>/<artifact name, truncated>/<random>.
ARTIFACT_OBJECT = "{artifacts_bucket}/{pipeline_name}/Artifact/Xyz1234"
WRITE_ARTIFACT = (
    Need("s3:PutObject", ARTIFACT_OBJECT),
    Need("kms:GenerateDataKey", "{key}", VIA_S3, source=S3_SSE_KMS),
)

S3_SOURCE = DocumentedUse(
    what="CodePipeline S3 source action (the model bundle)",
    url="https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3.html",
    role="delivery-pipeline",
    needs=(
        *needs(
            ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
            "{model_bucket}/{model_key}",
        ),
        *needs(("s3:GetBucketVersioning", "s3:GetBucketAcl", "s3:GetBucketLocation"), "{model_bucket}"),
        Need("kms:Decrypt", "{key}", VIA_S3, source=S3_SSE_KMS),
        *WRITE_ARTIFACT,
    ),
)

CODE_CONNECTION_SOURCE = DocumentedUse(
    what="CodePipeline CodeStarSourceConnection source action (GitHub)",
    url="https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html",
    role="delivery-pipeline",
    needs=(Need("codeconnections:UseConnection", "{connection}"), *WRITE_ARTIFACT),
)

_BATCH_BUILDS = "the CodeBuild actions do not set BatchEnabled: no build batches run"


def codebuild_action(project: str) -> DocumentedUse:
    return DocumentedUse(
        what=f"CodePipeline CodeBuild action ({project})",
        url="https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html",
        role="delivery-pipeline",
        needs=needs(("codebuild:StartBuild", "codebuild:BatchGetBuilds"), f"{{{project}}}"),
        withheld={
            "codebuild:StartBuildBatch": _BATCH_BUILDS,
            "codebuild:BatchGetBuildBatches": _BATCH_BUILDS,
        },
    )


def ecs_deploy(env: str) -> DocumentedUse:
    """The deploy build (`ml-deploy deploy`): Pulumi's revision rendered with the new image (tagged),
    the service update, its service deployment watched; then the smoke test's verdict read."""
    service = arn("ecs", f"service/{{cluster}}/{{{env}_service}}")
    to_tasks = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    return DocumentedUse(
        what=f"Deploy build ({env}): render, register, update, watch",
        url="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html",
        role=f"delivery-deploy-{env}",
        needs=(
            # No resource type: AWS authorizes these on "*" only.
            *needs(("ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"), "*"),
            # The new revision carries Pulumi's task-definition tags: tag-on-create.
            Need(
                "ecs:TagResource",
                arn("ecs", f"task-definition/{{{env}_family}}:2"),
                {"ecs:CreateAction": "RegisterTaskDefinition"},
            ),
            *needs(("ecs:DescribeServices", "ecs:UpdateService"), service),
            Need(
                "ecs:DescribeServiceDeployments",
                arn("ecs", f"service-deployment/{{cluster}}/{{{env}_service}}/ejGvqq2ilnbKT9qj0vLJe"),
            ),
            Need("iam:PassRole", f"{{{env}_task_role}}", to_tasks),
            Need("iam:PassRole", f"{{{env}_execution_role}}", to_tasks),
            Need("s3:GetObject", f"{{log_bucket}}/reports/smoke-tests/{env}/2026.01.01-1.json"),
            Need("s3:ListBucket", "{log_bucket}", {"s3:prefix": "reports/dt="}),
        ),
    )


MANUAL_APPROVAL = DocumentedUse(
    what="CodePipeline manual approval action (publishes to the encrypted approval topic)",
    url="https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-service-role-permissions.html",
    role="delivery-pipeline",
    needs=(
        Need("sns:Publish", "{approval_topic}"),
        # CodePipeline publishes with the pipeline role, not a service principal (SNS guide).
        Need("kms:GenerateDataKey", "{key}", VIA_SNS, source=SNS_KEY_MANAGEMENT),
        Need("kms:Decrypt", "{key}", VIA_SNS, source=SNS_KEY_MANAGEMENT),
    ),
)

_PULL = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")


def task_execution(what: str, url: str, *, role: str, repository: str, log_group: str) -> DocumentedUse:
    """Pull the image, ship the container's logs (the scoped AmazonECSTaskExecutionRolePolicy)."""
    stream = f"{{{log_group}}}:log-stream:prefix/container/0123456789abcdef"
    return DocumentedUse(
        what=what,
        url=url,
        role=role,
        needs=(
            Need("ecr:GetAuthorizationToken", "*"),
            *needs(_PULL, f"{{{repository}}}"),
            *needs(("logs:CreateLogStream", "logs:PutLogEvents"), stream),
        ),
    )


ECS_TASK_EXECUTION = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html"
)
SERVING_EXECUTION = tuple(
    task_execution(
        f"ECS task execution (serving {env})",
        ECS_TASK_EXECUTION,
        role=f"serving-{env}-execution",
        repository="service_repo",
        log_group=f"{env}_logs",
    )
    for env in ("stage", "prod")
)
BATCH_EXECUTION = task_execution(
    "Batch job execution on Fargate (retrain, monitor)",
    "https://docs.aws.amazon.com/batch/latest/userguide/execution-IAM-role.html",
    role="jobs-execution",
    repository="jobs_repo",
    log_group="jobs_logs",
)

ADOT_PERMISSIONS = "https://aws-otel.github.io/docs/setup/permissions"
_EMF_LOG_GROUP_EXISTS = (
    "the program creates each environment's metrics log group (encrypted, with retention); the "
    "exporter creates one only when it is missing"
)
SERVING_METRICS_COLLECTOR = tuple(
    DocumentedUse(
        what=f"ADOT collector awsemf exporter (serving {env} metrics sidecar)",
        url=ADOT_PERMISSIONS,
        role=f"serving-{env}-task",
        needs=(
            *needs(
                ("logs:CreateLogStream", "logs:PutLogEvents"),
                f"{{{env}_metrics_logs}}:log-stream:0123456789abcdef",
            ),
            Need("logs:DescribeLogStreams", f"{{{env}_metrics_logs}}"),
        ),
        withheld={
            "logs:CreateLogGroup": _EMF_LOG_GROUP_EXISTS,
            "logs:DescribeLogGroups": _EMF_LOG_GROUP_EXISTS,
            "logs:PutRetentionPolicy": _EMF_LOG_GROUP_EXISTS,
            "xray:PutTraceSegments": "the collector's pipeline exports metrics only, no traces",
            "ssm:GetParameters": "the configuration comes in AOT_CONFIG_CONTENT, not from SSM",
        },
    )
    for env in ("stage", "prod")
)

SCHEDULER_TARGET = DocumentedUse(
    what="EventBridge Scheduler universal target batch:submitJob (its execution role)",
    url="https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role",
    role="jobs-scheduler",
    needs=(
        # A definition submitted by name is authorized as its latest revision's ARN.
        Need("batch:SubmitJob", "{retrain_definition_prefix}:3"),
        Need("batch:SubmitJob", "{monitor_definition_prefix}:3"),
        Need("batch:SubmitJob", "{queue}"),
        Need(
            "sqs:SendMessage",
            "{dead_letters}",
            source="https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html",
        ),
    ),
)

RULE_TARGET = DocumentedUse(
    what="EventBridge rule target role (model upload starts the pipeline)",
    url="https://docs.aws.amazon.com/codepipeline/latest/userguide/create-cloudtrail-S3-source-cfn.html",
    role="delivery-events-start",
    needs=(Need("codepipeline:StartPipelineExecution", "{pipeline}"),),
)

_LOG_GROUP_EXISTS = (
    "the program creates the project's log group (encrypted, with retention) before the project; "
    "a group CodeBuild created itself would have neither"
)
_REPORT_GROUP_EXISTS = (
    "the program creates the report groups the buildspec names by ARN (encrypted export); given an "
    "ARN, CodeBuild uses that group and creates none (report-create.html)"
)
CODEBUILD_SERVICE_ROLE_URL = (
    "https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html"
)
_ARTIFACTS = (
    *needs(("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"), ARTIFACT_OBJECT),
    *needs(("s3:GetBucketAcl", "s3:GetBucketLocation"), "{artifacts_bucket}"),
    Need("kms:Decrypt", "{key}", VIA_S3, source=S3_SSE_KMS),
    Need("kms:GenerateDataKey", "{key}", VIA_S3, source=S3_SSE_KMS),
)
ECR_PUSH = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html"
ECR_PUBLIC_LOGIN = "https://docs.aws.amazon.com/cli/latest/reference/ecr-public/get-login-password.html"
_PUSH = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
    "ecr:BatchGetImage",
)
_REPORTS = ("codebuild:CreateReport", "codebuild:UpdateReport", "codebuild:BatchPutTestCases")


def _build_logs(log_group: str) -> tuple[Need, ...]:
    return needs(("logs:CreateLogStream", "logs:PutLogEvents"), f"{{{log_group}}}:log-stream:0123-abcd")


BUILD_SERVICE_ROLE = DocumentedUse(
    what="CodeBuild service role (Build stage: logs, artifacts, test reports, image push)",
    url=CODEBUILD_SERVICE_ROLE_URL,
    role="delivery-build",
    needs=(
        *_build_logs("build_logs"),
        *_ARTIFACTS,
        *(need for shard in (1, 2, 3) for need in needs(_REPORTS, f"{{report_group_{shard}}}")),
        Need("ecr:GetAuthorizationToken", "*", source=ECR_PUSH),
        # The base image, pulled as the account from ECR Public.
        Need("ecr-public:GetAuthorizationToken", "*", source=ECR_PUBLIC_LOGIN),
        Need("sts:GetServiceBearerToken", "*", source=ECR_PUBLIC_LOGIN),
        *(
            Need(action, f"{{{repo}}}", source=ECR_PUSH)
            for repo in ("service_repo", "jobs_repo")
            for action in _PUSH
        ),
        # CODEBUILD_CLONE_REF: the build clones through the connection itself.
        Need(
            "codeconnections:UseConnection",
            "{connection}",
            source="https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html",
        ),
    ),
    withheld={"logs:CreateLogGroup": _LOG_GROUP_EXISTS, "codebuild:CreateReportGroup": _REPORT_GROUP_EXISTS},
)

# Writing a parameter is ssm:PutParameter on the parameter's ARN ("Restricting access to Parameter
# Store parameters using IAM policies").
PARAMETER_STORE_ACCESS = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-access.html"
)

PROMOTE_SERVICE_ROLE = DocumentedUse(
    what="CodeBuild service role (PromoteJobs stage: logs, reading the source artifact, recording the image)",
    url=CODEBUILD_SERVICE_ROLE_URL,
    role="delivery-promote-jobs",
    needs=(
        *_build_logs("promote_logs"),
        *needs(("s3:GetObject", "s3:GetObjectVersion"), ARTIFACT_OBJECT),
        *needs(("s3:GetBucketAcl", "s3:GetBucketLocation"), "{artifacts_bucket}"),
        Need("kms:Decrypt", "{key}", VIA_S3, source=S3_SSE_KMS),
        # `aws ssm put-parameter --overwrite` of the tag `pulumi up` reads (a String: no KMS).
        Need("ssm:PutParameter", "{jobs_image_parameter}", source=PARAMETER_STORE_ACCESS),
    ),
    withheld={
        "logs:CreateLogGroup": _LOG_GROUP_EXISTS,
        "s3:PutObject": "the PromoteJobs action has no output artifact",
        "codebuild:CreateReport": "the promote buildspec publishes no test reports",
    },
)


def ecs_deployments(env: str) -> DocumentedUse:
    """ECS's blue/green and canary deployments: AmazonECSInfrastructureRolePolicyForLoadBalancers
    (attached; its content as `rendered_roles.MANAGED_POLICIES` holds it) on this environment's
    resources, and invoking its lifecycle hook (inline)."""
    return DocumentedUse(
        what=f"ECS blue/green and canary deployments behind an ALB ({env})",
        url=(
            "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/"
            "AmazonECSInfrastructureRolePolicyForLoadBalancers.html"
        ),
        role=f"serving-{env}-deployments",
        needs=(
            *needs(
                (
                    "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeRules",
                    "elasticloadbalancing:DescribeTargetGroups",
                    "elasticloadbalancing:DescribeTargetHealth",
                ),
                "*",
            ),
            *(
                Need(action, f"{{{env}_{group}}}")
                for action in (
                    "elasticloadbalancing:RegisterTargets",
                    "elasticloadbalancing:DeregisterTargets",
                )
                for group in ("target_group", "alternate_target_group")
            ),
            Need("elasticloadbalancing:ModifyListener", f"{{{env}_serving_listener}}"),
            Need("elasticloadbalancing:ModifyListener", f"{{{env}_test_listener}}"),
            Need("elasticloadbalancing:ModifyRule", f"{{{env}_production_rule}}"),
            Need("elasticloadbalancing:ModifyRule", f"{{{env}_test_rule}}"),
            Need(
                "lambda:InvokeFunction",
                f"{{{env}_smoke_hook}}",
                source="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-permissions.html",
            ),
        ),
    )


def smoke_hook(env: str) -> DocumentedUse:
    """The hook Lambda in the VPC (AWSLambdaVPCAccessExecutionRole), and the handler's S3 calls:
    GetObject of an archived bundle, PutObject of its verdict, both SSE-KMS with the stack key."""
    bundle = "{model_bucket}/bundles/archive/20250101-abc1234/model-bundle.zip"
    verdict = f"{{log_bucket}}/reports/smoke-tests/{env}/20250101-abc1234.json"
    return DocumentedUse(
        what=f"Deployment smoke-test Lambda in the VPC ({env})",
        url="https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaVPCAccessExecutionRole.html",
        role=f"serving-{env}-smoke-hook",
        needs=(
            *needs(("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"), "*"),
            *needs(
                (
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ),
                arn("ec2", "network-interface/eni-0123456789abcdef0"),
            ),
            *needs(
                ("logs:CreateLogStream", "logs:PutLogEvents"),
                f"{{{env}_smoke_hook_logs}}:log-stream:2025/01/01/[$LATEST]0123456789abcdef",
            ),
            Need("s3:GetObject", bundle, source=S3_GET_OBJECT),
            Need("kms:Decrypt", "{key}", VIA_S3, source=S3_SSE_KMS),
            Need("s3:PutObject", verdict, source=S3_PUT_OBJECT),
            Need("kms:GenerateDataKey", "{key}", VIA_S3, source=S3_SSE_KMS),
        ),
        withheld={
            "logs:CreateLogGroup": "the stack creates the hook's log group, with retention and the stack key",
        },
    )


S3_GET_OBJECT = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html"
S3_PUT_OBJECT = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html"
S3_CONDITIONAL_WRITES = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html"
S3_GET_BUCKET_ENCRYPTION = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketEncryption.html"
_ARCHIVED_BUNDLE = "{model_bucket}/{model_archive_prefix}20260101T000000Z-0000000a/model-bundle.zip"

ARCHIVE_BUNDLE = DocumentedUse(
    what="Build stage `ml-deploy archive-bundle` (the built bundle at its version's archive key)",
    # A write with If-None-Match: * needs s3:PutObject only; a taken key answers 412, and the
    # command reads what it holds (GetObject) to compare; it names the bucket's default encryption.
    url=S3_CONDITIONAL_WRITES,
    role="delivery-build",
    needs=(
        Need("s3:PutObject", _ARCHIVED_BUNDLE),
        Need("kms:GenerateDataKey", "{key}", VIA_S3, source=S3_SSE_KMS),
        Need("s3:GetObject", _ARCHIVED_BUNDLE, source=S3_GET_OBJECT),
        Need("kms:Decrypt", "{key}", VIA_S3, source=S3_SSE_KMS),
        Need("s3:GetEncryptionConfiguration", "{model_bucket}", source=S3_GET_BUCKET_ENCRYPTION),
    ),
    withheld={
        "s3:DeleteObject": "archive keys are immutable: nothing the build writes there is removed",
        "s3:ListBucket": "a taken key answers 412 to the conditional PUT: the build never lists",
        "s3:PutObjectAcl": "the command sets no ACL; the bucket enforces owner-only objects",
    },
)

ATHENA_WORKGROUP_POLICIES = "https://docs.aws.amazon.com/athena/latest/ug/example-policies-workgroup.html"
# "For any non-delete Athena action on a resource ... you need permissions ... on the resource
# (table or database) and on all ancestors of the resource in the Data Catalog."
GLUE_FOR_ATHENA = "https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html"
ATHENA_S3 = "https://docs.aws.amazon.com/athena/latest/ug/s3-permissions.html"
_CATALOG = arn("glue", "catalog")
_READ_ONLY = "analysts query the stack's tables; only `pulumi up` defines or drops them"
_RESULT = "{log_bucket}/athena-results/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.csv"

ATHENA_QUERY = DocumentedUse(
    what="An analyst runs a query over the prediction logs and outcomes in the stack's workgroup",
    url=ATHENA_WORKGROUP_POLICIES,
    role="analytics-analysts",
    needs=(
        *needs(
            (
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
            ),
            "{workgroup}",
        ),
        *(
            Need(action, resource, source=GLUE_FOR_ATHENA)
            for resource in (_CATALOG, "{glue_database}", "{predictions_table}", "{outcomes_table}")
            for action in ("glue:GetTable", "glue:GetPartitions")
        ),
        *(
            Need(action, resource, source=GLUE_FOR_ATHENA)
            for resource in (_CATALOG, "{glue_database}")
            for action in ("glue:GetDatabase", "glue:GetTables")
        ),
        Need("s3:GetBucketLocation", "{log_bucket}", source=ATHENA_S3),
        Need(
            "s3:ListBucket",
            "{log_bucket}",
            {"s3:prefix": "predictions/prod/dt=2026-01-01/hour=07/"},
            ATHENA_S3,
        ),
        Need("s3:ListBucket", "{log_bucket}", {"s3:prefix": "outcomes/dt=2026-01-01/"}, ATHENA_S3),
        Need(
            "s3:GetObject",
            "{log_bucket}/predictions/prod/dt=2026-01-01/hour=07/a-w-0.jsonl.gz",
            source=ATHENA_S3,
        ),
        Need("s3:GetObject", "{log_bucket}/outcomes/dt=2026-01-01/a-upload-0.jsonl.gz", source=ATHENA_S3),
        *needs(("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"), _RESULT),
        Need("kms:Decrypt", "{key}", VIA_S3, source=S3_SSE_KMS),
        Need("kms:GenerateDataKey", "{key}", VIA_S3, source=S3_SSE_KMS),
    ),
    withheld={
        "glue:CreateTable": _READ_ONLY,
        "glue:UpdateTable": _READ_ONLY,
        "glue:DeleteTable": _READ_ONLY,
        "glue:BatchCreatePartition": "partitions are projected: none is ever registered",
        "s3:DeleteObject": "nothing an analyst runs deletes a log, an outcome or a result",
        "athena:UpdateWorkGroup": "the stack owns the workgroup's enforced settings (cutoff, encryption)",
    },
)

DOCUMENTED_USES: tuple[DocumentedUse, ...] = (
    S3_SOURCE,
    CODE_CONNECTION_SOURCE,
    codebuild_action("build_project"),
    codebuild_action("promote_project"),
    codebuild_action("stage_deploy_project"),
    codebuild_action("prod_deploy_project"),
    ecs_deploy("stage"),
    ecs_deploy("prod"),
    MANUAL_APPROVAL,
    *SERVING_EXECUTION,
    *SERVING_METRICS_COLLECTOR,
    BATCH_EXECUTION,
    SCHEDULER_TARGET,
    RULE_TARGET,
    BUILD_SERVICE_ROLE,
    PROMOTE_SERVICE_ROLE,
    *(ecs_deployments(env) for env in ("stage", "prod")),
    *(smoke_hook(env) for env in ("stage", "prod")),
    ARCHIVE_BUNDLE,
    ATHENA_QUERY,
)


# --- The jobs' own S3 calls -----------------------------------------------------------------
# Which IAM actions an S3 request needs depends on its parameters: a request naming a version
# (VersionId, or a CopySource with VersionId) is authorized as s3:GetObjectVersion.
S3_COPY_OBJECT = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html"


def s3_request_needs(operation: str, params: Mapping[str, object], *, bucket_arn: str) -> tuple[Need, ...]:
    """The IAM actions (and SSE-KMS key use) one recorded S3 request is authorized as."""
    kms = {"kms:ViaService": "s3.{region}.amazonaws.com"}

    def read(key: object, version: object, url: str = S3_GET_OBJECT) -> Need:
        action = "s3:GetObjectVersion" if version else "s3:GetObject"
        return Need(action, f"{bucket_arn}/{key}", source=url)

    if operation == "GetObject":
        return (
            read(params["Key"], params.get("VersionId")),
            Need("kms:Decrypt", "{key}", kms, source=S3_SSE_KMS),
        )
    if operation == "PutObject":
        return (
            Need("s3:PutObject", f"{bucket_arn}/{params['Key']}", source=S3_PUT_OBJECT),
            Need("kms:GenerateDataKey", "{key}", kms, source=S3_SSE_KMS),
        )
    if operation == "CopyObject":
        source = params["CopySource"]
        assert isinstance(source, Mapping), "the jobs pass CopySource as a dict"
        return (
            Need("s3:PutObject", f"{bucket_arn}/{params['Key']}", source=S3_COPY_OBJECT),
            read(source["Key"], source.get("VersionId"), S3_COPY_OBJECT),
            Need("kms:Decrypt", "{key}", kms, source=S3_SSE_KMS),
            Need("kms:GenerateDataKey", "{key}", kms, source=S3_SSE_KMS),
        )
    raise AssertionError(f"no documented permissions recorded for S3 {operation}")


# --- Publishers to our SSE-KMS topics -------------------------------------------------------
SNS_ACCESS_POLICY_USE_CASES = "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html"


@dataclass(frozen=True)
class TopicPublisher:
    """How one AWS service publishes to an encrypted topic, per the SNS key-management guide.

    `principal` is the service principal the key policy must admit, or None where the guide says
    the service uses an IAM role instead (then that role's policy carries the key permissions:
    see MANUAL_APPROVAL). `key_context` holds the condition keys the service's KMS request
    carries; a key-policy condition on any other key never holds and the message is dropped.
    `publish_context` is what its sns:Publish request carries (for the topic policy).
    """

    principal: str | None
    key_context: Mapping[str, str]
    publish_context: Mapping[str, str]
    note: str = ""


# {source} is the ARN of the alarm or rule that publishes.
_FROM_THIS_ACCOUNT = {"aws:SourceAccount": "{account}", "aws:SourceArn": "{source}"}
TOPIC_PUBLISHERS: Mapping[str, TopicPublisher] = {
    "alarm": TopicPublisher("cloudwatch.amazonaws.com", _FROM_THIS_ACCOUNT, _FROM_THIS_ACCOUNT),
    "rule": TopicPublisher(
        "events.amazonaws.com",
        key_context={},
        publish_context=_FROM_THIS_ACCOUNT,
        note=(
            "aws:SourceArn, aws:SourceAccount and aws:SourceOrgID in the KMS key policy are not "
            "supported for EventBridge-to-encrypted-topics"
        ),
    ),
    "notification-rule": TopicPublisher(
        "codestar-notifications.amazonaws.com", _FROM_THIS_ACCOUNT, _FROM_THIS_ACCOUNT
    ),
    "manual-approval": TopicPublisher(
        None, {}, {}, note="CodePipeline needs an IAM role (the pipeline role), not a service principal"
    ),
}
KMS_TOPIC_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
