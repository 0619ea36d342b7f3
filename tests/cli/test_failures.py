"""Every failure is one line on stderr with a documented exit code, and a read-only command leaves
nothing behind: bad local state files, a `pulumi` that would wait on a prompt, wrong arguments.

The console script's `main` runs in-process; a few cases run it as `python -m ml_deploy_cli` in a
process of its own, as an operator's shell does (stdin open, nothing typed into it).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_deploy_cli.__main__ import BUG_EXIT, main

ROOT = Path(__file__).resolve().parents[2]
WAITING = "9d2c1a53-6c9e-4f7c-a0a5-5b0d11a3e2f1"
OTHER = "11111111-2222-4333-8444-555555555555"
SERVED = "1a2b3c4d5e6f-20261123T101500Z-3f9a1c2b"


def closed_port() -> int:
    """A loopback port nothing listens on (the demo's stand-in after the demo ended)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_state(*, endpoint: str, waiting: bool = True) -> dict[str, object]:
    """A state as `ml_deploy_dev.delivery.runner` writes it, with one execution at the approval."""
    approval = {"stage": "Approve", "action": "ApproveProd", "token": "t", "status": "InProgress",
                "since": "2026-11-23T10:15:00+00:00"}  # fmt: skip
    return {
        "pipeline": "ml-deploy-local",
        "stages": ["Source", "Build", "DeployStage", "Approve", "DeployProd"],
        "aws": {
            "endpoint": endpoint,
            "region": "eu-west-1",
            "access_key_id": "local",
            "secret_access_key": "local",
        },
        "model_bucket": "local-models",
        "model_key": "bundles/current/model-bundle.zip",
        "log_bucket": "local-logs",
        "decisions_prefix": "retrain/decisions/",
        "reports_prefix": "reports/",
        "executions": [
            {
                "id": WAITING,
                "status": "InProgress",
                "started": "2026-11-23T10:00:00+00:00",
                "trigger": "model",
                "commit": "1a2b3c4d5e6f7a8b",
                "model_version": "20261123T101500Z-3f9a1c2b",
                "stages": {
                    "Source": "Succeeded",
                    "Build": "Succeeded",
                    "DeployStage": "Succeeded",
                    "Approve": "InProgress",
                },
                "approval": approval if waiting else None,
            },
        ],
        "environments": {
            name: {
                "service": f"local-{name}",
                "url": f"http://127.0.0.1:{port}",
                "revisions": [],
                "running": None,
            }
            for name, port in (("stage", 18081), ("prod", 18082))
        },
    }


def run(argv: list[str], state: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv, environ={"ML_DEPLOY_LOCAL_STATE": str(state)})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err: str, command: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith(f"ml-deploy: {command}: "), lines[0]
    assert "Traceback" not in err
    return lines[0]


BAD_STATES = {
    "an empty object": ("{}", "has no 'aws'"),
    "a list": ("[]", "is not a local delivery state"),
    "an empty file": ("", "is not JSON"),
    "not JSON": ("model: v1\n", "is not JSON"),
    "no environments": (
        json.dumps({**local_state(endpoint="http://127.0.0.1:1"), "environments": None}),
        "has no 'environments'",
    ),
    "no endpoint": (
        json.dumps({**local_state(endpoint="x"), "aws": {"region": "eu-west-1"}}),
        "names no endpoint",
    ),
    "not UTF-8": (b"\xff\xfe{", "cannot read local delivery state"),
}
COMMANDS = [
    ["--local", "status"],
    ["--local", "history"],
    ["--local", "rollback", "prod"],
    ["--local", "approve", "--comment", "fine"],
    ["--local", "first-model"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: argv[1])
@pytest.mark.parametrize("case", BAD_STATES, ids=str)
def test_a_bad_state_file_is_one_line_naming_it_and_leaves_nothing_behind(
    case: str, argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, says = BAD_STATES[case]
    state = tmp_path / "state.json"
    if isinstance(content, bytes):
        state.write_bytes(content)
    else:
        state.write_text(content)

    code, _, err = run(argv, state, capsys)

    assert code == 1, err
    line = assert_one_line(err, argv[1])
    assert str(state) in line and says in line, line
    assert sorted(path.name for path in tmp_path.iterdir()) == ["state.json"], "nothing may be left behind"


def test_a_directory_as_state_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--local", "status"], tmp_path, capsys)

    assert code == 1
    assert f"{tmp_path} is a directory, not a state file" in assert_one_line(err, "status")


def test_a_readme_named_as_state_gets_no_lock_file_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# ml-deploy\n")

    for argv in (["--local", "status"], ["--local", "history"], ["--local", "approve", "--comment", "ok"]):
        code, _, err = run(argv, readme, capsys)
        assert code == 1
        assert_one_line(err, argv[1])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["README.md"]


def test_no_state_is_said_once_not_once_per_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "delivery" / "state.json"

    code, out, err = run(["status", "--local"], missing, capsys)

    assert code == 1
    assert f"no local delivery state at {missing}" in assert_one_line(err, "status")
    assert out == ""


def test_status_after_the_demo_says_the_stand_in_has_ended_once_and_hints_with_local(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    endpoint = f"http://127.0.0.1:{closed_port()}"
    document = local_state(endpoint=endpoint)
    prod = document["environments"]["prod"]  # type: ignore[index]
    # What the demo's end leaves (services.stop_all): no task, the revision it served last.
    prod.update(revisions=[{"revision": 1, "image": f"local/service:{SERVED}"}],
                stopped={"revision": 1, "pid": 2**22 + 1, "port": 1})  # fmt: skip
    state.write_text(json.dumps(document))

    code, out, err = run(["status", "--local"], state, capsys)

    assert code == 1
    line = assert_one_line(err, "status")
    assert line.startswith("ml-deploy: status: retrain, drift: the local AWS stand-in at "), line
    assert "start one with `make demo`" in line
    assert f'answer: ml-deploy --local approve --execution {WAITING} --comment "..."' in out
    assert re.search(r"^  stage +http://127\.0\.0\.1:18081$", out, re.M), "status shows where stage answers"
    assert "prod: commit 1a2b3c4d5e6f, model 20261123T101500Z-3f9a1c2b (local-prod:1, tasks 0/1)" in out
    assert sorted(path.name for path in tmp_path.iterdir()) == ["state.json"]


def test_approving_an_execution_that_does_not_wait_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(local_state(endpoint="http://127.0.0.1:1")))

    code, _, err = run(["--local", "approve", "--execution", OTHER, "--comment", "ok"], state, capsys)

    assert code == 1
    line = assert_one_line(err, "approve")
    assert f"execution {OTHER} does not wait for an approval" in line, line

    state.write_text(json.dumps(local_state(endpoint="http://127.0.0.1:1", waiting=False)))
    code, _, err = run(["--local", "approve", "--comment", "ok"], state, capsys)
    assert "no execution waits for an approval" in assert_one_line(err, "approve")


def fake_pulumi(folder: Path, body: str) -> dict[str, str]:
    """A `pulumi` on PATH that runs `body` (sh), and the environment that finds it first."""
    folder.mkdir()
    script = folder / "pulumi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def test_a_pulumi_prompting_for_a_passphrase_reads_a_closed_stdin_and_fails_at_once(tmp_path: Path) -> None:
    """The operator's terminal stays open (stdin=PIPE, nothing typed): pulumi must not inherit it."""
    environ = fake_pulumi(
        tmp_path / "bin",
        'echo "Enter your passphrase to unlock config/secrets" >&2\n'
        'read -r passphrase || { echo "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE" >&2; '
        "exit 255; }\nsleep 60",
    )
    environ["PYTHONPATH"] = f"{ROOT / 'src'}:{ROOT}"
    errors = tmp_path / "stderr"
    started = time.monotonic()
    with (
        errors.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "ml_deploy_cli", "history"],
            stdin=subprocess.PIPE,  # held open, as a terminal is: communicate() would close it
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={k: v for k, v in environ.items() if not k.startswith("ML_DEPLOY")},
        ) as cli,
    ):
        try:
            cli.wait(timeout=20)
        finally:
            cli.kill()
    err = errors.read_text()

    assert time.monotonic() - started < 20, "the CLI waited on the prompt"
    assert cli.returncode == 1, err
    line = assert_one_line(err, "history")
    assert "`pulumi stack output --json` failed: error: passphrase must be set" in line, line


def test_a_pulumi_that_never_answers_is_cut_short_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = fake_pulumi(tmp_path / "bin", "sleep 60")
    monkeypatch.setenv("PATH", environ["PATH"])
    monkeypatch.setattr("ml_deploy_cli.outputs.PULUMI_TIMEOUT_SECONDS", 1.0)

    code = main(["history"], environ={})

    assert code == 1
    line = assert_one_line(capsys.readouterr().err, "history")
    assert "gave no answer within 1 s" in line and "PULUMI_CONFIG_PASSPHRASE" in line, line
    assert "--outputs FILE" in line


def test_global_options_are_taken_after_the_command_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "outputs.json"

    assert main(["history", "--outputs", str(missing)], environ={}) == 1
    assert f"cannot read stack outputs {missing}" in capsys.readouterr().err
    state = tmp_path / "state.json"
    state.write_text(json.dumps(local_state(endpoint="http://127.0.0.1:1")))
    code, out, _ = run(["history", "--local"], state, capsys)
    assert code == 0
    assert WAITING in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("ml-deploy ")


@pytest.mark.parametrize("minutes", ["-3", "0", "nan", "soon"])
def test_a_deploy_timeout_must_be_a_positive_number(minutes: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["deploy", "--cluster", "c", "--service", "s", "--task-definition", "arn", "--image", "r:t"]

    assert main([*argv, "--timeout-minutes", minutes], environ={}) == 2
    assert "--timeout-minutes" in capsys.readouterr().err


def test_help_lists_the_pipeline_steps_apart_from_the_operators_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    commands, _, steps = text.partition("pipeline steps")
    listed = {line.split()[0] for line in commands.split("commands:")[1].splitlines()[2:] if line.strip()}

    assert {"status", "history", "approve", "rollback", "upload-model", "bootstrap"} <= listed
    assert not listed & {"deploy", "archive-bundle", "smoke-test-result", "drift-report-link"}, listed
    for step in ("deploy", "archive-bundle", "smoke-test-result", "drift-report-link"):
        assert step in steps, f"{step} is listed under the pipeline steps"
        assert main([step, "--help"]) == 0
        assert "pipeline step" in capsys.readouterr().out


def test_a_state_of_another_shape_is_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = local_state(endpoint="http://127.0.0.1:1")
    state["executions"] = [{"no": "id"}]  # a shape no runner writes
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))

    code, _, err = run(["--local", "history"], path, capsys)

    assert code == 1
    assert "executions.0.id: field required" in assert_one_line(err, "history")


def test_an_unexpected_error_is_one_line_and_a_bug_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(local_state(endpoint="http://127.0.0.1:1")))

    def broken(self: object, limit: int) -> None:
        raise RuntimeError("a bug")  # what no backend means to raise

    monkeypatch.setattr("ml_deploy_cli.local.delivery.LocalDelivery.history", broken)
    code, _, err = run(["--local", "history"], path, capsys)

    assert code == BUG_EXIT
    assert "ML_DEPLOY_DEBUG=1" in assert_one_line(err, "history")


def test_no_credentials_is_one_line_naming_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata look-up
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")  # nothing leaves the machine
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"pipelineName": "p", "kmsKeyArn": "arn:aws:kms:eu-west-1:1:key/k"}))

    code = main(["--outputs", str(outputs), "history"], environ={})

    assert code == 1
    line = assert_one_line(capsys.readouterr().err, "history")
    assert "no AWS credentials: set AWS_PROFILE" in line, line


class _Body:
    """The raw body botocore reads a response from."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **kwargs: object) -> Iterator[bytes]:
        yield self._content


def test_throttling_is_retried_with_backoff_then_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ThrottlingException is retryable in botocore's standard mode (total_max_attempts counts the first call,
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html)."""
    from botocore.awsrequest import AWSResponse
    from moto import mock_aws

    from ml_deploy_cli.aws.clients import MAX_ATTEMPTS, session_clients

    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # botocore's backoff, not waited here
    sent: list[str] = []

    def throttle(request: object, **kwargs: object) -> AWSResponse:
        sent.append(str(kwargs.get("event_name")))
        body = _Body(b'{"__type": "ThrottlingException", "message": "Rate exceeded"}')
        return AWSResponse("https://codepipeline.eu-west-1.amazonaws.com", 400, {}, body)

    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"pipelineName": "p"}))
    with mock_aws():
        clients = session_clients("eu-west-1")
        clients("codepipeline").meta.events.register_first("before-send.codepipeline", throttle)
        code = main(["--outputs", str(outputs), "history"], environ={}, client=clients)

    assert len(sent) == MAX_ATTEMPTS, f"a throttled call is retried: {len(sent)} attempts"
    assert code == 1
    line = assert_one_line(capsys.readouterr().err, "history")
    assert "ListPipelineExecutions failed: ThrottlingException: Rate exceeded" in line, line
