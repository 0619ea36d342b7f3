"""`pulumi up`, run by the operator CLI when a step needs the program applied again.

The program reads facts of the account at every run (whether ECR holds a pushed image,
`infra/registry.py`), so applying it after the pipeline's first run is what starts the services'
tasks and the job schedules; nothing is written to the stack's config for CI to undo.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from ml_deploy_cli.errors import CliError

PULUMI_UP_TIMEOUT_SECONDS = 3600

Runner = Callable[[Sequence[str]], int]


def pulumi_up(*, stack: str | None, run: Runner | None = None) -> str:
    """`pulumi up --yes --skip-preview [--stack S]` here, its output shown; CliError when it fails."""
    command = ["pulumi", "up", "--yes", "--skip-preview", *(["--stack", stack] if stack else [])]
    try:
        code = (run or _run)(command)
    except FileNotFoundError:
        raise CliError(
            "the pulumi CLI is not installed here: run `pulumi up` where it is, then "
            "`ml-deploy bootstrap` again (it goes on from where it stopped)"
        ) from None
    if code != 0:
        raise CliError(f"`{' '.join(command)}` failed (exit {code}); its output above says why")
    return (
        f"applied the program (`{' '.join(command)}`): ECR holds the pushed images, so both services' "
        "autoscaling floors rose to minCount and the job schedules are enabled"
    )


def _run(command: Sequence[str]) -> int:
    return subprocess.run(list(command), check=False, timeout=PULUMI_UP_TIMEOUT_SECONDS).returncode
