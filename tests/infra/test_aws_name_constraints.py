"""Names, name prefixes and descriptions the program registers, against what Pulumi and AWS accept.

The mocks never call AWS, so a name AWS refuses (or one pulumi-aws refuses to generate) would
first fail at `pulumi up`. Here the program runs with pulumi-aws's generated names
(`ml_deploy_dev.autonaming`) and every such value is checked against `aws_name_constraints`.
"""

from __future__ import annotations

import pytest

from infra.serving.ingress import target_group_name
from ml_deploy_dev.autonaming import PREFIXED_UNIQUE_ID_LENGTH, autoname_of, physical_name
from ml_deploy_dev.program import Program, Resource, run_program
from tests.infra.aws_name_constraints import PREFIX_OF, limit_for

TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
BUCKET = "aws:s3/bucket:Bucket"
# The inputs that name or describe a resource to AWS.
CHECKED_INPUTS = (
    "name",
    "namePrefix",
    "bucket",
    "bucketPrefix",
    "description",
    "family",
    "dashboardName",
    "targetId",
)
# A stack name as long as teams write them (Pulumi allows up to 100 characters).
LONG_STACK = "payments-team-eu-central-production-blue-2026"


def _checked_values(resource: Resource) -> list[tuple[str, str]]:
    """(field AWS sees, value): a name prefix counts with the 26 characters the provider adds."""
    values = []
    for key in CHECKED_INPUTS:
        value = resource.inputs.get(key)
        # Only a bucket names itself with `bucket`; its policy, versioning... refer to it.
        if not isinstance(value, str) or (key == "bucket" and resource.type != BUCKET):
            continue
        if key in PREFIX_OF:
            values.append((PREFIX_OF[key], value + "x" * PREFIXED_UNIQUE_ID_LENGTH))
        else:
            values.append((key, value))
    return values


def _violations(program: Program) -> list[str]:
    found = []
    for resource in program.resources:
        if not resource.type.startswith("aws:"):
            continue
        for key, value in _checked_values(resource):
            limit = limit_for(resource.type, key)
            if limit is None:
                found.append(f"{resource.type} {resource.name}: no known constraint for {key}={value!r}")
                continue
            found += [
                f"{resource.type} {resource.name}: {key}={value!r}: {problem} ({limit.source})"
                for problem in limit.problems(value)
            ]
    return found


def test_every_name_and_description_is_one_aws_accepts(dev_program: Program) -> None:
    violations = _violations(dev_program)
    assert not violations, "AWS would refuse:\n" + "\n".join(violations)


def test_every_generated_name_fits_the_maximum_pulumi_aws_generates(dev_program: Program) -> None:
    too_long = []
    for resource in dev_program.resources:
        if resource.autonamed is None:
            continue
        rule = autoname_of(resource.type)
        assert rule is not None
        value = resource.inputs[resource.autonamed]
        if len(value) > rule.max_length:
            too_long.append(f"{resource.type} {resource.name}: {value!r} is over {rule.max_length}")
    assert not too_long, "pulumi preview would refuse (name plus 7 random chars too long):\n" + "\n".join(
        too_long
    )


def test_a_long_stack_name_keeps_every_name_valid_and_target_groups_distinct() -> None:
    program = run_program(stack=LONG_STACK)
    violations = _violations(program)
    assert not violations, f"with stack {LONG_STACK} AWS would refuse:\n" + "\n".join(violations)
    names = [group.inputs["name"] for group in program.of_type(TARGET_GROUP)]
    assert len(set(names)) == len(names) == 4, f"target group names collide: {names}"


@pytest.mark.parametrize("stack", ["dev", "team_a.prod", LONG_STACK, "s" * 100])
def test_target_group_names_are_valid_for_any_stack_name_pulumi_allows(stack: str) -> None:
    """Stack names hold letters, digits, `-`, `_` and `.` (https://pulumi.com/docs/iac/concepts/stacks);
    target group names take no `_` or `.`, and 100 characters stands for any length."""
    limit = limit_for(TARGET_GROUP, "name")
    assert limit is not None
    for environment in ("stage", "prod"):
        for slot in ("a", "b"):
            name = target_group_name(stack=stack, environment=environment, slot=slot)
            assert not limit.problems(name), (name, limit.problems(name))


def test_long_stack_names_sharing_a_beginning_get_different_target_groups() -> None:
    first, second = (
        target_group_name(stack=f"{LONG_STACK}-{n}", environment="stage", slot="a") for n in (1, 2)
    )
    assert first != second and len(first) <= 32 and len(second) <= 32, (first, second)


# --- the mocks name resources as pulumi-aws does ----------------------------------------------


def test_an_unnamed_resource_gets_its_logical_name_and_seven_hex_characters() -> None:
    generated = physical_name(TARGET_GROUP, "serving-stage-tg", {})["name"]
    prefix, suffix = generated.rsplit("-", 1)
    assert prefix == "serving-stage-tg" and len(suffix) == 7 and set(suffix) <= set("0123456789abcdef")


def test_an_explicit_name_is_kept_and_a_prefix_gets_the_providers_unique_id() -> None:
    assert physical_name(TARGET_GROUP, "tg", {"name": "given"}) == {}
    prefixed = physical_name(TARGET_GROUP, "tg", {"namePrefix": "stg-"})["name"]
    assert prefixed.startswith("stg-") and len(prefixed) == 4 + PREFIXED_UNIQUE_ID_LENGTH


def test_bucket_names_are_generated_lower_case_and_unnamed_types_get_none() -> None:
    assert physical_name("aws:s3/bucket:Bucket", "Models", {})["bucket"].startswith("models-")
    assert physical_name("aws:ec2/vpc:Vpc", "network-vpc", {}) == {}
    assert physical_name("aws:kms/alias:Alias", "key", {})["name"].startswith("alias/key-")
