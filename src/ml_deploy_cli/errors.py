"""The one exception meant for users, the exit codes `ml-deploy` documents, and the one-line form
of every error `main` reports."""

from __future__ import annotations

import textwrap
from enum import IntEnum

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound


class ExitCode(IntEnum):
    """What `ml-deploy` exits with; `EXIT_CODES` says when, and `--help` prints that table."""

    OK = 0
    FAILED = 1
    USAGE = 2
    BUG = 3
    INTERRUPTED = 130


EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "done (status: every section read)",
    ExitCode.FAILED: (
        "an error the one line names: a bad state or outputs file, a hung or absent pulumi, no "
        "credentials, AWS refusing or throttling a call after retries, an unknown execution, a failed "
        "job or deploy, a command --local refuses"
    ),
    ExitCode.USAGE: "a usage error: an unknown command, option, environment or a bad value",
    ExitCode.BUG: "a bug: an unexpected exception, in one line (ML_DEPLOY_DEBUG=1 shows the traceback)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); `status --watch` and `logs --follow` end with 0",
}


def exit_code_table() -> str:
    """The table `ml-deploy --help` ends with."""
    rows = (
        textwrap.fill(text, width=100, initial_indent=f"  {int(code):>3}  ", subsequent_indent=" " * 7)
        for code, text in EXIT_CODES.items()
    )
    return "exit codes:\n" + "\n".join(rows)


class CliError(Exception):
    """Something the operator can act on; the message names the input and what was expected."""


def one_line(error: Exception) -> str:
    """The error as one line: AWS errors name the call and the error code."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", "Error"), details.get("Message", "")
        text = f"AWS {error.operation_name} failed: {code}: {message}".rstrip(": ")
    elif isinstance(error, NoCredentialsError):
        text = (
            "no AWS credentials: set AWS_PROFILE (after `aws sso login`) or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY; --local works with the local delivery without any"
        )
    elif isinstance(error, ProfileNotFound):
        text = (
            f"AWS_PROFILE names profile {error.kwargs.get('profile')!r}, which the AWS config does not "
            "hold: `aws configure list-profiles` lists those it does"
        )
    elif isinstance(error, BotoCoreError):
        text = f"AWS: {error}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())
