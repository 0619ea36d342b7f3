"""Request bodies are bounded before they are read whole: 413 on a declared or streamed excess.

The body is read here, chunk by chunk, up to `max_body_bytes` and handed to the app as one
message: a declared Content-Length over the limit is refused before a byte of the body is read, a
chunked (or understated) body as soon as it passes the limit. The 413 says `Connection: close`, so
the server drops the connection instead of reading the rest.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from service.problems import problem, request_id_of

Scope = dict[str, Any]
Message = dict[str, Any]
_READS_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyLimitMiddleware:
    def __init__(self, app: Any, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(scope, receive, send, f"declares {declared} bytes")
            return
        if scope["method"] not in _READS_BODY:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left mid-body: nobody to answer (metrics count it as an abort)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._refuse(scope, receive, send, f"is over {self.max_body_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # type: ignore[no-any-return]
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Any, send: Any, what: str) -> None:
        response = problem(
            413,
            f"request body {what}; the limit is {self.max_body_bytes} bytes (MAX_BODY_BYTES)",
            request_id=request_id_of(Request(scope)),
            headers={"connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects a malformed length before the app sees it
    return None
