"""A real-looking account around a `--local` command: a stack's credentials and outputs are there,
and every botocore call to an endpoint the test does not allow is recorded and fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_DEFAULT_REGION": "eu-west-1",
}


def calls_outside(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    outputs: dict[str, str],
    allowed: Callable[[str], bool],
) -> list[str]:
    """Set REAL_LOOKING and the stack `outputs`; the calls whose endpoint URL `allowed` refuses."""
    for name, value in REAL_LOOKING.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    monkeypatch.setenv("ML_DEPLOY_OUTPUTS", str(path))
    reached: list[str] = []
    make_api_call = BaseClient._make_api_call

    def guarded(client: BaseClient, operation: str, params: Any) -> Any:
        if not allowed(client.meta.endpoint_url):
            reached.append(
                f"{client.meta.service_model.service_name}.{operation} at {client.meta.endpoint_url}"
            )
            raise AssertionError(f"--local reached an account: {reached[-1]}")
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", guarded)
    return reached
