"""Where the CLI finds the stack: outputs file, $ML_DEPLOY_OUTPUTS, or `pulumi stack output --json`."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ml_deploy_cli.__main__ import main
from ml_deploy_cli.outputs import StackOutputs
from tests.cli.conftest import PIPELINE, Stack
from tests.cli.pipeline_shapes import executions_list


def test_a_missing_output_key_is_named(stack: Stack) -> None:
    stack.write_outputs(pipelineName=None)

    result = stack.cli("history")

    assert result.code == 1
    assert result.err.strip() == (
        f"ml-deploy: history: {stack.outputs_path} has no stack output 'pipelineName'; "
        "is it the output of this stack's `pulumi stack output --json`?"
    )


def test_an_unreadable_outputs_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "outputs.json"

    assert main(["--outputs", str(missing), "history"], environ={}) == 1
    assert f"cannot read stack outputs {missing}: No such file or directory" in capsys.readouterr().err


def test_outputs_that_are_not_json_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "outputs.json"
    path.write_text("Current stack outputs (3):\n    OUTPUT  VALUE\n")

    assert main(["history"], environ={"ML_DEPLOY_OUTPUTS": str(path)}) == 1
    assert f"{path} is not JSON" in capsys.readouterr().err


def fake_pulumi(folder: Path, script: str) -> None:
    """A `pulumi` executable on PATH (no Pulumi CLI in this workplace) that runs `script`."""
    executable = folder / "pulumi"
    executable.write_text(f"#!/bin/sh\n{script}\n")
    executable.chmod(executable.stat().st_mode | stat.S_IEXEC)


def test_without_a_file_the_cli_asks_pulumi(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_pulumi(tmp_path, f"test \"$*\" = 'stack output --json --stack dev' && cat '{stack.outputs_path}'")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    stack.pipeline.add_response(
        "list_pipeline_executions", executions_list(), {"pipelineName": PIPELINE, "maxResults": 10}
    )
    stack.capsys.readouterr()

    code = main(["--stack", "dev", "history"], environ={}, client=stack.client)

    assert code == 0, stack.capsys.readouterr().err
    assert "no pipeline executions yet" in stack.capsys.readouterr().out


def test_a_failing_pulumi_is_reported_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_pulumi(tmp_path, "echo 'error: no stack selected; use `pulumi stack select`' >&2; exit 255")
    monkeypatch.setenv("PATH", str(tmp_path))

    assert main(["history"], environ={}) == 1
    assert capsys.readouterr().err.strip() == (
        "ml-deploy: history: `pulumi stack output --json` failed: "
        "error: no stack selected; use `pulumi stack select`"
    )


def test_no_pulumi_and_no_file_says_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    assert main(["status"], environ={}) == 1
    error = capsys.readouterr().err
    assert "pass --outputs FILE or set ML_DEPLOY_OUTPUTS" in error
    assert "pulumi CLI is not installed" in error


@pytest.mark.parametrize(
    ("argv", "environ"), [(["--local", "status"], {}), (["status"], {"ML_DEPLOY_LOCAL": "1"})]
)
def test_local_selects_the_local_run_and_names_its_missing_state(
    argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = tmp_path / "delivery" / "state.json"
    assert main(argv, environ={**environ, "ML_DEPLOY_LOCAL_STATE": str(state)}) == 1
    assert f"no local delivery state at {state}" in capsys.readouterr().err


def test_the_region_comes_from_the_stacks_arns() -> None:
    outputs = StackOutputs(
        values={"kmsKeyArn": "arn:aws:kms:ap-southeast-2:123456789012:key/abc"}, source="outputs.json"
    )

    assert outputs.region == "ap-southeast-2"
    assert StackOutputs(values={}, source="outputs.json").region is None


def test_prefixes_default_to_the_runtime_layout_and_follow_the_stack_when_it_exports_them() -> None:
    assert StackOutputs(values={}, source="x").decisions_prefix == "retrain/decisions/"
    exported = StackOutputs(values={"reportsPrefix": "drift/"}, source="x")
    assert exported.reports_prefix == "drift/"


def test_help_and_unknown_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "upload-model" in capsys.readouterr().out
    assert main(["destroy"]) == 2
    assert "invalid choice: 'destroy'" in capsys.readouterr().err


def test_outputs_file_shape_matches_pulumi(stack: Stack) -> None:
    """`pulumi stack output --json` prints one flat object; the fixture writes the same shape."""
    document = json.loads(stack.outputs_path.read_text())
    assert isinstance(document, dict) and all(isinstance(key, str) for key in document)
