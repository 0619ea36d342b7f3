"""The feature schema itself, without numpy or pandas: what a manifest says the model's inputs are.

Reading a manifest (`python -m ml_deploy.bundle show`, the operator CLI, the build's stand-ins)
needs only this; `schema` adds the encoding of records and frames, which needs numpy and pandas.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator


class SchemaError(ValueError):
    """Data does not fit a feature schema; the message names the column and what was expected."""


class FeatureSpec(BaseModel):
    """One model input: its name, kind, whether it may be missing, and its allowed values."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: Literal["numeric", "categorical"]
    nullable: bool
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None

    @model_validator(mode="after")
    def _categories_match_type(self) -> FeatureSpec:
        if self.type == "categorical" and not self.categories:
            raise ValueError(f"categorical feature {self.name!r} needs a non-empty categories list")
        if self.type == "numeric" and self.categories is not None:
            raise ValueError(f"numeric feature {self.name!r} must not have categories")
        if self.categories is not None and len(set(self.categories)) != len(self.categories):
            raise ValueError(f"feature {self.name!r} has duplicate categories")
        return self

    @cached_property
    def category_index(self) -> dict[str, int]:
        """Category -> code, built once per spec so encoding a record is one dict lookup."""
        return {category: code for code, category in enumerate(self.categories or [])}
