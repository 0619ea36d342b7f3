"""The delivery pipeline: code or model change -> build -> stage -> approval -> prod -> jobs.

Source (code + model bundle) -> Build (CodeBuild, `buildspec.yml`) -> DeployStage (CodeBuild,
`buildspec-deploy.yml`: the built image on the task settings Pulumi registered, waiting for ECS) ->
Approve (manual, SNS, with stage's smoke test and the drift report before the model) -> DeployProd
(the same image stage ran, on prod's settings) ->
PromoteJobs (CodeBuild, `buildspec-promote-jobs.yml`: new retrain and monitor job-definition
revisions with the jobs image of the same build, so jobs only run what prod approval let through).
A push to the branch starts it (V2 git trigger, or an EventBridge rule for CodeCommit); so
does an upload of the bundle key (`infra/delivery/model_trigger.py`). The S3 source never
polls. The stages are in `infra/delivery/stages.py`, the pipeline role's policy in
`infra/delivery/roles.py`.

`infra/__main__.py` wires it to the serving environments (`DeployTarget.of`) and the jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.alerts import Alerts
from infra.config import PROJECT_NAMESPACE
from infra.delivery.build import BuildInputs, BuildProject, create_build_project
from infra.delivery.config import PipelineConfig
from infra.delivery.deploy import DeployInputs, create_deploy_project
from infra.delivery.model_trigger import create_codecommit_push_rule, create_model_trigger, create_start_role
from infra.delivery.notifications import create_approval_topic, create_pipeline_alerts
from infra.delivery.promote_jobs import PromoteInputs, PromoteProject, create_promote_project
from infra.delivery.roles import PipelineResources, pipeline_policy
from infra.delivery.stages import (
    MODEL_ACTION,
    MODEL_ARTIFACT,
    approval_stage,
    build_stage,
    deploy_stage,
    git_triggers,
    promote_jobs_stage,
    source_stage,
)
from infra.delivery.targets import CodeSource, DeployTarget, JobsTarget, StackLocation, code_repository_arn
from infra.iam import assume_role_policy
from infra.registry import Registry
from infra.storage import Buckets
from ml_deploy.layout import ObjectLayout


@dataclass(frozen=True)
class PipelineArgs:
    """What the pipeline needs from the rest of the stack."""

    config: PipelineConfig
    key: aws.kms.Key
    buckets: Buckets
    registry: Registry
    alerts: Alerts
    stage: DeployTarget
    prod: DeployTarget
    jobs: JobsTarget
    container_name: str
    # Where the model is uploaded and the build archives bundles (model bucket), and where the
    # smoke-test verdicts and drift reports are in the log bucket (the approval's evidence).
    layout: ObjectLayout


def pipeline_physical_name() -> str:
    """`ml-deploy-<stack>`: the pipeline's name, fixed so the jobs created before it can name it."""
    return f"{PROJECT_NAMESPACE}-{pulumi.get_stack()}"


class Pipeline(pulumi.ComponentResource):
    """CodePipeline V2, its CodeBuild projects, the model-upload trigger, approvals and alerts."""

    pipeline_name: pulumi.Output[str]
    approval_topic_arn: pulumi.Output[str]
    model_trigger_rule_name: pulumi.Output[str]
    connection_arn: pulumi.Output[str] | None
    connection_needs_handshake: pulumi.Output[bool]

    def __init__(self, name: str, *, args: PipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-deploy:pipeline:Pipeline", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        self._location = StackLocation(
            region=aws.get_region_output(opts=invoke).region,
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
        )
        self._args = args
        self._config = args.config
        physical_name = pipeline_physical_name()

        self.connection_arn, self.connection_needs_handshake = self._connection(name, physical_name)
        build, promote = self._projects(name, physical_name)
        deploys = {
            target.name: self._deploy_project(name, physical_name, target)
            for target in (args.stage, args.prod)
        }
        role = aws.iam.Role(
            f"{name}-pipeline",
            description="CodePipeline: sources, build, deploys, approval and job promotion of this stack",
            assume_role_policy=assume_role_policy("codepipeline.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        approval_topic = create_approval_topic(
            name, key=args.key, publisher_role=role, emails=args.config.approval_emails, parent=self
        )
        role_policy = self._role_policy(
            name,
            role=role,
            projects=[build.project, promote.project, *deploys.values()],
            approval_topic=approval_topic,
        )
        pipeline = self._pipeline(
            name,
            physical_name=physical_name,
            role=role,
            stages=self._stages(build=build, promote=promote, deploys=deploys, approval_topic=approval_topic),
            # The role must be able to act before the first execution starts.
            depends_on=[role_policy],
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

    def _stages(
        self,
        *,
        build: BuildProject,
        promote: PromoteProject,
        deploys: dict[str, aws.codebuild.Project],
        approval_topic: aws.sns.Topic,
    ) -> list[aws.codepipeline.PipelineStageArgs]:
        """Source, Build, DeployStage, Approve, DeployProd, PromoteJobs: the order every change takes."""
        args = self._args
        return [
            source_stage(
                args.config,
                connection_arn=self.connection_arn,
                model_bucket=args.buckets.models,
                model_key=args.layout.model_key,
            ),
            build_stage(build.project),
            deploy_stage("DeployStage", deploys["stage"], args.stage),
            approval_stage(approval_topic, args.stage),
            deploy_stage("DeployProd", deploys["prod"], args.prod),
            promote_jobs_stage(promote.project),
        ]

    def _pipeline(
        self,
        name: str,
        *,
        physical_name: str,
        role: aws.iam.Role,
        stages: list[aws.codepipeline.PipelineStageArgs],
        depends_on: list[pulumi.Resource],
    ) -> aws.codepipeline.Pipeline:
        """The V2 pipeline: its artifacts under the stack key, the stages in order, the git triggers."""
        args = self._args
        return aws.codepipeline.Pipeline(
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
            stages=stages,
            triggers=git_triggers(args.config),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
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
                model_bucket=args.buckets.models,
                model_archive_prefix=args.layout.model_archive_prefix,
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
                quality_definition_name=args.jobs.quality_definition_name,
                pass_role_arns=args.jobs.pass_role_arns,
                image_parameter_name=args.jobs.image_parameter_name,
                image_parameter_arn=args.jobs.image_parameter_arn,
                location=self._location,
                connection_arn=self.connection_arn,
                configured_connection_arn=args.config.code_connection_arn,
            ),
            parent=self,
        )
        return build, promote

    def _deploy_project(self, name: str, physical_name: str, target: DeployTarget) -> aws.codebuild.Project:
        """One environment's deploy project (infra/delivery/deploy.py), its role scoped to that service."""
        args = self._args
        return create_deploy_project(
            name,
            project_name=f"{physical_name}-deploy-{target.name}",
            inputs=DeployInputs(
                target=target,
                key=args.key,
                artifacts_bucket=args.buckets.artifacts,
                log_bucket=args.buckets.prediction_logs,
                location=self._location,
                connection_arn=self.connection_arn,
                configured_connection_arn=args.config.code_connection_arn,
                layout=args.layout,
            ),
            parent=self,
        ).project

    def _role_policy(
        self,
        name: str,
        *,
        role: aws.iam.Role,
        projects: list[aws.codebuild.Project],
        approval_topic: aws.sns.Topic,
    ) -> aws.iam.RolePolicy:
        """What the pipeline role may do, naming only this stack's resources (infra/delivery/roles.py)."""
        args = self._args
        resources = PipelineResources(
            location=self._location,
            code=CodeSource(
                connection_arn=self.connection_arn,
                configured_connection_arn=args.config.code_connection_arn,
                repository=args.config.code_repository,
            ),
            model_bucket=args.buckets.models,
            model_key=args.layout.model_key,
            artifacts_bucket=args.buckets.artifacts,
            key=args.key,
            projects=projects,
            approval_topic=approval_topic,
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
            model_key=self._args.layout.model_key,
            pipeline=pipeline,
            model_action_name=MODEL_ACTION,
            start_role=start_role,
            parent=self,
        )
        if self._config.code_source == "codecommit":
            create_codecommit_push_rule(
                name,
                repository_arn=code_repository_arn(self._location, self._config.code_repository),
                branch=self._config.code_branch,
                pipeline=pipeline,
                start_role=start_role,
                parent=self,
            )
        return model_rule

    def _connection(
        self, name: str, physical_name: str
    ) -> tuple[pulumi.Output[str] | None, pulumi.Output[bool]]:
        """The configured connection, or a new one that a human must activate (GitHub handshake).

        Whether it still needs the handshake is read from the connection's status, which Pulumi
        reads from AWS at `pulumi refresh` (or `pulumi up --refresh`): a created connection is
        PENDING until the handshake, then AVAILABLE.
        """
        if self._config.code_source != "github":
            return None, pulumi.Output.from_input(False)
        if self._config.code_connection_arn:
            return pulumi.Output.from_input(self._config.code_connection_arn), pulumi.Output.from_input(False)
        connection = aws.codeconnections.Connection(
            f"{name}-github",
            name=physical_name[:32],  # connection names are at most 32 characters
            provider_type="GitHub",
            opts=pulumi.ResourceOptions(parent=self),
        )
        return connection.arn, connection.connection_status.apply(needs_handshake)


def needs_handshake(status: str | None) -> bool:
    """A connection serves the Source stage only once AVAILABLE; PENDING waits for the console
    handshake and ERROR for it again (CodeConnections `Connection.ConnectionStatus`)."""
    return status != "AVAILABLE"
