"""The real server process: `python -m service` against a local moto_server, stopped with SIGTERM."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]
BUCKET = "prediction-logs"
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_answers(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, (
            f"process exited: {process.stderr.read().decode() if process.stderr else ''}"
        )
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


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
    port = _free_port()
    env = {**os.environ, **FAKE_AWS, "MODEL_BUNDLE_PATH": str(trained_bundle), "HOST": "127.0.0.1",
           "PORT": str(port), "WEB_CONCURRENCY": "1", "LOG_BUCKET": BUCKET, "ENVIRONMENT": "proc",
           "LOG_FLUSH_SECONDS": "3600", "AWS_ENDPOINT_URL": moto_endpoint}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "service"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_answers(f"http://127.0.0.1:{port}/ready", server)
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
