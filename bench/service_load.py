"""Load generators for `bench/service.py`: `wrk` when installed, else a small asyncio keep-alive client.

Each returns (requests per second, p50 ms, p99 ms, errors) for one server, one connection count,
one duration. The Python client runs in a process of its own, so it does not share the GIL with
anything it measures.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


def http_request(port: int, body: bytes) -> bytes:
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(port: int, requests: list[bytes], stop_at: float, out: dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    latencies, index = out["latencies"], 0
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(requests[index % len(requests)])
            index += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length:\s*(\d+)", head.lower()).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if head[9:12] != b"200":
                out["errors"] += 1
    finally:
        writer.close()


async def _drive(port: int, requests: list[bytes], *, connections: int, seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "errors": 0}
    stop_at = time.perf_counter() + seconds
    tasks = [asyncio.create_task(_connection(port, requests, stop_at, out)) for _ in range(connections)]
    done, pending = await asyncio.wait(tasks, timeout=seconds + 10)
    for task in pending:  # a request that never came back is a timeout, counted as an error
        task.cancel()
        out["errors"] += 1
    out["errors"] += sum(1 for task in done if task.exception() is not None)
    return out


def _client_process(port: int, bodies: list[bytes], connections: int, seconds: float, queue: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    requests = [http_request(port, body) for body in bodies]
    out = asyncio.run(_drive(port, requests, connections=connections, seconds=seconds))
    queue.put((out["latencies"], out["errors"], seconds))


def python_load(
    port: int, bodies: list[bytes], *, connections: int, seconds: float
) -> tuple[float, float, float, int]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_client_process, args=(port, bodies, connections, seconds, queue))
    process.start()
    latencies, errors, elapsed = queue.get(timeout=seconds + 60)
    process.join()
    if not latencies:
        return 0.0, float("nan"), float("nan"), errors
    cuts = (
        statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    )
    return len(latencies) / elapsed, cuts[49] * 1e3, cuts[98] * 1e3, errors


def wrk_load(
    port: int, bodies: list[bytes], *, connections: int, seconds: float
) -> tuple[float, float, float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        script.write(f"wrk.body = {json.dumps(bodies[0].decode())}\n")
    duration = f"{max(1, round(seconds))}s"  # wrk takes whole seconds
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", duration, "--latency", "--timeout", "5s",
               "-s", script.name, f"http://{HOST}:{port}/predict"]  # fmt: skip
    text = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    Path(script.name).unlink()

    def millis(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
        if not match:
            return float("nan")
        return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[match.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|timeout)\s*:?\s*(\d+)", text))
    return rps, millis("50"), millis("99"), errors
