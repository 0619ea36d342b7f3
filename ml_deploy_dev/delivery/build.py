"""A CodeBuild action run here: the buildspec's phases through bash, with CodeBuild's environment.

The commands are the buildspec's own, in one bash session as CodeBuild 0.2 runs them (variables
set in one command are seen by the next); only `docker` and `aws` are stand-ins, first on PATH
(`standins`). `.venv` in the source folder is the project's virtualenv, so `make install` finds it
installed, and PYTHONPATH points at the source's own code, as `pip install -e .` there would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ml_deploy_dev.delivery.definition import BuildProject
from ml_deploy_dev.delivery.standins import write_wrappers

PHASES = ("install", "pre_build", "build", "post_build")
MARK = "##local-build##"
PROGRESS_SECONDS = 15.0
STAMP = ".installed-stamp"  # the Makefile's install stamp
CODE = Path(__file__).resolve().parents[2]  # the repository root, where this package lives


class BuildFailed(Exception):
    """A buildspec command failed; the message names the phase and the command."""


@dataclass(frozen=True)
class BuildResult:
    variables: dict[str, str]  # the buildspec's exported-variables
    artifacts: Path  # the files `artifacts:` lists, as the output artifact


def run_build(
    project: BuildProject,
    *,
    source: Path,
    environment: Mapping[str, str],
    output: Path,
    say: Callable[[str], None],
) -> BuildResult:
    """Run `project`'s buildspec in `source` with `environment` (CodeBuild's, the project's, the action's)."""
    buildspec = yaml.safe_load((source / project.buildspec).read_text())
    _project_virtualenv(source / ".venv")
    exported_file = output.parent / f"{output.name}.exported"
    script = _script(buildspec, exported_file)
    variables = {
        **{k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "USER", "TMPDIR")},
        "PATH": f"{write_wrappers(output.parent / 'bin', code=CODE)}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": f"{source / 'src'}{os.pathsep}{source}",
        **{str(k): str(v) for k, v in (buildspec.get("env", {}).get("variables") or {}).items()},
        **project.environment,
        **environment,
    }
    _run(script, cwd=source, environment=variables, say=say)
    output.mkdir(parents=True, exist_ok=True)
    for name in (buildspec.get("artifacts") or {}).get("files", []):
        shutil.copy2(source / name, output / name)
    exported = dict(line.split("=", 1) for line in exported_file.read_text().split("\0") if "=" in line)
    return BuildResult(variables=exported, artifacts=output)


def _project_virtualenv(venv: Path) -> None:
    """`.venv` as a view of this interpreter's virtualenv, with its own install stamp.

    Python finds `pyvenv.cfg` next to the `bin/` it was started from, so `.venv/bin/python` runs
    the project's environment; the fresh stamp tells `make install` it is installed (a symlink to
    the whole venv would share its stamp, and `make` would try to recreate the shared venv).
    """
    venv.mkdir(exist_ok=True)
    for entry in Path(sys.prefix).iterdir():
        if entry.name != STAMP and not (venv / entry.name).exists():
            (venv / entry.name).symlink_to(entry)
    (venv / STAMP).touch()


def _script(buildspec: dict[str, Any], exported_file: Path) -> str:
    phases = buildspec.get("phases") or {}
    assert isinstance(phases, dict)
    lines = []
    for phase in PHASES:
        commands = (phases.get(phase) or {}).get("commands") or []
        lines.append(f"echo '{MARK} phase {phase}'")
        for number, command in enumerate(commands):
            lines += [
                f"echo '{MARK} command {phase} {number}'",
                command,
                f"__status=$?; if [ $__status -ne 0 ]; then "
                f"echo '{MARK} failed {phase} {number}'; exit $__status; fi",
            ]
    names = " ".join((buildspec.get("env") or {}).get("exported-variables", []))
    lines.append(
        f"for __name in {names}; do printf '%s=%s\\0' \"$__name\" \"${{!__name}}\"; done > '{exported_file}'"
    )
    return "\n".join(lines) + "\n"


def _run(script: str, *, cwd: Path, environment: dict[str, str], say: Callable[[str], None]) -> None:
    process = subprocess.Popen(
        ["bash", "-c", script],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    current: dict[str, Any] = {"command": "", "since": time.monotonic()}
    done = threading.Event()
    threading.Thread(target=_ticker, args=(current, done, say), daemon=True).start()
    failed = ""
    assert process.stdout is not None
    commands = _commands(script)
    for line in process.stdout:
        line = line.rstrip("\n")
        if line.startswith(MARK):
            kind, *where = line.removeprefix(MARK).split()
            if kind == "phase":
                say(f"phase {where[0]}")
            elif kind == "command":
                current.update(command=commands[(where[0], int(where[1]))], since=time.monotonic())
                say(f"$ {_short(current['command'])}")
            elif kind == "failed":
                failed = f"phase {where[0]}: `{_short(commands[(where[0], int(where[1]))])}`"
        else:
            say(f"  | {line}")
    status = process.wait()
    done.set()
    if status != 0:
        raise BuildFailed(f"{failed or 'the build'} exited {status}")


def _commands(script: str) -> dict[tuple[str, int], str]:
    """(phase, number) -> command, read back from the script's markers."""
    found, lines = {}, script.split("\n")
    for index, line in enumerate(lines):
        if line.startswith(f"echo '{MARK} command"):
            phase, number = line.strip("'").split()[-2:]
            body = []
            for following in lines[index + 1 :]:
                if following.startswith("__status=$?"):
                    break
                body.append(following)
            found[(phase, int(number))] = "\n".join(body)
    return found


def _ticker(current: dict[str, Any], done: threading.Event, say: Callable[[str], None]) -> None:
    while not done.wait(PROGRESS_SECONDS):
        elapsed = time.monotonic() - float(str(current["since"]))
        say(f"... still running `{_short(str(current['command']))}` ({elapsed:.0f} s)")


def _short(command: str) -> str:
    first = command.strip().splitlines()[0] if command.strip() else ""
    return first if len(first) <= 110 else first[:107] + "..."
