"""Fetch a window's prediction logs (`ml_deploy.payload_log` format) out of S3, block by block.

Objects are small (a service task flushes every few seconds), so S3 round trips, not bytes, are
the cost: a pool of threads fetches whole objects ahead of need, and consecutive small objects go
to a parser together, so one pyarrow call and one round of binning covers thousands of rows. An
object too large to hold is streamed instead. Memory is bounded by the objects and blocks in
flight, never by the rows in the window: each object is inflated into line-aligned blocks of at
most `BLOCK_BYTES`, which the caller reduces to counts and drops.
"""

from __future__ import annotations

import io
import types
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from ml_deploy import payload_log

_inflate: types.ModuleType
try:  # ISA-L inflates about twice as fast as zlib; decompression is half the work per row.
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - the jobs extra installs isal
    _inflate = zlib

BLOCK_BYTES = 4 << 20  # decompressed bytes per parsed block: large enough to amortise, small in memory
READ_BYTES = 1 << 20  # compressed bytes per S3 read of a streamed object
WHOLE_OBJECT_BYTES = 8 << 20  # objects up to this size are fetched whole, ahead of need
AHEAD_BYTES = 64 << 20  # compressed bytes fetched ahead of the parsers, at most
BATCH_BYTES = 256 << 10  # compressed bytes of small objects handed to one parser task
FETCHERS = 32  # concurrent GETs: against S3 (20-50 ms a GET) a round trip is mostly waiting; bench/monitor.py
_T = TypeVar("_T")
_CORRUPT = (OSError, EOFError, zlib.error, _inflate.error)


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class LogObject:
    key: str
    size: int
    etag: str = ""


def window_bounds(*, hours: int, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The window [start, end): `end` when given, else the last whole period before `now`.

    A whole period ends at a multiple of `hours` since 1970-01-01T00:00Z (midnight UTC for 24
    hours), so consecutive scheduled runs, and any retry of one, tile time: no gap, no overlap,
    whenever in its period a run starts.
    """
    if end is None:
        period = timedelta(hours=hours)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        end = epoch + (now.astimezone(UTC) - epoch) // period * period
    end = end.astimezone(UTC)
    return end - timedelta(hours=hours), end


def window_partitions(prefix: str, *, start: datetime, end: datetime) -> list[str]:
    """The hour partitions that can hold a row stamped in [start, end), oldest first.

    The service files each row under the hour of its own timestamp, so these are the hours that
    overlap the window: the one holding `start` through the one holding the last instant before
    `end` (an `end` on the hour does not read the hour it starts).
    """
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    last = end.astimezone(UTC) - timedelta(microseconds=1)
    partitions = []
    while hour <= last:
        partitions.append(payload_log.partition_prefix(prefix, hour))
        hour += timedelta(hours=1)
    return partitions


def list_window_objects(s3: Any, *, bucket: str, prefixes: Iterable[str]) -> list[LogObject]:
    """Log objects under exactly these hour partitions, in key (time) order."""
    objects: list[LogObject] = []
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            objects += [
                LogObject(item["Key"], int(item.get("Size", 0)), str(item.get("ETag", "")))
                for item in page.get("Contents", [])
                if item["Key"].endswith(payload_log.SUFFIX)
            ]
    return objects


def decompressed_blocks(stream: Readable, *, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Line-aligned blocks of about `block_bytes` from a gzip stream (concatenated members too).

    Inflation is capped per call, so a highly compressed object never balloons in memory.
    """
    inflater = _inflate.decompressobj(31)
    pending = bytearray()
    in_member = False
    for compressed in iter(lambda: stream.read(READ_BYTES), b""):
        while compressed:
            in_member = True
            pending += inflater.decompress(compressed, block_bytes)
            compressed = inflater.unconsumed_tail
            if inflater.eof:  # a new gzip member may follow the one that just ended
                compressed, in_member = inflater.unused_data, False
                inflater = _inflate.decompressobj(31)
            yield from _whole_lines(pending, block_bytes)
    if in_member:
        raise EOFError("gzip stream ends inside a member (truncated or not gzip)")
    yield from _whole_lines(pending, block_bytes)
    if pending.strip():
        yield bytes(pending) if pending.endswith(b"\n") else bytes(pending + b"\n")


def _whole_lines(pending: bytearray, block_bytes: int) -> Iterator[bytes]:
    """Take blocks of whole lines off the front of `pending` while it holds a full block."""
    while len(pending) >= block_bytes:
        cut = pending.rfind(b"\n", 0, block_bytes) + 1 or pending.find(b"\n", block_bytes) + 1
        if not cut:
            return  # one very long line: wait for its end
        yield bytes(pending[:cut])
        del pending[:cut]


def map_window(
    s3: Any,
    *,
    bucket: str,
    objects: Sequence[LogObject],
    summarise: Callable[[bytes], _T],
    on_corrupt: Callable[[str, Exception], None],
    workers: int = 2,
) -> Iterator[_T]:
    """`summarise(block)` for blocks covering every object, on a small thread pool.

    Fetchers download small objects whole, ahead of need; workers inflate batches of them and
    parse (zlib, pyarrow and numpy release the GIL). At most 2 x workers tasks and 4 x FETCHERS
    objects (AHEAD_BYTES) are in flight, which bounds memory. A truncated or corrupt object is
    reported through `on_corrupt` (possibly from a worker thread) and its whole lines before the
    damage are kept.
    """
    in_flight: deque[Future[list[_T]]] = deque()
    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="monitor-parse") as parsers,
        ThreadPoolExecutor(max_workers=FETCHERS, thread_name_prefix="monitor-fetch") as fetchers,
    ):

        def submit(task: Callable[[], list[_T]]) -> Iterator[_T]:
            in_flight.append(parsers.submit(task))
            while len(in_flight) >= 2 * workers:
                yield from in_flight.popleft().result()

        batch: list[tuple[str, bytes]] = []
        for item in _fetched(s3, bucket=bucket, objects=objects, pool=fetchers):
            if isinstance(item, LogObject):  # too large to hold: streamed here, block by block
                for block in _streamed_blocks(s3, bucket=bucket, key=item.key, on_corrupt=on_corrupt):
                    yield from submit(
                        partial(_summarise_batch, [(item.key, block)], summarise, on_corrupt, inflate=False)
                    )
                continue
            batch.append(item)
            if sum(len(body) for _, body in batch) >= BATCH_BYTES:
                chosen, batch = batch, []
                yield from submit(partial(_summarise_batch, chosen, summarise, on_corrupt))
        if batch:
            yield from submit(partial(_summarise_batch, batch, summarise, on_corrupt))
        while in_flight:
            yield from in_flight.popleft().result()


def _fetched(
    s3: Any, *, bucket: str, objects: Sequence[LogObject], pool: ThreadPoolExecutor
) -> Iterator[tuple[str, bytes] | LogObject]:
    """(key, compressed body) of each object in order, fetched ahead; a large one as itself."""

    def fetch(item: LogObject) -> tuple[str, bytes] | LogObject:
        if item.size > WHOLE_OBJECT_BYTES:
            return item
        body = s3.get_object(Bucket=bucket, Key=item.key)["Body"]
        try:
            return item.key, body.read()
        finally:
            body.close()

    ahead: deque[tuple[int, Future[tuple[str, bytes] | LogObject]]] = deque()
    held = 0  # bytes fetched or being fetched ahead: bounded, however large the objects
    for item in objects:
        size = item.size if item.size <= WHOLE_OBJECT_BYTES else 0
        ahead.append((size, pool.submit(fetch, item)))
        held += size
        while len(ahead) >= 4 * FETCHERS or held > AHEAD_BYTES:
            done, future = ahead.popleft()
            held -= done
            yield future.result()
    while ahead:
        yield ahead.popleft()[1].result()


def _streamed_blocks(
    s3: Any, *, bucket: str, key: str, on_corrupt: Callable[[str, Exception], None]
) -> Iterator[bytes]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        yield from decompressed_blocks(body)
    except _CORRUPT as error:
        on_corrupt(key, error)
    finally:
        body.close()


def _summarise_batch(
    batch: Sequence[tuple[str, bytes]],
    summarise: Callable[[bytes], _T],
    on_corrupt: Callable[[str, Exception], None],
    *,
    inflate: bool = True,
) -> list[_T]:
    """Inflate small objects into shared blocks of at most about BLOCK_BYTES, and summarise each.

    With `inflate=False` the bodies are blocks already inflated (of a streamed object).
    """
    results: list[_T] = []
    pending = bytearray()
    for key, body in batch:
        try:
            for block in decompressed_blocks(io.BytesIO(body)) if inflate else [body]:
                pending += block
                if len(pending) >= BLOCK_BYTES:
                    results.append(summarise(bytes(pending)))
                    pending.clear()
        except _CORRUPT as error:
            on_corrupt(key, error)
    if pending:
        results.append(summarise(bytes(pending)))
    return results
