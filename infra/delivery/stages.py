"""The pipeline's stages, as data: Source -> Build -> DeployStage -> Approve -> DeployProd -> PromoteJobs.

The deploy stages are CodeBuild actions (`infra/delivery/deploy.py`), not CodePipeline's ECS
action: Pulumi owns the task configuration, the pipeline the image, and both reach the service.

The names here (actions, artifacts, variable namespaces) are what `buildspec.yml`, the approval
message and the tests agree on.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.delivery.config import PipelineConfig
from infra.delivery.targets import DeployTarget

# Names the buildspec, the approval message and the tests agree on.
CODE_ACTION = "Code"
MODEL_ACTION = "Model"
SOURCE_ARTIFACT = "SourceCode"
MODEL_ARTIFACT = "ModelBundle"
SOURCE_NAMESPACE = "SourceVariables"
MODEL_NAMESPACE = "ModelVariables"
BUILD_NAMESPACE = "BuildVariables"
PROMOTE_ACTION = "RegisterJobRevisions"
# Where each deploy action exports SMOKE_TEST and DRIFT_REPORT (buildspec-deploy.yml).
DEPLOY_NAMESPACES = {"stage": "StageDeployVariables", "prod": "ProdDeployVariables"}
STAGE_ORDER = ("Source", "Build", "DeployStage", "Approve", "DeployProd", "PromoteJobs")

APPROVAL_MESSAGE = (
    "Promote to prod: commit #{SourceVariables.CommitId}, "
    "model #{BuildVariables.MODEL_VERSION} (bundle object version #{ModelVariables.VersionId}), "
    "image tag #{BuildVariables.IMAGE_TAG}. Holdout metrics: #{BuildVariables.MODEL_METRICS}. "
    "Stage smoke test: #{StageDeployVariables.SMOKE_TEST}. "
    "Drift report before this model: #{StageDeployVariables.DRIFT_REPORT}. "
    "Try it on stage (link) before approving."
)


def source_stage(
    config: PipelineConfig,
    *,
    connection_arn: pulumi.Input[str] | None,
    model_bucket: aws.s3.Bucket,
    model_key: str,
) -> aws.codepipeline.PipelineStageArgs:
    """The code (GitHub through a connection, or CodeCommit) and the model bundle, side by side."""
    model = aws.codepipeline.PipelineStageActionArgs(
        name=MODEL_ACTION,
        category="Source",
        owner="AWS",
        provider="S3",
        version="1",
        namespace=MODEL_NAMESPACE,
        output_artifacts=[MODEL_ARTIFACT],
        configuration={
            "S3Bucket": model_bucket.bucket,
            "S3ObjectKey": model_key,
            # The EventBridge rule starts the pipeline; polling would start it twice.
            "PollForSourceChanges": "false",
        },
    )
    return aws.codepipeline.PipelineStageArgs(
        name="Source", actions=[_code_action(config, connection_arn), model]
    )


def _code_action(
    config: PipelineConfig, connection_arn: pulumi.Input[str] | None
) -> aws.codepipeline.PipelineStageActionArgs:
    configuration: dict[str, pulumi.Input[str]]
    if config.code_source == "github":
        assert connection_arn is not None
        provider = "CodeStarSourceConnection"
        configuration = {
            "ConnectionArn": connection_arn,
            "FullRepositoryId": config.code_repository,
            "BranchName": config.code_branch,
            "DetectChanges": "true",
            # A git clone, not a zip: the build sees the commit and the history.
            "OutputArtifactFormat": "CODEBUILD_CLONE_REF",
        }
    else:
        provider = "CodeCommit"
        configuration = {
            "RepositoryName": config.code_repository,
            "BranchName": config.code_branch,
            # Pushes arrive through the EventBridge rule instead.
            "PollForSourceChanges": "false",
            "OutputArtifactFormat": "CODE_ZIP",
        }
    return aws.codepipeline.PipelineStageActionArgs(
        name=CODE_ACTION,
        category="Source",
        owner="AWS",
        provider=provider,
        version="1",
        namespace=SOURCE_NAMESPACE,
        output_artifacts=[SOURCE_ARTIFACT],
        configuration=configuration,
    )


def git_triggers(config: PipelineConfig) -> list[aws.codepipeline.PipelineTriggerArgs] | None:
    """V2 trigger: only pushes to the configured branch start an execution (GitHub only)."""
    if config.code_source != "github":
        return None
    push = aws.codepipeline.PipelineTriggerGitConfigurationPushArgs(
        branches=aws.codepipeline.PipelineTriggerGitConfigurationPushBranchesArgs(
            includes=[config.code_branch]
        )
    )
    return [
        aws.codepipeline.PipelineTriggerArgs(
            provider_type="CodeStarSourceConnection",
            git_configuration=aws.codepipeline.PipelineTriggerGitConfigurationArgs(
                source_action_name=CODE_ACTION, pushes=[push]
            ),
        )
    ]


def build_stage(project: aws.codebuild.Project) -> aws.codepipeline.PipelineStageArgs:
    # The commit and the bundle's object version reach the build as plain variables, for both
    # code sources alike (CodeCommit's CODE_ZIP artifact carries no git metadata).
    variables = json.dumps(
        [
            {
                "name": "COMMIT_ID",
                "value": f"#{{{SOURCE_NAMESPACE}.CommitId}}",
                "type": "PLAINTEXT",
            },
            {
                "name": "MODEL_OBJECT_VERSION",
                "value": f"#{{{MODEL_NAMESPACE}.VersionId}}",
                "type": "PLAINTEXT",
            },
        ]
    )
    action = aws.codepipeline.PipelineStageActionArgs(
        name="BuildImages",
        category="Build",
        owner="AWS",
        provider="CodeBuild",
        version="1",
        namespace=BUILD_NAMESPACE,
        input_artifacts=[SOURCE_ARTIFACT, MODEL_ARTIFACT],
        configuration={
            "ProjectName": project.name,
            "PrimarySource": SOURCE_ARTIFACT,
            "EnvironmentVariables": variables,
        },
    )
    return aws.codepipeline.PipelineStageArgs(name="Build", actions=[action])


def deploy_stage(
    stage_name: str, project: aws.codebuild.Project, target: DeployTarget
) -> aws.codepipeline.PipelineStageArgs:
    """The image this execution built, on the task settings Pulumi registered (buildspec-deploy.yml)."""
    variables = json.dumps(
        [
            {"name": name, "value": f"#{{{BUILD_NAMESPACE}.{name}}}", "type": "PLAINTEXT"}
            for name in ("SERVICE_IMAGE_URI", "MODEL_VERSION", "MODEL_CREATED_AT")
        ]
    )
    action = aws.codepipeline.PipelineStageActionArgs(
        name=f"Deploy-{target.name}",
        category="Build",
        owner="AWS",
        provider="CodeBuild",
        version="1",
        namespace=DEPLOY_NAMESPACES[target.name],
        # The source holds the buildspec and the deploy command of the commit being deployed.
        input_artifacts=[SOURCE_ARTIFACT],
        configuration={"ProjectName": project.name, "EnvironmentVariables": variables},
    )
    return aws.codepipeline.PipelineStageArgs(name=stage_name, actions=[action])


def approval_stage(topic: aws.sns.Topic, stage: DeployTarget) -> aws.codepipeline.PipelineStageArgs:
    action = aws.codepipeline.PipelineStageActionArgs(
        name="ApproveProd",
        category="Approval",
        owner="AWS",
        provider="Manual",
        version="1",
        configuration={
            "NotificationArn": topic.arn,
            "CustomData": APPROVAL_MESSAGE,
            "ExternalEntityLink": stage.url,
        },
    )
    return aws.codepipeline.PipelineStageArgs(name="Approve", actions=[action])


def promote_jobs_stage(project: aws.codebuild.Project) -> aws.codepipeline.PipelineStageArgs:
    """After prod: the jobs image of this execution's build becomes what the jobs run."""
    variables = json.dumps(
        [{"name": "IMAGE_TAG", "value": f"#{{{BUILD_NAMESPACE}.IMAGE_TAG}}", "type": "PLAINTEXT"}]
    )
    action = aws.codepipeline.PipelineStageActionArgs(
        name=PROMOTE_ACTION,
        category="Build",
        owner="AWS",
        provider="CodeBuild",
        version="1",
        # The source holds the buildspec and retrain_job/job_revision.py of the commit being promoted.
        input_artifacts=[SOURCE_ARTIFACT],
        configuration={"ProjectName": project.name, "EnvironmentVariables": variables},
    )
    return aws.codepipeline.PipelineStageArgs(name="PromoteJobs", actions=[action])
