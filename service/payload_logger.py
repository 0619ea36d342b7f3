"""Prediction logging to S3 off the request path, in the `ml_deploy.payload_log` format.

A request only appends to an in-memory buffer (a lock and a list append); one writer thread turns
the buffer into gzip JSON-lines objects, by count (`batch_size`) or age (`flush_seconds`). When S3
fails, the writer retries the same batch with exponential backoff while new records wait in the
buffer up to `buffer_max_records`; anything beyond that, or still unwritten when the shutdown flush
times out, is counted in `payload_log_records_dropped_total` and logged, never silently lost.
"""

from __future__ import annotations

import gzip
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ml_deploy import payload_log
from service.metrics import ServiceMetrics

log = logging.getLogger("service.payload_logger")
ClientFactory = Callable[[], Any]
DROP_WARNING_SECONDS = 10.0


@dataclass(frozen=True)
class LogTarget:
    """Where and how lines are written."""

    bucket: str
    prefix: str
    environment: str
    model_version: str
    region: str | None = None


@dataclass(frozen=True)
class LogPolicy:
    """Batching, buffering and retry limits."""

    batch_size: int = 1000
    flush_seconds: float = 10.0
    buffer_max_records: int = 100_000
    retry_base_seconds: float = 0.5
    retry_max_seconds: float = 30.0


@dataclass(frozen=True)
class _Entry:
    """One request's scored records, serialised to lines only in the writer thread."""

    request_id: str
    when: datetime
    queued: float  # time.monotonic() at submit: a batch is due when its oldest entry is old enough
    records: Sequence[Any]
    outputs: Sequence[tuple[Any, float]]


class PayloadLogger:
    """Buffers scored records and writes them to S3 from one background thread."""

    def __init__(
        self,
        *,
        target: LogTarget,
        policy: LogPolicy,
        metrics: ServiceMetrics,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.target = target
        self.policy = policy
        self._metrics = metrics
        self._client_factory = client_factory or self._default_client
        self._lock = threading.Condition()
        self._pending: list[_Entry] = []
        self._pending_records = 0
        self._inflight_records = 0
        self._stopping = False
        self._deadline = float("inf")
        self._closing = threading.Event()
        self._client: Any = None
        self._last_drop_warning = 0.0
        self._writer_name = f"{socket.gethostname()}-{os.getpid()}"
        self._thread = threading.Thread(target=self._run, name="payload-logger", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(
        self, *, request_id: str, records: Sequence[Any], outputs: Sequence[tuple[Any, float]]
    ) -> None:
        """Queue one request's records; never blocks on S3, drops (counted) when the buffer is full."""
        count = len(records)
        with self._lock:
            buffered = self._pending_records + self._inflight_records
            dropped = self._stopping or buffered + count > self.policy.buffer_max_records
            if not dropped:
                entry = _Entry(request_id, datetime.now(UTC), time.monotonic(), records, outputs)
                self._pending.append(entry)
                self._pending_records += count
                self._metrics.log_buffered.inc(count)
                if self._pending_records >= self.policy.batch_size:
                    self._lock.notify()
        if dropped:
            reason = "shutdown" if self._stopping else "buffer_full"
            self._metrics.log_dropped.labels(reason=reason).inc(count)
            now = time.monotonic()
            if (
                now - self._last_drop_warning >= DROP_WARNING_SECONDS
            ):  # one line per interval, not per request
                self._last_drop_warning = now
                log.warning("prediction-log %s: dropping records (see payload_log_records_dropped_total)",
                            reason.replace("_", " "))  # fmt: skip

    def close(self, timeout: float) -> None:
        """Flush everything buffered, trying for at most `timeout` seconds, then stop the writer."""
        with self._lock:
            self._stopping = True
            self._deadline = time.monotonic() + timeout
            self._lock.notify()
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(timeout + 5.0)

    def _default_client(self) -> Any:
        import boto3  # imported here: the service starts without AWS configured when logging is off
        from botocore.config import Config

        config = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1, "mode": "standard"})
        # AWS_ENDPOINT_URL (local S3, moto) is honoured by boto3 itself.
        return boto3.client("s3", region_name=self.target.region, config=config)

    def _run(self) -> None:
        # Made here, at start: building a boto3 client costs ~0.2 s of CPU (and the GIL), better
        # paid before traffic than in the middle of it; no network call happens until the first put.
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
                records += len(self._pending[taken].records)
                taken += 1
            batch, self._pending = self._pending[:taken], self._pending[taken:]
            self._pending_records -= records
            self._inflight_records = records
            return batch

    def _write(self, batch: list[_Entry]) -> None:
        records = sum(len(entry.records) for entry in batch)
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
            self._metrics.log_written.inc(count)
            self._metrics.log_buffered.dec(count)
            delay = self.policy.retry_base_seconds
        with self._lock:
            self._inflight_records -= records

    def _retry_after(self, error: Exception, *, delay: float, count: int) -> bool:
        """Sleep before the next attempt; False when shutdown's deadline has passed."""
        self._metrics.log_retried.inc(count)
        log.warning("prediction-log write of %d records failed, retrying in %.1fs: %s", count, delay, error)
        if not self._closing.is_set():
            self._closing.wait(delay)  # close() cuts the backoff short: the flush retries at once
            return True
        delay = min(delay, self.policy.retry_base_seconds)
        if time.monotonic() + delay > self._deadline:
            return False
        time.sleep(delay)
        return True

    def _give_up(self, count: int) -> None:
        self._metrics.log_dropped.labels(reason="shutdown").inc(count)
        self._metrics.log_buffered.dec(count)
        log.error("prediction-log shutdown flush timed out: dropped %d records", count)
        with self._lock:  # whatever else is pending cannot be written either
            rest = self._pending_records
            self._pending, self._pending_records = [], 0
        if rest:
            self._metrics.log_dropped.labels(reason="shutdown").inc(rest)
            self._metrics.log_buffered.dec(rest)
            log.error("prediction-log shutdown flush timed out: dropped %d more records", rest)

    def _objects(self, batch: list[_Entry]) -> list[tuple[str, bytes, int]]:
        """One gzip JSON-lines object per hour partition the batch touches."""
        by_hour: dict[str, tuple[datetime, list[bytes]]] = {}
        target = self.target
        # strftime costs ~20 us per entry, more than the JSON line itself: format each hour's
        # partition and each second's timestamp once, with the shared payload_log functions.
        hours: dict[tuple[int, int, int, int], str] = {}
        seconds: dict[datetime, str] = {}
        for entry in batch:
            when = entry.when
            hour_key = (when.year, when.month, when.day, when.hour)
            hour = hours.get(hour_key)
            if hour is None:
                hour = hours[hour_key] = payload_log.partition_prefix(target.prefix, when)
            lines = by_hour.setdefault(hour, (when, []))[1]
            second = when.replace(microsecond=0)
            base = seconds.get(second)
            if base is None:
                base = seconds[second] = payload_log.utc_timestamp(second)[:-4]  # "...:SS." without "000Z"
            lines += payload_log.encode_lines(
                request_id=entry.request_id,
                timestamp=f"{base}{when.microsecond // 1000:03d}Z",
                model_version=target.model_version,
                environment=target.environment,
                inputs=entry.records,
                outputs=entry.outputs,
            )
        return [
            (
                payload_log.object_key(target.prefix, when, writer=self._writer_name),
                # Level 1: a third of level 6's CPU; repetitive JSON lines still shrink ~100x.
                gzip.compress(b"".join(lines), compresslevel=1, mtime=0),
                len(lines),
            )
            for when, lines in by_hour.values()
        ]
