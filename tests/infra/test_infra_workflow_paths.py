"""The infra workflow previews and applies the stack on every change that can change what the
program registers: every repository file the program imports, and what installs it."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "infra.yml"


def _filters() -> dict[str, list[str]]:
    triggers = yaml.safe_load(WORKFLOW.read_text())[True]  # YAML 1.1 reads the `on:` key as True
    return {event: triggers[event]["paths"] for event in ("pull_request", "push")}


def _covered(path: str, patterns: list[str]) -> bool:
    # GitHub's `**` crosses folders; fnmatch's `*` does too, which is enough for prefix globs.
    return any(fnmatch.fnmatch(path, pattern.replace("/**", "/*")) for pattern in patterns)


# Run in a process of its own: the test session's sys.modules holds what every other test imported.
_PROGRAM_IMPORTS = """
import sys
from pathlib import Path
from ml_deploy_dev.program import run_program
run_program()
for module in list(sys.modules.values()):
    if getattr(module, "__file__", None):
        print(Path(module.__file__).resolve())
"""


def _program_files() -> list[str]:
    """Every repository file the program imports (its own modules and what they pull in)."""
    listed = subprocess.run(
        [sys.executable, "-c", _PROGRAM_IMPORTS], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
    ).stdout.split()  # fmt: skip
    files = [Path(line) for line in listed]
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in files
        if path.is_relative_to(ROOT) and not {".venv", "ml_deploy_dev"} & set(path.relative_to(ROOT).parts)
    )


def test_every_module_the_program_imports_triggers_the_infra_workflow() -> None:
    imported = _program_files()
    assert any(path.startswith("infra/") for path in imported), imported
    assert any(path.startswith("src/ml_deploy/") for path in imported), imported
    for event, patterns in _filters().items():
        missed = [path for path in imported if not _covered(path, patterns)]
        assert not missed, f"infra.yml on {event} ignores changes to what the program imports: {missed}"


def test_the_lock_and_its_installer_trigger_the_infra_workflow() -> None:
    for event, patterns in _filters().items():
        for path in ("uv.lock", "pyproject.toml", "Makefile", "Pulumi.yaml", "Pulumi.dev.yaml"):
            assert _covered(path, patterns), f"infra.yml on {event} ignores {path}"
