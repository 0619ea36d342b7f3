"""The join: outcomes to the predictions they name, against an independent pandas join."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ml_deploy import outcomes, payload_log
from retrain_job.quality.join import Joined, OutcomeIndex, join_block, parse_lines

START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=30)
OBSERVED = END + timedelta(days=5)


def _predictions(request_id: str, probabilities: list[float], *, version: str = "v1", when: datetime = START,
                 keys: list[str | None] | None = None) -> bytes:  # fmt: skip
    return b"".join(
        payload_log.encode_lines(
            request_id=request_id, timestamp=payload_log.utc_timestamp(when), model_version=version,
            environment="prod", inputs=[{}] * len(probabilities),
            outputs=[(int(p >= 0.5), p) for p in probabilities], keys=keys,
        )
    )  # fmt: skip


def _index(rows: list[dict[str, Any]], *, now: datetime = OBSERVED + timedelta(days=1)) -> OutcomeIndex:
    validated = outcomes.validate_rows(enumerate(rows), now=now)
    assert validated.bad == []
    body = b"".join(gzip.decompress(b) for _, b in outcomes.encode_objects(validated.records, prefix="o/"))
    table, bad = parse_lines(body, outcomes.reader_schema())
    return OutcomeIndex.build([table], malformed=bad)


def _at(when: datetime) -> str:
    return payload_log.utc_timestamp(when)


def test_outcomes_join_by_request_and_index_or_by_key() -> None:
    block = _predictions("req-a", [0.9, 0.2]) + _predictions("req-b", [0.7], keys=["cust-1"])
    index = _index([
        {"request_id": "req-a", "record_index": 1, "label": 0, "observed_at": _at(OBSERVED)},
        {"key": "cust-1", "label": 1, "observed_at": _at(OBSERVED)},
    ])  # fmt: skip
    joined = join_block(block, index, start=START, end=END)
    y, p = joined.versions["v1"].joined()
    assert sorted(zip(p.tolist(), y.tolist(), strict=True)) == [(0.2, 0), (0.7, 1)]
    assert joined.versions["v1"].predictions == 3 and joined.versions["v1"].predicted_positive == 2


def test_duplicates_keep_the_latest_and_are_counted() -> None:
    index = _index([
        {"key": "c", "label": 0, "observed_at": _at(OBSERVED - timedelta(days=1))},
        {"key": "c", "label": 1, "observed_at": _at(OBSERVED)},
        {"key": "c", "label": 0, "observed_at": _at(OBSERVED - timedelta(days=2))},
    ])  # fmt: skip
    assert (index.read, index.duplicates, len(index)) == (3, 2, 1)
    joined = join_block(_predictions("r", [0.4], keys=["c"]), index, start=START, end=END)
    assert joined.versions["v1"].joined()[0].tolist() == [1], "the latest observation wins"


def test_unknown_records_outcomes_before_their_prediction_and_rows_outside_the_window_are_counted() -> None:
    index = _index([
        {"key": "nobody", "label": 1, "observed_at": _at(OBSERVED)},
        {"request_id": "early", "record_index": 0, "label": 1, "observed_at": _at(START)},
        {"request_id": "late", "record_index": 0, "label": 1, "observed_at": _at(OBSERVED)},
    ])  # fmt: skip
    block = (_predictions("early", [0.3], when=START + timedelta(hours=1))
             + _predictions("late", [0.3], when=END + timedelta(hours=1)))  # fmt: skip
    total = Joined()
    total.merge(join_block(block, index, start=START, end=END))
    assert total.before_prediction == 1 and total.outside_window == 1
    assert int(total.matched.sum()) == 0, "no outcome matched: all three are unmatched"
    assert total.versions["v1"].predictions == 1 and total.versions["v1"].joined()[0].size == 0


def test_versions_are_joined_apart() -> None:
    block = _predictions("a", [0.9], version="v1") + _predictions("b", [0.1], version="v2")
    index = _index(
        [{"request_id": r, "record_index": 0, "label": 1, "observed_at": _at(OBSERVED)} for r in "ab"]
    )
    joined = join_block(block, index, start=START, end=END)
    assert {name: rows.joined()[1].tolist() for name, rows in joined.versions.items()} == {
        "v1": [0.9],
        "v2": [0.1],
    }


def test_malformed_lines_are_counted_and_the_rest_joined() -> None:
    block = (
        _predictions("a", [0.9, 0.8]) + b"not json\n" + b'{"request_id": "x", "output": {"probability": 7}}\n'
    )
    index = _index([{"request_id": "a", "record_index": 1, "label": 1, "observed_at": _at(OBSERVED)}])
    joined = join_block(block, index, start=START, end=END)
    assert joined.malformed == 2
    assert joined.versions["v1"].joined()[1].tolist() == [0.8]


def test_the_join_equals_a_pandas_merge_on_many_rows() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    probabilities = rng.random(n).round(4)
    versions = rng.choice(["v1", "v2"], n)
    blocks = [
        _predictions(f"req-{i}", [float(probabilities[i])], version=str(versions[i]), keys=[f"c-{i}"])
        for i in range(n)
    ]
    chosen = rng.choice(n, n // 2, replace=False)
    named = [{"key": f"c-{i}"} if i % 2 else {"request_id": f"req-{i}", "record_index": 0} for i in chosen]
    rows = [{**name, "label": int(rng.integers(0, 2)), "observed_at": _at(OBSERVED)} for name in named]
    index = _index(rows)
    total = Joined()
    for start in range(0, n, 5000):
        total.merge(join_block(b"".join(blocks[start : start + 5000]), index, start=START, end=END))
    predictions = pd.DataFrame({"i": np.arange(n), "p": probabilities, "version": versions})
    labels = pd.DataFrame({"i": chosen, "label": [row["label"] for row in rows]})
    expected = predictions.merge(labels, on="i")
    for version, rows_of in expected.groupby("version"):
        y, p = total.versions[str(version)].joined()
        ours = sorted(zip(p.tolist(), y.tolist(), strict=True))
        assert ours == sorted(zip(rows_of["p"].tolist(), rows_of["label"].tolist(), strict=True))
    assert int(total.matched.sum()) == n // 2


@pytest.mark.parametrize("rows", [[], [{"key": "c", "label": 1, "observed_at": "2026-11-01T00:00:00Z"}]])
def test_an_empty_window_joins_nothing(rows: list[dict[str, Any]]) -> None:
    index = _index(rows)
    joined = join_block(b"", index, start=START, end=END)
    assert joined.versions == {} and joined.malformed == 0
