"""Does a rendered policy allow one call? A small evaluator for the shapes this program writes.

It answers "is there an Allow statement whose action, resource, principal and conditions all
fit this call, and no Deny that does?", which is what a missing or over-conditioned statement
breaks. Wildcards (`*`, `?`) in actions and ARNs are honoured; actions compare case-insensitively,
ARNs case-sensitively, as IAM does. Conditions are evaluated against the request context the
call is documented to carry; a key the context lacks fails its condition (no `...IfExists`),
and an operator this evaluator does not know fails too, so it errs towards "not allowed".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

Statement = Mapping[str, Any]


@dataclass(frozen=True)
class Call:
    """One request AWS will authorize: who, what, on which resource, with which context keys."""

    action: str
    resource: str
    # Condition keys (and values) the request carries, e.g. {"iam:PassedToService": "..."}.
    context: Mapping[str, str] = field(default_factory=dict)
    # For resource policies (key and topic policies): the calling service principal.
    service_principal: str | None = None


@lru_cache(maxsize=1024)
def _glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE if ignore_case else 0)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _any_glob(patterns: Any, value: str, *, ignore_case: bool = False) -> bool:
    return any(_glob(str(p), ignore_case=ignore_case).match(value) for p in _as_list(patterns))


def _matches_action(statement: Statement, action: str) -> bool:
    if "Action" in statement:
        return _any_glob(statement["Action"], action, ignore_case=True)
    return "NotAction" in statement and not _any_glob(statement["NotAction"], action, ignore_case=True)


def _matches_resource(statement: Statement, resource: str) -> bool:
    if "Resource" in statement:
        return _any_glob(statement["Resource"], resource)
    return "NotResource" in statement and not _any_glob(statement["NotResource"], resource)


def _matches_principal(statement: Statement, call: Call) -> bool:
    """Identity policies name no principal; a resource policy must name the calling service."""
    principal = statement.get("Principal")
    if principal is None:
        return call.service_principal is None
    if principal == "*":
        return True
    if call.service_principal is None:
        return False
    return call.service_principal in _as_list(principal.get("Service", []))


def _condition_holds(operator: str, values: Any, actual: str | None) -> bool:
    if actual is None:
        return False
    wanted = [str(v) for v in _as_list(values)]
    if operator in ("StringEquals", "ArnEquals"):
        return actual in wanted
    if operator in ("StringLike", "ArnLike"):
        return _any_glob(wanted, actual)
    if operator == "Bool":
        return actual.lower() in (w.lower() for w in wanted)
    return False  # an operator this evaluator does not model: assume it does not hold


def conditions_hold(statement: Statement, context: Mapping[str, str]) -> bool:
    """Every condition of the statement is satisfied by the call's context (keys case-insensitive)."""
    lowered = {key.lower(): value for key, value in context.items()}
    return all(
        _condition_holds(operator, values, lowered.get(key.lower()))
        for operator, block in statement.get("Condition", {}).items()
        for key, values in block.items()
    )


def _applies(statement: Statement, call: Call) -> bool:
    return (
        _matches_action(statement, call.action)
        and _matches_resource(statement, call.resource)
        and _matches_principal(statement, call)
        and conditions_hold(statement, call.context)
    )


def statements_of(documents: Iterable[Mapping[str, Any]]) -> list[Statement]:
    return [s for document in documents for s in _as_list(document.get("Statement", []))]


def allowing(statements: Sequence[Statement], call: Call) -> list[str]:
    """Sids of the Allow statements that admit `call`; empty when none does or a Deny applies."""
    if any(s.get("Effect") == "Deny" and _applies(s, call) for s in statements):
        return []
    return [
        str(s.get("Sid", "<no sid>")) for s in statements if s.get("Effect") == "Allow" and _applies(s, call)
    ]


def allows(statements: Sequence[Statement], call: Call) -> bool:
    return bool(allowing(statements, call))
