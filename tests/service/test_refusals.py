"""Refusals reach the client as answers: the real server behind a proxy that turns a target reset into a 502.

Without a lingering close, the server closes a refused connection with the client's unread bytes in it;
the kernel resets it, and a load balancer answers the client 502 (a 5xx the rollback alarms count).
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_deploy_dev.servers import free_port, stop_server
from tests.service.alb_proxy import AlbLikeProxy
from tests.service.conftest import serve_process

MIB = 1 << 20
MAX_BODY_BYTES = MIB  # the service's default
SEND_CHUNK = b"7" * MIB


@pytest.fixture(scope="module")
def server(trained_bundle: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = serve_process(trained_bundle, port, MAX_BODY_BYTES=str(MAX_BODY_BYTES))
    try:
        yield process, port
    finally:
        _, stderr = stop_server(process)
        assert "Traceback" not in stderr, stderr[-3000:]


@pytest.fixture
def proxy(server: tuple[subprocess.Popen[bytes], int]) -> Iterator[AlbLikeProxy]:
    with AlbLikeProxy(target_port=server[1]) as alb:
        yield alb


def _send(port: int, head: bytes, *, body_bytes: int = 0, prefix: bytes = b"", chunked: bool = False) -> int:
    """Send the request as fast as the socket takes it, half-close, and return the answer's status."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(head + prefix)
        left = body_bytes - len(prefix)
        while left > 0:
            piece = SEND_CHUNK[: min(left, MIB)]
            connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            left -= len(piece)
        if chunked:
            connection.sendall(b"0\r\n\r\n")
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 "), f"no HTTP answer: {answer[:200]!r}"
    return int(answer.split(b" ", 2)[1])


def _post_head(*, length: int | None) -> bytes:
    framing = b"transfer-encoding: chunked" if length is None else b"content-length: %d" % length
    return (
        b"POST /predict HTTP/1.1\r\nhost: service\r\ncontent-type: application/json\r\n"
        + framing
        + b"\r\n\r\n"
    )


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


@pytest.mark.parametrize("megabytes", [10, 100])
def test_a_large_body_sent_at_full_speed_gets_413_through_the_load_balancer(
    server: tuple[subprocess.Popen[bytes], int], proxy: AlbLikeProxy, megabytes: int
) -> None:
    process, port = server
    size = megabytes * 1_000_000
    _send(proxy.port, _post_head(length=2 * MAX_BODY_BYTES), body_bytes=2 * MAX_BODY_BYTES)  # warm up
    before = _rss_kib(process.pid)
    statuses = [
        _send(proxy.port, _post_head(length=size), body_bytes=size),
        _send(proxy.port, _post_head(length=None), body_bytes=size, chunked=True),
    ]
    grown = _rss_kib(process.pid) - before
    assert statuses == [413, 413], (
        f"declared and chunked {megabytes} MB bodies: {statuses}; {proxy.answered_502}"
    )
    assert grown < 16 * 1024, f"the service's RSS grew by {grown} KiB while refusing {megabytes} MB bodies"
    assert 'status="5' not in _metrics(port), "a refusal must never count as a 5xx"


def test_a_one_mib_category_string_gets_413_through_the_load_balancer(proxy: AlbLikeProxy) -> None:
    prefix = b'{"record": {"contract": "'
    size = len(prefix) + MIB + len(b'"}}')
    assert _send(proxy.port, _post_head(length=size), body_bytes=size, prefix=prefix) == 413, (
        proxy.answered_502
    )


def test_malformed_framing_gets_400_not_a_reset(proxy: AlbLikeProxy) -> None:
    bad_chunk = _post_head(length=None) + b"zz-not-a-chunk-size\r\n"
    assert _send(proxy.port, bad_chunk, body_bytes=10 * MIB) == 400, proxy.answered_502
    bad_length = (
        b"POST /predict HTTP/1.1\r\nhost: s\r\ncontent-type: application/json\r\ncontent-length: 1x\r\n\r\n"
    )
    assert _send(proxy.port, bad_length, body_bytes=10 * MIB) == 400, proxy.answered_502


def test_draining_a_refused_body_stops_at_its_byte_bound(trained_bundle: Path) -> None:
    """LINGER_MAX_BYTES bounds the drain: a client sending more is cut off, the server stays free."""
    port = free_port()
    process = serve_process(trained_bundle, port, LINGER_MAX_BYTES=str(4 * MIB))
    try:
        started = time.monotonic()
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(_post_head(length=200 * MIB))
            for _ in range(200):
                connection.sendall(SEND_CHUNK)
        assert time.monotonic() - started < 20, "the drain must end at its byte bound, not the body's end"
        assert b"ready" in urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10).read()
    finally:
        stop_server(process)
