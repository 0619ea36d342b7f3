"""One owner for the jobs image (infra/jobs/image.py): PromoteJobs records it, `pulumi up` reads it.

The replay: the program's first `pulumi up` (recorded under the mocks) is applied to moto's Batch
and SSM as the provider applies it; PromoteJobs then does what buildspec-promote-jobs.yml does
(put-parameter, describe, register); a settings change and a second `pulumi up` follow, its
changed job definitions registered as the provider registers an update: a new revision, which
becomes the latest ACTIVE one, the one the schedules and the monitor submit by name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pulumi_aws as aws
import pytest
from moto import mock_aws

from infra.jobs.image import PROMOTED_VALUE_INPUTS, _checked
from ml_deploy_dev.autonaming import generated_name
from ml_deploy_dev.program import ACCOUNT, REGION, Program, Resource, run_program
from retrain_job.job_revision import next_revision
from tests.infra.jobs.test_component import DEFINITIONS
from tests.infra.jobs.test_component_moto import registration

KINDS = ("retrain", "monitor")
PARAMETER = "aws:ssm/parameter:Parameter"
JOB_DEFINITION = "aws:batch/jobDefinition:JobDefinition"
JOBS_REPOSITORY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{generated_name('images-jobs')}"
PROMOTED_TAG = "0123456789ab-20261101T000000Z-0a1b2c3d"
# A job-definition update in terraform-provider-aws registers a new revision (and, with
# deregister_on_new_revision, the default, makes the revision it knew INACTIVE); it never sees the
# revisions others registered ("Resource: aws_batch_job_definition",
# https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/batch_job_definition).
CHANGED_SETTING = {"ml-deploy:psiThreshold": 0.3}


def image_parameter(program: Program) -> Resource:
    return program.one(PARAMETER, "jobs-image-tag")


@dataclass
class Account:
    """moto's Batch and SSM, holding what the stack's `pulumi up` runs registered."""

    batch: Any
    ssm: Any
    # kind -> the revision ARN the provider's state names (the one `pulumi up` registered last).
    known: dict[str, str]

    def apply(self, program: Program) -> None:
        """What `pulumi up` does to the job definitions and the parameter, as the provider does it."""
        parameter = image_parameter(program)
        name = parameter.state["name"]
        if not self.ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])[
            "Parameters"
        ]:
            self.ssm.put_parameter(Name=name, Type="String", Value=parameter.inputs["insecureValue"])
        for kind in KINDS:
            request = registration(program, kind)
            if self.known.get(kind) and self._registered(kind) == request["containerProperties"]:
                continue  # no diff, no update
            if self.known.get(kind):
                self.batch.deregister_job_definition(jobDefinition=self.known[kind])
            self.known[kind] = self.batch.register_job_definition(**request)["jobDefinitionArn"]

    def _registered(self, kind: str) -> dict[str, Any]:
        (known,) = self.batch.describe_job_definitions(jobDefinitions=[self.known[kind]])["jobDefinitions"]
        properties: dict[str, Any] = known["containerProperties"]
        return properties

    def promote(self, *, parameter_name: str, tag: str) -> None:
        """buildspec-promote-jobs.yml: record the tag, then the next revision of each definition."""
        self.ssm.put_parameter(Name=parameter_name, Type="String", Value=tag, Overwrite=True)
        for kind in KINDS:
            described = self.batch.describe_job_definitions(
                jobDefinitionName=DEFINITIONS[kind], status="ACTIVE"
            )
            described.pop("ResponseMetadata", None)
            self.batch.register_job_definition(**next_revision(described, f"{JOBS_REPOSITORY}:{tag}"))

    def _active(self, kind: str) -> dict[str, Any]:
        name = DEFINITIONS[kind]  # the job definition's physical name
        found: dict[str, Any] = self.batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
        return found

    def latest_active(self, kind: str) -> dict[str, Any]:
        described = self.batch.describe_job_definitions(jobDefinitionName=DEFINITIONS[kind], status="ACTIVE")
        latest: dict[str, Any] = max(described["jobDefinitions"], key=lambda d: d["revision"])
        return latest


@pytest.fixture
def account() -> Iterator[Account]:
    with mock_aws(config={"batch": {"use_docker": False}}):
        yield Account(
            batch=boto3.client("batch", region_name=REGION),
            ssm=boto3.client("ssm", region_name=REGION),
            known={},
        )


def test_a_settings_change_after_a_promotion_keeps_the_promoted_image(
    account: Account, dev_program: Program
) -> None:
    account.apply(dev_program)
    name = image_parameter(dev_program).state["name"]
    account.promote(parameter_name=name, tag=PROMOTED_TAG)
    recorded = account.ssm.get_parameter(Name=name)["Parameter"]["Value"]

    after = run_program(overrides=CHANGED_SETTING, parameters={name: recorded})
    account.apply(after)

    for kind in KINDS:
        latest = account.latest_active(kind)
        assert latest["containerProperties"]["image"] == f"{JOBS_REPOSITORY}:{PROMOTED_TAG}", (
            f"jobs-{kind}: after promote then `pulumi up`, revision {latest['revision']} runs "
            f"{latest['containerProperties']['image']}, not the promoted image (CannotPullContainerError)"
        )
        assert latest["revision"] == 3, f"jobs-{kind}: the settings change registered no revision"
    monitor = {
        e["name"]: e["value"] for e in account.latest_active("monitor")["containerProperties"]["environment"]
    }
    assert monitor["PSI_THRESHOLD"] == "0.3", "the newest revision lost the settings change"


def test_the_stack_seeds_the_parameter_with_jobs_image_tag_and_never_writes_it_again() -> None:
    program = run_program(overrides={"ml-deploy:jobsImageTag": "a1b2c3d-model-7"})
    parameter = image_parameter(program)
    assert parameter.inputs["type"] == "String", "an image tag is no secret: no KMS grant to read it"
    assert parameter.inputs["insecureValue"] == "a1b2c3d-model-7", "jobsImageTag does not seed the parameter"
    assert parameter.ignore_changes == PROMOTED_VALUE_INPUTS == ["insecureValue"], (
        "a `pulumi up` would write jobsImageTag over the tag PromoteJobs recorded"
    )
    for kind in KINDS:
        image = json.loads(program.one(JOB_DEFINITION, f"jobs-{kind}").inputs["containerProperties"])["image"]
        assert image == f"{JOBS_REPOSITORY}:a1b2c3d-model-7", f"jobs-{kind} runs {image} before any promotion"


def test_the_recorded_tag_wins_over_jobs_image_tag(dev_program: Program) -> None:
    name = image_parameter(dev_program).state["name"]
    program = run_program(overrides={"ml-deploy:jobsImageTag": "older"}, parameters={name: PROMOTED_TAG})
    for kind in KINDS:
        image = json.loads(program.one(JOB_DEFINITION, f"jobs-{kind}").inputs["containerProperties"])["image"]
        assert image == f"{JOBS_REPOSITORY}:{PROMOTED_TAG}", f"jobs-{kind} runs {image}, not the recorded tag"


def test_a_parameter_holding_no_image_tag_is_refused_naming_it() -> None:
    """The check the program applies to what it reads (a program failing inside an apply leaves the
    mocks' runtime hung for the next run, so the check is called here as the apply calls it)."""
    read = aws.ssm.GetParameterResult(
        arn="arn", id="jobs-image-tag", insecure_value="latest", name="jobs-image-tag",
        region=REGION, type="String", value="latest", version=2, with_decryption=True,
    )  # fmt: skip
    with pytest.raises(
        ValueError, match=r"SSM parameter jobs-image-tag \(the promoted jobs image tag\) holds 'latest'"
    ):
        _checked(read)
