"""The jobs image must be correct by construction: no Docker here, so the Dockerfile is read."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dockerfiles import base_image, instructions, stages

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "retrain_job" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """The image's own stage: what ships (the requirements stage before it only exports the lock)."""
    return stages(DOCKERFILE)[-1]


def _index(keyword: str, contains: str = "") -> int:
    for i, (kw, rest) in enumerate(_instructions()):
        if kw == keyword and contains in rest:
            return i
    raise AssertionError(f"Dockerfile has no {keyword} containing {contains!r}")


def test_base_is_a_pinned_slim_python_311() -> None:
    bases = {base_image(rest) for kw, rest in instructions(DOCKERFILE) if kw == "FROM"}
    assert len(bases) == 1, f"every stage on one pinned base: {bases}"
    (base,) = bases
    assert re.fullmatch(r"public\.ecr\.aws/docker/library/python:3\.11\.\d+-slim-bookworm", base), (
        f"base {base!r} should be pinned like python:3.11.x-slim-bookworm"
    )


def test_dependencies_install_before_the_code_is_copied() -> None:
    requirements = _index("COPY", "requirements.txt")
    install = _index("RUN", "pip install")
    first_code = min(_index("COPY", "src/ml_deploy"), _index("COPY", "retrain_job"))
    assert requirements < install < first_code, "copy the locked requirements, install them, then the code"
    assert "--require-hashes" in _instructions()[install][1], "the lock's hashes must be checked"


def test_runs_as_non_root_and_retrains_by_default() -> None:
    users = [rest for kw, rest in _instructions() if kw == "USER"]
    assert users and users[-1] not in {"root", "0"}, f"last USER is {users}"
    assert _index("USER") > _index("RUN", "pip install"), "drop root after installing"
    cmd = json.loads(_instructions()[_index("CMD")][1])
    assert cmd == ["python", "-m", "retrain_job.retrain"]
    env = " ".join(rest for kw, rest in _instructions() if kw == "ENV")
    assert "/app/src" in env, "ml_deploy must be importable from src/"


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint not installed")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
