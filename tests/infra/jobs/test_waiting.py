"""A job stuck RUNNABLE is cancelled by the queue and alerted (infra/jobs/waiting.py, under the mocks)."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase

from ml_deploy_dev.program import Program

QUEUE_ARN_PATTERN = re.compile(r"^arn:aws:batch:[a-z0-9-]+:[0-9]{12}:job-queue/")
# https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable_time_limit_actions.html:
# for queues of ECS, EKS or Fargate compute environments "the only action you can use ... is to
# cancel a job"; the state is RUNNABLE; these status reasons support the action.
DOCUMENTED_ACTION = "CANCEL"
DOCUMENTED_STATE = "RUNNABLE"
DOCUMENTED_REASONS = {
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
}
# The status reason a job ended by the action carries (sm_job_stuck_in_runnable_misconfiguration.html
# shows "Terminated by JobStateTimeLimit action due to reason: <reason>"; Fargate queues cancel).
ENDED_REASONS = [
    f"{verb} by JobStateTimeLimit action due to reason: {r}"
    for verb in ("Cancelled", "Terminated")
    for r in DOCUMENTED_REASONS
]
ORDINARY_FAILURES = [
    "Essential container in task exited",
    "CannotPullContainerError: not found",
    "Task failed to start",
]


def test_the_queue_cancels_jobs_stuck_runnable_for_every_documented_reason(dev_program: Program) -> None:
    queue = dev_program.one("aws:batch/jobQueue:JobQueue", "jobs-queue").inputs
    actions = queue.get("jobStateTimeLimitActions") or []
    assert actions, "a job stuck RUNNABLE waits forever"
    assert {a["reason"] for a in actions} == DOCUMENTED_REASONS
    for action in actions:
        assert action["action"] == DOCUMENTED_ACTION and action["state"] == DOCUMENTED_STATE, action
        assert 600 <= action["maxTimeSeconds"] <= 86400, f"waits {action['maxTimeSeconds']} s"


def test_a_job_cancelled_for_waiting_reaches_the_alerts_topic_with_what_to_raise(
    dev_program: Program,
) -> None:
    rule = dev_program.one("aws:cloudwatch/eventRule:EventRule", "jobs-cancelled-waiting")
    detail = json.loads(rule.inputs["eventPattern"])["detail"]
    assert detail["status"] == ["FAILED"], "a cancelled job ends FAILED"
    assert all(QUEUE_ARN_PATTERN.match(arn) for arn in detail["jobQueue"]), "not scoped to this queue"
    (matcher,) = detail["statusReason"]
    matched = [
        reason for reason in ENDED_REASONS + ORDINARY_FAILURES if fnmatchcase(reason, matcher["wildcard"])
    ]
    assert matched == ENDED_REASONS, f"the rule matches {matched}"
    target = dev_program.one(
        "aws:cloudwatch/eventTarget:EventTarget", "jobs-cancelled-waiting-to-alerts"
    ).inputs
    topic = dev_program.one("aws:sns/topic:Topic", "alerts-topic").state["arn"]
    assert target["arn"] == topic, "not sent to alerts"
    template = json.loads(target["inputTransformer"]["inputTemplate"])
    assert (
        {"job", "reason"}
        <= set(re.findall(r"<(\w+)>", template))
        <= set(target["inputTransformer"]["inputPaths"])
    )
    assert "quota" in template and "maxVcpus" in template, "the alert does not say what to raise"
