"""A reverse proxy that, like an Application Load Balancer, turns a target reset into a 502.

The ALB troubleshooting guide lists among the causes of an HTTP 502 "The target closed the connection
with a TCP RST or a TCP FIN while the load balancer had an outstanding request to the target"
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
This proxy does the same: a request whose bytes cannot all be delivered to the target, or whose answer
does not arrive whole, is answered 502 (after the client's body is read, so the client sees the 502).
One request per connection; the client half-closes when it has sent its request. 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field

CHUNK = 1 << 20
BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


@dataclass
class AlbLikeProxy:
    target_port: int
    port: int = 0
    answered_502: list[str] = field(default_factory=list)  # why each 502 was given
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> AlbLikeProxy:
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()
            server.close()
            self._loop.run_until_complete(server.wait_closed())

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert started.wait(10), "the proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            delivered, answer = await asyncio.gather(
                self._upload(client_reader, target_writer), self._answer(target_reader)
            )
            if not delivered or isinstance(answer, str):
                why = answer if isinstance(answer, str) else "the target reset while the request was sent"
                self.answered_502.append(why)
                answer = BAD_GATEWAY
            client_writer.write(answer)
            await client_writer.drain()
            target_writer.close()
        finally:
            client_writer.close()

    async def _upload(self, client_reader: asyncio.StreamReader, target_writer: asyncio.StreamWriter) -> bool:
        """Forward the client's bytes until it half-closes; False if the target reset or closed first."""
        delivered = True
        while chunk := await client_reader.read(CHUNK):
            if not delivered:
                continue  # keep reading, so the client can send everything and read the 502
            try:
                target_writer.write(chunk)
                await target_writer.drain()
            except (ConnectionError, RuntimeError):
                delivered = False
        return delivered

    async def _answer(self, target_reader: asyncio.StreamReader) -> bytes | str:
        """The target's whole answer (headers and Content-Length body), or why it did not arrive."""
        try:
            head = await target_reader.readuntil(b"\r\n\r\n")
            length = _CONTENT_LENGTH.search(head)
            body = await target_reader.readexactly(int(length.group(1))) if length else b""
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            return f"no whole answer from the target: {type(error).__name__}"
        return head + body
