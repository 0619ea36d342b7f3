"""Jobs that cannot wait forever: the queue cancels a job stuck RUNNABLE, and on-call hears why.

Dev runs on Fargate Spot only; short Spot capacity or a Fargate vCPU quota leaves a job RUNNABLE
with no end and no event. Batch's `jobStateTimeLimitActions` cancel it after `MAX_RUNNABLE_SECONDS`
(on Fargate the only action is CANCEL), the job ends FAILED with a status reason naming the cause,
and the rule below sends that reason to the alerts topic with what to raise.
https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable_time_limit_actions.html
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.alerts import alert_rule

# Four hours, the documentation's example: long enough for Spot capacity to come back for a nightly
# job, short enough that the next schedule's run is not queued behind a stuck one.
MAX_RUNNABLE_SECONDS = 4 * 60 * 60
# The RUNNABLE status reasons Batch acts on for queues of ECS and Fargate compute environments.
STUCK_REASONS = (
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
)
# The status reason of a job the action ended: "<Cancelled|Terminated> by JobStateTimeLimit action
# due to reason: <reason>" (an EventBridge wildcard, so either wording matches).
ENDED_FOR_WAITING = "*by JobStateTimeLimit action*"


def runnable_time_limits() -> list[aws.batch.JobQueueJobStateTimeLimitActionArgs]:
    """Cancel a job that waited RUNNABLE for `MAX_RUNNABLE_SECONDS` for any of `STUCK_REASONS`."""
    return [
        aws.batch.JobQueueJobStateTimeLimitActionArgs(
            action="CANCEL", max_time_seconds=MAX_RUNNABLE_SECONDS, reason=reason, state="RUNNABLE"
        )
        for reason in STUCK_REASONS
    ]


def alert_on_jobs_cancelled_for_waiting(
    name: str, *, queue_arn: pulumi.Input[str], topic_arn: pulumi.Input[str], parent: pulumi.Resource
) -> aws.cloudwatch.EventRule:
    """A job the queue cancelled for waiting reaches on-call with the reason and what to raise."""
    return alert_rule(
        f"{name}-cancelled-waiting",
        target_name=f"{name}-cancelled-waiting-to-alerts",
        description="A Batch job of the ml-deploy queue waited RUNNABLE too long and was cancelled",
        pattern={
            "source": ["aws.batch"],
            "detail-type": ["Batch Job State Change"],
            "detail": {
                "status": ["FAILED"],
                "jobQueue": [queue_arn],
                "statusReason": [{"wildcard": ENDED_FOR_WAITING}],
            },
        },
        input_paths={"job": "$.detail.jobName", "id": "$.detail.jobId", "reason": "$.detail.statusReason"},
        message=(
            f"Batch job <job> (<id>) never started: it waited RUNNABLE {MAX_RUNNABLE_SECONDS // 3600} h "
            "and was cancelled (<reason>). Raise the Fargate On-Demand/Spot vCPU quota (Service Quotas, "
            "AWS Fargate) or the compute environment's maxVcpus, or run on FARGATE instead of Spot "
            "(useFargateSpot: false)."
        ),
        topic_arn=topic_arn,
        parent=parent,
    )
