"""The local deploy's lifecycle hook: run where ECS calls it, its verdict decides the deployment."""

from __future__ import annotations

import sys

import pytest

from ml_deploy_cli.local.records import Hook
from ml_deploy_dev.delivery.ecs import run_lifecycle_hook
from ml_deploy_dev.delivery.tasks import TaskError

SHOW_TEST_URL = (
    "import os, sys; print('checked', os.environ['TEST_URL'], os.environ['ENVIRONMENT']); sys.exit({})"
)


def hook(code: int) -> Hook:
    command = [sys.executable, "-c", SHOW_TEST_URL.format(code)]
    return Hook(command=command, environment={"ENVIRONMENT": "stage"})


def test_a_passing_hook_is_shown_and_lets_the_deployment_go_on(capsys: pytest.CaptureFixture[str]) -> None:
    run_lifecycle_hook(hook(0), test_url="http://127.0.0.1:5001")
    assert capsys.readouterr().out == "checked http://127.0.0.1:5001 stage\n"


def test_a_failing_hook_fails_the_deployment_with_its_last_line() -> None:
    with pytest.raises(TaskError, match=r"lifecycle hook failed \(1\): checked http://127.0.0.1:5002 stage"):
        run_lifecycle_hook(hook(1), test_url="http://127.0.0.1:5002")


def test_no_hook_is_no_check() -> None:
    run_lifecycle_hook(None, test_url="http://127.0.0.1:5003")
