"""How the commands print times, facts of an execution and missing values."""

from __future__ import annotations

from datetime import UTC, datetime

from ml_deploy_cli.delivery import ExecutionFacts

NONE = "-"


def moment(value: datetime | None) -> str:
    """`2026-11-23 10:15Z`: minutes are enough to tell executions and deploys apart."""
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%MZ}" if value else NONE


def facts_line(facts: ExecutionFacts) -> str:
    """`commit 1a2b3c4d5e6f, model 20261123T101500Z-3f9a1c2b (object version ...)`."""
    commit = facts.commit[:12] if facts.commit else NONE
    line = f"commit {commit}, model {facts.model_version or NONE}"
    if facts.model_object_version:
        line += f" (object version {facts.model_object_version})"
    return line


def who(arn: str | None) -> str:
    """The person of an IAM/STS ARN (`.../assumed-role/Operators/jane` -> `jane`)."""
    return arn.rsplit("/", 1)[-1] if arn else "unknown"
