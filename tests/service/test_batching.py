"""Concurrent requests share model calls (micro-batching) and each still gets its own answer."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx

from ml_deploy.settings import ServiceSettings
from service.app import create_app


def _series(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def test_concurrent_requests_share_model_calls_and_get_their_own_answers(
    trained_bundle: Path, valid_records: list[dict[str, Any]]
) -> None:
    app = create_app(ServiceSettings(model_bundle_path=trained_bundle, max_batch_wait_ms=20))
    records = valid_records[:32]

    async def scenario() -> tuple[list[httpx.Response], list[httpx.Response], str]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
                one_by_one = [await client.post("/predict", json={"record": r}) for r in records]
                together = await asyncio.gather(
                    *(client.post("/predict", json={"record": r}) for r in records)
                )
                return one_by_one, list(together), (await client.get("/metrics")).text

    one_by_one, together, metrics = asyncio.run(scenario())
    assert all(r.status_code == 200 for r in together), [r.text for r in together if r.status_code != 200]
    assert [r.json()["probability"] for r in together] == [r.json()["probability"] for r in one_by_one], (
        "a batched request must get exactly the answer it gets alone"
    )
    assert len({r.json()["request_id"] for r in together}) == len(records)
    calls, rows = _series(metrics, "model_call_rows_count"), _series(metrics, "model_call_rows_sum")
    assert rows == 2 * len(records)
    assert calls < 2 * len(records) - len(records) / 2, f"{calls} model calls for {rows} rows: no coalescing"
