"""A loopback HTTP proxy that delays every GET by 20-50 ms: S3's real first-byte latency, for the bench.

    with latency_proxy("http://127.0.0.1:5000") as endpoint: ...  # point boto3 at `endpoint`

Local S3 answers in well under a millisecond, which hides what concurrency buys against the real
service (tens of milliseconds per GET). Listens on 127.0.0.1 only and forwards to a loopback URL.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LOW_MS, HIGH_MS = 20.0, 50.0
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@contextmanager
def latency_proxy(target: str, *, seed: int = 0) -> Iterator[str]:
    """Forward to `target` (a 127.0.0.1 URL), each GET held LOW_MS-HIGH_MS first; yields the proxy URL."""
    parts = urlsplit(target)
    if parts.hostname != "127.0.0.1":
        raise ValueError(f"target {target!r}: the proxy only forwards to 127.0.0.1")
    rng, lock = random.Random(seed), threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            if self.command == "GET":
                with lock:
                    delay = rng.uniform(LOW_MS, HIGH_MS)
                time.sleep(delay / 1000)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            upstream = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            upstream.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
