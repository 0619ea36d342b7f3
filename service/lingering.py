"""A lingering close for refusals, at the HTTP protocol layer (uvicorn's httptools protocol).

When the service refuses a request before reading its body (413, or uvicorn's 400 for malformed
framing), uvicorn closes the socket with the client's unread bytes in it, and the kernel answers them
with a TCP reset: a client still sending sees a broken pipe instead of the answer, and a load
balancer sees a target reset and answers 502 (a 5xx the rollback alarms count). As nginx does
(`lingering_close`), the connection is instead half-closed after the answer, and whatever the client
still sends is read and dropped, up to `LINGER_MAX_BYTES` and `LINGER_SECONDS` (and no longer than
`LINGER_IDLE_SECONDS` between reads), then closed. Dropping happens here, before the parser, so a
100 MB body costs a read loop and no memory; an ASGI middleware would see every byte parsed and
copied into a message.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ml_deploy.settings import ServiceSettings


@dataclass(frozen=True)
class LingerLimits:
    """How much of an unwanted body the service reads, and for how long, before it closes anyway."""

    max_bytes: int
    max_seconds: float
    idle_seconds: float


@cache
def limits_from_env() -> LingerLimits:
    """The limits of `ServiceSettings`; read once per worker (uvicorn builds one protocol per connection)."""
    settings = ServiceSettings.from_env()
    return LingerLimits(
        max_bytes=settings.linger_max_bytes,
        max_seconds=settings.linger_seconds,
        idle_seconds=settings.linger_idle_seconds,
    )


class _Transport:
    """The transport as uvicorn's protocol and request cycles see it: `close()` lingers, and nothing is
    written once the connection is half-closed."""

    __slots__ = ("_protocol", "_transport")

    def __init__(self, transport: asyncio.Transport, protocol: LingeringHttpToolsProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._protocol.lingering:
            self._transport.write(data)

    def is_closing(self) -> bool:
        return self._protocol.lingering or self._transport.is_closing()

    def close(self) -> None:
        self._protocol.close_connection()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LingeringHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose close, with a request body still unread, lingers."""

    def __init__(self, *args: Any, limits: LingerLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits or limits_from_env()
        self.lingering = False
        self._raw: asyncio.Transport | None = None
        self._malformed = False
        self._discarded = 0
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio.Transport
        super().connection_made(_Transport(self._raw, self))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if not self.lingering:
            super().data_received(data)
            return
        self._discarded += len(data)
        if self._discarded > self.limits.max_bytes:
            self._close_now()
        else:
            self._arm_timer()

    def eof_received(self) -> None:
        if self.lingering:
            self._close_now()  # the client sent everything and read the answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.lingering = False
        self._cancel_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        # The parser stopped mid-request: whatever follows is unread, and the app gets a disconnect now
        # rather than when the connection ends.
        self._malformed = True
        if self.cycle is not None and not self.cycle.response_started:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        super().send_400_response(msg)

    def shutdown(self) -> None:
        if self.lingering:
            self._close_now()  # the server is stopping: the answer is out, stop draining
            return
        super().shutdown()

    def close_connection(self) -> None:
        """Close at once if the request was read whole; otherwise half-close and drain (bounded)."""
        assert self._raw is not None
        if self.lingering or self._raw.is_closing():
            return
        unread = self._malformed or (self.cycle is not None and self.cycle.more_body)
        if not unread or self.limits.max_seconds <= 0:
            self._raw.close()
            return
        self.lingering = True
        self._unset_keepalive_if_required()
        self._deadline = self.loop.time() + self.limits.max_seconds
        if self._raw.can_write_eof():
            self._raw.write_eof()  # FIN after the answer, so the client can read it and stop sending
        self._raw.resume_reading()  # flow control may have paused reads while the body was buffered
        self._arm_timer()

    def _arm_timer(self) -> None:
        self._cancel_timer()
        remaining = self._deadline - self.loop.time()
        if remaining <= 0:
            self._close_now()
            return
        self._timer = self.loop.call_later(min(self.limits.idle_seconds, remaining), self._close_now)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close_now(self) -> None:
        self._cancel_timer()
        self.lingering = False
        if self._raw is not None and not self._raw.is_closing():
            self._raw.close()
