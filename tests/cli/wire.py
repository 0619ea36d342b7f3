"""An AWS JSON-protocol endpoint on 127.0.0.1 that answers each operation from a queue of canned
responses, for the CLI run as its own process (where botocore's Stubber cannot reach).

Each canned body is checked against botocore's service model as the Stubber checks it: a success
against the operation's output shape, an error code against the operation's documented errors (or
the SDKs' throttling codes), so the endpoint cannot answer what AWS would not.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session
from botocore.validate import validate_parameters

# Retried as throttling by every SDK (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
THROTTLING_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}


class Wire:
    """Canned answers by operation name, and the operations asked, in order."""

    def __init__(self, service: str) -> None:
        self._model = botocore.session.get_session().get_service_model(service)
        self._answers: dict[str, deque[tuple[int, dict[str, Any]]]] = {}
        self.asked: list[str] = []
        self.endpoint = ""

    def answer(self, operation: str, body: dict[str, Any]) -> None:
        """A successful response of `operation` (boto3's Python shape; times as datetimes)."""
        model = self._model.operation_model(operation)
        validate_parameters(body, model.output_shape)
        self._answers.setdefault(operation, deque()).append((200, _wire(body)))

    def fail(self, operation: str, code: str, message: str, *, times: int = 1) -> None:
        model = self._model.operation_model(operation)
        documented = {shape.name for shape in model.error_shapes}
        assert code in documented | THROTTLING_CODES, f"{operation} documents no error {code}: {documented}"
        for _ in range(times):
            self._answers.setdefault(operation, deque()).append((400, {"__type": code, "message": message}))

    def respond(self, target: str) -> tuple[int, dict[str, Any]]:
        operation = target.rpartition(".")[2]
        self.asked.append(operation)
        queue = self._answers.get(operation)
        if not queue:
            return 400, {"__type": "UnexpectedCall", "message": f"the test expects no {operation}"}
        return queue.popleft()


def _wire(value: Any) -> Any:
    """JSON as the service sends it: timestamps as epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire(item) for item in value]
    return value


@contextmanager
def serving(wire: Wire) -> Iterator[Wire]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, body = wire.respond(self.headers.get("X-Amz-Target", ""))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    wire.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield wire
    finally:
        server.shutdown()
        server.server_close()
