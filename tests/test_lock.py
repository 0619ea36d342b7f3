"""Every install comes from the lock: uv.lock agrees with pyproject.toml, pins every package to one
version with hashes, and each consumer (`make install`, both images) installs exactly what it pins.

A release of a dependency once turned a fresh clone red while every existing machine stayed
green (a new moto spelled IAM actions differently); with the lock, a new release reaches this
repository only as a reviewed change of uv.lock (Dependabot, weekly, with a cooldown).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dockerfiles import stages

ROOT = Path(__file__).resolve().parents[1]
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
PACKAGES: dict[str, dict[str, Any]] = {package["name"]: package for package in LOCK["package"]}
PROJECT = PACKAGES["ml-deploy"]
UV = Path(sys.executable).parent / "uv"
IMAGES = {"service/Dockerfile": "service", "retrain_job/Dockerfile": "jobs"}


def _uv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_OFFLINE": "1"}
    return subprocess.run([str(UV), *args], cwd=cwd, capture_output=True, text=True, env=environment)


def _closure(requirements: list[dict[str, Any]]) -> set[str]:
    """Every package a list of lock requirements brings in, with the extras they ask for."""
    found: set[str] = set()
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        package = PACKAGES[requirement["name"]]
        extras = requirement.get("extra", [])
        key = f"{package['name']}[{','.join(sorted(extras))}]"
        if key in found:
            continue
        found.add(key)
        pending.extend(package.get("dependencies", []))
        for extra in extras:
            pending.extend(package.get("optional-dependencies", {}).get(extra, []))
    return {key.split("[")[0] for key in found}


def test_the_lock_agrees_with_pyproject() -> None:
    checked = _uv("lock", "--check", cwd=ROOT)
    assert checked.returncode == 0, f"uv.lock is stale, run `make lock`:\n{checked.stderr}"


def test_every_locked_package_is_one_version_from_the_registry_with_hashes() -> None:
    for name, package in PACKAGES.items():
        if name == PROJECT["name"]:
            assert package["source"] == {"editable": "."}, package["source"]
            continue
        assert "registry" in package["source"], f"{name} comes from {package['source']}, not the registry"
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        assert files, f"{name} {package['version']} has no file in the lock"
        unhashed = [f["url"] for f in files if not re.fullmatch(r"sha256:[0-9a-f]{64}", f.get("hash", ""))]
        assert not unhashed, f"{name}: files without a sha256 in the lock: {unhashed}"


def test_the_venv_holds_exactly_the_locked_versions() -> None:
    """`make install` syncs .venv from the lock; a package installed by hand shows up here."""
    wanted = _closure([{"name": PROJECT["name"], "extra": ["dev"]}]) - {PROJECT["name"]}
    installed = {}
    for name in wanted:
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a dependency for another platform (a marker), which the lock still pins
    assert len(installed) > 0.9 * len(wanted), f"only {len(installed)} of {len(wanted)} locked packages"
    drifted = {n: (v, PACKAGES[n]["version"]) for n, v in installed.items() if v != PACKAGES[n]["version"]}
    assert not drifted, f"installed (version, locked version) differ: {drifted}"


def test_make_bootstraps_the_uv_the_lock_pins() -> None:
    makefile = (ROOT / "Makefile").read_text()
    pinned = re.search(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert pinned and pinned.group(1) == PACKAGES["uv"]["version"], (pinned, PACKAGES["uv"]["version"])
    sync = re.search(r"\$\(UV\) sync ([^\n]+)", makefile)
    assert sync and "--locked" in sync.group(1).split(), "make install must refuse a stale lock"


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_each_image_installs_its_extra_exactly_as_locked(dockerfile: str, tmp_path: Path) -> None:
    """Runs the Dockerfile's own export command where its stage runs it: beside pyproject and the lock."""
    requirements_stage, *_, image_stage = stages(ROOT / dockerfile)
    copied = [args for keyword, args in requirements_stage if keyword == "COPY"]
    assert copied == ["pyproject.toml uv.lock ./"], f"the export stage must see only the lock: {copied}"
    (run,) = [args for keyword, args in requirements_stage if keyword == "RUN"]
    bootstrap, export = (part.strip() for part in run.split("&&"))
    assert shlex.split(bootstrap)[-1] == f"uv=={PACKAGES['uv']['version']}", bootstrap
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    exported = _uv(*shlex.split(export)[1:], cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    output = shlex.split(export)[shlex.split(export).index("--output-file") + 1]
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", (tmp_path / output).read_text(), re.MULTILINE))
    extra = IMAGES[dockerfile]
    expected = _closure([*PROJECT["dependencies"], *PROJECT["optional-dependencies"][extra]])
    assert set(pins) == expected, f"{dockerfile}: exported {set(pins) ^ expected} differ from the lock"
    assert all(PACKAGES[name]["version"] == version for name, version in pins.items())
    lines = [line for line in (tmp_path / output).read_text().splitlines() if not line.startswith("#")]
    entries = re.split(r"\n(?=[a-z0-9])", "\n".join(lines))
    unhashed = [entry.split()[0] for entry in entries if "--hash=sha256:" not in entry]
    assert len(entries) == len(pins) and not unhashed, f"exported without hashes: {unhashed}"
    installs = [args for keyword, args in image_stage if keyword == "RUN" and "-r " in args]
    assert installs and all({"--require-hashes", "--no-deps"} <= set(a.split()) for a in installs), installs


def test_dependabot_updates_the_lock_not_loose_requirements() -> None:
    """Dependabot's uv ecosystem rewrites uv.lock; a pip ecosystem at the root would bypass it."""
    updates = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())["updates"]
    python = [u for u in updates if u["package-ecosystem"] in ("uv", "pip")]
    assert [u["package-ecosystem"] for u in python] == ["uv"], python
    assert python[0]["cooldown"]["default-days"] >= 7
    # uv's own version is also pinned where no lock is read yet (Makefile, the Dockerfiles' export
    # stage): it moves by hand, with those pins, and the tests above hold them equal.
    assert {"dependency-name": "uv"} in python[0].get("ignore", [])


def test_pulumi_runs_the_program_in_the_venv_make_installs() -> None:
    """Pulumi's pip toolchain uses an existing virtualenv as it is and installs only into a missing
    one (pulumi/pulumi sdk/python/toolchain/pip.go, EnsureVenv): `make install` owns it."""
    options = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]
    makefile = (ROOT / "Makefile").read_text()
    venv = re.search(r"^VENV \?= (\S+)$", makefile, re.MULTILINE)
    assert venv and options == {"toolchain": "pip", "virtualenv": venv.group(1)}, options
    unlocked = [p.relative_to(ROOT) for p in ROOT.glob("**/requirements*.txt") if ".venv" not in p.parts]
    assert not unlocked, f"requirements files beside the lock, installed by nothing that reads it: {unlocked}"


def test_the_wheel_ships_only_what_the_images_and_the_operator_run() -> None:
    """The packages setuptools puts in the wheel, found as `[tool.setuptools.packages.find]` says."""
    from setuptools import find_packages

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {
        package
        for where in found["where"]
        for package in find_packages(str(ROOT / where), include=found["include"])
    }
    tops = {package.split(".")[0] for package in packages}
    assert tops == {"ml_deploy", "ml_deploy_cli", "service", "retrain_job"}, sorted(tops)
    assert {"retrain_job.retrain", "retrain_job.monitor", "ml_deploy.bundle"} <= packages, sorted(packages)
