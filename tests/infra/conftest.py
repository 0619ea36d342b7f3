"""Fixtures for the infra tests: the dev stack's program, run once under the mocks."""

from __future__ import annotations

import pytest

from ml_deploy_dev.program import Program, run_program


@pytest.fixture(scope="session")
def dev_program() -> Program:
    """Everything `pulumi up -s dev` would register, recorded once per test session."""
    return run_program()
