"""Join outcomes (`ml_deploy.outcomes`) to the logged predictions (`ml_deploy.payload_log`) they name.

Outcomes are the small side: they are read whole into an `OutcomeIndex` (one reference string per
record, the latest outcome of each). Predictions are the large side: they are streamed block by
block (`retrain_job.monitor.log_reader`), parsed in C++ by pyarrow, and joined through one
dict of the outcomes' references built once. (`pyarrow.compute.index_in` takes its value set
with each call, https://arrow.apache.org/docs/python/generated/pyarrow.compute.index_in.html,
and hashes all of it again each time: measured, 123 s for 1M predictions against 505k outcomes
in 77 blocks, against 12 s with the dict; bench/quality.py.) It keeps only the joined
(version, probability, label) and per-version counts. Memory is bounded by the outcomes and the
blocks in flight, never by the predictions in the window.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ml_deploy import outcomes, payload_log

# References are "r<SEP><request_id><SEP><index>" or "k<SEP><key>": the leading letter keeps the
# two forms apart, and the index (digits) ends its form, so even an id holding SEP is unambiguous.
SEPARATOR = "\x1f"
_TIMESTAMP = pa.timestamp("us", tz="UTC")


def parse_lines(block: bytes, schema: pa.Schema) -> tuple[pa.Table, int]:
    """A block of JSON lines as a table of `schema`, and how many lines did not fit it.

    The whole block is parsed in one C++ call; a block it rejects is parsed line by line, so one
    bad line costs its block a slow pass, not the window.
    """
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    read = pa_json.ReadOptions(use_threads=False, block_size=max(len(block), 1 << 16))
    try:
        return pa_json.read_json(pa.BufferReader(block), read_options=read, parse_options=options), 0
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    tables, bad = [], 0
    for line in block.split(b"\n"):
        if not line.strip():
            continue
        try:
            tables.append(pa_json.read_json(pa.BufferReader(line), parse_options=options))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            bad += 1
    return (pa.concat_tables(tables) if tables else schema.empty_table()), bad


def references(*, request_id: pa.Array, record_index: pa.Array, key: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The two reference strings of rows: by request id + index, and by caller key (null if absent)."""
    index_text = pc.cast(record_index, pa.string())
    by_request = pc.binary_join_element_wise("r", request_id, index_text, SEPARATOR)
    by_key = pc.binary_join_element_wise("k", key, SEPARATOR)
    return by_request, by_key


@dataclass(frozen=True)
class OutcomeIndex:
    """The latest outcome of each named record: reference -> (label, observed_at in µs)."""

    positions: dict[str | None, int]  # reference -> its latest outcome's row in labels, observed_us
    labels: np.ndarray  # per outcome row read (superseded rows included, never referenced)
    observed_us: np.ndarray
    read: int = 0
    duplicates: int = 0
    malformed: int = 0

    @classmethod
    def build(cls, tables: Sequence[pa.Table], *, malformed: int = 0) -> OutcomeIndex:
        schema = outcomes.reader_schema()
        table = pa.concat_tables(
            [t.select(schema.names).cast(schema) for t in tables] or [schema.empty_table()]
        )
        by_request, by_key = references(
            request_id=table["request_id"].combine_chunks(),
            record_index=table["record_index"].combine_chunks(),
            key=table["key"].combine_chunks(),
        )
        refs = pc.coalesce(by_request, by_key)
        valid = pc.fill_null(
            pc.and_(pc.is_valid(refs), table["observed_at"].combine_chunks().is_valid()), False
        )
        valid = pc.and_(
            valid, pc.fill_null(pc.is_in(table["label"], pa.array(outcomes.CLASSES, pa.int8())), False)
        )
        malformed += table.num_rows - int(pc.sum(valid).as_py() or 0)
        table = table.filter(valid).append_column("ref", refs.filter(valid))
        # Oldest observation first, so a later outcome of the same record overwrites the earlier.
        table = table.sort_by([("observed_at", "ascending")])
        positions = {ref: row for row, ref in enumerate(table["ref"].to_pylist())}
        return cls(
            positions=positions,
            labels=table["label"].to_numpy().astype(np.int8),
            observed_us=table["observed_at"].cast(pa.int64()).to_numpy(),
            read=table.num_rows,
            duplicates=table.num_rows - len(positions),
            malformed=malformed,
        )

    def __len__(self) -> int:
        """Records with an outcome (duplicates counted once)."""
        return len(self.positions)

    def find(self, refs: pa.Array) -> np.ndarray:
        """The outcome row of each reference, -1 where there is none (null included)."""
        rows = map(self.positions.get, refs.to_pylist(), itertools.repeat(-1))
        return np.fromiter(rows, dtype=np.int64, count=len(refs))


@dataclass
class VersionRows:
    """One model version's predictions in the window, and the joined ones."""

    predictions: int = 0
    predicted_positive: int = 0
    probabilities: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)

    def joined(self) -> tuple[np.ndarray, np.ndarray]:
        """(observed labels, probabilities) of the joined rows."""
        if not self.labels:
            return np.empty(0, dtype=np.int8), np.empty(0, dtype=np.float64)
        return np.concatenate(self.labels), np.concatenate(self.probabilities)


@dataclass
class Joined:
    """What a window's join kept: per version rows, and what became of the outcomes."""

    versions: dict[str, VersionRows] = field(default_factory=dict)
    matched: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per outcome
    before_prediction: int = 0
    malformed: int = 0
    outside_window: int = 0

    def merge(self, other: Joined) -> None:
        for name, theirs in other.versions.items():
            mine = self.versions.setdefault(name, VersionRows())
            mine.predictions += theirs.predictions
            mine.predicted_positive += theirs.predicted_positive
            mine.probabilities += theirs.probabilities
            mine.labels += theirs.labels
        self.matched = self.matched | other.matched if self.matched.size else other.matched.copy()
        self.before_prediction += other.before_prediction
        self.malformed += other.malformed
        self.outside_window += other.outside_window


def join_block(block: bytes, index: OutcomeIndex, *, start: datetime, end: datetime) -> Joined:
    """Join one block of prediction-log lines stamped in [start, end) with the outcome index."""
    table, malformed = parse_lines(block, payload_log.join_schema())
    probability = table["output"].combine_chunks().field("probability")
    stamps = table["timestamp"].combine_chunks()
    versions = table["model_version"].combine_chunks()
    in_range = pc.and_(pc.greater_equal(probability, 0.0), pc.less_equal(probability, 1.0))
    valid = pc.fill_null(pc.and_(pc.and_(in_range, stamps.is_valid()), versions.is_valid()), False)
    inside = pc.and_(
        pc.greater_equal(stamps, pa.scalar(start, type=_TIMESTAMP)),
        pc.less(stamps, pa.scalar(end, type=_TIMESTAMP)),
    )
    keep = pc.and_(valid, pc.fill_null(inside, False))
    valid_count, kept = _count(valid), _count(keep)
    result = Joined(
        matched=np.zeros(index.labels.size, dtype=bool),
        malformed=malformed + table.num_rows - valid_count,
        outside_window=valid_count - kept,
    )
    if kept == 0:
        return result
    table = table.filter(keep)
    by_request, by_key = references(
        request_id=table["request_id"].combine_chunks(),
        record_index=table["record_index"].combine_chunks(),
        key=table["key"].combine_chunks(),
    )
    outcome_at = index.find(by_request)
    missing = outcome_at < 0
    if missing.any():  # the caller's key only where the request id found nothing
        outcome_at[missing] = index.find(by_key.filter(pa.array(missing)))
    has = outcome_at >= 0
    stamp_us = table["timestamp"].combine_chunks().cast(pa.int64()).to_numpy()
    late_enough = np.zeros(len(has), dtype=bool)
    late_enough[has] = index.observed_us[outcome_at[has]] >= stamp_us[has]
    result.before_prediction = int(np.count_nonzero(has & ~late_enough))
    result.matched[outcome_at[late_enough]] = True
    _per_version(result, table, outcome_at=outcome_at, joined=late_enough, index=index)
    return result


def _per_version(
    result: Joined, table: pa.Table, *, outcome_at: np.ndarray, joined: np.ndarray, index: OutcomeIndex
) -> None:
    """Split a joined block by model version: versions are scored apart, never mixed."""
    encoded = table["model_version"].combine_chunks().dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    probabilities = table["output"].combine_chunks().field("probability").to_numpy(zero_copy_only=False)
    positive = probabilities >= payload_log.DECISION_THRESHOLD
    for code, name in enumerate(encoded.dictionary.to_pylist()):
        mine = codes == code
        rows = VersionRows(
            predictions=int(np.count_nonzero(mine)), predicted_positive=int(np.count_nonzero(positive & mine))
        )
        chosen = mine & joined
        if chosen.any():
            rows.probabilities.append(probabilities[chosen].astype(np.float64))
            rows.labels.append(index.labels[outcome_at[chosen]])
        result.versions[str(name)] = rows


def _count(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)
