"""The real server process: `python -m service` against a local moto_server, stopped with SIGTERM."""

from __future__ import annotations

import gzip
import re
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from ml_deploy_dev.servers import free_port, stop_server
from tests.service.conftest import serve_process

# Its own bucket: moto_endpoint is one server per session, and other suites log to theirs.
BUCKET = "prediction-logs-server-process"


def _post(port: int, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        data=orjson.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, Any] = orjson.loads(answer.read())
        return result


def test_sigterm_flushes_the_payload_log_of_the_real_server(
    trained_bundle: Path, moto_endpoint: str, valid_records: list[dict[str, Any]]
) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)
    port = free_port()
    server = serve_process(trained_bundle, port, LOG_BUCKET=BUCKET, ENVIRONMENT="proc",
                           LOG_FLUSH_SECONDS="3600", AWS_ENDPOINT_URL=moto_endpoint)  # fmt: skip
    try:
        answers = [_post(port, {"record": r}) for r in valid_records[:5]]
        server.send_signal(signal.SIGTERM)  # what ECS sends when it stops the task
        # uvicorn shuts down gracefully, then re-raises the signal, so the exit status is "killed by SIGTERM".
        assert server.wait(timeout=30) in (0, -signal.SIGTERM), "the server must stop on SIGTERM"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    bodies = [gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) for key in keys]
    lines = [orjson.loads(line) for body in bodies for line in body.splitlines()]
    assert sorted(line["request_id"] for line in lines) == sorted(a["request_id"] for a in answers), (
        "records buffered at SIGTERM must be written before the process exits"
    )


@pytest.fixture
def hanging_s3() -> Iterator[str]:
    """An endpoint that accepts connections and never answers: S3 hanging, not refusing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


def test_sigterm_with_s3_hanging_exits_within_the_budget_and_counts_every_record(
    trained_bundle: Path, hanging_s3: str, valid_records: list[dict[str, Any]]
) -> None:
    port, budget = free_port(), 2.0
    server = serve_process(trained_bundle, port, LOG_BUCKET=BUCKET, ENVIRONMENT="proc", LOG_BATCH_SIZE="10",
                    LOG_SHUTDOWN_TIMEOUT_SECONDS=str(budget), AWS_ENDPOINT_URL=hanging_s3)  # fmt: skip
    for start in range(0, 30, 10):
        _post(port, {"records": valid_records[start : start + 10]})
    elapsed, stderr = stop_server(server)
    # uvicorn's drain of idle connections is immediate; the flush must end by the budget.
    assert elapsed < budget + 3.0, f"shutdown took {elapsed:.1f} s for a {budget} s budget:\n{stderr[-2000:]}"
    assert re.search(r"\b30 records not written", stderr), (
        f"the loss must be logged with its count:\n{stderr[-3000:]}"
    )


def test_a_client_leaving_mid_body_is_an_abort_not_a_server_error(trained_bundle: Path) -> None:
    port = free_port()
    server = serve_process(trained_bundle, port)
    try:
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 1000\r\n\r\n" + b'{"record": {' + b" " * 88)  # fmt: skip
        time.sleep(0.5)  # the server notices the closed connection
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            metrics = answer.read().decode()
    finally:
        _, stderr = stop_server(server)
    assert 'http_requests_total{endpoint="/predict",method="POST",status="499"} 1.0' in metrics, metrics
    assert 'status="500"' not in metrics and 'kind="server"' not in metrics, "an abort is no server error"
    assert "Traceback" not in stderr, stderr
