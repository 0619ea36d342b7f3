from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import get_type_hints

from ml_deploy import payload_log


def test_partition_is_the_utc_hour() -> None:
    local = datetime(2026, 11, 23, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert (
        payload_log.partition_prefix("predictions/prod/", local) == "predictions/prod/dt=2026-11-22/hour=23/"
    )


def test_object_keys_are_unique_and_in_their_partition() -> None:
    when = datetime(2026, 11, 23, 10, 5, tzinfo=UTC)
    keys = {payload_log.object_key("p/", when, writer="task1") for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith("p/dt=2026-11-23/hour=10/") and k.endswith(".jsonl.gz") for k in keys)


def test_window_covers_the_hours_before_the_end_oldest_first() -> None:
    end = datetime(2026, 11, 23, 1, 59, tzinfo=UTC)
    prefixes = list(payload_log.window_prefixes("p/", end=end, hours=3))
    assert prefixes == ["p/dt=2026-11-22/hour=23/", "p/dt=2026-11-23/hour=00/", "p/dt=2026-11-23/hour=01/"]


def test_timestamp_is_utc_with_milliseconds() -> None:
    when = datetime(2026, 11, 23, 10, 5, 7, 123456, tzinfo=UTC)
    assert payload_log.utc_timestamp(when) == "2026-11-23T10:05:07.123Z"


def test_lines_carry_every_record_field_in_order() -> None:
    lines = payload_log.encode_lines(
        request_id="req-1",
        timestamp="2026-11-23T10:05:07.123Z",
        model_version="v1",
        environment="prod",
        inputs=[{"age": 40}, {"age": None}],
        outputs=[(1, 0.75), (0, 0.25)],
    )
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines), lines
    records = [json.loads(line) for line in lines]
    assert [list(record) for record in records] == [list(get_type_hints(payload_log.LogRecord))] * 2
    assert [record["record_index"] for record in records] == [0, 1]
    assert records[1]["input"] == {"age": None}
    assert records[1]["output"] == {"prediction": 0, "probability": 0.25}


def test_the_reader_schema_covers_what_the_monitor_reads() -> None:
    schema = payload_log.reader_schema(numeric=["age"], categorical=["plan"])
    assert schema.names == ["model_version", "input", "output"]
    assert str(schema.field("input").type) == "struct<age: double, plan: string>"


def test_importable_without_pyarrow_or_orjson() -> None:
    """The service image has no pyarrow; the library itself depends on neither."""
    probe = "import sys; sys.modules['pyarrow'] = sys.modules['orjson'] = None; import ml_deploy.payload_log"
    subprocess.run([sys.executable, "-c", probe], check=True)
