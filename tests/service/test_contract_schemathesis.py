"""The published OpenAPI document is the server's contract: schemathesis, every check, finds nothing.

It runs `st run --checks all` (schemathesis's coverage phase, then fuzzing) against the real server
process with the session's real bundle: requests the document forbids must be refused (4xx), requests
it allows must be answered 2xx, and every answer must match its declared status, headers and schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_deploy_dev.servers import free_port, stop_server
from tests.service.conftest import serve_process

ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = 400  # per operation: the whole run stays well under a minute on a busy 2-core machine


@pytest.fixture
def server_port(trained_bundle: Path) -> Iterator[int]:
    port = free_port()
    process = serve_process(trained_bundle, port)
    try:
        yield port
    finally:
        stop_server(process)


def test_schemathesis_with_every_check_finds_nothing(server_port: int, tmp_path: Path) -> None:
    command = [
        str(ST), "run", f"http://127.0.0.1:{server_port}/openapi.json", "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES), "--workers", "1", "--generation-database", "none",
        "--request-timeout", "10", "--no-color",
    ]  # fmt: skip
    run = subprocess.run(  # in tmp_path, so no schemathesis.toml of the checkout changes what is checked
        command,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, (
        f"schemathesis found a disagreement between the document and the server:\n{report}"
    )
    assert "5 selected / 5 total" in run.stdout and "passed" in run.stdout, report
