"""Prediction logging off the request path: the worker's side of the log writer process.

A request costs its finished JSON lines (`payload_log.encode_lines`, one `orjson.dumps` a record)
in a buffer; the buffer goes down a pipe to `service.log_writer` (its own process, so gzip and
boto3 never take the event loop's GIL or CPU, and it never parses a record again) every
FLUSH_BYTES or FLUSH_SECONDS. The writer reports each record's fate on its
stdout; a thread here (asleep in `read` almost always) turns the reports into the payload_log_*
metrics. The worker counts what it sent, so whatever fails (S3 hanging, the writer killed or
crashed, the pipe full), every record not confirmed written is counted as dropped and logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any

from ml_deploy import payload_log
from service.log_writer import FRAME, LogPolicy, LogTarget, config_argument
from service.metrics import ServiceMetrics

__all__ = ["LogPolicy", "LogTarget", "PayloadLogger"]
log = logging.getLogger("service.payload_logger")
DROP_WARNING_SECONDS = 10.0
FLUSH_BYTES = 32 * 1024
FLUSH_SECONDS = 0.05
PIPE_BYTES = 1024 * 1024  # a larger pipe rides out a writer busy with a batch without shedding


class PayloadLogger:
    """Sends scored records to a writer process and keeps its metrics; counts every record lost."""

    def __init__(self, *, target: LogTarget, policy: LogPolicy, metrics: ServiceMetrics) -> None:
        self.target = LogTarget(**{**target.__dict__, "writer": f"{socket.gethostname()}-{os.getpid()}"})
        self.policy = policy
        self._metrics = metrics
        self._process: subprocess.Popen[bytes] | None = None
        self._reports: threading.Thread | None = None
        self._out = bytearray()  # frames not yet in the pipe
        self._out_records = 0  # records in `_out` and in the open frame
        # The open frame: lines of the requests since the last flush, all in one UTC hour, so the
        # writer handles one frame per flush rather than one per request.
        self._frame = bytearray()
        self._frame_records = 0
        self._frame_epoch = 0.0
        self._sent = 0  # records accepted for writing
        self._settled = 0  # records the writer reported written or dropped
        self._settled_lock = threading.Lock()
        self._flush_timer: asyncio.TimerHandle | None = None
        self._stopping = False
        self._writer_alive = True
        self._last_drop_warning = 0.0
        self._second = -1  # the second `_second_text` ("...T12:00:01.") formats
        self._second_text = ""

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "service.log_writer", config_argument(self.target, self.policy)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # stderr: the container's log
        )  # fmt: skip
        stdin = self._process.stdin
        assert stdin is not None and self._process.stdout is not None
        try:
            import fcntl

            fcntl.fcntl(stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except (ImportError, AttributeError, OSError):
            pass  # not Linux, or above the system's pipe-max-size: the default 64 KiB works
        os.set_blocking(stdin.fileno(), False)
        self._reports = threading.Thread(
            target=self._read_reports, args=(self._process.stdout,), name="payload-log-reports", daemon=True
        )
        self._reports.start()

    def submit(
        self,
        *,
        request_id: str,
        records: Sequence[Any],
        outputs: Sequence[tuple[Any, float]],
        keys: Sequence[str | None] | None = None,
    ) -> None:
        """Queue one request's records (with their caller keys, if any); never blocks, drops
        (counted) beyond the buffer bound."""
        count = len(records)
        reason = self._drop_reason()
        if reason is not None:
            self._drop(count, reason)
            return
        room = self.policy.buffer_max_records - self._out_records
        if count > room:  # keep what fits, record by record, and count the rest
            self._drop(count - max(room, 0), "buffer_full")
            if room <= 0:
                return
            records, outputs, count = records[:room], outputs[:room], room
            keys = keys[:room] if keys is not None else None
        now = time.time()
        target = self.target
        lines = b"".join(
            payload_log.encode_lines(
                request_id=request_id, timestamp=self._timestamp(now), model_version=target.model_version,
                environment=target.environment, inputs=records, outputs=outputs, keys=keys,
            )
        )  # fmt: skip
        if self._frame_records and int(now // 3600) != int(self._frame_epoch // 3600):
            self._seal()  # an hour's lines go to that hour's partition
        if not self._frame_records:
            self._frame_epoch = now
        self._frame += lines
        self._frame_records += count
        self._out_records += count
        self._sent += count
        self._metrics.log_buffered.inc(count)
        if len(self._out) + len(self._frame) >= FLUSH_BYTES:
            self._flush()
        else:
            self._flush_later()

    def _timestamp(self, epoch: float) -> str:
        """`payload_log.utc_timestamp` of `epoch`, formatting each second once (strftime costs ~20 us)."""
        second = int(epoch)
        if second != self._second:
            self._second = second
            self._second_text = payload_log.utc_timestamp(datetime.fromtimestamp(second, UTC))[:-4]
        return f"{self._second_text}{int((epoch - second) * 1000):03d}Z"

    def close(self, timeout: float) -> None:
        """Send what is left, let the writer flush for at most `timeout` seconds, count the rest."""
        deadline = time.monotonic() + timeout
        self._stopping = True
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        process = self._process
        if process is None:
            return
        self._send_rest(deadline)
        try:
            assert process.stdin is not None
            process.stdin.close()  # EOF: the writer's final flush starts
        except OSError:
            pass
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("prediction-log writer still busy after %.1fs: stopping it", timeout)
            process.kill()
            process.wait()
        if self._reports is not None:
            self._reports.join(2.0)
        with self._settled_lock:
            lost = self._sent - self._settled
            self._settled = self._sent
        if lost:
            self._metrics.log_dropped.labels(reason="shutdown").inc(lost)
            self._metrics.log_buffered.dec(lost)
            log.error(
                "prediction-log: %d records not written at shutdown (payload_log_records_dropped_total)", lost
            )

    def _drop_reason(self) -> str | None:
        if self._stopping:
            return "shutdown"
        if not self._writer_alive:
            return "writer_failed"
        return None

    def _drop(self, count: int, reason: str) -> None:
        self._metrics.log_dropped.labels(reason=reason).inc(count)
        now = time.monotonic()
        if now - self._last_drop_warning >= DROP_WARNING_SECONDS:  # one line per interval, not per request
            self._last_drop_warning = now
            log.warning("prediction-log %s: dropping records (see payload_log_records_dropped_total)",
                        reason.replace("_", " "))  # fmt: skip

    def _seal(self) -> None:
        """Close the open frame into the outgoing buffer."""
        if self._frame_records:
            self._out += FRAME.pack(len(self._frame), self._frame_records, self._frame_epoch)
            self._out += self._frame
            self._frame.clear()
            self._frame_records = 0

    def _flush(self) -> None:
        """Write as much of the buffer as the pipe takes now; the rest waits for the next flush."""
        self._flush_timer = None
        self._seal()
        if not self._out or self._process is None or self._process.stdin is None:
            return
        try:
            written = os.write(self._process.stdin.fileno(), self._out)
        except BlockingIOError:
            written = 0
        except (BrokenPipeError, ValueError, OSError) as error:
            self._writer_failed(error)
            return
        del self._out[:written]
        if not self._out:
            self._out_records = 0
        elif not self._stopping:
            self._flush_later()

    def _flush_later(self) -> None:
        if self._flush_timer is not None:
            return
        try:
            self._flush_timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._flush)
        except RuntimeError:  # no event loop (a direct call): send now
            self._flush()

    def _send_rest(self, deadline: float) -> None:
        if self._process is None or self._process.stdin is None:
            return
        fd = self._process.stdin.fileno()
        self._seal()
        while self._out and self._writer_alive and time.monotonic() < deadline:
            _, ready, _ = select.select([], [fd], [], max(0.0, deadline - time.monotonic()))
            if ready:
                self._flush()

    def _writer_failed(self, error: Exception) -> None:
        if self._writer_alive:
            log.error("prediction-log writer is gone (%s): records are dropped and counted", error)
        self._writer_alive = False
        self._out.clear()
        self._frame.clear()
        self._frame_records = 0
        self._out_records = 0

    def _read_reports(self, stream: IO[bytes]) -> None:
        """The writer's status lines -> metrics, until it exits."""
        metrics = self._metrics
        for line in stream:
            event, *rest = line.decode().split()
            count = int(rest[-1])
            if event == "retried":
                metrics.log_retried.inc(count)
                continue
            if event == "written":
                metrics.log_written.inc(count)
            else:
                metrics.log_dropped.labels(reason=rest[0]).inc(count)
            metrics.log_buffered.dec(count)
            with self._settled_lock:
                self._settled += count
