"""`--local` is honoured or refused by every command the parser knows: under --local, with
real-looking credentials and a stack's outputs present, no command reaches an account (every
botocore call to an endpoint off 127.0.0.1 fails the test), and each ends in 0 or one line.

`AUDIT` must name every command: a new command fails here until someone decides what --local
means for it. Commands with no local meaning declare `local_refusal` (checked by `main`).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ml_deploy_cli.__main__ import build_parser, main
from tests.cli.account_guard import calls_outside
from tests.cli.test_failures import closed_port, local_state

STATE_VARIABLE = "ML_DEPLOY_LOCAL_STATE"
BUNDLE = "{bundle}"  # replaced by the session's trained bundle
# command -> (its arguments, what a refusal says; None: honoured, answered by the local run)
AUDIT: dict[str, tuple[list[str], str | None]] = {
    "status": ([], None),
    "history": ([], None),
    "logs": (["stage"], None),
    "diff": ([], None),
    "approve": (["--comment", "ok"], None),
    "reject": (["--comment", "no"], None),
    "retry": ([], None),
    "release": ([], None),
    "run-job": (["retrain"], None),
    "upload-model": ([BUNDLE], None),
    "first-model": ([], None),
    "bootstrap": (["--no-pulumi-up"], None),
    "rollback": (["prod"], None),
    "completion": (["bash"], None),
    "dashboard": ([], None),
    "upload-outcomes": (["outcomes.csv"], None),
    "deploy": (["--cluster", "c", "--service", "s", "--task-definition", "t", "--image", "r:t"], None),
    "smoke-test-result": (["--log-bucket", "b", "--environment", "stage", "--model-version", "v"], None),
    "drift-report-link": (["--log-bucket", "b", "--model-created-at", "2026-01-01T00:00:00Z"], None),
    "archive-bundle": ([BUNDLE, "--model-bucket", "b"], None),
}


def test_the_audit_names_every_command() -> None:
    parser = build_parser()
    commands = next(action for action in parser._actions if action.dest == "command")
    known = set(commands.choices or ())

    assert known - set(AUDIT) == set(), "say what --local means for these commands (AUDIT)"
    assert set(AUDIT) - known == set(), "the audit names commands the parser no longer has"


@pytest.fixture
def account_untouched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    outputs = {"modelBucket": "prod-models", "pipelineName": "prod-pipeline"}
    return calls_outside(
        monkeypatch, tmp_path, outputs=outputs, allowed=lambda url: urlsplit(url).hostname == "127.0.0.1"
    )


@pytest.mark.parametrize("command", AUDIT)
def test_under_local_a_command_answers_locally_or_refuses_in_one_line(
    command: str,
    account_untouched: list[str],
    trained_bundle: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arguments, refusal = AUDIT[command]
    state = tmp_path / "state.json"  # the stand-in it names has ended: nothing answers there
    state.write_text(json.dumps(local_state(endpoint=f"http://127.0.0.1:{closed_port()}")))
    argv = [str(trained_bundle) if argument == BUNDLE else argument for argument in arguments]

    code = main(["--local", command, *argv], environ={STATE_VARIABLE: str(state)})

    err = capsys.readouterr().err
    assert account_untouched == [], f"{command} --local reached an account"
    assert "Traceback" not in err
    if refusal is not None:
        assert code == 1 and len(err.splitlines()) == 1, err
        assert err.startswith(f"ml-deploy: {command}: {refusal}"), err
        return
    assert code in (0, 1), err
    if code == 1:
        assert len(err.splitlines()) == 1, err
        assert not err.startswith(f"ml-deploy: {command}: --local:"), (
            f"{command} refuses --local: say so in AUDIT"
        )


def test_job_logs_under_local_without_a_job_runner_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(local_state(endpoint="http://127.0.0.1:1")))

    assert main(["--local", "logs", "monitor"], environ={STATE_VARIABLE: str(state)}) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("ml-deploy: logs: the local run has no job queue"), line
