"""The job definitions as the program renders them, registered and submitted in moto's Batch.

botocore validates every request against the Batch API model, so a misspelt or mistyped
field in the rendered container properties, retry strategy or timeout fails here; moto then
checks that the queue and definitions the schedules, the monitor and the README command
name really accept a job. Everything stays in-process: no AWS, no Docker.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ml_deploy_dev.autonaming import generated_name
from ml_deploy_dev.program import REGION, Program
from tests.infra.jobs.test_component import DEFINITIONS

JOB_DEFINITION = "aws:batch/jobDefinition:JobDefinition"
KINDS = ("retrain", "monitor")


def registration(program: Program, kind: str) -> dict[str, Any]:
    """RegisterJobDefinition arguments from the recorded resource inputs (camelCase already)."""
    inputs = program.one(JOB_DEFINITION, f"jobs-{kind}").inputs
    strategy = inputs["retryStrategy"]
    return {
        "jobDefinitionName": inputs["name"],
        "type": inputs["type"],
        "platformCapabilities": inputs["platformCapabilities"],
        "containerProperties": json.loads(inputs["containerProperties"]),
        "retryStrategy": {
            "attempts": int(strategy["attempts"]),
            "evaluateOnExit": strategy["evaluateOnExits"],
        },
        "timeout": {"attemptDurationSeconds": int(inputs["timeout"]["attemptDurationSeconds"])},
    }


@pytest.fixture
def batch(dev_program: Program) -> Iterator[Any]:
    """moto Batch holding this stack's compute environment, queue and both job definitions."""
    with mock_aws(config={"batch": {"use_docker": False}}):
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.128.0/20")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="jobs", Description="jobs", VpcId=vpc)
        # moto insists on a service role; real Batch falls back to its service-linked role.
        service_role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="batch-service",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        client = boto3.client("batch", region_name=REGION)
        compute = dev_program.one("aws:batch/computeEnvironment:ComputeEnvironment")
        environment_arn = client.create_compute_environment(
            computeEnvironmentName=compute.inputs["name"],
            type="MANAGED",
            state="ENABLED",
            serviceRole=service_role,
            computeResources={
                "type": compute.inputs["computeResources"]["type"],
                "maxvCpus": int(compute.inputs["computeResources"]["maxVcpus"]),
                "subnets": [subnet],
                "securityGroupIds": [group["GroupId"]],
            },
        )["computeEnvironmentArn"]
        queue = dev_program.one("aws:batch/jobQueue:JobQueue")
        client.create_job_queue(
            jobQueueName=queue.inputs["name"],
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment_arn}],
        )
        for kind in KINDS:
            client.register_job_definition(**registration(dev_program, kind))
        yield client


def accepted(client: Any, **request: str) -> dict[str, Any]:
    job_id = client.submit_job(**request)["jobId"]
    assert job_id, f"Batch gave no job id for {request}"
    (job,) = client.describe_jobs(jobs=[job_id])["jobs"]
    described: dict[str, Any] = job
    return described


@pytest.mark.parametrize("kind", KINDS)
def test_the_scheduled_submission_is_accepted(batch: Any, dev_program: Program, kind: str) -> None:
    schedule = dev_program.one("aws:scheduler/schedule:Schedule", f"jobs-{kind}-schedule")
    request = json.loads(schedule.inputs["target"]["input"])
    job = accepted(
        batch,
        jobName=request["JobName"],
        jobQueue=request["JobQueue"],
        jobDefinition=request["JobDefinition"],
    )
    assert job["jobDefinition"].endswith(f":job-definition/{DEFINITIONS[kind]}:1"), (
        f"the {kind} schedule's request ran {job['jobDefinition']}"
    )
    assert job["jobQueue"] == request["JobQueue"]
    assert job["container"]["command"] == ["python", "-m", f"retrain_job.{kind}"]


def test_the_monitor_can_submit_the_retrain_job_it_is_told_about(batch: Any, dev_program: Program) -> None:
    properties = json.loads(dev_program.one(JOB_DEFINITION, "jobs-monitor").inputs["containerProperties"])
    env = {pair["name"]: pair["value"] for pair in properties["environment"]}
    job = accepted(
        batch,
        jobName="retrain-on-drift",
        jobQueue=env["RETRAIN_JOB_QUEUE"],
        jobDefinition=env["RETRAIN_JOB_DEFINITION"],
    )
    retrain = generated_name("jobs-retrain")
    assert f":job-definition/{retrain}:" in job["jobDefinition"], "monitor would submit another job"


@pytest.mark.parametrize("kind", KINDS)
def test_the_exported_submit_command_is_accepted(batch: Any, dev_program: Program, kind: str) -> None:
    words = shlex.split(dev_program.outputs[f"{kind}SubmitCommand"])
    assert words[:3] == ["aws", "batch", "submit-job"], f"not a submit-job command: {words}"
    options = dict(zip(words[3::2], words[4::2], strict=True))
    assert options["--region"] == REGION
    job = accepted(
        batch,
        jobName=options["--job-name"],
        jobQueue=options["--job-queue"],
        jobDefinition=options["--job-definition"],
    )
    assert job["jobName"] == f"{kind}-manual"


def test_registered_definitions_keep_retry_and_timeout(batch: Any, dev_program: Program) -> None:
    for kind in KINDS:
        name = registration(dev_program, kind)["jobDefinitionName"]
        (definition,) = batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"]
        last = definition["retryStrategy"]["evaluateOnExit"][-1]
        # Batch reads actions case-insensitively (and moto stores them lower-cased).
        assert (last["onExitCode"], last["action"].upper()) == ("*", "EXIT"), (
            f"{kind}: jobs that exited with a code may be retried: {last}"
        )
        assert definition["timeout"]["attemptDurationSeconds"] > 0, f"{kind}: no timeout"
        assert definition["platformCapabilities"] == ["FARGATE"]
