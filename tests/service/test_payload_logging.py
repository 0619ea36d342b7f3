"""Prediction logs in S3 (a local moto_server: the writer is its own process): shared format and
partitions, S3 outages, bounded loss, shutdown flush, an S3 that hangs."""

from __future__ import annotations

import gzip
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import orjson
import pytest

from ml_deploy import payload_log

BUCKET = "prediction-logs"
ENVIRONMENT = "test"
PREFIX = f"predictions/{ENVIRONMENT}/"
FAST_RETRY = {"LOG_RETRY_BASE_SECONDS": 0.05, "LOG_RETRY_MAX_SECONDS": 0.2, "LOG_FLUSH_SECONDS": 0.5}


@pytest.fixture
def s3(aws_credentials: None, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A client of an empty local S3; the service's writer process reaches it through the environment."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    yield boto3.client("s3", region_name="us-east-1", endpoint_url=moto_endpoint)


def _lines(s3: Any) -> list[tuple[str, dict[str, Any]]]:
    """(key, line) for every logged line in the bucket."""
    out: list[tuple[str, dict[str, Any]]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX):
        for item in page.get("Contents", []):
            raw = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            out.extend((item["Key"], orjson.loads(line)) for line in gzip.decompress(raw).splitlines())
    return out


def _metric(client: Any, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", client.get("/metrics").text, re.MULTILINE)
    assert match, f"{series} not in /metrics"
    return float(match.group(1))


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_scored_records_land_as_gzip_json_lines_in_the_hour_partition(
    s3: Any, make_client: Any, valid_records: list[dict[str, Any]]
) -> None:
    s3.create_bucket(Bucket=BUCKET)
    env = {"LOG_BUCKET": BUCKET, "ENVIRONMENT": ENVIRONMENT, "LOG_BATCH_SIZE": 5}
    with make_client(**env) as client:
        single = client.post("/predict", json={"record": valid_records[0]}, headers={"X-Request-ID": "one"})
        keyed = [{**record, "key": f"customer-{i}"} for i, record in enumerate(valid_records[1:5])]
        batch = client.post("/predict", json={"records": keyed}, headers={"X-Request-ID": "two"})
        _wait_for(lambda: _metric(client, "payload_log_records_written_total") == 5, "5 records written")
    lines = _lines(s3)
    assert len(lines) == 5
    now = datetime.now(UTC)
    for key, line in lines:
        when = datetime.strptime(line["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert key.startswith(payload_log.partition_prefix(PREFIX, when)), f"{key} is not in its hour"
        assert abs((now - when).total_seconds()) < 120
        assert key.endswith(payload_log.SUFFIX)
        assert set(line) == {"request_id", "record_index", "key", "timestamp", "model_version",
                             "environment", "input", "output"}  # fmt: skip
        assert line["environment"] == "test"
    by_request = {(line["request_id"], line["record_index"]): line for _, line in lines}
    assert by_request[("one", 0)]["input"] == valid_records[0]
    assert by_request[("one", 0)]["output"] == {
        "prediction": single.json()["prediction"], "probability": single.json()["probability"]
    }  # fmt: skip
    assert [by_request[("two", i)]["input"] for i in range(4)] == valid_records[1:5]
    assert [by_request[("two", i)]["key"] for i in range(4)] == [f"customer-{i}" for i in range(4)]
    assert by_request[("one", 0)]["key"] is None, "no caller key sent: logged as null"
    assert by_request[("two", 3)]["output"]["probability"] == batch.json()["predictions"][3]["probability"]
    assert by_request[("two", 0)]["model_version"] == single.json()["model_version"]
    head = s3.head_object(Bucket=BUCKET, Key=lines[0][0])
    assert head["ContentEncoding"] == "gzip" and head["ContentType"] == payload_log.CONTENT_TYPE


def test_s3_outage_keeps_answering_and_delivers_everything_after_recovery(
    s3: Any, make_client: Any, valid_records: list[dict[str, Any]]
) -> None:
    env = {"LOG_BUCKET": BUCKET, "ENVIRONMENT": ENVIRONMENT, "LOG_BATCH_SIZE": 4, **FAST_RETRY}
    with make_client(**env) as client:  # the bucket does not exist yet: every put fails
        for record in valid_records[:12]:
            assert client.post("/predict", json={"record": record}).status_code == 200
        _wait_for(lambda: _metric(client, "payload_log_records_retried_total") > 0, "a retried write")
        assert _metric(client, "payload_log_records_buffered") == 12
        s3.create_bucket(Bucket=BUCKET)  # S3 is back
        _wait_for(lambda: _metric(client, "payload_log_records_written_total") == 12, "all 12 written")
        assert _metric(client, "payload_log_records_buffered") == 0
        assert _metric(client, 'payload_log_records_dropped_total{reason="buffer_full"}') == 0
    ids = sorted(line["request_id"] for _, line in _lines(s3))
    assert len(ids) == 12 and len(set(ids)) == 12, "every record exactly once"


@pytest.mark.parametrize("requests", ["one record each", "one batch"])
def test_records_beyond_the_buffer_bound_are_dropped_and_counted(
    s3: Any, make_client: Any, valid_records: list[dict[str, Any]], requests: str
) -> None:
    """Fifteen records while S3 is down and the buffer holds ten: ten kept, five counted, by record
    (one batch arrives in one frame: the writer keeps the ten it has room for, not none)."""
    env = {"LOG_BUCKET": BUCKET, "ENVIRONMENT": ENVIRONMENT, "LOG_BATCH_SIZE": 3,
           "LOG_BUFFER_MAX_RECORDS": 10,
           **FAST_RETRY}  # fmt: skip
    bodies = (
        [{"record": record} for record in valid_records[:15]]
        if requests == "one record each"
        else [{"records": valid_records[:15]}]
    )
    with make_client(**env) as client:
        for body in bodies:
            assert client.post("/predict", json=body).status_code == 200
        dropped = 'payload_log_records_dropped_total{reason="buffer_full"}'
        _wait_for(lambda: _metric(client, dropped) == 5, "5 records shed by the full buffer")
        assert _metric(client, "payload_log_records_buffered") == 10
        s3.create_bucket(Bucket=BUCKET)
        _wait_for(
            lambda: _metric(client, "payload_log_records_written_total") == 10, "the 10 buffered written"
        )
    assert len(_lines(s3)) == 10


def test_shutdown_flushes_what_is_buffered(
    s3: Any, make_client: Any, valid_records: list[dict[str, Any]]
) -> None:
    s3.create_bucket(Bucket=BUCKET)
    env = {
        "LOG_BUCKET": BUCKET,
        "ENVIRONMENT": ENVIRONMENT,
        "LOG_BATCH_SIZE": 1000,
        "LOG_FLUSH_SECONDS": 3600,
    }
    with make_client(**env) as client:
        assert client.post("/predict", json={"records": valid_records[:7]}).status_code == 200
        assert _lines(s3) == [], "nothing is due before a full batch or the flush interval"
    assert len(_lines(s3)) == 7, "the lifespan exit (SIGTERM) must flush the buffer"


def test_shutdown_during_an_outage_gives_up_after_the_timeout_and_counts_it(
    s3: Any, make_client: Any, valid_records: list[dict[str, Any]]
) -> None:
    env = {
        "LOG_BUCKET": BUCKET,
        "ENVIRONMENT": ENVIRONMENT,
        "LOG_SHUTDOWN_TIMEOUT_SECONDS": 0.3,
        **FAST_RETRY,
    }
    with make_client(**env) as client:
        assert client.post("/predict", json={"records": valid_records[:4]}).status_code == 200
        app = client.app
        closing = time.perf_counter()
    assert time.perf_counter() - closing < 5, "shutdown must not hang on an unreachable bucket"
    text = app.state.metrics.exposition().decode()  # type: ignore[attr-defined]
    assert 'payload_log_records_dropped_total{reason="shutdown"} 4.0' in text, text
