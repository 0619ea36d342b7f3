"""Request count and latency per endpoint and status, as a plain ASGI middleware.

Starlette's `BaseHTTPMiddleware` wraps every response in a stream and costs a large share of a
sub-millisecond request; a raw ASGI wrapper only watches the `http.response.start` message.
A client that disconnects before it was answered (an aborted upload) is counted with status 499,
nginx's "client closed request", so it never reaches the 5xx alarms.
"""

from __future__ import annotations

import time
from typing import Any

from service.metrics import ENDPOINTS, ServiceMetrics

CLIENT_CLOSED_REQUEST = 499

Scope = dict[str, Any]
Message = dict[str, Any]


class MetricsMiddleware:
    def __init__(self, app: Any, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        disconnected = False

        async def receive_and_watch() -> Message:
            nonlocal disconnected
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive_and_watch, send_and_watch)
        finally:
            if not status:  # never answered: the client left, or the app raised before it answered
                status = CLIENT_CLOSED_REQUEST if disconnected else 500
            path = scope["path"]
            endpoint = path if path in ENDPOINTS else "other"
            method = scope["method"]
            labels = (endpoint, method, str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
            if status >= 400 and status != CLIENT_CLOSED_REQUEST:
                self.metrics.errors.labels(endpoint, "server" if status >= 500 else "client").inc()
