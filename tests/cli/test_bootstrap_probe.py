"""How bootstrap judges "serving" when /version cannot be reached from where it runs (internal load
balancers by default, mutual TLS on a public endpoint): ECS's view decides, /version confirms where
it answers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ml_deploy_cli.commands.bootstrap import probe_version


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def version_server() -> Iterator[str]:
    class Version(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = (200, {"model_version": "m-2"}) if self.path == "/version" else (404, {})
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Version)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_answering_service_is_reached_with_its_model(version_server: str) -> None:
    assert probe_version(version_server) == (True, "m-2")
    assert probe_version(version_server + "/") == (True, "m-2")


def test_an_unreachable_load_balancer_is_not_reached_rather_than_wrong() -> None:
    assert probe_version(f"http://127.0.0.1:{_closed_port()}") == (False, None)


def test_an_http_error_is_an_answer_without_a_model(version_server: str) -> None:
    assert probe_version(version_server + "/missing") == (True, None)
