"""`ml-deploy diff`: what approving would change in prod, against stage or a waiting execution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml_deploy_cli.__main__ import main
from ml_deploy_cli.local.state import STATE_VARIABLE
from tests.cli.conftest import PIPELINE, REPOSITORY, Stack
from tests.cli.pipeline_shapes import COMMIT, MODEL_VERSION, WAITING, action_executions, pipeline_state
from tests.cli.test_failures import SERVED, local_state

NEW_TAG = f"{COMMIT[:12]}-{MODEL_VERSION}"


def test_diff_shows_what_stage_would_bring_to_prod(stack: Stack) -> None:
    stack.deploy("stage", NEW_TAG)

    result = stack.cli("diff")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "prod now -> stage"
    assert lines[1].split() == ["~", "commit", "-", "->", COMMIT[:12]]
    assert lines[2].split() == ["~", "model", "-", "->", MODEL_VERSION]
    assert lines[3].split() == ["~", "image", f"{REPOSITORY}:bootstrap", "->", f"{REPOSITORY}:{NEW_TAG}"]
    assert len(lines) == 4, "the environments' settings are the same apart from ENVIRONMENT"


def test_diff_of_the_waiting_execution_as_json(stack: Stack) -> None:
    stack.pipeline.add_response("get_pipeline_state", pipeline_state(waiting=True), {"name": PIPELINE})
    stack.pipeline.add_response(
        "list_action_executions",
        action_executions(WAITING),
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": WAITING}},
    )

    result = stack.cli("diff", "--execution", WAITING, "--json")

    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["schema"] == "ml-deploy/diff/v1" and document["candidate"] == f"execution {WAITING}"
    assert document["changes"] == ["commit", "model", "image tag"]
    assert document["fields"][1] == {"field": "model", "prod": None, "candidate": MODEL_VERSION}


def test_diff_names_settings_that_differ_on_the_local_delivery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = local_state(endpoint="http://127.0.0.1:1")
    for name, level in (("stage", "debug"), ("prod", "info")):
        record = document["environments"][name]  # type: ignore[index]
        record.update(revisions=[{"revision": 1, "image": f"local/service:{SERVED}"}],
                      stopped={"revision": 1, "pid": 2**22 + 1, "port": 1},
                      task_environment={"ENVIRONMENT": name, "LOG_LEVEL": level})  # fmt: skip
    state = tmp_path / "state.json"
    state.write_text(json.dumps(document))

    assert main(["--local", "diff"], environ={STATE_VARIABLE: str(state)}) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prod now -> stage"
    assert lines[1].split() == ["commit", "1a2b3c4d5e6f", "->", "1a2b3c4d5e6f"], "the same commit: unmarked"
    assert [line.split() for line in lines if line.startswith("~")] == [
        ["~", "setting", "LOG_LEVEL", "info", "->", "debug"]
    ]
