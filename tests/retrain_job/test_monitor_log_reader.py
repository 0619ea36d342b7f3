"""The streaming log reader: line-aligned blocks, fast and forgiving parsing, S3 listing."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime

import boto3
import numpy as np
import pytest
from moto import mock_aws

from ml_deploy import payload_log
from retrain_job.monitor import log_reader
from retrain_job.monitor.log_parser import LogLayout, parse_block

LAYOUT = LogLayout(numeric=("age", "charges"), categorical=("plan",))


def _line(i: int, **overrides: object) -> bytes:
    record: dict[str, object] = {
        "timestamp": "2026-11-23T10:05:07.123Z",
        "model_version": "v1",
        "input": {"age": i, "charges": i / 2, "plan": f"p{i % 3}"},
        "output": {"prediction": 1, "probability": (i % 10) / 10},
    }
    record.update(overrides)
    return json.dumps(record).encode()


def test_blocks_are_whole_lines_across_reads_and_gzip_members() -> None:
    lines = [_line(i) for i in range(5_000)]
    # Two concatenated gzip members, as appending writers produce; tiny blocks force many cuts.
    stream = io.BytesIO(
        gzip.compress(b"\n".join(lines[:2_000]) + b"\n") + gzip.compress(b"\n".join(lines[2_000:]))
    )
    blocks = list(log_reader.decompressed_blocks(stream, block_bytes=10_000))
    # Every block ends a line, even the last one of an object without a final newline, so blocks
    # of consecutive objects can be parsed together.
    assert len(blocks) > 10 and all(block.endswith(b"\n") for block in blocks)
    assert b"".join(blocks).split(b"\n")[:-1] == lines


def test_a_malformed_line_costs_only_itself() -> None:
    lines = [_line(i) for i in range(3_000)]
    lines[1_234] = b'{"input": {"age": "forty"}, "output": {"probability": 0.1}}'
    lines[2_000] = b"{truncated"
    columns = parse_block(b"\n".join(lines) + b"\n", LAYOUT)
    assert (columns.rows, columns.malformed) == (2_998, 2), (columns.rows, columns.malformed)
    clean = parse_block(b"\n".join(line for i, line in enumerate(lines) if i not in (1_234, 2_000)), LAYOUT)
    assert np.array_equal(columns.numeric["age"], clean.numeric["age"]), "good rows lost or reordered"
    indices, dictionary = columns.categorical["plan"]
    assert sorted(dictionary) == ["p0", "p1", "p2"] and (indices >= 0).all()


def test_reads_what_the_service_encoder_writes() -> None:
    """The one writer (`payload_log.encode_lines`, used by the service) and this reader agree."""
    lines = payload_log.encode_lines(
        request_id="req-1",
        timestamp="2026-11-23T10:05:07.123Z",
        model_version="v1",
        environment="prod",
        inputs=[{"age": 40, "charges": 20.5, "plan": "p1"}, {"age": None, "charges": 3, "plan": None}],
        outputs=[(1, 0.75), (0, 0.25)],
    )
    columns = parse_block(b"".join(lines), LAYOUT)
    assert (columns.rows, columns.malformed) == (2, 0)
    assert columns.numeric["charges"].tolist() == [20.5, 3.0] and np.isnan(columns.numeric["age"][1])
    indices, dictionary = columns.categorical["plan"]
    assert [dictionary[i] if i >= 0 else None for i in indices] == ["p1", None]
    assert columns.probabilities.tolist() == [0.75, 0.25]


def test_missing_values_and_other_versions() -> None:
    lines = [_line(1, input={"plan": None}), _line(2, model_version="v2"), _line(3)]
    layout = LogLayout(numeric=LAYOUT.numeric, categorical=LAYOUT.categorical, model_version="v1")
    columns = parse_block(b"\n".join(lines), layout)
    assert (columns.rows, columns.filtered, columns.malformed) == (2, 1, 0)
    assert np.isnan(columns.numeric["age"][0]) and columns.categorical["plan"][0][0] == -1


@pytest.mark.parametrize("whole_object_bytes", [log_reader.WHOLE_OBJECT_BYTES, 0])
def test_window_listing_reads_only_its_partitions(
    whole_object_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small objects are fetched whole and parsed in batches; with a limit of 0 every object is
    streamed instead: the same rows either way, and a truncated object reported."""
    monkeypatch.setattr(log_reader, "WHOLE_OBJECT_BYTES", whole_object_bytes)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="logs-bucket")
        for key in ("p/dt=2026-11-23/hour=09/a.jsonl.gz", "p/dt=2026-11-23/hour=10/b.jsonl.gz",
                    "p/dt=2026-11-23/hour=11/c.jsonl.gz", "p/dt=2026-11-23/hour=10/notes.txt"):  # fmt: skip
            s3.put_object(Bucket="logs-bucket", Key=key, Body=gzip.compress(_line(1)))
        objects = log_reader.list_window_objects(
            s3, bucket="logs-bucket", prefixes=["p/dt=2026-11-23/hour=09/", "p/dt=2026-11-23/hour=10/"]
        )
        keys = [item.key for item in objects]
        assert keys == ["p/dt=2026-11-23/hour=09/a.jsonl.gz", "p/dt=2026-11-23/hour=10/b.jsonl.gz"]
        truncated = gzip.compress(b"\n".join(_line(i) for i in range(100)))[:-30]
        s3.put_object(Bucket="logs-bucket", Key="p/dt=2026-11-23/hour=11/d.jsonl.gz", Body=truncated)
        corrupt: list[str] = []
        results = list(log_reader.map_window(
            s3, bucket="logs-bucket",
            objects=[log_reader.LogObject("p/dt=2026-11-23/hour=11/d.jsonl.gz", len(truncated)), *objects],
            summarise=lambda block: parse_block(block, LAYOUT).rows,
            on_corrupt=lambda key, error: corrupt.append(key),
        ))  # fmt: skip
        assert sum(results) == 2 and corrupt == ["p/dt=2026-11-23/hour=11/d.jsonl.gz"]


def test_probabilities_outside_zero_one_and_lines_without_timestamp_are_malformed() -> None:
    lines = [_line(i) for i in range(100)]
    lines[3] = _line(3, output={"prediction": 1, "probability": 1.5})
    lines[4] = _line(4, output={"prediction": 0, "probability": -0.01})
    record = json.loads(_line(5))
    del record["timestamp"]
    lines[5] = json.dumps(record).encode()
    columns = parse_block(b"\n".join(lines), LAYOUT)
    assert (columns.rows, columns.malformed) == (97, 3), (columns.rows, columns.malformed)
    assert columns.probabilities.min() >= 0.0 and columns.probabilities.max() <= 1.0


def test_rows_are_kept_by_timestamp_in_start_inclusive_end_exclusive() -> None:
    stamps = ["2026-11-23T09:59:59.999Z", "2026-11-23T10:00:00.000Z", "2026-11-23T10:59:59.999Z",
              "2026-11-23T11:00:00.000Z", "2026-11-23T10:30:00+00:00"]  # fmt: skip
    block = b"\n".join(_line(i, timestamp=stamp) for i, stamp in enumerate(stamps))
    layout = LogLayout(
        numeric=LAYOUT.numeric, categorical=LAYOUT.categorical,
        start=datetime(2026, 11, 23, 10, tzinfo=UTC), end=datetime(2026, 11, 23, 11, tzinfo=UTC),
    )  # fmt: skip
    columns = parse_block(block, layout)
    assert (columns.rows, columns.outside_window, columns.malformed) == (3, 2, 0)
    assert columns.numeric["age"].tolist() == [1.0, 2.0, 4.0], "the wrong rows were kept"
