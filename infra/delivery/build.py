"""The CodeBuild project of the pipeline's Build stage, with its logs, test reports and role.

`buildspec.yml` (repository root) hard-codes nothing account-specific: everything it needs
comes from the environment variables set here, from CodeBuild itself, or from the pipeline
action. `tests/test_buildspec.py` checks the two against each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.delivery.targets import connection_service
from infra.iam import service_role
from ml_deploy.layout import archived_bundle_key
from ml_deploy.settings import RetrainSettings

BUILD_IMAGE = "aws/codebuild/standard:7.0"
# A CodeBuild test report keeps at most 500 test cases (test-report.html) and the suite has more:
# buildspec.yml splits its JUnit file into this many shards of at most 500 cases
# (ml_deploy_dev/delivery/reports.py), one report group each, so 1500 cases fit.
JUNIT_SHARDS = 3
BUILD_LOG_RETENTION_DAYS = 90
# Where uv keeps its downloads in the build container; the project's LOCAL_CUSTOM_CACHE keeps the
# folder (buildspec.yml `cache: paths`) between builds on the same host, so a warm build installs
# the locked wheels without downloading them.
UV_CACHE_DIR = "/root/.cache/uv"


def junit_report_variable(number: int) -> str:
    """The project variable holding report group `number`'s ARN: buildspec.yml names the group as
    `$JUNIT_REPORT_GROUP_<n>`, so CodeBuild uses this stack's group and never creates one
    (report-create.html: "If you specify an ARN, CodeBuild uses that report group")."""
    return f"JUNIT_REPORT_GROUP_{number}"


@dataclass(frozen=True)
class BuildInputs:
    """What the build needs to know about the rest of the stack."""

    key: aws.kms.Key
    artifacts_bucket: aws.s3.Bucket
    # The build archives every bundle it builds here (`ml-deploy archive-bundle`): the smoke test
    # reads the deployed version's golden records from its archived bundle.
    model_bucket: aws.s3.Bucket
    model_archive_prefix: str
    service_repo: aws.ecr.Repository
    jobs_repo: aws.ecr.Repository
    container_name: str
    model_artifact_name: str
    timeout_minutes: int
    # The connection the CODEBUILD_CLONE_REF source artifact is cloned through (GitHub only).
    connection_arn: pulumi.Input[str] | None
    # The ARN from stack config, if any: its service prefix names the UseConnection action.
    configured_connection_arn: str | None = None


@dataclass(frozen=True)
class BuildProject:
    project: aws.codebuild.Project
    role: aws.iam.Role
    report_groups: list[aws.codebuild.ReportGroup]
    log_group: aws.cloudwatch.LogGroup


def codebuild_log_group(
    name: str, *, project_name: str, key: aws.kms.Key, parent: pulumi.Resource
) -> aws.cloudwatch.LogGroup:
    """The log group CodeBuild writes a project's logs to, under the stack key, with retention."""
    return aws.cloudwatch.LogGroup(
        name,
        name=f"/aws/codebuild/{project_name}",
        retention_in_days=BUILD_LOG_RETENTION_DAYS,
        kms_key_id=key.arn,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def plain_variable(
    name: str, value: pulumi.Input[str]
) -> aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs:
    return aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(name=name, value=value, type="PLAINTEXT")


def create_build_project(
    name: str, *, project_name: str, inputs: BuildInputs, parent: pulumi.Resource
) -> BuildProject:
    """Project, role, encrypted log group and JUnit report groups, all children of `parent`."""
    child = pulumi.ResourceOptions(parent=parent)
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))

    log_group = codebuild_log_group(
        f"{name}-build-logs", project_name=project_name, key=inputs.key, parent=parent
    )
    report_groups = [
        _junit_report_group(
            f"{name}-junit-{number}", project_name=project_name, number=number, inputs=inputs, opts=child
        )
        for number in range(1, JUNIT_SHARDS + 1)
    ]
    role = service_role(
        f"{name}-build",
        service="codebuild.amazonaws.com",
        statements=_build_statements(inputs, log_group, report_groups),
        parent=parent,
        description="CodeBuild: test, verify and archive the model bundle, build and push the images",
    ).role
    project = pipeline_project(
        f"{name}-build",
        project_name=project_name,
        description="Tests, verifies and archives the model bundle, builds the service and jobs images",
        role=role,
        timeout_minutes=inputs.timeout_minutes,
        key=inputs.key,
        buildspec="buildspec.yml",
        variables=[
            plain_variable("SERVICE_REPOSITORY_URI", inputs.service_repo.repository_url),
            plain_variable("JOBS_REPOSITORY_URI", inputs.jobs_repo.repository_url),
            plain_variable("CONTAINER_NAME", inputs.container_name),
            plain_variable("AWS_ACCOUNT_ID", identity.account_id),
            plain_variable("MODEL_ARTIFACT_NAME", inputs.model_artifact_name),
            # Where the retrain job archives, by its names for them (buildspec.yml reads them).
            plain_variable(RetrainSettings.variable("model_bucket"), inputs.model_bucket.bucket),
            plain_variable(RetrainSettings.variable("model_archive_prefix"), inputs.model_archive_prefix),
            *(
                plain_variable(junit_report_variable(number), group.arn)
                for number, group in enumerate(report_groups, start=1)
            ),
            plain_variable("UV_CACHE_DIR", UV_CACHE_DIR),
        ],
        log_group=log_group,
        docker=True,
        installs=True,
        opts=child,
    )
    return BuildProject(project=project, role=role, report_groups=report_groups, log_group=log_group)


def _junit_report_group(
    resource: str, *, project_name: str, number: int, inputs: BuildInputs, opts: pulumi.ResourceOptions
) -> aws.codebuild.ReportGroup:
    """One shard's report group, its raw files exported encrypted under the stack key."""
    return aws.codebuild.ReportGroup(
        resource,
        name=f"{project_name}-junit-{number}",
        type="TEST",
        export_config=aws.codebuild.ReportGroupExportConfigArgs(
            type="S3",
            s3_destination=aws.codebuild.ReportGroupExportConfigS3DestinationArgs(
                bucket=inputs.artifacts_bucket.bucket,
                encryption_key=inputs.key.arn,
                packaging="NONE",
                path=f"test-reports/junit-{number}/",
            ),
        ),
        delete_reports=True,
        opts=opts,
    )


def pipeline_project(
    resource: str,
    *,
    project_name: str,
    description: str,
    role: aws.iam.Role,
    timeout_minutes: int,
    key: aws.kms.Key,
    buildspec: str,
    variables: list[aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs],
    log_group: aws.cloudwatch.LogGroup,
    docker: bool = False,
    installs: bool = False,
    opts: pulumi.ResourceOptions,
) -> aws.codebuild.Project:
    """A CodeBuild project a pipeline action runs: source and artifacts from the pipeline, the
    buildspec from the commit being run, logs into its own encrypted group.

    `docker` builds images: a bigger machine, the privileged daemon and a layer cache; without it
    the project only calls AWS APIs. `installs`: the buildspec installs from the lock, and the
    project keeps uv's downloads (the buildspec's `cache: paths`) between builds.
    """
    modes = (["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE"] if docker else []) + (
        ["LOCAL_CUSTOM_CACHE"] if installs else []
    )
    return aws.codebuild.Project(
        resource,
        name=project_name,
        description=description,
        service_role=role.arn,
        build_timeout=timeout_minutes,
        encryption_key=key.arn,
        source=aws.codebuild.ProjectSourceArgs(type="CODEPIPELINE", buildspec=buildspec),
        artifacts=aws.codebuild.ProjectArtifactsArgs(type="CODEPIPELINE"),
        environment=aws.codebuild.ProjectEnvironmentArgs(
            compute_type="BUILD_GENERAL1_MEDIUM" if docker else "BUILD_GENERAL1_SMALL",
            image=BUILD_IMAGE,
            type="LINUX_CONTAINER",
            image_pull_credentials_type="CODEBUILD",
            privileged_mode=docker,  # docker build needs the daemon
            environment_variables=variables,
        ),
        cache=aws.codebuild.ProjectCacheArgs(type="LOCAL", modes=modes) if modes else None,
        logs_config=aws.codebuild.ProjectLogsConfigArgs(
            cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                status="ENABLED", group_name=log_group.name
            ),
        ),
        opts=opts,
    )


def read_pipeline_artifacts_statement(artifacts_bucket: aws.s3.Bucket) -> dict[str, Any]:
    """The input artifact: the source (or its clone reference) holding the buildspec."""
    return {
        "Sid": "ReadPipelineArtifacts",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
        "Resource": pulumi.Output.concat(artifacts_bucket.arn, "/*"),
    }


def write_logs_statement(sid: str, log_group: aws.cloudwatch.LogGroup) -> dict[str, Any]:
    """A CodeBuild project writes its streams into its own (pre-created, encrypted) log group."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [log_group.arn, pulumi.Output.concat(log_group.arn, ":*")],
    }


def locate_artifacts_bucket_statement(artifacts_bucket: aws.s3.Bucket) -> dict[str, Any]:
    return {
        "Sid": "LocateArtifactsBucket",
        "Effect": "Allow",
        "Action": ["s3:GetBucketAcl", "s3:GetBucketLocation"],
        "Resource": artifacts_bucket.arn,
    }


def clone_through_connection_statements(
    connection_arn: pulumi.Input[str] | None, *, configured_connection_arn: str | None
) -> list[dict[str, Any]]:
    """A CODEBUILD_CLONE_REF artifact is a reference: the build clones through the connection."""
    if connection_arn is None:
        return []
    return [
        {
            "Sid": "CloneThroughCodeConnection",
            "Effect": "Allow",
            "Action": f"{connection_service(configured_connection_arn)}:UseConnection",
            "Resource": connection_arn,
        }
    ]


def _build_statements(
    inputs: BuildInputs, log_group: aws.cloudwatch.LogGroup, report_groups: list[aws.codebuild.ReportGroup]
) -> list[dict[str, Any]]:
    return [
        write_logs_statement("WriteBuildLogs", log_group),
        {
            "Sid": "ReadWritePipelineArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            "Resource": pulumi.Output.concat(inputs.artifacts_bucket.arn, "/*"),
        },
        locate_artifacts_bucket_statement(inputs.artifacts_bucket),
        {
            "Sid": "PublishTestReports",
            "Effect": "Allow",
            "Action": [
                "codebuild:CreateReport",
                "codebuild:UpdateReport",
                "codebuild:BatchPutTestCases",
                "codebuild:BatchPutCodeCoverages",
            ],
            # Never codebuild:CreateReportGroup: the buildspec names these groups by ARN.
            "Resource": [group.arn for group in report_groups],
        },
        *_image_push_statements(inputs),
        *_base_image_pull_statements(),
        *_archive_bundle_statements(inputs),
        {
            # The model bucket is encrypted with the stack key too (the archived bundles).
            "Sid": "UseStackKeyForArtifactsAndLogs",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": inputs.key.arn,
        },
        *clone_through_connection_statements(
            inputs.connection_arn, configured_connection_arn=inputs.configured_connection_arn
        ),
    ]


def _archive_bundle_statements(inputs: BuildInputs) -> list[dict[str, Any]]:
    """What `ml-deploy archive-bundle` calls: the conditional PUT of the bundle at its archive key,
    the GET of what a taken key holds (to compare), and the bucket's default encryption it names."""
    archived_bundles = archived_bundle_key(inputs.model_archive_prefix, "*")
    return [
        {
            "Sid": "ArchiveBuiltBundles",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": pulumi.Output.concat(inputs.model_bucket.arn, "/", archived_bundles),
        },
        {
            "Sid": "ReadModelBucketEncryption",
            "Effect": "Allow",
            "Action": "s3:GetEncryptionConfiguration",
            "Resource": inputs.model_bucket.arn,
        },
    ]


def _image_push_statements(inputs: BuildInputs) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "PushServiceAndJobsImages",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:DescribeImages",
                "ecr:GetDownloadUrlForLayer",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            "Resource": [inputs.service_repo.arn, inputs.jobs_repo.arn],
        },
        {
            # GetAuthorizationToken is account-wide: AWS grants it on no narrower resource.
            "Sid": "LogInToRegistry",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
    ]


def _base_image_pull_statements() -> list[dict[str, Any]]:
    """Authenticated pulls of the Dockerfiles' base image from ECR Public: an anonymous pull shares
    the per-IP quota with every other CodeBuild user behind the same egress address. `aws
    ecr-public get-login-password` needs both actions (cli/latest/reference/ecr-public/
    get-login-password.html); neither takes a narrower resource than "*"."""
    return [
        {
            "Sid": "LogInToEcrPublicForBaseImages",
            "Effect": "Allow",
            "Action": ["ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"],
            "Resource": "*",
        }
    ]
