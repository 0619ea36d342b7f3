"""The two focused runs of `bench/service.py`: the cost of payload logging, and an oversized-body attack.

`--only logging` measures the service with logging on (a writer process, a local moto_server)
against the same service with it off, in interleaved rounds; `--only attack` times the refusal of
13 MB bodies, /health while four clients keep sending them, and the server's memory.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing
import re
import socket
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.service_servers import BUCKET, HOST, metric_value
from ml_deploy_dev.local_aws import REGION, moto_server
from ml_deploy_dev.servers import SERVICE, free_port, start_server, stop_server, stopping

Load = Callable[..., tuple[float, float, float, int]]


def local_log_bucket(stack: ExitStack) -> dict[str, str]:
    """A moto_server on 127.0.0.1 holding the bench's log bucket; the environment that reaches it."""
    aws = stack.enter_context(moto_server())
    aws.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return aws.environment


def logging_cost(bundle: Path, records: list[dict[str, Any]], *, args: Any, load: Load, client: str) -> int:
    """Logging on (writer process, local moto_server) vs off, same workers, interleaved rounds."""
    single = [json.dumps({"record": r}).encode() for r in records[:50]]
    base = {"MODEL_BUNDLE_PATH": str(bundle), "HOST": HOST, "OMP_NUM_THREADS": "1", "LOG_LEVEL": "warning",
            "WEB_CONCURRENCY": str(args.workers)}  # fmt: skip
    with ExitStack() as servers:
        on = {**base, **local_log_bucket(servers), "LOG_BUCKET": BUCKET, "ENVIRONMENT": "bench"}
        ports = {"off": free_port(), "on": free_port()}
        for name, env in (("off", base), ("on", on)):
            port = ports[name]
            server = start_server(SERVICE, port=port, env={**env, "PORT": str(port)}, timeout=120)
            servers.enter_context(stopping(server))
        for port in ports.values():
            load(port, single, connections=8, seconds=1)
        best: dict[tuple[str, int], tuple[float, float, float, int]] = {}
        for connections in (8, 64):
            for _ in range(args.rounds):
                for name, port in ports.items():
                    result = load(port, single, connections=connections, seconds=args.seconds)
                    print(f"  logging {name:<3} w={args.workers} c={connections:<3} {result[0]:7.0f} req/s "
                          f"p99 {result[2]:7.2f} ms", file=sys.stderr, flush=True)  # fmt: skip
                    if (name, connections) not in best or result[0] > best[(name, connections)][0]:
                        best[(name, connections)] = result
        written = metric_value(ports["on"], "payload_log_records_written_total")
    _logging_table(best, args=args, client=client)
    print(f"\nrecords written to S3 by the logging-on server so far: {written:.0f}")
    return 0


def _logging_table(
    best: dict[tuple[str, int], tuple[float, float, float, int]], *, args: Any, client: str
) -> None:
    rounds = f"best of {args.rounds} rounds of {args.seconds} s"
    print(f"\nload generator: {client}; workers {args.workers}; {rounds}\n")
    print("| conns | off req/s | on req/s | on/off (>= 0.90) | off p99 ms | on p99 ms | p99 on/off (<= 2) |")
    print("|---|---|---|---|---|---|---|")
    for c in (8, 64):
        off, on_ = best[("off", c)], best[("on", c)]
        print(f"| {c} | {off[0]:.0f} | {on_[0]:.0f} | {on_[0] / off[0]:.2f} | {off[2]:.2f} | {on_[2]:.2f} "
              f"| {on_[2] / off[2]:.2f} |")  # fmt: skip


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (the worker), from /proc."""
    total = 0
    for candidate in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{candidate}/status").read_text()
        except OSError:
            continue
        total += int(re.search(r"^VmRSS:\s+(\d+)", status, re.MULTILINE).group(1))  # type: ignore[union-attr]
    return total / 1024


def _children(pid: int) -> list[int]:
    found = []
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(path.parent.name))
    return found


def oversized_attack(bundle: Path, records: list[dict[str, Any]]) -> int:
    """Time to refuse a 13 MB body, /health p99 and RSS while 4 clients keep sending such bodies."""
    record = {**records[0], **{f"k{i}": 1 for i in range(1_000_000)}}
    body = json.dumps({"record": record}).encode()
    head = (f"POST /predict HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    port = free_port()
    env = {"MODEL_BUNDLE_PATH": str(bundle), "HOST": HOST, "LOG_LEVEL": "warning", "PORT": str(port)}
    process = start_server(SERVICE, port=port, env=env, timeout=120, keep_stderr=False)
    try:
        idle = rss_mib(process.pid)
        refusals = sorted(_refuse_once(port, head + body) for _ in range(5))
        health, peak = _health_under_attack(port, head + body, pid=process.pid, idle=idle)
    finally:
        stop_server(process)
    p99 = statistics.quantiles(health, n=100)[98] * 1e3
    print(f"\n13 MB body ({len(body) / 1e6:.1f} MB) refused in {refusals[len(refusals) // 2] * 1e3:.1f} ms "
          f"(median of 5, client send included; target < 50 ms)")  # fmt: skip
    print(f"/health under 4 attackers: p99 {p99:.1f} ms over {len(health)} requests (target < 50 ms)")
    print(f"RSS idle {idle:.0f} MiB, peak during the attack {peak:.0f} MiB ({peak / idle:.2f}x; target < 2x)")
    return 0


def _refuse_once(port: int, request: bytes) -> float:
    started = time.perf_counter()
    with socket.create_connection((HOST, port)) as connection:
        with contextlib.suppress(OSError):  # answered 413 and closed before taking it all
            connection.sendall(request)
        answer = connection.recv(64)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    return time.perf_counter() - started


def _health_under_attack(port: int, request: bytes, *, pid: int, idle: float) -> tuple[list[float], float]:
    """/health latencies for 5 s while 4 attackers run, and the peak RSS seen meanwhile."""
    peak = idle
    context = multiprocessing.get_context("spawn")  # attackers in their own processes: no shared GIL
    attackers = [context.Process(target=_attack, args=(port, request), daemon=True) for _ in range(4)]
    for attacker in attackers:
        attacker.start()
    time.sleep(2)  # spawned attackers import and start sending
    health, connection = [], http.client.HTTPConnection(HOST, port, timeout=5)
    deadline = time.perf_counter() + 5
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        connection.request("GET", "/health")
        connection.getresponse().read()
        health.append(time.perf_counter() - started)
        if len(health) % 50 == 0:
            peak = max(peak, rss_mib(pid))
        time.sleep(0.005)
    for attacker in attackers:
        attacker.terminate()
        attacker.join()
    return health, peak


def _attack(port: int, request: bytes) -> None:
    """One attacker: oversized bodies back to back, each on a new connection."""
    while True:
        try:
            with socket.create_connection((HOST, port)) as connection:
                connection.sendall(request)
                connection.recv(64)
        except OSError:
            pass  # refused and closed mid-send: that is the point
