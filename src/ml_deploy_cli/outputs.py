"""Where the CLI learns the stack's names: its Pulumi stack outputs.

From a file written by ``pulumi stack output --json > outputs.json`` (``--outputs FILE`` or
``ML_DEPLOY_OUTPUTS``), or else by running that command itself. Keys are read when a command needs
them, so a file missing one key fails only the commands that use it, naming the key.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy_cli.errors import CliError

OUTPUTS_VARIABLE = "ML_DEPLOY_OUTPUTS"
# Outputs whose ARN names the stack's region (`arn:aws:<service>:<region>:...`).
_REGIONAL_ARNS = ("kmsKeyArn", "alertsTopicArn", "approvalTopicArn")

# `pulumi stack output` answers in seconds; longer means it waits on something (a passphrase prompt,
# a backend login) that cannot come: stdin is closed and the wait is cut short.
PULUMI_TIMEOUT_SECONDS = 30.0

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class StackOutputs:
    """The stack outputs as read, and where they came from (for error messages)."""

    values: Mapping[str, Any]
    source: str

    def require(self, key: str) -> str:
        """A string output the command cannot work without."""
        value = self.values.get(key)
        if not isinstance(value, str) or not value:
            raise CliError(
                f"{self.source} has no stack output {key!r}; is it the output of this stack's "
                f"`pulumi stack output --json`?"
            )
        return value

    def prefix(self, key: str, default: str) -> str:
        """A prefix the stack may export; the runtime layout's default otherwise."""
        value = self.values.get(key)
        return value if isinstance(value, str) and value else default

    @property
    def decisions_prefix(self) -> str:
        return self.prefix("decisionsPrefix", DEFAULT_LAYOUT.decisions_prefix)

    @property
    def reports_prefix(self) -> str:
        return self.prefix("reportsPrefix", DEFAULT_LAYOUT.reports_prefix)

    @property
    def region(self) -> str | None:
        """The stack's region, read from an ARN it exports; None when it exports none."""
        for key in _REGIONAL_ARNS:
            parts = str(self.values.get(key) or "").split(":")
            if len(parts) > 4 and parts[0] == "arn" and parts[3]:
                return parts[3]
        return None


def load_outputs(
    path: Path | None,
    *,
    environ: Mapping[str, str],
    stack: str | None = None,
    run: Runner | None = None,
) -> StackOutputs:
    """Outputs from `path`, else from $ML_DEPLOY_OUTPUTS, else from `pulumi stack output --json`."""
    if path is None and environ.get(OUTPUTS_VARIABLE):
        path = Path(environ[OUTPUTS_VARIABLE])
    if path is not None:
        return _from_file(path)
    return _from_pulumi(stack, run or _run)


def _from_file(path: Path) -> StackOutputs:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read stack outputs {path}: {error.strerror or error}") from None
    return StackOutputs(values=_parse(text, str(path)), source=str(path))


def _from_pulumi(stack: str | None, run: Runner) -> StackOutputs:
    command = ["pulumi", "stack", "output", "--json", *(["--stack", stack] if stack else [])]
    try:
        result = run(command)
    except FileNotFoundError:
        raise CliError(
            "no stack outputs: pass --outputs FILE or set ML_DEPLOY_OUTPUTS to a file written by "
            "`pulumi stack output --json > outputs.json` (the pulumi CLI is not installed here)"
        ) from None
    except subprocess.TimeoutExpired:
        raise CliError(
            f"`{' '.join(command)}` gave no answer within {PULUMI_TIMEOUT_SECONDS:g} s (is it waiting for "
            "a passphrase or a login?): set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE, "
            "or pass --outputs FILE written by `pulumi stack output --json > outputs.json`"
        ) from None
    if result.returncode != 0:
        lines = (result.stderr or "").strip().splitlines()
        raise CliError(f"`{' '.join(command)}` failed: {lines[-1] if lines else f'exit {result.returncode}'}")
    return StackOutputs(values=_parse(result.stdout, "`pulumi stack output --json`"), source="pulumi stack")


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        message = f"{source} is not JSON ({error}); write it with `pulumi stack output --json`"
        raise CliError(message) from None
    if not isinstance(document, dict):
        raise CliError(f"{source} must be a JSON object of stack outputs")
    return document


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run with stdin closed (a prompt reads end-of-file and fails) and a short timeout."""
    return subprocess.run(
        list(command),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=PULUMI_TIMEOUT_SECONDS,
    )
