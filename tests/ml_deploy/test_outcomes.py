"""The outcome contract: which record, the observed label, when; bad rows named, never dropped."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
import pytest

from ml_deploy import outcomes, payload_log
from ml_deploy.layout import DEFAULT_LAYOUT, ObjectLayout

NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)


def _valid(now: datetime = NOW, rows: list[tuple[int, Any]] | None = None) -> outcomes.Validated:
    return outcomes.validate_rows(rows or [], now=now)


def test_a_record_is_named_by_request_id_and_index_or_by_the_callers_key() -> None:
    result = _valid(rows=[
        (1, _row(request_id="r-1", record_index=3)),
        (2, {"key": "customer-7", "label": 0, "observed_at": "2026-12-19T10:00:00+01:00"}),
    ])  # fmt: skip
    assert result.bad == []
    assert result.records == [
        {"request_id": "r-1", "record_index": 3, "key": None, "label": 1,
         "observed_at": "2026-12-19T09:00:00.000Z"},
        {"request_id": None, "record_index": None, "key": "customer-7", "label": 0,
         "observed_at": "2026-12-19T09:00:00.000Z"},
    ]  # fmt: skip


def test_csv_cells_are_strings_and_empty_cells_are_absent() -> None:
    row = {
        "request_id": "r-1",
        "record_index": "0",
        "key": "",
        "label": "1",
        "observed_at": "2026-12-19T09:00:00Z",
    }
    assert _valid(rows=[(2, row)]).records[0]["record_index"] == 0


def _row(**changes: Any) -> dict[str, Any]:
    """A valid row named by request id, with `changes` (None removes a field)."""
    row = {"request_id": "r", "record_index": 0, "label": 1, "observed_at": "2026-12-19T09:00:00Z"} | changes
    return {name: value for name, value in row.items() if value is not None}


@pytest.mark.parametrize(
    ("row", "named"),
    [
        (_row(label=2), "label"),
        (_row(label=True), "label"),
        (_row(label="yes"), "label"),
        (_row(observed_at="2026-12-21T09:00:00Z"), "future"),
        (_row(observed_at="2026-12-19T09:00:00"), "zone"),
        (_row(observed_at=None), "observed_at"),
        (_row(record_index=-1), "record_index"),
        (_row(record_index=None), "no record named"),
        (_row(key="k"), "not both"),
        (_row(request_id=None, record_index=None, key="k" * 129), "key"),
        (_row(churned=1), "'churned'"),
        ([1, 2, 3], "expected an object"),
    ],
    ids=["label-2", "label-bool", "label-text", "future", "naive-time", "no-time", "negative-index",
         "no-index", "both-forms", "long-key", "unknown-field", "not-an-object"],
)  # fmt: skip
def test_a_bad_row_is_kept_with_one_line_naming_the_field(row: Any, named: str) -> None:
    good = {"key": "ok", "label": 1, "observed_at": "2026-12-19T09:00:00Z"}
    result = _valid(rows=[(1, good), (2, row)])
    assert len(result.records) == 1, "the good row is kept"
    assert [number for number, _ in result.bad] == [2]
    reason = result.bad[0][1]
    assert named in reason and "\n" not in reason, reason


def test_objects_are_gzip_json_lines_partitioned_by_the_day_observed() -> None:
    records = _valid(rows=[
        (1, {"key": "a", "label": 1, "observed_at": "2026-12-18T23:59:00Z"}),
        (2, {"key": "b", "label": 0, "observed_at": "2026-12-19T00:01:00Z"}),
        (3, {"request_id": "r", "record_index": 1, "label": 0, "observed_at": "2026-12-19T05:00:00Z"}),
    ]).records  # fmt: skip
    objects = outcomes.encode_objects(records, prefix="outcomes/")
    assert [key.rsplit("/", 1)[0] for key, _ in objects] == [
        "outcomes/dt=2026-12-18",
        "outcomes/dt=2026-12-19",
    ]
    assert all(key.endswith(payload_log.SUFFIX) for key, _ in objects)
    lines = [orjson.loads(line) for _, body in objects for line in gzip.decompress(body).splitlines()]
    assert lines == records
    options = pa_json.ParseOptions(explicit_schema=outcomes.reader_schema())
    table = pa_json.read_json(pa.BufferReader(gzip.decompress(objects[1][1])), parse_options=options)
    assert table.column("label").to_pylist() == [0, 0]
    assert table.column("observed_at").to_pylist()[0] == datetime(2026, 12, 19, 0, 1, tzinfo=UTC)


def test_the_days_read_cover_start_to_end_inclusive() -> None:
    start = datetime(2026, 12, 30, 23, tzinfo=UTC)
    assert outcomes.day_prefixes("o/", start=start, end=start + timedelta(hours=26)) == [
        "o/dt=2026-12-30/", "o/dt=2026-12-31/", "o/dt=2027-01-01/"
    ]  # fmt: skip
    assert outcomes.partition_prefix("o/", date(2026, 1, 2)) == "o/dt=2026-01-02/"


def test_outcomes_have_their_own_prefix_in_the_layout() -> None:
    assert DEFAULT_LAYOUT.outcomes_prefix == "outcomes/"
    assert DEFAULT_LAYOUT.outcomes_prefix != DEFAULT_LAYOUT.prediction_log_prefix
    with pytest.raises(ValueError, match="prefix"):
        ObjectLayout(outcomes_prefix="/outcomes")
