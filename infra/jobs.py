"""Scheduled retrain and monitor jobs: Batch on Fargate, their roles, schedules and alerts.

One jobs image runs both jobs (``python -m retrain_job.retrain`` / ``retrain_job.monitor``).
Who owns the image: the repository's tags are immutable, so no tag can follow "the newest".
`pulumi up` registers job-definition revisions with the tag from config (``jobsImageTag``,
``bootstrap`` until the first build); the pipeline's PromoteJobs stage, after prod is approved,
then registers new revisions of the same definitions with the tags it pushes (copying the latest
ACTIVE revision, changing only ``image``: `infra/promote_jobs.py`, `retrain_job/job_revision.py`).
Schedules and the monitor submit by definition *name*, so they run the newest revision.
A later `pulumi up` that changes a job definition registers a revision with ``jobsImageTag``
again: set it to the tag in production first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config_sections import JobConfig, JobsConfig, StorageConfig
from infra.iam import execution_statements
from infra.job_roles import (
    COOLDOWN_KEY,
    METRICS_NAMESPACE,
    JobResources,
    monitor_statements,
    retrain_statements,
    task_role,
)
from infra.job_schedules import ScheduledJobs, alert_on_failed_jobs, schedule_jobs
from infra.network import Network
from infra.storage import Buckets

# Failures of the platform, not of our code: worth another attempt. Anything that exited
# with a code (0 promoted, 1 error, 2 bad data, 3 challenger rejected) is final. Batch
# globs may only end in '*' (prefix match), and it takes at most five entries in all.
RETRY_ON_STATUS_REASONS = (
    "Task failed to start*",
    "ResourceInitializationError*",
    "Host EC2*",
    "Your Spot Task was interrupted*",
)


@dataclass(frozen=True)
class JobsArgs:
    """What the jobs need from the rest of the stack."""

    config: JobsConfig
    storage: StorageConfig
    buckets: Buckets
    jobs_repo: aws.ecr.Repository
    alerts_topic: aws.sns.Topic
    network: Network
    key: aws.kms.Key


class Jobs(pulumi.ComponentResource):
    """Batch compute, queue and the two job definitions, their schedules and failure alerts."""

    queue: aws.batch.JobQueue
    retrain_definition: aws.batch.JobDefinition
    monitor_definition: aws.batch.JobDefinition
    retrain_submit_command: pulumi.Output[str]
    monitor_submit_command: pulumi.Output[str]
    # Roles a job-definition revision names; whoever registers revisions needs iam:PassRole on them.
    passed_roles: list[aws.iam.Role]

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
        self._execution_role = task_role(
            f"{name}-execution",
            statements=execution_statements(
                repository_arn=args.jobs_repo.arn, log_group_arn=self._log_group.arn
            ),
            parent=self,
        )
        self.queue = self._queue()

        resources = JobResources(
            model_bucket_arn=args.buckets.models.arn,
            training_bucket_arn=args.buckets.training_data.arn,
            log_bucket_arn=args.buckets.prediction_logs.arn,
            key_arn=args.key.arn,
            topic_arn=args.alerts_topic.arn,
            region=self._region,
        )
        self.retrain_definition, retrain_role = self._retrain_job(resources)
        self.monitor_definition, monitor_role = self._monitor_job(resources)
        self.passed_roles = [self._execution_role, retrain_role, monitor_role]
        schedule_jobs(
            name,
            config=args.config,
            targets=ScheduledJobs(
                queue=self.queue,
                retrain_definition=self.retrain_definition,
                monitor_definition=self.monitor_definition,
                alerts_topic=args.alerts_topic,
                account_id=self._account,
            ),
            parent=self,
        )
        alert_on_failed_jobs(name, queue_arn=self.queue.arn, topic_arn=args.alerts_topic.arn, parent=self)
        self.retrain_submit_command = self._submit_command("retrain-manual", self.retrain_definition)
        self.monitor_submit_command = self._submit_command("monitor-manual", self.monitor_definition)
        self.register_outputs(
            {
                "queue": self.queue.name,
                "retrain_definition": self.retrain_definition.name,
                "monitor_definition": self.monitor_definition.name,
            }
        )

    # --- the two jobs --------------------------------------------------------------------

    def _retrain_job(self, resources: JobResources) -> tuple[aws.batch.JobDefinition, aws.iam.Role]:
        args = self._args
        role = task_role(
            f"{self._name}-retrain",
            statements=retrain_statements(resources, storage=args.storage),
            parent=self,
        )
        definition = self._definition(
            "retrain", job=args.config.retrain_job, role=role, environment=self._retrain_environment()
        )
        return definition, role

    def _monitor_job(self, resources: JobResources) -> tuple[aws.batch.JobDefinition, aws.iam.Role]:
        """The monitor may submit the retrain job only when drift-triggered retraining is on."""
        args = self._args
        role = task_role(
            f"{self._name}-monitor",
            statements=monitor_statements(
                resources,
                storage=args.storage,
                retrain_definition_arn_prefix=(
                    self.retrain_definition.arn_prefix if args.config.retrain_on_drift else None
                ),
                queue_arn=self.queue.arn,
            ),
            parent=self,
        )
        definition = self._definition(
            "monitor", job=args.config.monitor_job, role=role, environment=self._monitor_environment()
        )
        return definition, role

    # --- compute -------------------------------------------------------------------------

    def _queue(self) -> aws.batch.JobQueue:
        """Fargate (or Fargate Spot) in the private subnets: nothing comes in, HTTPS goes out."""
        network = self._args.network
        security_group = aws.ec2.SecurityGroup(
            f"{self._name}-tasks",
            vpc_id=network.vpc_id,
            description="Batch jobs: no inbound; outbound HTTPS to S3, ECR, SNS, CloudWatch",
            opts=self._child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-tasks-https-out",
            security_group_id=security_group.id,
            description="AWS APIs over HTTPS (through NAT or VPC endpoints)",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            opts=self._child,
        )
        compute = aws.batch.ComputeEnvironment(
            f"{self._name}-fargate",
            type="MANAGED",
            state="ENABLED",
            # No service_role: Batch uses its service-linked role.
            compute_resources=aws.batch.ComputeEnvironmentComputeResourcesArgs(
                type="FARGATE_SPOT" if self._args.config.use_fargate_spot else "FARGATE",
                max_vcpus=self._args.config.max_vcpus,
                subnets=network.private_subnet_ids,
                security_group_ids=[security_group.id],
            ),
            opts=self._child,
        )
        return aws.batch.JobQueue(
            f"{self._name}-queue",
            state="ENABLED",
            priority=1,
            compute_environment_orders=[
                aws.batch.JobQueueComputeEnvironmentOrderArgs(order=1, compute_environment=compute.arn)
            ],
            opts=self._child,
        )

    # --- job definitions -----------------------------------------------------------------

    def _retrain_environment(self) -> dict[str, pulumi.Input[str]]:
        args, storage, jobs = self._args, self._args.storage, self._args.config
        return {
            "AWS_REGION": self._region,
            "MODEL_BUCKET": args.buckets.models.bucket,
            "MODEL_KEY": storage.model_key,
            "MODEL_ARCHIVE_PREFIX": storage.model_archive_prefix,
            "DECISIONS_PREFIX": storage.decisions_prefix,
            "TRAINING_DATA_URI": pulumi.Output.concat(
                "s3://", args.buckets.training_data.bucket, "/", storage.training_data_prefix
            ),
            "ALERTS_TOPIC_ARN": args.alerts_topic.arn,
            "METRICS_NAMESPACE": METRICS_NAMESPACE,
            "GATE_TOLERANCE": str(jobs.gate_tolerance),
            "GATE_FLOOR": str(jobs.gate_floor),
        }

    def _monitor_environment(self) -> dict[str, pulumi.Input[str]]:
        args, storage, jobs = self._args, self._args.storage, self._args.config
        return {
            "AWS_REGION": self._region,
            # The monitor watches what prod serves; stage traffic is testing, not the world.
            "ENVIRONMENT": "prod",
            "MODEL_BUCKET": args.buckets.models.bucket,
            "MODEL_KEY": storage.model_key,
            "LOG_BUCKET": args.buckets.prediction_logs.bucket,
            "LOG_PREFIX": storage.prediction_log_prefix,
            "REPORTS_PREFIX": storage.reports_prefix,
            "WINDOW_HOURS": str(jobs.drift_window_hours),
            "PSI_THRESHOLD": str(jobs.psi_threshold),
            "KS_THRESHOLD": str(jobs.ks_threshold),
            "ALERTS_TOPIC_ARN": args.alerts_topic.arn,
            "METRICS_NAMESPACE": METRICS_NAMESPACE,
            "RETRAIN_ON_DRIFT": "true" if jobs.retrain_on_drift else "false",
            "RETRAIN_COOLDOWN_HOURS": str(jobs.retrain_cooldown_hours),
            "RETRAIN_JOB_QUEUE": self.queue.name,
            "RETRAIN_JOB_DEFINITION": self.retrain_definition.name,
            "COOLDOWN_KEY": COOLDOWN_KEY,
        }

    def _definition(
        self,
        kind: str,
        *,
        job: JobConfig,
        role: aws.iam.Role,
        environment: dict[str, pulumi.Input[str]],
    ) -> aws.batch.JobDefinition:
        """One Fargate job definition running `python -m retrain_job.<kind>` from the jobs image."""
        container: dict[str, Any] = {
            "image": pulumi.Output.concat(
                self._args.jobs_repo.repository_url, ":", self._args.config.jobs_image_tag
            ),
            "command": ["python", "-m", f"retrain_job.{kind}"],
            "jobRoleArn": role.arn,
            "executionRoleArn": self._execution_role.arn,
            "resourceRequirements": [
                {"type": "VCPU", "value": f"{job.vcpu:g}"},
                {"type": "MEMORY", "value": str(job.memory)},
            ],
            "environment": [{"name": key, "value": value} for key, value in sorted(environment.items())],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": self._log_group.name,
                    "awslogs-region": self._region,
                    "awslogs-stream-prefix": kind,
                },
            },
            "networkConfiguration": {"assignPublicIp": "DISABLED"},
            "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
            "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        }
        retry_on = [
            aws.batch.JobDefinitionRetryStrategyEvaluateOnExitArgs(action="RETRY", on_status_reason=reason)
            for reason in RETRY_ON_STATUS_REASONS
        ]
        return aws.batch.JobDefinition(
            f"{self._name}-{kind}",
            type="container",
            platform_capabilities=["FARGATE"],
            container_properties=pulumi.Output.json_dumps(container),
            retry_strategy=aws.batch.JobDefinitionRetryStrategyArgs(
                attempts=job.attempts,
                evaluate_on_exits=[
                    *retry_on,
                    aws.batch.JobDefinitionRetryStrategyEvaluateOnExitArgs(action="EXIT", on_exit_code="*"),
                ],
            ),
            timeout=aws.batch.JobDefinitionTimeoutArgs(attempt_duration_seconds=job.timeout_minutes * 60),
            opts=self._child,
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
