"""A CodeBuild action run here: the buildspec's phases through bash, with CodeBuild's environment.

The commands are the buildspec's own, in one bash session as CodeBuild 0.2 runs them (variables
set in one command are seen by the next); only `docker` and `aws` are stand-ins, first on PATH
(`standins`). `.venv` in the source folder is the project's virtualenv, so `make install` finds it
installed, and PYTHONPATH points at the source's own code, as `pip install -e .` there would.

A failing command ends its phase; what runs next is what CodeBuild documents (`TRANSITIONS`): the
phase's `on-failure` (ABORT ends the build, CONTINUE goes on), else a failed install or pre_build
ends the build while a failed build still runs post_build and, like a failed post_build, uploads
artifacts and reports. CODEBUILD_BUILD_SUCCEEDING turns 0 at the first failure. The `reports:` are
collected into `<output>/reports/<group>/` whenever the upload is attempted, red builds included.
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
from ml_deploy_dev.delivery.reports import MAX_CASES_PER_REPORT, collect_reports, count_cases
from ml_deploy_dev.delivery.standins import write_wrappers

PHASES = ("install", "pre_build", "build", "post_build")
# Where a build goes when a phase fails and the phase sets no `on-failure`: "finalize" skips every
# later phase and the upload; "next" goes on to the next phase (after post_build, the upload).
# https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details-phases.html ("The
# UPLOAD_ARTIFACTS phase is always attempted, even if the BUILD phase fails"; a failed INSTALL or
# PRE_BUILD goes to FINALIZING).
TRANSITIONS = {"install": "finalize", "pre_build": "finalize", "build": "next", "post_build": "next"}
# on-failure, https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html:
# ABORT aborts the build, CONTINUE continues to the next phase. RETRY is not run here.
ON_FAILURE = {"ABORT": "finalize", "CONTINUE": "next"}
MARK = "##local-build##"
PROGRESS_SECONDS = 15.0
STAMP = ".installed-stamp"  # the Makefile's install stamp
CODE = Path(__file__).resolve().parents[2]  # the repository root, where this package lives


class BuildFailed(Exception):
    """A buildspec command failed; the message names the phase and the command."""

    def __init__(self, message: str, *, reports: dict[str, list[Path]] | None = None) -> None:
        super().__init__(message)
        self.reports = reports or {}  # what the failed build still uploaded


@dataclass(frozen=True)
class BuildResult:
    variables: dict[str, str]  # the buildspec's exported-variables
    artifacts: Path  # the files `artifacts:` lists, as the output artifact
    reports: dict[str, list[Path]]  # report group -> the report files uploaded into it


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
    failed, uploaded = _run(script, cwd=source, environment=variables, say=say)
    output.mkdir(parents=True, exist_ok=True)
    reports = (
        collect_reports(
            buildspec.get("reports") or {}, source=source, environment=variables, output=output / "reports"
        )
        if uploaded
        else {}
    )
    _say_reports(reports, say)
    if failed:
        raise BuildFailed(failed, reports=reports)
    for name in (buildspec.get("artifacts") or {}).get("files", []):
        shutil.copy2(source / name, output / name)
    exported = dict(line.split("=", 1) for line in exported_file.read_text().split("\0") if "=" in line)
    return BuildResult(variables=exported, artifacts=output, reports=reports)


def _say_reports(reports: dict[str, list[Path]], say: Callable[[str], None]) -> None:
    for group, files in reports.items():
        cases = sum(count_cases(path) for path in files if path.suffix == ".xml")
        folder = files[0].parent if files else "nowhere: no file matched"
        say(f"report {group}: {cases} test case(s) in {len(files)} file(s), kept in {folder}")
        if cases > MAX_CASES_PER_REPORT:
            say(f"  CodeBuild keeps at most {MAX_CASES_PER_REPORT} test cases of report {group}")


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
    """The phases as bash functions in one session, and the transitions between them."""
    phases = buildspec.get("phases") or {}
    assert isinstance(phases, dict)
    lines = ["export CODEBUILD_BUILD_SUCCEEDING=1", "__finalize="]
    for phase in PHASES:
        settings = phases.get(phase) or {}
        lines += [f"__phase_{phase}() {{", f"echo '{MARK} phase {phase}'"]
        for number, command in enumerate(settings.get("commands") or []):
            lines += [
                f"echo '{MARK} command {phase} {number}'",
                command,
                f"__status=$?; if [ $__status -ne 0 ]; then "
                f"echo '{MARK} failed {phase} {number}'; return $__status; fi",
            ]
        lines += [":", "}"]
        after_failure = _after_failure(phase, settings)
        on_failure = "__finalize=1" if after_failure == "finalize" else ":"
        lines.append(
            f'if [ -z "$__finalize" ]; then __phase_{phase} || '
            f"{{ export CODEBUILD_BUILD_SUCCEEDING=0; {on_failure}; }}; fi"
        )
    names = " ".join((buildspec.get("env") or {}).get("exported-variables", []))
    lines += [
        f"if [ -z \"$__finalize\" ]; then echo '{MARK} upload'; fi",
        f"for __name in {names}; do printf '%s=%s\\0' \"$__name\" \"${{!__name}}\"; done > '{exported_file}'",
        '[ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ]',
    ]
    return "\n".join(lines) + "\n"


def _after_failure(phase: str, settings: dict[str, Any]) -> str:
    """ "finalize" or "next": the phase's `on-failure`, else CodeBuild's transition for the phase."""
    if settings.get("finally"):
        raise BuildFailed(f"phase {phase}: `finally` blocks are not run by the local build")
    on_failure = settings.get("on-failure")
    if on_failure is None:
        return TRANSITIONS[phase]
    if on_failure not in ON_FAILURE:
        raise BuildFailed(f"phase {phase}: on-failure {on_failure} is not run by the local build")
    return ON_FAILURE[str(on_failure)]


def _run(
    script: str, *, cwd: Path, environment: dict[str, str], say: Callable[[str], None]
) -> tuple[str, bool]:
    """Run the script; (the first failure, "" if none; whether the upload phase was reached)."""
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
    failed, uploaded = "", False
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
                failed = failed or f"phase {where[0]}: `{_short(commands[(where[0], int(where[1]))])}`"
            elif kind == "upload":
                uploaded = True
        else:
            say(f"  | {line}")
    status = process.wait()
    done.set()
    return (f"{failed or 'the build'} exited {status}" if status != 0 else ""), uploaded


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
