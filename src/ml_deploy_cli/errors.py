"""The one exception meant for users, and the one-line form of every error `main` reports."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError


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
    elif isinstance(error, BotoCoreError):
        text = f"AWS: {error}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())
