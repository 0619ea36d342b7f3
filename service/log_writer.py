"""The prediction-log writer: its own process, fed by the service worker through a pipe.

Compressing JSON lines into objects and talking to S3 costs CPU and, in a thread, the GIL the
event loop needs; in a process of its own it costs the worker one `orjson.dumps` per record and a
pipe write per few hundred requests. The worker sends frames of finished JSON lines (one frame per
flush, within one UTC hour: a header with its first request's time and its line count, then the
lines, `payload_log.encode_lines`), so this process never parses a record. A reader thread queues
the frames; the main thread groups them by hour, gzips and writes batches by count (`batch_size`)
or age (`flush_seconds`), retries a failed write with exponential backoff while the buffer holds
up to `buffer_max_records`, and reports every record's fate on stdout (`written N`, `retried N`,
`dropped REASON N`), which the worker turns into its payload_log_* metrics. EOF on stdin starts
the final flush, bounded by `shutdown_seconds`; every S3 call is bounded by timeouts that fit in it.

    python -m service.log_writer '<json config>'
"""

from __future__ import annotations

import gzip
import logging
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

from ml_deploy import payload_log

log = logging.getLogger("service.log_writer")
ClientFactory = Callable[[], Any]
# The lines' byte length, their count, the first request's epoch seconds (one UTC hour); the lines.
FRAME = struct.Struct("<IId")


@dataclass(frozen=True)
class LogTarget:
    """Where and how lines are written."""

    bucket: str
    prefix: str
    environment: str
    model_version: str
    region: str | None = None
    writer: str = "w"  # names the process in object keys


@dataclass(frozen=True)
class LogPolicy:
    """Batching, buffering, retry and shutdown limits."""

    batch_size: int = 1000
    flush_seconds: float = 10.0
    buffer_max_records: int = 100_000
    retry_base_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    shutdown_seconds: float = 20.0

    def s3_timeouts(self) -> tuple[float, float]:
        """Connect and read timeouts of one S3 call: several attempts fit in the shutdown budget."""
        read = min(10.0, max(0.2, self.shutdown_seconds / 4))
        return min(2.0, read), read


def config_argument(target: LogTarget, policy: LogPolicy) -> str:
    return orjson.dumps({"target": asdict(target), "policy": asdict(policy)}).decode()


class Report:
    """One status line per event on stdout, read by the worker's metrics."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: str, count: int, reason: str = "") -> None:
        line = f"{event} {reason} {count}\n" if reason else f"{event} {count}\n"
        with self._lock:
            self._stream.write(line.encode())
            self._stream.flush()


@dataclass(frozen=True)
class _Entry:
    """Scored records of one UTC hour, as finished JSON lines (one frame from the worker)."""

    epoch: float
    queued: float  # time.monotonic() on arrival: a batch is due when its oldest entry is old enough
    count: int
    lines: bytes


class Writer:
    """Buffers scored records and writes them to S3; `run` is the writing loop."""

    def __init__(
        self, *, target: LogTarget, policy: LogPolicy, report: Report, client_factory: ClientFactory
    ) -> None:
        self.target = target
        self.policy = policy
        self._report = report
        self._client_factory = client_factory
        self._lock = threading.Condition()
        self._pending: list[_Entry] = []
        self._pending_records = 0
        self._inflight_records = 0
        self._stopping = False
        self._deadline = float("inf")
        self._closing = threading.Event()
        self._client: Any = None

    def add(self, epoch: float, count: int, lines: bytes) -> None:
        """Queue a frame's `count` lines; those beyond `buffer_max_records` are dropped and reported."""
        with self._lock:
            room = self.policy.buffer_max_records - self._pending_records - self._inflight_records
            if count > room:
                self._report("dropped", count - max(room, 0), "buffer_full")
                if room <= 0:
                    return
                lines, count = _first_lines(lines, room), room
            self._pending.append(_Entry(epoch, time.monotonic(), count, lines))
            self._pending_records += count
            if self._pending_records >= self.policy.batch_size:
                self._lock.notify()

    def stop(self) -> None:
        """The worker is done: flush everything, trying for at most the shutdown budget."""
        with self._lock:
            self._stopping = True
            self._deadline = time.monotonic() + self.policy.shutdown_seconds
            self._lock.notify()
        self._closing.set()

    def run(self) -> None:
        # The client is made before traffic: building one costs ~0.2 s of CPU.
        try:
            self._client = self._client_factory()
        except Exception as error:  # retried at the first put, where failures are counted
            log.error("prediction-log S3 client could not be created: %s", error)
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._write(batch)

    def _next_batch(self) -> list[_Entry] | None:
        """Wait for a full batch, an old enough one, or shutdown; take up to `batch_size` records."""
        with self._lock:
            while True:
                if self._pending and (
                    self._stopping
                    or self._pending_records >= self.policy.batch_size
                    or time.monotonic() - self._pending[0].queued >= self.policy.flush_seconds
                ):
                    break
                if self._stopping:
                    return None
                wait = self.policy.flush_seconds
                if self._pending:
                    wait = max(0.0, self._pending[0].queued + self.policy.flush_seconds - time.monotonic())
                self._lock.wait(wait)
            taken, records = 0, 0
            while taken < len(self._pending) and (taken == 0 or records < self.policy.batch_size):
                records += self._pending[taken].count
                taken += 1
            batch, self._pending = self._pending[:taken], self._pending[taken:]
            self._pending_records -= records
            self._inflight_records = records
            return batch

    def _write(self, batch: list[_Entry]) -> None:
        records = sum(entry.count for entry in batch)
        objects = self._objects(batch)
        delay = self.policy.retry_base_seconds
        while objects:
            key, body, count = objects[0]
            try:
                if self._client is None:
                    self._client = self._client_factory()
                self._client.put_object(
                    Bucket=self.target.bucket, Key=key, Body=body,
                    ContentType=payload_log.CONTENT_TYPE, ContentEncoding=payload_log.CONTENT_ENCODING,
                )  # fmt: skip
            except Exception as error:  # any S3 or network failure: keep the batch, back off, retry
                if not self._retry_after(error, delay=delay, count=count):
                    self._give_up(sum(item[2] for item in objects))
                    break
                delay = min(delay * 2.0, self.policy.retry_max_seconds)
                continue
            objects.pop(0)
            self._report("written", count)
            delay = self.policy.retry_base_seconds
        with self._lock:
            self._inflight_records -= records

    def _retry_after(self, error: Exception, *, delay: float, count: int) -> bool:
        """Sleep before the next attempt; False when the shutdown budget cannot fit another one."""
        self._report("retried", count)
        log.warning("prediction-log write of %d records failed, retrying in %.1fs: %s", count, delay, error)
        if not self._closing.is_set():
            self._closing.wait(delay)  # stop() cuts the backoff short: the flush retries at once
            return True
        delay = min(delay, self.policy.retry_base_seconds)
        connect, read = self.policy.s3_timeouts()
        if time.monotonic() + delay + connect + read > self._deadline:
            return False
        time.sleep(delay)
        return True

    def _give_up(self, count: int) -> None:
        with self._lock:  # whatever else is pending cannot be written either
            count += self._pending_records
            self._pending, self._pending_records = [], 0
        self._report("dropped", count, "shutdown")
        log.error("prediction-log shutdown flush ran out of time: %d records not written", count)

    def _objects(self, batch: list[_Entry]) -> list[tuple[str, bytes, int]]:
        """One gzip JSON-lines object per hour partition the batch touches."""
        by_hour: dict[int, tuple[float, list[bytes], list[int]]] = {}
        for entry in batch:
            _, lines, counts = by_hour.setdefault(int(entry.epoch // 3600), (entry.epoch, [], []))
            lines.append(entry.lines)
            counts.append(entry.count)
        target = self.target
        return [
            (
                payload_log.object_key(
                    target.prefix, datetime.fromtimestamp(epoch, UTC), writer=target.writer
                ),
                # Level 1: a third of level 6's CPU; repetitive JSON lines still shrink ~100x.
                gzip.compress(b"".join(lines), compresslevel=1, mtime=0),
                sum(counts),
            )
            for epoch, lines, counts in by_hour.values()
        ]


def _first_lines(lines: bytes, count: int) -> bytes:
    """The first `count` newline-terminated lines (a JSON line holds no raw newline)."""
    end = -1
    for _ in range(count):
        end = lines.index(b"\n", end + 1)
    return lines[: end + 1]


def read_frames(stream: BinaryIO, writer: Writer) -> None:
    """The reader thread: frames from the worker into the writer's buffer, then stop at EOF."""
    try:
        while header := stream.read(FRAME.size):
            if len(header) < FRAME.size:
                break
            length, count, epoch = FRAME.unpack(header)
            lines = stream.read(length)
            if len(lines) < length:
                break  # the worker died mid-frame; it counts what it never saw confirmed
            writer.add(epoch, count, lines)
    finally:
        writer.stop()


def s3_client(target: LogTarget, policy: LogPolicy) -> Any:
    import boto3
    from botocore.config import Config

    connect, read = policy.s3_timeouts()
    config = Config(
        connect_timeout=connect, read_timeout=read, retries={"max_attempts": 1, "mode": "standard"}
    )
    # AWS_ENDPOINT_URL (local S3, moto) is honoured by boto3 itself.
    return boto3.client("s3", region_name=target.region, config=config)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The worker stops this process by closing the pipe (EOF), after its own drain; a signal to the
    # whole process group (Ctrl-C) must not cut the final flush short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    config = orjson.loads((argv if argv is not None else sys.argv[1:])[0])
    target, policy = LogTarget(**config["target"]), LogPolicy(**config["policy"])
    writer = Writer(
        target=target, policy=policy, report=Report(sys.stdout.buffer),
        client_factory=lambda: s3_client(target, policy),
    )  # fmt: skip
    threading.Thread(target=read_frames, args=(sys.stdin.buffer, writer), daemon=True).start()
    writer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
