"""The servers `bench/service.py` measures the service against: the HTTP floor and a naive server.

Kept free of the bench's path setup: uvicorn imports `floor_app` from here by name
(`bench.service_servers:floor_app`), and the naive server runs as `python -m bench.service_servers`,
both in processes started from the repository root with the bench's PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from fastapi import Request, Response  # module level: FastAPI resolves the floor route's annotations here

HOST = "127.0.0.1"
BUCKET = "bench-prediction-logs"


def floor_app() -> Any:
    """The HTTP floor: FastAPI, the same generated request validation, no model, no logging."""
    import orjson
    from fastapi import FastAPI
    from pydantic import ValidationError

    from ml_deploy.bundle import verify_bundle
    from service.model import record_model, request_model

    manifest = verify_bundle(os.environ["MODEL_BUNDLE_PATH"])
    body_model = request_model(
        record_model(manifest.features, unknown_category="reject"), max_batch_size=1000
    )
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        try:
            body_model.model_validate_json(await request.body())
        except ValidationError:
            return Response(b'{"error":"invalid"}', status_code=422, media_type="application/json")
        answer = {
            "request_id": "-",
            "model_version": manifest.bundle_version,
            "prediction": 0,
            "probability": 0.5,
        }
        return Response(orjson.dumps(answer), media_type="application/json")

    @app.get("/ready")
    async def ready() -> Response:
        return Response(b"{}", media_type="application/json")

    return app


def floor_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", "bench.service_servers:floor_app", "--host", HOST,
        "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def naive_command(port: int, bundle: Path, endpoint: str) -> list[str]:
    return [sys.executable, "-m", "bench.service_servers", str(port), str(bundle), endpoint]


def naive_server(port: int, bundle_path: str, endpoint: str) -> None:
    """What we compare against: synchronous threads, a DataFrame and an S3 put per request."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import boto3
    import pandas as pd

    from ml_deploy.bundle import read_bundle
    from ml_deploy.schema import encode_frame
    from ml_deploy_dev.servers import answer_json

    bundle = read_bundle(bundle_path)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            record = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["record"]
            frame = pd.DataFrame([record])
            probability = float(
                bundle.model.predict_proba(encode_frame(frame, bundle.manifest.features))[0, 1]
            )
            answer = {"prediction": int(probability >= 0.5), "probability": probability}
            key = f"naive/{time.time_ns()}.json"
            s3.put_object(
                Bucket=BUCKET, Key=key, Body=json.dumps({"input": record, "output": answer}).encode()
            )
            answer_json(self, 200, json.dumps(answer).encode())

        def do_GET(self) -> None:
            answer_json(self, 200, b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ThreadingHTTPServer((HOST, port), Handler).serve_forever()


def metric_value(port: int, series: str) -> float:
    """One series' value from the server's own /metrics (NaN when absent)."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else float("nan")


def model_call_rows(port: int) -> float:
    """Mean rows per model call so far (micro-batching), from the server's own /metrics."""
    total, count = metric_value(port, "model_call_rows_sum"), metric_value(port, "model_call_rows_count")
    return total / max(count, 1.0)


if __name__ == "__main__":
    naive_server(int(sys.argv[1]), sys.argv[2], sys.argv[3])
