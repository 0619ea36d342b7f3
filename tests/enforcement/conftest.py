"""moto with IAM enforcement, laid out as the rendered stack: its buckets, topics, queue, job definitions.

Setup runs with enforcement off (as the account's administrator would); only the runtime runs
with it on, under an IAM user whose one policy is its rendered role's (moto cannot assume an ECS
task role, an access key of a user holding the same document is the closest it enforces).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.core import enable_iam_authentication

from ml_deploy_dev.program import REGION, Program
from tests.enforcement.aws_calls import Call, CallRecorder
from tests.enforcement.rendered import RuntimeRole, moto_view, stack_facts, unproven

ADMIN = {"aws_access_key_id": "admin", "aws_secret_access_key": "admin", "region_name": REGION}


def pytest_configure(config: pytest.Config) -> None:
    # As in tests/service: Starlette nudges TestClient users towards httpx2; the pinned httpx works.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


@dataclass
class EnforcedAws:
    """moto laid out as the rendered stack; `running_as` turns enforcement on for one runtime."""

    program: Program
    recorder: CallRecorder
    monkeypatch: pytest.MonkeyPatch
    _keys: dict[str, tuple[str, str]] = field(default_factory=dict)

    def admin(self, service: str) -> Any:
        """A client for setup and checks: never recorded, never enforced."""
        return boto3.client(service, **ADMIN)

    @property
    def calls(self) -> list[Call]:
        return self.recorder.calls

    @contextmanager
    def running_as(self, role: RuntimeRole, **environment: str) -> Iterator[None]:
        """Run the block with `role`'s environment (plus overrides), under its policy, recorded."""
        key_id, secret = self._access_key(role)
        for name, value in {**role.environment, **environment}.items():
            self.monkeypatch.setenv(name, value)
        self.monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
        self.monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        self.monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
        with enable_iam_authentication(), self.recorder.recording():
            yield

    def unproven(self, role: RuntimeRole) -> list[str]:
        """Every recorded call the role's rendered policy does not prove allowed."""
        batch = self.admin("batch")

        def latest_revision(name: str) -> int:
            found = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
            assert found, f"no active job definition {name} in moto"
            return max(int(d["revision"]) for d in found)

        facts = stack_facts(self.program, job_definition_revision=latest_revision)
        return unproven(self.calls, role=role, stack=facts)

    def _access_key(self, role: RuntimeRole) -> tuple[str, str]:
        if role.name not in self._keys:
            iam = self.admin("iam")
            iam.create_user(UserName=role.name)
            document = json.dumps(moto_view(role.policy))
            iam.put_user_policy(UserName=role.name, PolicyName=role.name, PolicyDocument=document)
            key = iam.create_access_key(UserName=role.name)["AccessKey"]
            self._keys[role.name] = (key["AccessKeyId"], key["SecretAccessKey"])
        return self._keys[role.name]


def _no_pipeline_history(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    """What CodePipeline answers for a pipeline that has run nothing yet. moto has no execution API
    (`list_action_executions` raises NotImplementedError), so this answers instead; the call is
    still recorded and held to the role by the offline evaluation (`aws_calls.REQUIREMENTS`)."""
    answer = AWSResponse("https://codepipeline.amazonaws.com/", 200, {}, None)
    return answer, {"actionExecutionDetails": [], "ResponseMetadata": {"HTTPStatusCode": 200}}


@pytest.fixture
def enforced(dev_program: Program, monkeypatch: pytest.MonkeyPatch) -> Iterator[EnforcedAws]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    recorder = CallRecorder()
    recorder.install(monkeypatch)
    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [
            *botocore.handlers.BUILTIN_HANDLERS,
            ("before-call.codepipeline.ListActionExecutions", _no_pipeline_history),
        ],
    )
    with mock_aws(config={"batch": {"use_docker": False}}):
        world = EnforcedAws(program=dev_program, recorder=recorder, monkeypatch=monkeypatch)
        _lay_out(world)
        yield world


def _lay_out(world: EnforcedAws) -> None:
    """Every bucket, topic, job queue and job definition of the stack, by its rendered name."""
    program, s3 = world.program, world.admin("s3")
    for bucket in program.of_type("aws:s3/bucket:Bucket"):
        s3.create_bucket(
            Bucket=bucket.state["bucket"], CreateBucketConfiguration={"LocationConstraint": REGION}
        )
    for versioning in program.of_type("aws:s3/bucketVersioning:BucketVersioning"):
        status = versioning.inputs["versioningConfiguration"]["status"]
        s3.put_bucket_versioning(
            Bucket=versioning.inputs["bucket"], VersioningConfiguration={"Status": status}
        )
    sns = world.admin("sns")
    for topic in program.of_type("aws:sns/topic:Topic"):
        created = sns.create_topic(Name=topic.state["name"])["TopicArn"]
        assert created == topic.state["arn"], (
            f"moto names the topic {created}, the stack {topic.state['arn']}"
        )
    batch, iam = world.admin("batch"), world.admin("iam")
    service_role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    environment = batch.create_compute_environment(
        computeEnvironmentName="jobs", type="UNMANAGED", state="ENABLED", serviceRole=service_role
    )["computeEnvironmentArn"]
    for queue in program.of_type("aws:batch/jobQueue:JobQueue"):
        created = batch.create_job_queue(
            jobQueueName=queue.state["name"], state="ENABLED", priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
        )["jobQueueArn"]  # fmt: skip
        assert created == queue.state["arn"], (
            f"moto names the queue {created}, the stack {queue.state['arn']}"
        )
    for definition in program.of_type("aws:batch/jobDefinition:JobDefinition"):
        batch.register_job_definition(
            jobDefinitionName=definition.state["name"], type="container",
            containerProperties={"image": "jobs:latest", "vcpus": 1, "memory": 512},
        )  # fmt: skip
