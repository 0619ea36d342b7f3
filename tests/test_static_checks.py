"""`make test` runs every static check, and the checks cover every file they are meant to."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.test_workflows import ROOT, _dockerfiles


def _dry_run(target: str) -> str:
    """The commands `make <target>` would run, without running them."""
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", target],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"make -n {target} failed:\n{result.stderr}"
    return result.stdout


def test_make_test_runs_every_check_before_pytest() -> None:
    commands = _dry_run("test")
    expected = ["ruff check", "mypy", "check-jsonschema", "pytest"]
    positions = {name: commands.find(name) for name in expected}
    missing = [name for name, at in positions.items() if at < 0]
    assert not missing, f"make test does not run {missing}:\n{commands}"
    assert positions["pytest"] > max(positions[n] for n in expected[:-1]), (
        f"static checks should run before pytest:\n{commands}"
    )


def test_make_schemas_validates_every_workflow_and_dependabot() -> None:
    commands = _dry_run("schemas")
    for path in sorted((ROOT / ".github").rglob("*.y*ml")):
        relative = str(path.relative_to(ROOT))
        assert relative in commands, f"make schemas does not validate {relative}:\n{commands}"
    if (ROOT / "buildspec.yml").exists():
        assert "--schemafile tests/schemas/buildspec-0.2.schema.json buildspec.yml" in commands
    for buildspec in sorted(ROOT.glob("buildspec*.yml")):
        assert buildspec.name in commands.split(), f"make schemas does not validate {buildspec.name}"


@pytest.mark.parametrize("dockerfile", _dockerfiles())
def test_make_hadolint_lints_every_dockerfile(dockerfile: Path) -> None:
    commands = _dry_run("hadolint")
    relative = str(dockerfile.relative_to(ROOT))
    assert relative in commands.split(), f"make hadolint skips {relative}:\n{commands}"
