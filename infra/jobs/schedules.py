"""What starts the jobs and what watches them: EventBridge Scheduler schedules and a failure rule.

The schedules call Batch SubmitJob through Scheduler's universal target (Scheduler has no
templated Batch target); a submission that cannot be delivered lands in a dead-letter queue,
which alarms. Every job of the queue that ends FAILED is sent to the alerts topic.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.alerts import alert_rule
from infra.iam import policy
from infra.jobs.config import JobsConfig
from infra.jobs.roles import submit_jobs_statement

SCHEDULER_UNIVERSAL_SUBMIT_JOB = "arn:aws:scheduler:::aws-sdk:batch:submitJob"


@dataclass(frozen=True)
class ScheduledJobs:
    """The queue and job definitions the schedules submit, and where their alarms go."""

    queue: aws.batch.JobQueue
    retrain_definition: aws.batch.JobDefinition
    monitor_definition: aws.batch.JobDefinition
    quality_definition: aws.batch.JobDefinition
    alerts_topic: aws.sns.Topic
    account_id: pulumi.Output[str]
    # Whether the jobs repository holds a pushed image (`Registry.jobs_images_pushed`).
    images_pushed: pulumi.Output[bool]


def schedule_jobs(name: str, *, config: JobsConfig, targets: ScheduledJobs, parent: pulumi.Resource) -> None:
    """EventBridge Scheduler submits each job; undelivered submissions go to a DLQ and alert."""
    child = pulumi.ResourceOptions(parent=parent)
    dead_letters = aws.sqs.Queue(
        f"{name}-schedule-dlq",
        sqs_managed_sse_enabled=True,
        message_retention_seconds=14 * 24 * 3600,
        opts=child,
    )
    role = _scheduler_role(name, targets=targets, dead_letters=dead_letters, child=child)
    for kind, expression, definition in (
        ("retrain", config.retrain_schedule, targets.retrain_definition),
        ("monitor", config.monitor_schedule, targets.monitor_definition),
        ("quality", config.quality_schedule, targets.quality_definition),
    ):
        aws.scheduler.Schedule(
            f"{name}-{kind}-schedule",
            description=f"Submits the {kind} job to the Batch queue",
            schedule_expression=expression,
            schedule_expression_timezone=config.schedule_timezone,
            # Off until the pipeline has pushed the jobs image: a job run would only fail to pull it.
            state=targets.images_pushed.apply(lambda pushed: "ENABLED" if pushed else "DISABLED"),
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                # No templated Batch target exists; the universal target calls SubmitJob.
                arn=SCHEDULER_UNIVERSAL_SUBMIT_JOB,
                role_arn=role.arn,
                input=pulumi.Output.json_dumps(
                    {
                        "JobName": f"{kind}-scheduled",
                        "JobQueue": targets.queue.arn,
                        # By name: the latest revision, including those the pipeline registers.
                        "JobDefinition": definition.name,
                    }
                ),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=5
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=dead_letters.arn),
            ),
            opts=child,
        )
    _alarm_on_dead_letters(name, dead_letters=dead_letters, alerts_topic=targets.alerts_topic, child=child)


def _scheduler_role(
    name: str, *, targets: ScheduledJobs, dead_letters: aws.sqs.Queue, child: pulumi.ResourceOptions
) -> aws.iam.Role:
    """May submit only the three job definitions to this queue, assumed only by this account's Scheduler."""
    role = aws.iam.Role(
        f"{name}-scheduler",
        assume_role_policy=policy(
            {
                "Sid": "AssumedBySchedulerOfThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": targets.account_id}},
            }
        ),
        opts=child,
    )
    aws.iam.RolePolicy(
        f"{name}-scheduler",
        role=role.id,
        policy=policy(
            submit_jobs_statement(
                "SubmitScheduledJobs",
                definition_arn_prefixes=[
                    targets.retrain_definition.arn_prefix,
                    targets.monitor_definition.arn_prefix,
                    targets.quality_definition.arn_prefix,
                ],
                queue_arn=targets.queue.arn,
            ),
            {
                "Sid": "DeadLetterUndeliveredSubmissions",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": dead_letters.arn,
            },
        ),
        opts=child,
    )
    return role


def _alarm_on_dead_letters(
    name: str, *, dead_letters: aws.sqs.Queue, alerts_topic: aws.sns.Topic, child: pulumi.ResourceOptions
) -> None:
    aws.cloudwatch.MetricAlarm(
        f"{name}-schedule-dlq-not-empty",
        alarm_description="A scheduled Batch job could not be submitted (see the schedule DLQ)",
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": dead_letters.name},
        statistic="Maximum",
        period=300,
        evaluation_periods=1,
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[alerts_topic.arn],
        opts=child,
    )


def alert_on_failed_jobs(
    name: str,
    *,
    queue_arn: pulumi.Input[str],
    topic_arn: pulumi.Input[str],
    parent: pulumi.Resource,
) -> None:
    """Every job of this queue that ends FAILED (a rejected challenger too) reaches on-call."""
    alert_rule(
        f"{name}-failed",
        target_name=f"{name}-failed-to-alerts",
        description="A Batch job of the ml-deploy queue failed",
        pattern={
            "source": ["aws.batch"],
            "detail-type": ["Batch Job State Change"],
            "detail": {"status": ["FAILED"], "jobQueue": [queue_arn]},
        },
        input_paths={
            "job": "$.detail.jobName",
            "id": "$.detail.jobId",
            "reason": "$.detail.statusReason",
            "definition": "$.detail.jobDefinition",
        },
        message=(
            "Batch job <job> (<id>) FAILED: <reason>. Job definition: <definition>. "
            "Exit code 3 means the retrain gate rejected the challenger; logs are in CloudWatch."
        ),
        topic_arn=topic_arn,
        parent=parent,
    )
