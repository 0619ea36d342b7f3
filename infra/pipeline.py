"""The delivery pipeline: code or model change -> build -> stage -> approval -> prod -> jobs.

Source (code + model bundle) -> Build (CodeBuild, `buildspec.yml`) -> DeployStage (ECS) ->
Approve (manual, SNS) -> DeployProd (ECS, the same `imagedefinitions.json` stage ran) ->
PromoteJobs (CodeBuild, `buildspec-promote-jobs.yml`: new retrain and monitor job-definition
revisions with the jobs image of the same build, so jobs only run what prod approval let through).
A push to the branch starts it (V2 git trigger, or an EventBridge rule for CodeCommit); so
does an upload of the bundle key (`infra/model_trigger.py`). The S3 source never polls.
The pipeline role's policy is in `infra/pipeline_iam.py`.

`infra/__main__.py` wires it to the serving environments (`DeployTarget.of`) and the jobs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from infra.alerts import Alerts
from infra.build import BuildInputs, BuildProject, create_build_project
from infra.config import PROJECT_NAMESPACE
from infra.config_sections import PipelineConfig
from infra.iam import assume_role_policy
from infra.model_trigger import create_model_trigger, create_start_role
from infra.pipeline_iam import (
    CodeSource,
    PipelineResources,
    StackLocation,
    code_repository_arn,
    pipeline_policy,
)
from infra.pipeline_notifications import create_approval_topic, create_pipeline_alerts
from infra.promote_jobs import PromoteInputs, PromoteProject, create_promote_project
from infra.registry import Registry
from infra.storage import Buckets

if TYPE_CHECKING:
    from infra.jobs import Jobs
    from infra.serving import ServiceEnvironment

# Names the buildspec, the approval message and the tests agree on.
CODE_ACTION = "Code"
MODEL_ACTION = "Model"
SOURCE_ARTIFACT = "SourceCode"
MODEL_ARTIFACT = "ModelBundle"
BUILD_ARTIFACT = "BuildOutput"
SOURCE_NAMESPACE = "SourceVariables"
MODEL_NAMESPACE = "ModelVariables"
BUILD_NAMESPACE = "BuildVariables"
PROMOTE_ACTION = "RegisterJobRevisions"
IMAGE_DEFINITIONS = "imagedefinitions.json"
STAGE_ORDER = ("Source", "Build", "DeployStage", "Approve", "DeployProd", "PromoteJobs")

APPROVAL_MESSAGE = (
    "Promote to prod: commit #{SourceVariables.CommitId}, "
    "model #{BuildVariables.MODEL_VERSION} (bundle object version #{ModelVariables.VersionId}), "
    "image tag #{BuildVariables.IMAGE_TAG}. Holdout metrics: #{BuildVariables.MODEL_METRICS}. "
    "Try it on stage (link) before approving."
)


@dataclass(frozen=True)
class DeployTarget:
    """One ECS environment the pipeline deploys to, as the serving component exposes it."""

    name: str
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    url: pulumi.Input[str]
    # Task and execution roles the new task definition revision names (iam:PassRole).
    pass_role_arns: Sequence[pulumi.Input[str]]

    @classmethod
    def of(cls, environment: ServiceEnvironment) -> DeployTarget:
        """The deploy target of one serving environment (stage or prod)."""
        return cls(
            name=environment.environment,
            cluster_name=environment.cluster_name,
            service_name=environment.service_name,
            url=environment.url,
            pass_role_arns=[environment.task_role_arn, environment.execution_role_arn],
        )


@dataclass(frozen=True)
class JobsTarget:
    """The Batch job definitions the pipeline promotes after prod, as the jobs component exposes them."""

    retrain_definition_name: pulumi.Input[str]
    monitor_definition_name: pulumi.Input[str]
    # Job and execution roles a new job-definition revision names (iam:PassRole to Batch).
    pass_role_arns: Sequence[pulumi.Input[str]]

    @classmethod
    def of(cls, jobs: Jobs) -> JobsTarget:
        """The promotion target of the jobs component (retrain and monitor)."""
        return cls(
            retrain_definition_name=jobs.retrain_definition.name,
            monitor_definition_name=jobs.monitor_definition.name,
            pass_role_arns=[role.arn for role in jobs.passed_roles],
        )


@dataclass(frozen=True)
class PipelineArgs:
    """What the pipeline needs from the rest of the stack."""

    config: PipelineConfig
    model_key: str
    key: aws.kms.Key
    buckets: Buckets
    registry: Registry
    alerts: Alerts
    stage: DeployTarget
    prod: DeployTarget
    jobs: JobsTarget
    container_name: str


class Pipeline(pulumi.ComponentResource):
    """CodePipeline V2, its CodeBuild projects, the model-upload trigger, approvals and alerts."""

    pipeline_name: pulumi.Output[str]
    approval_topic_arn: pulumi.Output[str]
    model_trigger_rule_name: pulumi.Output[str]
    connection_arn: pulumi.Output[str] | None
    connection_needs_handshake: bool

    def __init__(self, name: str, *, args: PipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-deploy:pipeline:Pipeline", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        self._location = StackLocation(
            region=aws.get_region_output(opts=invoke).region,
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
        )
        self._args = args
        self._config = args.config
        physical_name = f"{PROJECT_NAMESPACE}-{pulumi.get_stack()}"

        self.connection_arn, self.connection_needs_handshake = self._connection(name, physical_name)
        build, promote = self._projects(name, physical_name)
        role = aws.iam.Role(
            f"{name}-pipeline",
            description="CodePipeline: sources, build, ECS deploys, approval and job promotion of this stack",
            assume_role_policy=assume_role_policy("codepipeline.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        approval_topic = create_approval_topic(
            name, key=args.key, publisher_role=role, emails=args.config.approval_emails, parent=self
        )
        role_policy = self._role_policy(
            name, role=role, build=build.project, promote=promote.project, approval_topic=approval_topic
        )
        pipeline = aws.codepipeline.Pipeline(
            f"{name}-pipeline",
            name=physical_name,
            pipeline_type="V2",
            execution_mode=args.config.pipeline_execution_mode,
            role_arn=role.arn,
            artifact_stores=[
                aws.codepipeline.PipelineArtifactStoreArgs(
                    type="S3",
                    location=args.buckets.artifacts.bucket,
                    encryption_key=aws.codepipeline.PipelineArtifactStoreEncryptionKeyArgs(
                        id=args.key.arn, type="KMS"
                    ),
                )
            ],
            stages=[
                self._source_stage(model_bucket=args.buckets.models, model_key=args.model_key),
                _build_stage(build.project),
                _deploy_stage("DeployStage", args.stage),
                _approval_stage(approval_topic, args.stage),
                _deploy_stage("DeployProd", args.prod),
                _promote_jobs_stage(promote.project),
            ],
            triggers=self._git_triggers(),
            # The role must be able to act before the first execution starts.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        model_rule = self._event_triggers(name, pipeline=pipeline)
        create_pipeline_alerts(name, pipeline=pipeline, alerts_topic=args.alerts.topic, parent=self)

        self.pipeline_name = pipeline.name
        self.approval_topic_arn = approval_topic.arn
        self.model_trigger_rule_name = model_rule.name
        self.register_outputs(
            {
                "pipeline_name": self.pipeline_name,
                "approval_topic_arn": self.approval_topic_arn,
                "model_trigger_rule_name": self.model_trigger_rule_name,
                "connection_arn": self.connection_arn,
                "connection_needs_handshake": self.connection_needs_handshake,
            }
        )

    def _projects(self, name: str, physical_name: str) -> tuple[BuildProject, PromoteProject]:
        """The Build stage's project (tests, images) and the PromoteJobs stage's (job revisions)."""
        args = self._args
        build = create_build_project(
            name,
            project_name=f"{physical_name}-build",
            inputs=BuildInputs(
                key=args.key,
                artifacts_bucket=args.buckets.artifacts,
                service_repo=args.registry.service_repo,
                jobs_repo=args.registry.jobs_repo,
                container_name=args.container_name,
                model_artifact_name=MODEL_ARTIFACT,
                timeout_minutes=args.config.build_timeout_minutes,
                connection_arn=self.connection_arn,
                configured_connection_arn=args.config.code_connection_arn,
            ),
            parent=self,
        )
        promote = create_promote_project(
            name,
            project_name=f"{physical_name}-promote-jobs",
            inputs=PromoteInputs(
                key=args.key,
                artifacts_bucket=args.buckets.artifacts,
                jobs_repo=args.registry.jobs_repo,
                retrain_definition_name=args.jobs.retrain_definition_name,
                monitor_definition_name=args.jobs.monitor_definition_name,
                pass_role_arns=args.jobs.pass_role_arns,
                location=self._location,
                connection_arn=self.connection_arn,
                configured_connection_arn=args.config.code_connection_arn,
            ),
            parent=self,
        )
        return build, promote

    def _role_policy(
        self,
        name: str,
        *,
        role: aws.iam.Role,
        build: aws.codebuild.Project,
        promote: aws.codebuild.Project,
        approval_topic: aws.sns.Topic,
    ) -> aws.iam.RolePolicy:
        """What the pipeline role may do, naming only this stack's resources (infra/pipeline_iam.py)."""
        args = self._args
        resources = PipelineResources(
            location=self._location,
            code=CodeSource(
                connection_arn=self.connection_arn,
                configured_connection_arn=args.config.code_connection_arn,
                repository=args.config.code_repository,
            ),
            model_bucket=args.buckets.models,
            model_key=args.model_key,
            artifacts_bucket=args.buckets.artifacts,
            key=args.key,
            build_project=build,
            promote_project=promote,
            approval_topic=approval_topic,
            targets=(args.stage, args.prod),
        )
        return aws.iam.RolePolicy(
            f"{name}-pipeline",
            role=role.id,
            policy=pipeline_policy(resources),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _event_triggers(self, name: str, *, pipeline: aws.codepipeline.Pipeline) -> aws.cloudwatch.EventRule:
        """The model-upload rule (and, for CodeCommit, the push rule) that start this pipeline."""
        start_role = create_start_role(name, pipeline=pipeline, parent=self)
        model_rule = create_model_trigger(
            name,
            model_bucket=self._args.buckets.models,
            model_key=self._args.model_key,
            pipeline=pipeline,
            model_action_name=MODEL_ACTION,
            start_role=start_role,
            parent=self,
        )
        if self._config.code_source == "codecommit":
            self._codecommit_push_rule(name, pipeline=pipeline, start_role=start_role)
        return model_rule

    def _connection(self, name: str, physical_name: str) -> tuple[pulumi.Output[str] | None, bool]:
        """The configured connection, or a new one that a human must activate (GitHub handshake)."""
        if self._config.code_source != "github":
            return None, False
        if self._config.code_connection_arn:
            return pulumi.Output.from_input(self._config.code_connection_arn), False
        connection = aws.codeconnections.Connection(
            f"{name}-github",
            name=physical_name[:32],  # connection names are at most 32 characters
            provider_type="GitHub",
            opts=pulumi.ResourceOptions(parent=self),
        )
        return connection.arn, True

    def _source_stage(
        self, *, model_bucket: aws.s3.Bucket, model_key: str
    ) -> aws.codepipeline.PipelineStageArgs:
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
        return aws.codepipeline.PipelineStageArgs(name="Source", actions=[self._code_action(), model])

    def _code_action(self) -> aws.codepipeline.PipelineStageActionArgs:
        config = self._config
        configuration: dict[str, pulumi.Input[str]]
        if config.code_source == "github":
            assert self.connection_arn is not None
            provider = "CodeStarSourceConnection"
            configuration = {
                "ConnectionArn": self.connection_arn,
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

    def _git_triggers(self) -> list[aws.codepipeline.PipelineTriggerArgs] | None:
        """V2 trigger: only pushes to the configured branch start an execution (GitHub only)."""
        if self._config.code_source != "github":
            return None
        push = aws.codepipeline.PipelineTriggerGitConfigurationPushArgs(
            branches=aws.codepipeline.PipelineTriggerGitConfigurationPushBranchesArgs(
                includes=[self._config.code_branch]
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

    def _codecommit_push_rule(
        self, name: str, *, pipeline: aws.codepipeline.Pipeline, start_role: aws.iam.Role
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{name}-codecommit-push",
            description=f"Start the pipeline on a push to {self._config.code_branch}",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.codecommit"],
                    "detail-type": ["CodeCommit Repository State Change"],
                    "resources": [code_repository_arn(self._location, self._config.code_repository)],
                    "detail": {
                        "event": ["referenceCreated", "referenceUpdated"],
                        "referenceType": ["branch"],
                        "referenceName": [self._config.code_branch],
                    },
                }
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-codecommit-push",
            rule=rule.name,
            arn=pipeline.arn,
            role_arn=start_role.arn,
            opts=child,
        )


def _build_stage(project: aws.codebuild.Project) -> aws.codepipeline.PipelineStageArgs:
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
        output_artifacts=[BUILD_ARTIFACT],
        configuration={
            "ProjectName": project.name,
            "PrimarySource": SOURCE_ARTIFACT,
            "EnvironmentVariables": variables,
        },
    )
    return aws.codepipeline.PipelineStageArgs(name="Build", actions=[action])


def _deploy_stage(stage_name: str, target: DeployTarget) -> aws.codepipeline.PipelineStageArgs:
    action = aws.codepipeline.PipelineStageActionArgs(
        name=f"Deploy-{target.name}",
        category="Deploy",
        owner="AWS",
        provider="ECS",
        version="1",
        input_artifacts=[BUILD_ARTIFACT],
        configuration={
            "ClusterName": target.cluster_name,
            "ServiceName": target.service_name,
            "FileName": IMAGE_DEFINITIONS,
        },
    )
    return aws.codepipeline.PipelineStageArgs(name=stage_name, actions=[action])


def _approval_stage(topic: aws.sns.Topic, stage: DeployTarget) -> aws.codepipeline.PipelineStageArgs:
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


def _promote_jobs_stage(project: aws.codebuild.Project) -> aws.codepipeline.PipelineStageArgs:
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
