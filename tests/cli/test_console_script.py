"""Each bad input of issue 25 through the INSTALLED console script (`ml-deploy` beside the venv's
python), run as an operator's shell runs it: its own process, stdin held open and nothing typed,
the state's folder as working directory. Each ends as exactly one line on stderr, the exit code
`errors.EXIT_CODES` documents, and nothing left in the folder.

AWS answers come from `tests/cli/wire.py` on 127.0.0.1 (the process is out of the Stubber's reach):
bodies checked against botocore's service model, errors against each operation's documented ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ml_deploy_cli.errors import ExitCode
from tests.cli.conftest import PIPELINE, REGION
from tests.cli.pipeline_shapes import UNKNOWN, WAITING, action_executions, pipeline_state
from tests.cli.test_failures import closed_port
from tests.cli.wire import Wire, serving

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = shutil.which("ml-deploy", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(
    SCRIPT is None,
    reason=f"no console script `ml-deploy` beside {sys.executable}: `make install` installs it",
)
STATE_VARIABLE = "ML_DEPLOY_LOCAL_STATE"
OUTPUTS = {"pipelineName": PIPELINE, "kmsKeyArn": f"arn:aws:kms:{REGION}:123456789012:key/k"}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
PASSPHRASE_PROMPT = (
    'echo "Enter your passphrase to unlock config/secrets" >&2\n'
    'read -r passphrase || { echo "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE" >&2; '
    "exit 255; }\nsleep 60"
)


@dataclass
class Case:
    """One bad input: what the folder holds, the command line, the environment, what must be said."""

    argv: list[str]
    code: ExitCode
    says: str
    files: dict[str, str] = field(default_factory=dict)  # name in the folder -> content ("/" = a folder)
    environ: dict[str, str] = field(default_factory=dict)  # {here} is replaced by the folder
    credentials: bool = True
    pulumi: str | None = None  # a fake `pulumi` script's body; None: no pulumi on PATH
    wire: Callable[[Wire], None] | None = None  # canned CodePipeline answers


def unknown_execution(wire: Wire) -> None:
    wire.answer("GetPipelineState", pipeline_state(waiting=False))
    wire.fail("GetPipelineExecution", "PipelineExecutionNotFoundException", "not found")


def expired_approval(wire: Wire) -> None:
    wire.answer("GetPipelineState", pipeline_state(waiting=True))
    wire.answer("ListActionExecutions", action_executions(WAITING))
    # PutApprovalResult's documented error: "already received a response or has expired".
    wire.fail("PutApprovalResult", "InvalidApprovalTokenException", "The approval request has expired")


def throttled(wire: Wire) -> None:
    wire.fail("ListPipelineExecutions", "ThrottlingException", "Rate exceeded", times=3)


LOCAL = ["--local", "status"]
IN_STATE = {STATE_VARIABLE: "{here}/state.json"}
HISTORY = ["--outputs", "{here}/outputs.json", "history"]
APPROVE = ["--outputs", "{here}/outputs.json", "approve", "--comment", "ok"]
GOOD_OUTPUTS = {"outputs.json": json.dumps(OUTPUTS)}
FAILED, USAGE = ExitCode.FAILED, ExitCode.USAGE
CASES = {
    "state {}": Case(LOCAL, FAILED, "has no 'aws'", {"state.json": "{}"}, IN_STATE),
    "state not JSON": Case(LOCAL, FAILED, "is not JSON", {"state.json": "model: v1\n"}, IN_STATE),
    "state a directory": Case(LOCAL, FAILED, "is a directory, not a state", {"state.json": "/"}, IN_STATE),
    "state missing": Case(LOCAL, FAILED, "no local delivery state at", {}, IN_STATE),
    "outputs {}": Case(HISTORY, FAILED, "has no stack output 'pipelineName'", {"outputs.json": "{}"}),
    "outputs not JSON": Case(HISTORY, FAILED, "is not JSON", {"outputs.json": "pipeline: p"}),
    "outputs a directory": Case(HISTORY, FAILED, "cannot read stack outputs", {"outputs.json": "/"}),
    "outputs missing": Case(HISTORY, FAILED, "outputs.json: No such file or directory"),
    "pulumi waits on a passphrase": Case(
        ["history"], FAILED, "`pulumi stack output --json` failed: error: passphrase must be set",
        pulumi=PASSPHRASE_PROMPT,
    ),
    "pulumi absent": Case(["history"], FAILED, "the pulumi CLI is not installed here"),
    "no credentials": Case(HISTORY, FAILED, "no AWS credentials: set", GOOD_OUTPUTS, credentials=False),
    "unknown profile": Case(
        HISTORY, FAILED, "AWS_PROFILE names profile 'nope'", GOOD_OUTPUTS, {"AWS_PROFILE": "nope"}
    ),
    "unknown environment": Case(["rollback", "qa"], USAGE, "argument ENV: invalid choice: 'qa'"),
    "unknown command": Case(["rollbak", "prod"], USAGE, "invalid choice: 'rollbak'"),
    "unknown execution": Case(
        [*APPROVE, "--execution", UNKNOWN], FAILED, f"pipeline {PIPELINE} has no execution {UNKNOWN}",
        GOOD_OUTPUTS, wire=unknown_execution,
    ),
    "an expired approval": Case(
        APPROVE, FAILED, f"the approval of execution {WAITING} expired or was answered meanwhile",
        GOOD_OUTPUTS, wire=expired_approval,
    ),
    "throttling": Case(
        HISTORY, FAILED, "AWS ListPipelineExecutions failed: ThrottlingException: Rate exceeded",
        GOOD_OUTPUTS, {"AWS_MAX_ATTEMPTS": "3"}, wire=throttled,
    ),
}  # fmt: skip


def environment(case: Case, *, here: Path, bin_dir: Path, endpoint: str) -> dict[str, str]:
    """The operator's environment minus anything of theirs that would reach AWS or Pulumi."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ML_DEPLOY", "PULUMI"))}
    environ.update(
        PATH=str(bin_dir),  # the script's shebang names its python: PATH serves `pulumi` only
        PYTHONPATH=f"{ROOT / 'src'}:{ROOT}",  # this tree's code ahead of the editable install's
        AWS_CONFIG_FILE=str(here.parent / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(here.parent / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL=endpoint,  # 127.0.0.1 only, whatever a case does
        AWS_DEFAULT_REGION=REGION,
    )
    if case.credentials:
        environ.update(CREDENTIALS)
    environ.update({name: value.format(here=here) for name, value in case.environ.items()})
    return environ


def run_script(argv: list[str], *, cwd: Path, environ: dict[str, str], captured: Path) -> tuple[int, str]:
    assert SCRIPT is not None
    errors = captured / "stderr"
    with (
        errors.open("w") as stderr,
        subprocess.Popen(
            [SCRIPT, *argv],
            cwd=cwd,
            stdin=subprocess.PIPE,  # held open, as a terminal is
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=environ,
        ) as cli,
    ):
        try:
            code = cli.wait(timeout=60)
        finally:
            cli.kill()
    return code, errors.read_text()


@pytest.mark.parametrize("name", CASES)
def test_a_bad_input_is_one_line_a_documented_exit_code_and_nothing_left(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    here, bin_dir, captured = tmp_path / "here", tmp_path / "bin", tmp_path / "captured"
    for folder in (here, bin_dir, captured):
        folder.mkdir()
    for file_name, content in case.files.items():
        if content == "/":
            (here / file_name).mkdir()
        else:
            (here / file_name).write_text(content)
    if case.pulumi is not None:
        (bin_dir / "pulumi").write_text(f"#!/bin/sh\n{case.pulumi}\n")
        (bin_dir / "pulumi").chmod(0o755)
    before = sorted(path.name for path in here.iterdir())
    wire = Wire("codepipeline")
    if case.wire:
        case.wire(wire)

    with serving(wire):
        endpoint = wire.endpoint if case.wire else f"http://127.0.0.1:{closed_port()}"
        environ = environment(case, here=here, bin_dir=bin_dir, endpoint=endpoint)
        argv = [arg.format(here=here) for arg in case.argv]
        code, err = run_script(argv, cwd=here, environ=environ, captured=captured)

    lines = err.splitlines()
    assert len(lines) == 1, f"{name}: expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("ml-deploy: ") and "Traceback" not in err, lines[0]
    assert case.says in lines[0], f"{name}: {lines[0]!r} does not say {case.says!r}"
    assert code == case.code, f"{name}: exit {code}, documented {int(case.code)} ({case.code.name})"
    assert sorted(path.name for path in here.iterdir()) == before, f"{name} left files behind"
    if name == "throttling":
        assert wire.asked == ["ListPipelineExecutions"] * 3, f"retried with backoff: {wire.asked}"
