"""Parse a block of prediction-log lines (`ml_deploy.payload_log` format) into columns.

`pyarrow.json` parses a block in C++; a block it rejects (a malformed line) is split in halves
until the bad lines are isolated and parsed one by one, so one bad line costs a few small
re-parses, not a slow path for the block. A row counts only if it is well formed (a probability
in [0, 1], a timestamp) and stamped inside the window; the others are counted, never binned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypeGuard

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ml_deploy import payload_log
from ml_deploy.schema import FeatureSpec

SMALLEST_SPLIT = 32 << 10  # below this a rejected block is parsed line by line
TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class LogLayout:
    """Which fields of a log line the monitor reads, and how a block of lines is typed."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    model_version: str | None = None
    start: datetime | None = None  # rows stamped in [start, end) count; None: no bound
    end: datetime | None = None

    @classmethod
    def from_features(
        cls,
        features: Sequence[FeatureSpec],
        *,
        model_version: str | None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> LogLayout:
        return cls(
            numeric=tuple(spec.name for spec in features if spec.type == "numeric"),
            categorical=tuple(spec.name for spec in features if spec.type == "categorical"),
            model_version=model_version,
            start=start,
            end=end,
        )

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """Built once per layout, not per block."""
        schema = payload_log.reader_schema(numeric=self.numeric, categorical=self.categorical)
        return schema.append(pa.field("timestamp", TIMESTAMP))


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
    outside_window: int = 0
    stamps: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # microseconds
    versions: tuple[np.ndarray, list[str]] = field(
        default_factory=lambda: (np.empty(0, dtype=np.int32), [])
    )  # (indices, dictionary) of each row's model version; -1: none

    def by_version(self) -> dict[str | None, Columns]:
        """The block's rows grouped by model version (None: a line without one); no copy for one."""
        indices, dictionary = self.versions
        present = np.unique(indices)
        if present.size <= 1:
            code = int(present[0]) if present.size else -1
            return {dictionary[code] if code >= 0 else None: self}
        return {dictionary[code] if code >= 0 else None: self._take(indices == code) for code in present}

    def _take(self, mask: np.ndarray) -> Columns:
        return Columns(
            rows=int(np.count_nonzero(mask)),
            malformed=0,
            filtered=0,
            numeric={name: values[mask] for name, values in self.numeric.items()},
            categorical={name: (codes[mask], labels) for name, (codes, labels) in self.categorical.items()},
            probabilities=self.probabilities[mask],
            stamps=self.stamps[mask],
            versions=(self.versions[0][mask], self.versions[1]),
        )


def parse_block(block: bytes, layout: LogLayout) -> Columns:
    """Columns of a block of JSON lines; malformed lines counted and skipped."""
    tables, malformed = _parse_arrow(block, layout, schema=layout.arrow_schema)
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
    probability, stamp = output.get("probability"), _timestamp(record.get("timestamp"))
    if not (_is_number(probability) and 0.0 <= probability <= 1.0) or stamp is None:
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
        "output": {"probability": float(probability)},
        "timestamp": stamp,
    }


def _timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp with a zone, as the service writes; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _columns(table: pa.Table, layout: LogLayout, *, malformed: int) -> Columns:
    inputs = table.column("input").combine_chunks()
    probabilities = table.column("output").combine_chunks().field("probability")
    stamps = table.column("timestamp").combine_chunks()
    # A line without `input`, a probability in [0, 1] or a timestamp is malformed.
    in_range = pc.and_(pc.greater_equal(probabilities, 0.0), pc.less_equal(probabilities, 1.0))
    valid = pc.fill_null(pc.and_(pc.and_(inputs.is_valid(), in_range), stamps.is_valid()), False)
    keep = valid
    outside = 0
    if layout.start is not None or layout.end is not None:
        inside = pc.fill_null(_in_window(stamps, layout), False)
        keep = pc.and_(valid, inside)
        outside = _count(valid) - _count(keep)
    filtered = 0
    if layout.model_version is not None:
        versions = table.column("model_version").combine_chunks()
        wanted = pc.fill_null(pc.equal(versions, layout.model_version), False)
        ours = pc.and_(keep, wanted)
        filtered = _count(keep) - _count(ours)
        keep = ours
    kept = _count(keep)
    malformed += len(inputs) - _count(valid)
    versions = table.column("model_version").combine_chunks()
    if kept < len(inputs):
        inputs, probabilities = inputs.filter(keep), probabilities.filter(keep)
        stamps, versions = stamps.filter(keep), versions.filter(keep)
    return Columns(
        rows=kept,
        malformed=malformed,
        filtered=filtered,
        numeric={name: _floats(inputs.field(name)) for name in layout.numeric},
        categorical={name: _dictionary(inputs.field(name)) for name in layout.categorical},
        probabilities=_floats(probabilities),
        outside_window=outside,
        stamps=np.asarray(stamps.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64),
        versions=_dictionary(versions),
    )


def _in_window(stamps: pa.Array, layout: LogLayout) -> pa.Array:
    """start <= timestamp < end, as a boolean array (null where the timestamp is null)."""
    inside = pc.is_valid(stamps)
    if layout.start is not None:
        inside = pc.and_(inside, pc.greater_equal(stamps, pa.scalar(layout.start, type=TIMESTAMP)))
    if layout.end is not None:
        inside = pc.and_(inside, pc.less(stamps, pa.scalar(layout.end, type=TIMESTAMP)))
    return inside


def _count(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


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
