"""`ml-deploy rollback ENV` against moto's ECS: revisions of the family are the deploy history."""

from __future__ import annotations

from tests.cli.conftest import Stack

GOOD = "1a2b3c4d5e6f-20261116T030000Z-bbbbbbbb"
BAD = "9f8e7d6c5b4a-20261123T101500Z-3f9a1c2b"


def test_rollback_returns_to_the_image_before_the_current_one(stack: Stack) -> None:
    stack.deploy("prod", GOOD)  # revision 2
    stack.deploy("prod", BAD)  # revision 3

    result = stack.cli("rollback", "prod")

    assert result.code == 0, result.err
    assert stack.service_revision("prod") == "ml-deploy-dev-prod:2"
    assert (
        f"prod: rolling back ml-deploy-dev-prod from ml-deploy-dev-prod:3 ({BAD}) "
        f"to ml-deploy-dev-prod:2 ({GOOD})"
    ) in result.out
    assert stack.service_revision("stage") == "ml-deploy-dev-stage:1", "stage must not move"


def test_rollback_skips_revisions_that_changed_only_settings(stack: Stack) -> None:
    stack.deploy("stage", GOOD)  # 2
    stack.deploy("stage", BAD)  # 3
    stack.deploy("stage", BAD, cpu="1024")  # 4: same image, new settings

    result = stack.cli("rollback", "stage")

    assert result.code == 0, result.err
    assert stack.service_revision("stage") == "ml-deploy-dev-stage:2"


def test_rolling_back_twice_goes_further_back(stack: Stack) -> None:
    stack.deploy("prod", GOOD)  # 2
    stack.deploy("prod", BAD)  # 3
    assert stack.cli("rollback", "prod").code == 0

    result = stack.cli("rollback", "prod")

    assert result.code == 0, result.err
    assert stack.service_revision("prod") == "ml-deploy-dev-prod:1"
    assert "to ml-deploy-dev-prod:1 (bootstrap)" in result.out


def test_no_earlier_image_is_a_clear_error(stack: Stack) -> None:
    result = stack.cli("rollback", "prod")

    assert result.code == 1
    assert result.err.strip() == (
        "ml-deploy: rollback: prod: no earlier ACTIVE revision of task family ml-deploy-dev-prod runs "
        "an image other than bootstrap; nothing to roll back to"
    )
    assert stack.service_revision("prod") == "ml-deploy-dev-prod:1"


def test_an_unknown_environment_is_a_usage_error(stack: Stack) -> None:
    result = stack.cli("rollback", "qa")

    assert result.code == 2
    assert "invalid choice: 'qa'" in result.err
