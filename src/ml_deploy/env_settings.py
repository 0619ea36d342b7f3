"""Settings read from environment variables, with flags that override them: the contract's machinery.

`ml_deploy.settings` declares the runtimes' models on this base; a model's fields name their
variables (aliases), so `environment(Model, field=value)` lets infra and the demo set a runtime's
environment by field name, and a rename in the model renames the variable everywhere.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError


class SettingsError(ValueError):
    """A setting has a value the runtime cannot use; the message names the variable (and flag)."""


class EnvSettings(BaseModel):
    """Settings read from environment variables named by each field's alias; flags may override."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    PROG: ClassVar[str] = ""
    DESCRIPTION: ClassVar[str] = ""

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of `field` (a KeyError names an unknown field)."""
        alias = cls.model_fields[field].alias
        if not alias:
            raise KeyError(f"{cls.__name__}.{field} has no environment variable")
        return alias

    @classmethod
    def default(cls, field: str) -> Any:
        """The default of `field`, so infra's config documents the runtime's own default."""
        return cls.model_fields[field].default

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Settings from `environ` (default `os.environ`); empty variables count as unset."""
        return cls.from_args([], environ)

    @classmethod
    def from_args(cls, argv: Sequence[str] | None, environ: Mapping[str, str] | None = None) -> Self:
        """Flags win over environment variables, which win over defaults; errors name both."""
        environ = os.environ if environ is None else environ
        parser = cls._parser()
        flags = vars(parser.parse_args(argv))
        values: dict[str, str] = {}
        for name, field in cls.model_fields.items():
            alias = field.alias or name
            if flags.get(name) is not None:
                values[alias] = flags[name]
            elif environ.get(alias):
                values[alias] = environ[alias]
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise SettingsError(cls._describe(error)) from None

    @classmethod
    def _parser(cls) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            prog=cls.PROG or None,
            description=cls.DESCRIPTION or cls.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for name, field in cls.model_fields.items():
            default = field.default if field.default is not None else "unset"
            parser.add_argument(
                _flag(name),
                dest=name,
                default=None,
                help=f"{field.description or ''} [env {field.alias}, default {default}]",
            )
        return parser

    @classmethod
    def _describe(cls, error: ValidationError) -> str:
        problems = []
        for item in error.errors():
            located = [str(part) for part in item["loc"]]
            field = cls._field_of(located[0]) if located else None
            where = f"{cls.variable(field)} / {_flag(field)}" if field else "settings"
            value = f" = {item['input']!r}" if field and not isinstance(item.get("input"), dict) else ""
            problems.append(f"{where}{value}: {item['msg'].removeprefix('Value error, ')}")
        return "; ".join(problems)

    @classmethod
    def _field_of(cls, alias: str) -> str | None:
        for name, field in cls.model_fields.items():
            if alias in (name, field.alias):
                return name
        return None


def environment(model: type[EnvSettings], **values: Any) -> dict[str, Any]:
    """The environment variables that set `values` (by field name) for `model`'s runtime.

    Scalars become the strings the runtime parses back (booleans as ``true``/``false``); any
    other object (a Pulumi Output, say) passes through untouched for the caller to resolve.
    """
    rendered: dict[str, Any] = {}
    for field, value in values.items():
        if field not in model.model_fields:
            raise KeyError(f"{model.__name__} has no setting {field!r}")
        rendered[model.variable(field)] = _text(value)
    return rendered


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Path):
        return str(value)
    return value


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")
