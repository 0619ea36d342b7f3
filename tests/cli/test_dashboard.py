"""`ml-deploy dashboard` against moto's S3: a presigned URL that really fetches the page, a clear
line when the monitor has not written one yet, and the rollback's event for the timeline."""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from ml_deploy.tracking import ReleaseEvent, dashboard_key
from ml_deploy_dev.local_aws import LocalAws
from tests.cli.conftest import LOG_BUCKET, Stack
from tests.cli.test_local_backend import aws, cli, no_real_account, state  # noqa: F401 (fixtures)

PAGE = b"<!doctype html><html><body>dashboard</body></html>"
GOOD = "1a2b3c4d5e6f-20261116T030000Z-bbbbbbbb"
BAD = "9f8e7d6c5b4a-20261123T101500Z-3f9a1c2b"


def _publish(stack: Stack, environment: str) -> str:
    key = dashboard_key("reports/", environment)
    stack.s3.put_object(Bucket=LOG_BUCKET, Key=key, Body=PAGE, ContentType="text/html; charset=utf-8")
    return key


def test_prints_a_presigned_url_that_fetches_the_page(stack: Stack) -> None:
    _publish(stack, "prod")

    result = stack.cli("dashboard", "--expires-in", "900")

    assert result.code == 0, result.err
    url = result.out.strip()
    parsed = urlparse(url)
    assert parsed.path.endswith("/reports/dashboard/prod/index.html"), url
    query = parse_qs(parsed.query)
    # SigV4, which S3 requires for a KMS-encrypted object (https://github.com/boto/boto3/issues/2680)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["900"], url
    assert requests.get(url, timeout=5).content == PAGE  # moto answers the presigned GET in-process


def test_each_environment_has_its_own_page(stack: Stack) -> None:
    _publish(stack, "stage")

    assert "/reports/dashboard/stage/index.html" in stack.cli("dashboard", "--env", "stage").out
    missing = stack.cli("dashboard", "--env", "prod")
    assert missing.code == 1
    assert missing.err.strip().splitlines() == [
        f"ml-deploy: dashboard: no dashboard for prod yet at s3://{LOG_BUCKET}/reports/dashboard/prod/"
        "index.html: the monitor writes it at the end of each run (`ml-deploy run-job monitor` runs one now)"
    ]


@pytest.mark.parametrize("seconds", ["0", "604801", "soon"])
def test_an_expiry_outside_sigv4s_seven_days_is_a_usage_error(stack: Stack, seconds: str) -> None:
    result = stack.cli("dashboard", "--expires-in", seconds)
    assert result.code == 2
    assert "--expires-in" in result.err


def test_open_hands_the_url_to_the_browser(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    _publish(stack, "prod")
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)

    result = stack.cli("dashboard", "--open")

    assert result.code == 0, result.err
    assert opened == [result.out.strip()]


def test_a_rollback_is_recorded_for_the_dashboards_timeline(stack: Stack) -> None:
    stack.deploy("prod", GOOD)
    stack.deploy("prod", BAD)

    assert stack.cli("rollback", "prod").code == 0

    listed = stack.s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix="reports/events/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert len(keys) == 1 and keys[0].endswith("-rollback-prod.json"), keys
    event = ReleaseEvent.model_validate(
        json.loads(stack.s3.get_object(Bucket=LOG_BUCKET, Key=keys[0])["Body"].read())
    )
    assert (event.kind, event.environment, event.model_version) == (
        "rollback",
        "prod",
        "20261116T030000Z-bbbbbbbb",
    )
    assert event.detail == f"ml-deploy-dev-prod:3 ({BAD}) -> ml-deploy-dev-prod:2 ({GOOD})"


def test_local_copies_the_page_beside_the_state_and_prints_its_path(
    state: Path,  # noqa: F811
    aws: LocalAws,  # noqa: F811
    no_real_account: list[str],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = json.loads(state.read_text())["log_bucket"]
    aws.client("s3").put_object(Bucket=bucket, Key=dashboard_key("reports/", "stage"), Body=PAGE)

    code, out, err = cli(state, "dashboard", "--env", "stage", capsys=capsys)

    assert no_real_account == []
    assert code == 0, err
    path = Path(out.strip())
    assert path == state.parent / "dashboard" / "stage" / "index.html"
    assert path.read_bytes() == PAGE
    assert [p.name for p in path.parent.iterdir()] == ["index.html"], "no partial file is left behind"
