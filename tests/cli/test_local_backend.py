"""`--local` is honoured by every command: the local delivery's state and its AWS stand-in (a
moto_server on 127.0.0.1) answer, never the account the operator's credentials name.

The proof: real-looking credentials and a stack outputs file are present, and every botocore call
to an endpoint that is not the stand-in fails the test (a stubbed session that fails on any call).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_deploy.bundle import read_manifest
from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy.settings import RetrainSettings, environment
from ml_deploy_cli.__main__ import main
from ml_deploy_cli.local.state import STATE_VARIABLE
from ml_deploy_dev.local_aws import LocalAws, create_bucket, moto_server
from tests.cli.account_guard import calls_outside
from tests.cli.test_failures import local_state


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with moto_server() as local:
        yield local


@pytest.fixture
def no_real_account(aws: LocalAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Credentials and outputs of a real stack are there; a call anywhere but the stand-in fails."""
    outputs = {"modelBucket": "prod-models", "modelKey": "bundles/current/model-bundle.zip"}
    return calls_outside(monkeypatch, tmp_path, outputs=outputs, allowed=lambda url: url == aws.endpoint)


@pytest.fixture
def state(aws: LocalAws, tmp_path: Path) -> Path:
    """A local delivery's state whose buckets are fresh ones on the stand-in."""
    document = local_state(endpoint=aws.endpoint)
    suffix = uuid.uuid4().hex[:8]
    document.update(model_bucket=f"local-models-{suffix}", log_bucket=f"local-logs-{suffix}")
    create_bucket(aws, str(document["model_bucket"]), versioned=True)
    create_bucket(aws, str(document["log_bucket"]))
    training = f"local-training-{suffix}"
    create_bucket(aws, training)
    document["first_model_environment"] = {
        **aws.environment,
        **environment(
            RetrainSettings,
            model_bucket=document["model_bucket"],
            model_key=document["model_key"],
            training_data_uri=f"s3://{training}/{DEFAULT_LAYOUT.training_data_prefix}",
        ),
    }
    path = tmp_path / "delivery" / "state.json"
    path.parent.mkdir()
    path.write_text(json.dumps(document))
    return path


def cli(state: Path, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--local", *argv], environ={STATE_VARIABLE: str(state)})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_local_first_model_asks_the_stand_in_and_never_the_account(
    state: Path, aws: LocalAws, no_real_account: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(state.read_text())
    aws.client("s3").put_object(Bucket=document["model_bucket"], Key=document["model_key"], Body=b"zip")

    code, _, err = cli(state, "first-model", capsys=capsys)

    assert no_real_account == []
    assert code == 1, err
    assert (
        f"s3://{document['model_bucket']}/{document['model_key']}" in err and "already holds a model" in err
    )
    assert "`ml-deploy --local upload-model BUNDLE`" in err, "the hint is for the backend in use"


def test_local_first_model_runs_the_retrain_job_against_the_stand_in(
    state: Path, no_real_account: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(state, "first-model", capsys=capsys)

    assert no_real_account == []
    assert code == 1, "the stand-in's training bucket is empty, so the job fails with its own reason"
    assert "training a first bundle from s3://local-training-" in out
    assert "the retrain job exited 2" in err


def test_local_archive_bundle_writes_to_the_stand_in(
    state: Path,
    aws: LocalAws,
    trained_bundle: Path,
    no_real_account: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = json.loads(state.read_text())["model_bucket"]

    code, out, err = cli(
        state, "archive-bundle", str(trained_bundle), "--model-bucket", bucket, capsys=capsys
    )

    assert no_real_account == []
    assert code == 0, err
    version = read_manifest(trained_bundle).bundle_version
    key = DEFAULT_LAYOUT.archived_bundle_key(version)
    assert aws.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    assert f"archived bundle {version}" in out


def test_local_evidence_steps_read_the_stand_ins_reports(
    state: Path, no_real_account: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = json.loads(state.read_text())["log_bucket"]

    smoke = cli(state, "smoke-test-result", "--log-bucket", bucket, "--environment", "stage",
                "--model-version", "v1", capsys=capsys)  # fmt: skip
    drift = cli(state, "drift-report-link", "--log-bucket", bucket,
                "--model-created-at", "2026-11-23T10:00:00+00:00", capsys=capsys)  # fmt: skip

    assert no_real_account == []
    assert smoke[0] == 0 and drift[0] == 0, (smoke, drift)


def test_local_status_json_has_the_documented_schema(
    state: Path, no_real_account: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(state, "status", "--json", capsys=capsys)

    assert no_real_account == []
    assert code == 0, err
    document = json.loads(out)
    assert document["schema"] == "ml-deploy/status/v1" and document["backend"] == "local"
    assert set(document) == {
        "schema",
        "backend",
        "environments",
        "pipeline",
        "retrain",
        "drift",
        "links",
        "errors",
    }
    assert document["pipeline"]["waiting_approvals"][0]["model_version"] == "20261123T101500Z-3f9a1c2b"
    assert document["environments"]["stage"]["tasks"] == {"running": 0, "desired": 0}
    assert document["links"]["stage"] == "http://127.0.0.1:18081"
    assert document["retrain"] is None and document["errors"] == []


def test_local_history_json(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(state, "history", "--json", capsys=capsys)

    assert code == 0, err
    document = json.loads(out)
    assert document["schema"] == "ml-deploy/history/v1"
    (execution,) = document["executions"]
    assert execution["execution_id"] == local_state(endpoint="-")["executions"][0]["id"]  # type: ignore[index]
    assert execution["approval"] == {"status": "InProgress", "by": None, "summary": None}
    assert execution["started"] == "2026-11-23T10:00:00+00:00"


def test_status_watch_redraws_until_interrupted(
    state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt  # the operator's Ctrl-C

    monkeypatch.setattr("ml_deploy_cli.commands.status.time.sleep", nap)

    code, out, err = cli(state, "status", "--watch", "--interval", "3", capsys=capsys)

    assert code == 0, err
    assert naps == [3.0, 3.0]
    assert out.count("pipeline ml-deploy-local:") == 2, "one redraw per look"
