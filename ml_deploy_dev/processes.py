"""The jobs in processes of their own, as Batch runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable


def run_job(module: str, environment: dict[str, str], say: Callable[[str], None]) -> int:
    """Run a job as Batch does: its own process, configured by environment variables."""
    say(f"$ python -m {module}")
    completed = subprocess.run(
        [sys.executable, "-m", module],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    for line in (completed.stdout + completed.stderr).strip().splitlines()[-12:]:
        say(f"  | {line}")
    say(f"exit status {completed.returncode}")
    return completed.returncode
