"""What the pipeline settings mean and accept: where the code comes from and how the pipeline runs.

Read into `PipelineConfig` by `infra/config.py`; `infra/delivery/` gets this section only.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.section import Section, check_arn, check_emails

# What git refuses in a branch name (`git check-ref-format --branch`, rules 3-10 of
# https://git-scm.com/docs/git-check-ref-format): the pipeline's source action and its push
# trigger name the branch, and a name git cannot have would never start the pipeline.
BRANCH_REFUSED = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def check_branch(value: str) -> str:
    components = value.split("/")
    if (
        value in ("", "@")
        or value.startswith(("-", "/"))
        or value.endswith(("/", "."))
        or BRANCH_REFUSED.search(value)
        or any(part.startswith(".") or part.endswith(".lock") for part in components)
    ):
        raise ValueError(
            f"{value!r} is not a git branch name: no spaces, control characters, ~ ^ : ? * [ \\, "
            "'..', '@{' or '//'; no component starting with '.' or ending with '.lock'; "
            "not starting with '-' or '/' nor ending with '/' or '.'"
        )
    return value


# GitHub: an account name of letters, digits and single inner hyphens (at most 39), a repository
# name of letters, digits, '.', '_' and '-' (at most 100). CodeCommit: 1-100 of letters, digits,
# '.', '_', '-', not ending in .git ("Quotas in AWS CodeCommit",
# https://docs.aws.amazon.com/codecommit/latest/userguide/limits.html).
GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}/[\w.-]{1,100}")
CODECOMMIT_REPOSITORY = re.compile(r"[\w.-]{1,100}")


def check_repository(value: str, *, source: str) -> str:
    if source == "github":
        if not GITHUB_REPOSITORY.fullmatch(value) or value.rpartition("/")[2] in (".", ".."):
            raise ValueError("must be 'owner/name' when codeSource is github")
    elif not CODECOMMIT_REPOSITORY.fullmatch(value) or value.endswith(".git"):
        raise ValueError(
            "must be a CodeCommit repository name when codeSource is codecommit: 1-100 letters, "
            "digits, '.', '_', '-', not ending in .git"
        )
    return value


class PipelineConfig(Section):
    """Where the code comes from and how the pipeline runs."""

    code_source: Literal["github", "codecommit"] = Field("github", description="Code source provider.")
    code_repository: str = Field(
        ...,
        json_schema_extra={"accepts": "`owner/name` (github) or a CodeCommit repository name"},
        description="GitHub 'owner/name', or the CodeCommit repository name.",
    )
    code_branch: str = Field(
        "main",
        json_schema_extra={"accepts": "a name `git check-ref-format --branch` accepts"},
        description="Branch whose pushes start the pipeline (a name git accepts).",
    )
    code_connection_arn: str | None = Field(
        None,
        json_schema_extra={"accepts": "a CodeConnections connection ARN"},
        description="Existing CodeConnections connection; one is created (pending handshake) if unset.",
    )
    pipeline_execution_mode: Literal["QUEUED", "SUPERSEDED"] = Field(
        "QUEUED", description="CodePipeline V2 execution mode."
    )
    build_timeout_minutes: int = Field(60, ge=5, le=480, description="CodeBuild timeout.")
    approval_emails: list[str] = Field(
        default_factory=list,
        json_schema_extra={"accepts": "email addresses"},
        description="Who is asked to approve prod deploys.",
    )

    @field_validator("approval_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return check_emails(value)

    @field_validator("code_branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        return check_branch(value)

    @field_validator("code_connection_arn")
    @classmethod
    def _connection_arn(cls, value: str | None) -> str | None:
        # Connections made before the service's rename keep their codestar-connections ARN.
        services = ("codeconnections", "codestar-connections")
        if value is None:
            return None
        return check_arn(value, kind="a CodeConnections", services=services, resource="connection")

    @model_validator(mode="after")
    def _repository_of_its_source(self) -> PipelineConfig:
        try:
            check_repository(self.code_repository, source=self.code_source)
        except ValueError as problem:
            raise ValueError(f"codeRepository {problem}") from None
        return self
