"""`ml-deploy bootstrap`'s preflight: the account's CodeBuild concurrency and Fargate vCPU quotas
(src/ml_deploy_cli/aws/quotas.py), read through Service Quotas behind the Stubber, via `main`."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ml_deploy_cli.aws.quotas import FIRST_RUN_NEEDS, shortfalls
from ml_deploy_dev.program import FIRST_BUILD_IMAGES, Program
from tests.cli.conftest import MODEL_BUCKET, Stack
from tests.cli.quota_shapes import enough, quotas_client
from tests.infra.shared_program import shared_program

# The quota codes, as Service Quotas lists them (`aws service-quotas list-service-quotas
# --service-code codebuild|fargate`); names as "Quotas for AWS CodeBuild"
# (https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html) and "Amazon ECS service quotas"
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html) print them.
DOCUMENTED = {
    ("codebuild", "L-2DC20C30"): "Concurrently running builds for Linux/Medium environment",
    ("codebuild", "L-9D07B6EF"): "Concurrently running builds for Linux/Small environment",
    ("fargate", "L-3032A538"): "Fargate On-Demand vCPU resource count",
    ("fargate", "L-36FBB829"): "Fargate Spot vCPU resource count",
}
# Compute type -> the environment its concurrency quota names ("Build environment compute modes and
# types", https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-compute-types.html).
QUOTA_OF_COMPUTE_TYPE = {
    "BUILD_GENERAL1_SMALL": "Concurrently running builds for Linux/Small environment",
    "BUILD_GENERAL1_MEDIUM": "Concurrently running builds for Linux/Medium environment",
}
FRESH_ACCOUNT = {"L-2DC20C30": 0.0, "L-9D07B6EF": 1.0, "L-3032A538": 4.0}


@pytest.fixture(scope="module")
def serving_program() -> Program:
    """The dev stack once the pipeline pushed its images (the services' floors raised)."""
    return shared_program(images=FIRST_BUILD_IMAGES)


def need(code: str) -> float:
    return next(n.needed for n in FIRST_RUN_NEEDS if n.quota_code == code)


def test_the_quotas_checked_are_the_documented_ones() -> None:
    assert {(n.service_code, n.quota_code): n.name for n in FIRST_RUN_NEEDS} == DOCUMENTED


def test_the_needs_are_what_the_dev_stack_runs_at_once(serving_program: Program) -> None:
    types = {
        p.inputs["environment"]["computeType"]
        for p in serving_program.of_type("aws:codebuild/project:Project")
    }
    checked = {n.name for n in FIRST_RUN_NEEDS if n.service_code == "codebuild"}
    assert {QUOTA_OF_COMPUTE_TYPE[t] for t in types} == checked, f"the projects run on {sorted(types)}"
    floors = {
        r.name.removesuffix("-scaling"): r.inputs["minCapacity"]
        for r in serving_program.of_type("aws:appautoscaling/target:Target")
    }
    cpus = {
        r.name.removesuffix("-task"): int(r.inputs["cpu"]) / 1024
        for r in serving_program.of_type("aws:ecs/taskDefinition:TaskDefinition")
    }
    # A blue/green or canary deploy runs the new revision beside the old one.
    assert need("L-3032A538") == 2 * sum(floors[env] * cpus[env] for env in floors), f"{floors} x {cpus}"
    compute = serving_program.one("aws:batch/computeEnvironment:ComputeEnvironment")
    assert compute.inputs["computeResources"]["type"] == "FARGATE_SPOT", "the dev jobs run on Spot"
    vcpus = [
        float(requirement["value"])
        for definition in serving_program.of_type("aws:batch/jobDefinition:JobDefinition")
        for requirement in json.loads(definition.inputs["containerProperties"])["resourceRequirements"]
        if requirement["type"] == "VCPU"
    ]
    assert need("L-36FBB829") == sum(vcpus), f"the jobs take {vcpus} vCPU"


def test_a_fresh_account_is_told_what_to_raise_before_anything_ships(stack: Stack) -> None:
    """CodeBuild Medium at 0 (StartBuild would fail), On-Demand Fargate at 4, Spot never applied (0)."""
    stack.clients["service-quotas"], quotas = quotas_client(FRESH_ACCOUNT, defaults={"L-36FBB829": 0.0})

    result = stack.cli("bootstrap", "--poll-seconds", "0.1", "--timeout-minutes", "0.1")

    assert result.code != 0, "bootstrap went on with quotas a first run cannot run on"
    (line,) = result.err.strip().splitlines()
    raises = re.findall(r"raise [^;]+", line)
    assert len(raises) == 3, f"expected each quota short named in one line: {result.err}"
    medium, on_demand, spot = raises
    assert medium.startswith(
        "raise codebuild 'Concurrently running builds for Linux/Medium environment' (L-2DC20C30)"
    )
    assert "from 0 to at least 1" in medium
    assert "--service-code codebuild --quota-code L-2DC20C30 --desired-value 1" in medium
    assert "(L-3032A538) in eu-west-1 from 4 to at least 5 for stage's and prod's tasks" in on_demand
    assert "(L-36FBB829)" in spot and "from 0 to at least 4" in spot
    assert "Linux/Small" not in result.err, "a quota at what the run needs is reported"
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=MODEL_BUCKET), (
        "something shipped before the preflight"
    )
    quotas.assert_no_pending_responses()


def test_enough_quota_reports_nothing_to_raise() -> None:
    client, stubber = quotas_client(enough())
    assert shortfalls(client) == []
    stubber.assert_no_pending_responses()


def test_without_access_to_service_quotas_the_check_steps_aside() -> None:
    client, _ = quotas_client({}, denied=True)
    found: Any = shortfalls(client)
    assert found is None, "a role without servicequotas:GetServiceQuota must not block the bootstrap"
