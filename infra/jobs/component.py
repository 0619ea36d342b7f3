"""Scheduled retrain, monitor and quality jobs: Batch on Fargate, their roles, schedules and alerts.

One jobs image runs all three (``python -m retrain_job.retrain`` / ``.monitor`` / ``.quality``).
Who owns the image: one SSM parameter (`infra/jobs/image.py`). The stack creates it seeded with
``jobsImageTag`` (``bootstrap`` until the first build) and reads it at every `pulumi up`; the
pipeline's PromoteJobs stage, after prod is approved, writes the tag it promotes there, then
registers new revisions of the same definitions with it (copying the latest ACTIVE revision,
changing only ``image``: `infra/delivery/promote_jobs.py`, `retrain_job/job_revision.py`).
Schedules and the monitor and quality jobs submit by definition *name*, so they run the newest revision, and a
revision a later `pulumi up` registers runs the promoted image too. The schedules stay DISABLED
until ECR lists a pushed jobs image (nothing pushes ``bootstrap``)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import PROJECT_NAMESPACE
from infra.iam import execution_role, task_role
from infra.jobs.compute import job_queue
from infra.jobs.config import JobConfig, JobsConfig
from infra.jobs.dashboard_access import DashboardScope, dashboard_statements
from infra.jobs.definitions import JobRun, create_job_definition
from infra.jobs.environments import (
    WATCHED_ENVIRONMENT,
    JobContext,
    monitor_environment,
    quality_environment,
    retrain_environment,
)
from infra.jobs.image import PromotedImage, promoted_jobs_image
from infra.jobs.quality import QualityScope, quality_alarms, quality_statements
from infra.jobs.roles import JobResources, monitor_statements, retrain_statements
from infra.jobs.schedules import ScheduledJobs, alert_on_failed_jobs, schedule_jobs
from infra.jobs.waiting import alert_on_jobs_cancelled_for_waiting
from infra.network import Network
from infra.storage import Buckets
from ml_deploy.layout import ObjectLayout


@dataclass(frozen=True)
class JobsArgs:
    """What the jobs need from the rest of the stack."""

    config: JobsConfig
    layout: ObjectLayout
    buckets: Buckets
    jobs_repo: aws.ecr.Repository
    # Whether the jobs repository holds a pushed image: the schedules stay off until it does.
    jobs_images_pushed: pulumi.Output[bool]
    alerts_topic: aws.sns.Topic
    network: Network
    key: aws.kms.Key
    # The delivery pipeline's name, known before it exists (`pipeline_physical_name`): the jobs'
    # dashboard reads its deploys and approvals, and PromoteJobs needs the jobs first.
    pipeline_name: str


class Jobs(pulumi.ComponentResource):
    """Batch compute, queue and the three job definitions, their schedules and failure alerts."""

    queue: aws.batch.JobQueue
    retrain_definition: aws.batch.JobDefinition
    monitor_definition: aws.batch.JobDefinition
    quality_definition: aws.batch.JobDefinition
    retrain_submit_command: pulumi.Output[str]
    monitor_submit_command: pulumi.Output[str]
    quality_submit_command: pulumi.Output[str]
    # Roles a job-definition revision names; whoever registers revisions needs iam:PassRole on them.
    passed_roles: list[aws.iam.Role]
    # The one record of the jobs image tag: PromoteJobs writes it, `pulumi up` reads it.
    image: PromotedImage

    def __init__(self, name: str, *, args: JobsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-deploy:jobs:Jobs", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        self._region = aws.get_region_output(opts=invoke).region
        self._account = aws.get_caller_identity_output(opts=invoke).account_id

        self._log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            kms_key_id=args.key.arn,
            retention_in_days=args.config.job_log_retention_days,
            opts=self._child,
        )
        self._execution_role = execution_role(
            name, repository=args.jobs_repo, log_group=self._log_group, parent=self
        )
        self.queue = job_queue(name, network=args.network, config=args.config, parent=self)
        self.image = promoted_jobs_image(name, seed_tag=args.config.jobs_image_tag, parent=self)

        resources = JobResources(
            model_bucket_arn=args.buckets.models.arn,
            training_bucket_arn=args.buckets.training_data.arn,
            log_bucket_arn=args.buckets.prediction_logs.arn,
            key_arn=args.key.arn,
            topic_arn=args.alerts_topic.arn,
            region=self._region,
        )
        self._dashboard = DashboardScope(
            environment=WATCHED_ENVIRONMENT,
            pipeline_arn=self._arn("codepipeline", args.pipeline_name),
        )
        self.retrain_definition, retrain_role = self._retrain_job(resources)
        self.monitor_definition, monitor_role = self._monitor_job(resources)
        self.quality_definition, quality_role = self._quality_job(resources)
        self.passed_roles = [self._execution_role, retrain_role, monitor_role, quality_role]
        self._schedule_and_watch()
        self.retrain_submit_command = self._submit_command("retrain-manual", self.retrain_definition)
        self.monitor_submit_command = self._submit_command("monitor-manual", self.monitor_definition)
        self.quality_submit_command = self._submit_command("quality-manual", self.quality_definition)
        self.register_outputs(
            {
                "queue": self.queue.name,
                "retrain_definition": self.retrain_definition.name,
                "monitor_definition": self.monitor_definition.name,
                "quality_definition": self.quality_definition.name,
                "image_parameter": self.image.parameter.name,
            }
        )

    def _schedule_and_watch(self) -> None:
        """The three schedules, and the alerts on jobs that failed or were cancelled waiting."""
        name, args = self._name, self._args
        schedule_jobs(
            name,
            config=args.config,
            targets=ScheduledJobs(
                queue=self.queue,
                retrain_definition=self.retrain_definition,
                monitor_definition=self.monitor_definition,
                quality_definition=self.quality_definition,
                alerts_topic=args.alerts_topic,
                account_id=self._account,
                images_pushed=args.jobs_images_pushed,
            ),
            parent=self,
        )
        alert_on_failed_jobs(name, queue_arn=self.queue.arn, topic_arn=args.alerts_topic.arn, parent=self)
        alert_on_jobs_cancelled_for_waiting(
            name, queue_arn=self.queue.arn, topic_arn=args.alerts_topic.arn, parent=self
        )

    # --- the three jobs --------------------------------------------------------------------

    def _retrain_job(self, resources: JobResources) -> tuple[aws.batch.JobDefinition, aws.iam.Role]:
        args = self._args
        role = task_role(
            f"{self._name}-retrain",
            statements=retrain_statements(resources, layout=args.layout),
            parent=self,
        )
        definition = self._definition(
            "retrain", size=args.config.retrain_job, role=role, environment=retrain_environment(self._context)
        )
        return definition, role

    def _monitor_job(self, resources: JobResources) -> tuple[aws.batch.JobDefinition, aws.iam.Role]:
        """The monitor may submit the retrain job only when drift-triggered retraining is on, and
        always its own definition (the fan-out): named here, as it cannot hold its own ARN."""
        args = self._args
        own_name = f"{PROJECT_NAMESPACE}-{pulumi.get_stack()}-monitor"
        statements = monitor_statements(
            resources,
            layout=args.layout,
            retrain_definition_arn_prefix=(
                self.retrain_definition.arn_prefix if args.config.retrain_on_drift else None
            ),
            queue_arn=self.queue.arn,
            own_definition_arn_prefix=self._arn("batch", "job-definition/", own_name),
        )
        role = task_role(
            f"{self._name}-monitor",
            statements=[
                *statements,
                *dashboard_statements(resources, layout=args.layout, scope=self._dashboard),
            ],
            parent=self,
        )
        environment = monitor_environment(
            self._context,
            queue_name=self.queue.name,
            retrain_definition_name=self.retrain_definition.name,
            monitor_definition_name=own_name,
        )
        definition = self._definition(
            "monitor",
            size=args.config.monitor_job,
            role=role,
            environment=environment,
            physical_name=own_name,
        )
        return definition, role

    def _quality_job(self, resources: JobResources) -> tuple[aws.batch.JobDefinition, aws.iam.Role]:
        """Like the monitor: it may submit the retrain job only when retrainOnQuality is on."""
        args = self._args
        scope = QualityScope(
            environment=WATCHED_ENVIRONMENT,
            retrain_definition_arn_prefix=(
                self.retrain_definition.arn_prefix if args.config.retrain_on_quality else None
            ),
            queue_arn=self.queue.arn,
        )
        role = task_role(
            f"{self._name}-quality",
            statements=[
                *quality_statements(resources, layout=args.layout, scope=scope),
                *dashboard_statements(resources, layout=args.layout, scope=self._dashboard),
            ],
            parent=self,
        )
        environment = quality_environment(
            self._context, queue_name=self.queue.name, retrain_definition_name=self.retrain_definition.name
        )
        definition = self._definition(
            "quality", size=args.config.quality_job, role=role, environment=environment
        )
        quality_alarms(
            self._name, environment=WATCHED_ENVIRONMENT, topic_arn=args.alerts_topic.arn, parent=self
        )
        return definition, role

    # --- job definitions -----------------------------------------------------------------

    @property
    def _context(self) -> JobContext:
        args = self._args
        return JobContext(
            region=self._region,
            model_bucket=args.buckets.models.bucket,
            training_bucket=args.buckets.training_data.bucket,
            log_bucket=args.buckets.prediction_logs.bucket,
            alerts_topic_arn=args.alerts_topic.arn,
            layout=args.layout,
            config=args.config,
            pipeline_name=args.pipeline_name,
        )

    def _definition(
        self,
        kind: str,
        *,
        size: JobConfig,
        role: aws.iam.Role,
        environment: dict[str, pulumi.Input[str]],
        physical_name: str | None = None,
    ) -> aws.batch.JobDefinition:
        run = JobRun(
            kind=kind,
            image=pulumi.Output.concat(self._args.jobs_repo.repository_url, ":", self.image.tag),
            size=size,
            role=role,
            execution_role=self._execution_role,
            log_group=self._log_group,
            region=self._region,
            environment=environment,
            physical_name=physical_name,
        )
        return create_job_definition(self._name, run=run, parent=self)

    def _arn(self, service: str, *resource: str) -> pulumi.Output[str]:
        """`arn:aws:<service>:<region>:<account>:<resource>` of a thing named before it exists."""
        return pulumi.Output.concat(
            "arn:aws:", service, ":", self._region, ":", self._account, ":", *resource
        )

    # --- outputs ---------------------------------------------------------------------------

    def _submit_command(self, job_name: str, definition: aws.batch.JobDefinition) -> pulumi.Output[str]:
        """The exact CLI command that runs a job by hand, as the schedule would."""
        return pulumi.Output.concat(
            "aws batch submit-job --job-name ",
            job_name,
            " --job-queue ",
            self.queue.name,
            " --job-definition ",
            definition.name,
            " --region ",
            self._region,
        )
