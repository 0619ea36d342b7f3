"""GET /metrics: Prometheus text with request, latency, error, prediction and model-info series."""

from __future__ import annotations

import re
from typing import Any


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"series {series} missing from /metrics:\n{text[:2000]}"
    return float(match.group(1))


def test_metrics_count_requests_latency_errors_and_predictions(
    make_client: Any, valid_records: list[dict[str, Any]]
) -> None:
    with make_client(ENVIRONMENT="stage") as client:
        for record in valid_records[:3]:
            assert client.post("/predict", json={"record": record}).status_code == 200
        assert client.post("/predict", json={"records": valid_records[:10]}).status_code == 200
        assert client.post("/predict", json={"record": {"nope": 1}}).status_code == 422
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    ok = 'endpoint="/predict",method="POST",status="200"'
    assert _value(text, f"http_requests_total{{{ok}}}") == 4
    assert _value(text, f"http_request_duration_seconds_count{{{ok}}}") == 4
    assert _value(text, 'http_requests_total{endpoint="/predict",method="POST",status="422"}') == 1
    assert _value(text, 'http_request_errors_total{endpoint="/predict",kind="client"}') == 1
    info = re.search(r"^model_info\{([^}]*)\} 1\.0$", text, re.MULTILINE)
    assert info and 'environment="stage"' in info.group(1) and "model_version=" in info.group(1), text
    version = re.search(r'model_version="([^"]+)"', info.group(1))
    assert version, info.group(1)
    served = f'model_version="{version.group(1)}"'
    observed = _value(text, f"prediction_probability_count{{{served}}}")
    assert observed == 13, "one observation per scored record"
    scored = sum(
        _value(text, f'predictions_total{{{served},prediction="{c}"}}')
        for c in (0, 1)
        if f'prediction="{c}"' in text
    )
    assert scored == 13
    for series in (
        "payload_log_records_written_total",
        "payload_log_records_retried_total",
        "payload_log_records_buffered",
        'payload_log_records_dropped_total{reason="buffer_full"}',
    ):
        assert _value(text, series) == 0, f"{series} must be exported (and zero with logging off)"
