"""Holds a command's `--json` output to the schema `ml_deploy_cli.commands.records` writes down:
every key declared (no more, no fewer), every value of its declared type."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError


def assert_schema(document: Any, schema: Any) -> None:
    try:
        TypeAdapter(schema).validate_python(document, strict=True)
    except ValidationError as error:
        raise AssertionError(f"the output breaks {schema.__name__}:\n{error}") from None
