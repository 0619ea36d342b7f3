"""Stream prediction logs (`ml_deploy.payload_log` format) out of S3 as columns, block by block.

Memory is bounded by the block size times the blocks in flight, never by the rows in the window:
each object is decompressed as a stream into line-aligned blocks, and each block is parsed into
per-feature columns that the caller reduces to counts and drops. `pyarrow.json` parses a block in
C++; a block it rejects (a malformed line) is split in halves until the bad lines are isolated and
parsed one by one, so one bad line costs a few small re-parses, not a slow path for the block.
"""

from __future__ import annotations

import types
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from ml_deploy import payload_log
from ml_deploy.schema import FeatureSpec

_inflate: types.ModuleType
try:  # ISA-L inflates about twice as fast as zlib; decompression is half the work per row.
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - the jobs extra installs isal
    _inflate = zlib

BLOCK_BYTES = 4 << 20  # decompressed bytes per parsed block: large enough to amortise, small in memory
READ_BYTES = 1 << 20  # compressed bytes per S3 read
SMALLEST_SPLIT = 32 << 10  # below this a rejected block is parsed line by line
_T = TypeVar("_T")


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class LogLayout:
    """Which fields of a log line the monitor reads, and how a block of lines is typed."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    model_version: str | None = None

    @classmethod
    def from_features(cls, features: Sequence[FeatureSpec], *, model_version: str | None) -> LogLayout:
        return cls(
            numeric=tuple(spec.name for spec in features if spec.type == "numeric"),
            categorical=tuple(spec.name for spec in features if spec.type == "categorical"),
            model_version=model_version,
        )

    def arrow_schema(self) -> pa.Schema:
        return payload_log.reader_schema(numeric=self.numeric, categorical=self.categorical)


@dataclass
class Columns:
    """One block of valid log rows as columns; categorical values dictionary-encoded.

    `categorical[name]` is (indices, dictionary): index -1 marks a missing value.
    """

    rows: int
    malformed: int
    filtered: int
    numeric: dict[str, np.ndarray]
    categorical: dict[str, tuple[np.ndarray, list[str]]]
    probabilities: np.ndarray


def list_window_keys(s3: Any, *, bucket: str, prefixes: Iterable[str]) -> list[str]:
    """Log object keys under exactly these hour partitions, in key (time) order."""
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys += [
                item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(payload_log.SUFFIX)
            ]
    return keys


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
        yield bytes(pending)


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
    keys: Sequence[str],
    summarise: Callable[[bytes], _T],
    on_corrupt: Callable[[str, Exception], None],
    workers: int = 2,
) -> Iterator[_T]:
    """`summarise(block)` for every block of every object, in order, on a small thread pool.

    The main thread downloads and inflates; workers parse (pyarrow and numpy release the GIL).
    At most 2 x workers blocks are in flight, which bounds memory.
    """
    in_flight: deque[Future[_T]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="monitor-parse") as pool:
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                for block in decompressed_blocks(body):
                    in_flight.append(pool.submit(summarise, block))
                    if len(in_flight) >= 2 * workers:
                        yield in_flight.popleft().result()
            except (OSError, EOFError, zlib.error, _inflate.error) as error:
                # A truncated or corrupt object is reported and skipped; its good blocks were kept.
                on_corrupt(key, error)
            finally:
                body.close()
        while in_flight:
            yield in_flight.popleft().result()


def parse_block(block: bytes, layout: LogLayout) -> Columns:
    """Columns of a block of JSON lines; malformed lines counted and skipped."""
    tables, malformed = _parse_arrow(block, layout, schema=layout.arrow_schema())
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0] if tables else None
    if table is None or table.num_rows == 0:
        return _empty_columns(layout, malformed=malformed)
    return _columns(table, layout, malformed=malformed)


def _parse_arrow(block: bytes, layout: LogLayout, *, schema: pa.Schema) -> tuple[list[pa.Table], int]:
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    read_options = pa_json.ReadOptions(use_threads=False, block_size=max(len(block), 1 << 16))
    try:
        # A BufferReader, not io.BytesIO: the C++ reader then never calls back into Python (no GIL).
        return [
            pa_json.read_json(pa.BufferReader(block), read_options=read_options, parse_options=options)
        ], 0
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    if len(block) <= SMALLEST_SPLIT:
        return _parse_lines(block, layout, schema=schema)
    middle = block.rfind(b"\n", 0, len(block) // 2) + 1
    if middle == 0:
        middle = block.find(b"\n", len(block) // 2) + 1
    if middle == 0 or middle >= len(block):
        return _parse_lines(block, layout, schema=schema)
    left, bad_left = _parse_arrow(block[:middle], layout, schema=schema)
    right, bad_right = _parse_arrow(block[middle:], layout, schema=schema)
    return left + right, bad_left + bad_right


def _parse_lines(block: bytes, layout: LogLayout, *, schema: pa.Schema) -> tuple[list[pa.Table], int]:
    """The slow, forgiving path: one line at a time, keeping only lines that fit the layout."""
    good: list[dict[str, Any]] = []
    malformed = 0
    for line in block.split(b"\n"):
        if not line.strip():
            continue
        record = _valid_record(line, layout)
        if record is None:
            malformed += 1
        else:
            good.append(record)
    if not good:
        return [], malformed
    return [pa.Table.from_pylist(good, schema=schema)], malformed


def _valid_record(line: bytes, layout: LogLayout) -> dict[str, Any] | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    inputs, output, version = record.get("input"), record.get("output"), record.get("model_version")
    if not isinstance(inputs, dict) or not isinstance(output, dict):
        return None
    if not _is_number(output.get("probability")):
        return None
    if version is not None and not isinstance(version, str):
        return None
    numbers = {name: inputs.get(name) for name in layout.numeric}
    labels = {name: inputs.get(name) for name in layout.categorical}
    if not all(value is None or _is_number(value) for value in numbers.values()):
        return None
    if not all(value is None or isinstance(value, str) for value in labels.values()):
        return None
    return {
        "model_version": version,
        "input": {**numbers, **labels},
        "output": {"probability": float(output["probability"])},
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _columns(table: pa.Table, layout: LogLayout, *, malformed: int) -> Columns:
    inputs = table.column("input").combine_chunks()
    probabilities = table.column("output").combine_chunks().field("probability")
    # A line without `input`, `output` or a probability parses to nulls: it is malformed.
    valid = pa.compute.and_(inputs.is_valid(), probabilities.is_valid())
    filtered = 0
    if layout.model_version is not None:
        versions = table.column("model_version").combine_chunks()
        wanted = pa.compute.fill_null(pa.compute.equal(versions, layout.model_version), False)
        keep = pa.compute.and_(valid, wanted)
        filtered = int(pa.compute.sum(pa.compute.and_(valid, pa.compute.invert(wanted))).as_py() or 0)
    else:
        keep = valid
    kept = int(pa.compute.sum(keep).as_py() or 0)
    malformed += int(len(inputs) - pa.compute.sum(valid).as_py()) if len(inputs) else 0
    if kept < len(inputs):
        inputs, probabilities = inputs.filter(keep), probabilities.filter(keep)
    return Columns(
        rows=kept,
        malformed=malformed,
        filtered=filtered,
        numeric={name: _floats(inputs.field(name)) for name in layout.numeric},
        categorical={name: _dictionary(inputs.field(name)) for name in layout.categorical},
        probabilities=_floats(probabilities),
    )


def _floats(array: pa.Array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)


def _dictionary(array: pa.Array) -> tuple[np.ndarray, list[str]]:
    encoded = array.dictionary_encode()
    indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return indices, encoded.dictionary.to_pylist()


def _empty_columns(layout: LogLayout, *, malformed: int) -> Columns:
    empty = np.empty(0, dtype=np.float64)
    return Columns(
        rows=0,
        malformed=malformed,
        filtered=0,
        numeric={name: empty for name in layout.numeric},
        categorical={name: (np.empty(0, dtype=np.int32), []) for name in layout.categorical},
        probabilities=empty,
    )
