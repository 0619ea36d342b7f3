"""The infra workflow previews and applies the stack on every change that can change what the
program registers: every repository file the program imports, and what installs it."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import yaml

from ml_deploy_dev.program import Program

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "infra.yml"


def _filters() -> dict[str, list[str]]:
    triggers = yaml.safe_load(WORKFLOW.read_text())[True]  # YAML 1.1 reads the `on:` key as True
    return {event: triggers[event]["paths"] for event in ("pull_request", "push")}


def _covered(path: str, patterns: list[str]) -> bool:
    # GitHub's `**` crosses folders; fnmatch's `*` does too, which is enough for prefix globs.
    return any(fnmatch.fnmatch(path, pattern.replace("/**", "/*")) for pattern in patterns)


def test_every_module_the_program_imports_triggers_the_infra_workflow(dev_program: Program) -> None:
    imported = sorted(
        Path(module.__file__).resolve().relative_to(ROOT).as_posix()
        for module in list(sys.modules.values())
        if getattr(module, "__file__", None)
        and Path(module.__file__).resolve().is_relative_to(ROOT)
        and ".venv" not in Path(module.__file__).parts
        and Path(module.__file__).resolve().relative_to(ROOT).parts[0] in ("infra", "src")
    )
    assert any(path.startswith("src/ml_deploy/") for path in imported), imported
    for event, patterns in _filters().items():
        missed = [path for path in imported if not _covered(path, patterns)]
        assert not missed, f"infra.yml on {event} ignores changes to what the program imports: {missed}"


def test_the_lock_and_its_installer_trigger_the_infra_workflow() -> None:
    for event, patterns in _filters().items():
        for path in ("uv.lock", "pyproject.toml", "Makefile", "Pulumi.yaml", "Pulumi.dev.yaml"):
            assert _covered(path, patterns), f"infra.yml on {event} ignores {path}"
