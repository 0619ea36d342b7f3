"""How a typed stack key is written down: its Pulumi.yaml declaration and its reference-page cells.

Pulumi's project file types config as string, integer, boolean or array ("Project file reference",
config, https://www.pulumi.com/docs/iac/concepts/projects/project-file/#config-options): a number
has no type there (it keeps its default only), an object none at all (left to the program).
"""

from __future__ import annotations

import json
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

PULUMI_SCALARS: dict[type, str] = {str: "string", bool: "boolean", int: "integer"}
READER_NAMES: dict[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without `| None`, and whether None was allowed."""
    if get_origin(annotation) in (Union, UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return (args[0] if len(args) == 1 else annotation), len(args) < len(get_args(annotation))
    return annotation, False


def _pulumi_type(annotation: Any) -> dict[str, Any] | None:
    """Pulumi's type of a value (None: a number or an object, which Pulumi cannot type)."""
    if get_origin(annotation) is Literal and all(isinstance(c, str) for c in get_args(annotation)):
        return {"type": "string"}
    if get_origin(annotation) is list:
        items = _pulumi_type(get_args(annotation)[0])
        return None if items is None else {"type": "array", "items": items}
    if annotation in PULUMI_SCALARS:
        return {"type": PULUMI_SCALARS[annotation]}
    return None


def nested_model(field: FieldInfo) -> type[BaseModel] | None:
    annotation, _ = _unwrap(field.annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def declaration(field: FieldInfo) -> dict[str, Any] | None:
    """The key's Pulumi.yaml declaration, or None when the program alone checks it."""
    annotation, _ = _unwrap(field.annotation)
    if nested_model(field) is not None:
        return None
    declared: dict[str, Any] = dict(_pulumi_type(annotation) or {})
    if not declared and annotation is not float:
        return None
    if not field.is_required():
        default = field.get_default(call_default_factory=True)
        if default is None:
            return None  # declared, it would become required on every stack
        declared["default"] = default
    if field.description:
        declared["description"] = field.description
    return declared


def type_name(annotation: Any) -> str:
    inner, optional = _unwrap(annotation)
    if get_origin(inner) is Literal:
        name = "string"
    elif get_origin(inner) is list:
        name = f"list of {type_name(get_args(inner)[0])}s"
    elif isinstance(inner, type) and issubclass(inner, BaseModel):
        name = "object"
    else:
        name = READER_NAMES.get(inner, str(inner))
    return f"{name} (optional)" if optional else name


def default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    default = field.get_default(call_default_factory=True)
    if default is None:
        return "unset"
    if isinstance(default, BaseModel):
        return f"`{json.dumps(default.model_dump(by_alias=True, exclude_none=True))}`"
    return value_text(default)


def value_text(value: Any) -> str:
    if value is None:
        return "unset"
    return f"`{value}`" if isinstance(value, str) else f"`{json.dumps(value)}`"


BOUNDS = (
    (annotated_types.Ge, ">=", "ge"),
    (annotated_types.Gt, ">", "gt"),
    (annotated_types.Le, "<=", "le"),
    (annotated_types.Lt, "<", "lt"),
)


def accepts(field: FieldInfo) -> str:
    """What a value must be: its choices, its bounds, and the grammar its check holds it to."""
    parts = []
    inner, _ = _unwrap(field.annotation)
    if get_origin(inner) is Literal:
        parts.append("one of " + ", ".join(f"`{choice}`" for choice in get_args(inner)))
    for constraint in field.metadata:
        for kind, sign, attribute in BOUNDS:
            if isinstance(constraint, kind):
                parts.append(f"{sign} {getattr(constraint, attribute)}")
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("accepts"), str):
        parts.append(str(extra["accepts"]))
    return "; ".join(parts)
