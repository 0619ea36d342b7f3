"""The smoke hook against a real model server: golden records replayed over HTTP, verdict in S3."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra.serving.smoke_hook import handler as hook
from ml_deploy.bundle import encode_records, read_bundle, read_golden_records
from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy_dev.servers import answer_json, free_port
from tests.smoke_hook.conftest import (
    DOCUMENTED_POST_TEST_TRAFFIC_SHIFT,
    RESULTS,
    LambdaContext,
    hook_environment,
)


def _run_hook(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], event: dict[str, Any]) -> Any:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return hook.handler(event, LambdaContext())


def _verdict(s3: Any, version: str, environment: str = "stage") -> dict[str, Any]:
    key = DEFAULT_LAYOUT.smoke_test_key(environment, version)
    verdict: dict[str, Any] = json.loads(s3.get_object(Bucket=RESULTS, Key=key)["Body"].read())
    return verdict


@pytest.fixture
def version(trained_bundle: Path) -> str:
    return read_bundle(trained_bundle).manifest.bundle_version


def test_matching_golden_records_pass_and_the_verdict_is_kept(
    monkeypatch: pytest.MonkeyPatch, s3: Any, archive: Callable[[Path, str], str], good_service: str,
    trained_bundle: Path, version: str, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    archive(trained_bundle, version)

    answer = _run_hook(monkeypatch, hook_environment(good_service), DOCUMENTED_POST_TEST_TRAFFIC_SHIFT)

    assert answer == {"hookStatus": "SUCCEEDED"}
    verdict = _verdict(s3, version)
    assert verdict["status"] == "SUCCEEDED" and verdict["failures"] == [], verdict["failures"]
    assert verdict["model_version"] == version and verdict["environment"] == "stage"
    assert verdict["records"] == verdict["replayed"] == 256
    assert verdict["max_abs_diff"] <= 1e-6 and 0 < verdict["p50_ms"] <= verdict["p99_ms"]
    assert verdict["revision"] == DOCUMENTED_POST_TEST_TRAFFIC_SHIFT["targetServiceRevisionArn"]
    [summary] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("smoke test")]
    assert "SUCCEEDED" in summary and "256/256" in summary and version in summary


def test_a_model_swapped_after_the_golden_records_fails_naming_the_record_and_both_probabilities(
    monkeypatch: pytest.MonkeyPatch, s3: Any, archive: Callable[[Path, str], str], swapped_service: str,
    swapped_bundle: Path, trained_bundle: Path, other_model: Any, version: str,
) -> None:  # fmt: skip
    archive(swapped_bundle, version)  # the archive holds what the revision serves

    answer = _run_hook(monkeypatch, hook_environment(swapped_service), DOCUMENTED_POST_TEST_TRAFFIC_SHIFT)

    assert answer == {"hookStatus": "FAILED"}
    verdict = _verdict(s3, version)
    assert verdict["status"] == "FAILED" and verdict["failure_count"] > 10, verdict["failure_count"]
    first = verdict["failures"][0]
    index = int(first.split(":")[0].removeprefix("record "))
    golden = read_golden_records(trained_bundle)
    assert golden is not None
    recorded = golden.records[index].probability
    served = float(other_model.predict_proba(
        encode_records([golden.records[index].record], read_bundle(trained_bundle).manifest.features)
    )[0, 1])  # fmt: skip
    assert f"recorded probability {recorded!r}, served " in first, first
    assert float(first.split("served ")[1].split()[0]) == pytest.approx(served, abs=1e-9), first
    assert verdict["max_abs_diff"] > 1e-3


class _FailingService(BaseHTTPRequestHandler):
    """Reports a model version, then answers every prediction with 503."""

    model_version = ""

    def do_GET(self) -> None:
        self._answer(200, {"model_version": self.model_version})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(503, {"detail": "model unavailable"})

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        answer_json(self, status, json.dumps(document).encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def failing_service(version: str) -> Iterator[str]:
    handler = type("Handler", (_FailingService,), {"model_version": version})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_service_answering_5xx_fails_and_stops_early(
    monkeypatch: pytest.MonkeyPatch, s3: Any, archive: Callable[[Path, str], str], failing_service: str,
    trained_bundle: Path, version: str,
) -> None:  # fmt: skip
    archive(trained_bundle, version)

    answer = _run_hook(monkeypatch, hook_environment(failing_service), DOCUMENTED_POST_TEST_TRAFFIC_SHIFT)

    assert answer == {"hookStatus": "FAILED"}
    verdict = _verdict(s3, version)
    assert verdict["failures"][0].startswith("record 0: answered 503"), verdict["failures"]
    assert verdict["replayed"] == 0
    assert verdict["failures"][-1] == f"stopped after {hook.MAX_REQUEST_FAILURES} failed requests"


def test_a_slow_p99_fails(
    monkeypatch: pytest.MonkeyPatch, s3: Any, archive: Callable[[Path, str], str], good_service: str,
    trained_bundle: Path, version: str,
) -> None:  # fmt: skip
    archive(trained_bundle, version)
    environ = hook_environment(good_service, max_p99_ms=0.001)

    assert _run_hook(monkeypatch, environ, DOCUMENTED_POST_TEST_TRAFFIC_SHIFT) == {"hookStatus": "FAILED"}
    verdict = _verdict(s3, version)
    assert verdict["replayed"] == 256 and verdict["max_abs_diff"] <= 1e-6
    assert verdict["failures"] == [f"p99 latency {verdict['p99_ms']:.1f} ms exceeds 0.001 ms"]


def test_a_bundle_missing_from_the_archive_fails_naming_its_key(
    monkeypatch: pytest.MonkeyPatch, s3: Any, good_service: str, version: str
) -> None:
    assert _run_hook(monkeypatch, hook_environment(good_service), {}) == {"hookStatus": "FAILED"}
    [failure] = _verdict(s3, version)["failures"]
    assert f"s3://ml-models/{DEFAULT_LAYOUT.archived_bundle_key(version)}" in failure
    assert "NoSuchKey" in failure


def test_a_bundle_without_golden_records_fails(
    monkeypatch: pytest.MonkeyPatch, s3: Any, archive: Callable[[Path, str], str], good_service: str,
    trained_bundle: Path, tmp_path: Path, version: str,
) -> None:  # fmt: skip
    legacy = _without_golden_records(trained_bundle, tmp_path / "legacy.zip")
    archive(legacy, version)
    assert _run_hook(monkeypatch, hook_environment(good_service), {}) == {"hookStatus": "FAILED"}
    [failure] = _verdict(s3, version)["failures"]
    assert "has no golden records" in failure


def test_a_missing_setting_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, s3: Any, good_service: str
) -> None:
    environ = hook_environment(good_service)
    del environ["TEST_URL"]
    monkeypatch.delenv("TEST_URL", raising=False)
    verdict = hook.smoke_test(environ, s3=s3)
    assert verdict.status == "FAILED" and verdict.failures == ["TEST_URL is not set"]


def test_the_plain_function_takes_any_client_and_reads_the_wrapped_event_shape(
    s3: Any, archive: Callable[[Path, str], str], good_service: str, trained_bundle: Path, version: str
) -> None:
    archive(trained_bundle, version)
    wrapped = {
        "executionId": "example",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
        "executionDetails": DOCUMENTED_POST_TEST_TRAFFIC_SHIFT,
    }
    revision, stage = hook.hook_details(wrapped)
    verdict = hook.smoke_test(
        hook_environment(good_service, result_bucket=""), s3=s3, revision=revision, lifecycle_stage=stage
    )
    assert verdict.status == "SUCCEEDED" and verdict.lifecycle_stage == "POST_TEST_TRAFFIC_SHIFT"
    assert verdict.revision == DOCUMENTED_POST_TEST_TRAFFIC_SHIFT["targetServiceRevisionArn"]
    assert "Contents" not in s3.list_objects_v2(Bucket=RESULTS), "no result bucket, no verdict object"


def _without_golden_records(source: Path, target: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        manifest = json.loads(zin.read("manifest.json"))
        del manifest["golden_records"]
        zout.writestr("manifest.json", json.dumps(manifest))
        zout.writestr(manifest["model_file"]["name"], zin.read(manifest["model_file"]["name"]))
    return target


def _service_with(ecs: Any, desired: int) -> str:
    """A service in moto's ECS whose desired count is `desired`; its ARN, as the hook event names it."""
    ecs.create_cluster(clusterName="serving")
    ecs.register_task_definition(
        family="serving-stage",
        containerDefinitions=[{"name": "model-server", "image": "repo:bootstrap", "memory": 512}],
    )
    created = ecs.create_service(
        cluster="serving", serviceName="serving-stage", taskDefinition="serving-stage", desiredCount=desired
    )
    arn: str = created["service"]["serviceArn"]
    return arn


def test_a_revision_no_task_runs_succeeds_without_a_request_and_says_so(
    monkeypatch: pytest.MonkeyPatch, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A first deploy, before ECR held an image: the service's desired count is 0. The documented
    hookStatus values are SUCCEEDED, FAILED and IN_PROGRESS (no "skipped"); FAILED rolls back
    ("Lifecycle hooks for Amazon ECS service deployments", https://docs.aws.amazon.com/AmazonECS/
    latest/developerguide/deployment-lifecycle-hooks.html), which would stop the first run before
    its approval. The test URL is a closed port: any request would fail the verdict."""
    import boto3

    arn = _service_with(boto3.client("ecs", region_name="eu-west-1"), desired=0)
    event = {**DOCUMENTED_POST_TEST_TRAFFIC_SHIFT, "serviceArn": arn}

    answer = _run_hook(monkeypatch, hook_environment(f"http://127.0.0.1:{free_port()}"), event)

    assert answer == {"hookStatus": "SUCCEEDED"}
    summary = capsys.readouterr().out
    assert "desired count is 0" in summary and "nothing to replay" in summary, summary
    assert "Contents" not in s3.list_objects_v2(Bucket=RESULTS), "a verdict without a model version was kept"


def test_a_revision_with_tasks_is_still_replayed(monkeypatch: pytest.MonkeyPatch, s3: Any) -> None:
    """Desired count 1 and nothing answering the test listener: the usual failure, not a pass."""
    import boto3

    arn = _service_with(boto3.client("ecs", region_name="eu-west-1"), desired=1)
    event = {**DOCUMENTED_POST_TEST_TRAFFIC_SHIFT, "serviceArn": arn}

    answer = _run_hook(monkeypatch, hook_environment(f"http://127.0.0.1:{free_port()}"), event)

    assert answer == {"hookStatus": "FAILED"}
