"""`ml-deploy upload-outcomes FILE`: rows checked, bad ones named, valid ones in the log bucket by day."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest
from botocore.exceptions import ClientError

from ml_deploy_cli.aws.outcomes import put_outcome_objects
from ml_deploy_dev.local_aws import LocalAws
from tests.cli.conftest import LOG_BUCKET, Stack
from tests.cli.test_local_backend import aws, no_real_account, state  # noqa: F401 - fixtures
from tests.cli.test_local_backend import cli as local_cli


def _objects(stack: Stack) -> dict[str, list[dict[str, object]]]:
    listed = stack.s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix="outcomes/").get("Contents", [])
    return {
        item["Key"]: [
            orjson.loads(line)
            for line in gzip.decompress(
                stack.s3.get_object(Bucket=LOG_BUCKET, Key=item["Key"])["Body"].read()
            ).splitlines()
        ]
        for item in listed
    }


def test_a_csv_lands_by_day_observed_encrypted(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text(
        "request_id,record_index,key,label,observed_at\n"
        "req-1,0,,1,2026-01-02T09:00:00Z\n"
        ",,customer-9,0,2026-01-03T09:00:00Z\n"
    )
    result = stack.cli("upload-outcomes", str(path))
    assert result.code == 0, result.err
    objects = _objects(stack)
    assert sorted(key.split("/")[1] for key in objects) == ["dt=2026-01-02", "dt=2026-01-03"]
    assert [line["key"] for lines in objects.values() for line in lines] in (
        [None, "customer-9"],
        ["customer-9", None],
    )
    head = stack.s3.head_object(Bucket=LOG_BUCKET, Key=next(iter(objects)))
    assert head["ServerSideEncryption"] == "aws:kms" and head["ContentEncoding"] == "gzip"
    assert "uploaded 2 outcomes in 2 object(s)" in result.out


def test_bad_rows_are_counted_and_named_and_the_good_ones_uploaded(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "outcomes.jsonl"
    good = {"key": "c-1", "label": 1, "observed_at": "2026-01-02T09:00:00Z"}
    bad = [{**good, "label": 2}, {**good, "observed_at": "2999-01-01T00:00:00Z"}] + [{"key": "c"}] * 11
    path.write_text("\n".join([json.dumps(good), "{oops", *map(json.dumps, bad)]) + "\n")
    result = stack.cli("upload-outcomes", str(path))
    assert result.code == 0, result.err
    lines = result.err.strip().splitlines()
    assert lines[0].startswith(f"{path}: row 2: not JSON")
    assert "row 3: label: expected one of the model's classes [0, 1], got 2" in lines[1]
    assert "row 4: observed_at" in lines[2] and "future" in lines[2]
    assert len(lines) == 11 and lines[-1].endswith("and 4 more bad rows"), lines
    assert "skipped 14 bad rows" in result.out
    assert sum(len(v) for v in _objects(stack).values()) == 1


def test_a_file_without_one_valid_row_is_an_error_and_writes_nothing(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "outcomes.jsonl"
    path.write_text(
        json.dumps({"request_id": "r", "record_index": 0, "label": "churned", "observed_at": "x"}) + "\n"
    )
    result = stack.cli("upload-outcomes", str(path))
    assert result.code == 1
    assert (
        result.err.strip()
        .splitlines()[-1]
        .endswith("no valid outcome to upload (1 bad rows); nothing written")
    )
    assert _objects(stack) == {}


def test_a_missing_file_is_one_line(stack: Stack, tmp_path: Path) -> None:
    result = stack.cli("upload-outcomes", str(tmp_path / "nope.csv"))
    assert result.code == 1 and "cannot read" in result.err and len(result.err.strip().splitlines()) == 1


def test_a_failed_put_removes_what_the_upload_wrote(stack: Stack) -> None:
    s3 = stack.client("s3")
    objects = [("outcomes/dt=2026-01-02/a.jsonl.gz", b"x"), ("outcomes/dt=2026-01-03/b.jsonl.gz", b"y")]
    calls = {"n": 0}
    real_put = s3.put_object

    def put_then_fail(**kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "try later"}}, "PutObject")
        return real_put(**kwargs)

    s3.put_object = put_then_fail
    with pytest.raises(ClientError):
        put_outcome_objects(s3, bucket=LOG_BUCKET, objects=objects)
    assert _objects(stack) == {}, "nothing half-written"


def test_local_writes_to_the_stand_ins_log_bucket_and_never_the_account(
    state: Path,  # noqa: F811 - the fixture imported above
    aws: LocalAws,  # noqa: F811
    no_real_account: list[str],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "outcomes.jsonl"
    path.write_text(json.dumps({"key": "c-1", "label": 0, "observed_at": "2026-01-02T09:00:00Z"}) + "\n")
    code, out, err = local_cli(state, "upload-outcomes", str(path), capsys=capsys)
    assert no_real_account == []
    assert code == 0, err
    bucket = json.loads(state.read_text())["log_bucket"]
    listed = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="outcomes/dt=2026-01-02/")
    assert listed["KeyCount"] == 1 and f"s3://{bucket}/outcomes/dt=2026-01-02/" in out
