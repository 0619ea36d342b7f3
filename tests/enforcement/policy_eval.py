"""Offline IAM evaluation of one request (action, resource, condition keys) against policy documents.

Why our own: the Python evaluators looked at do not evaluate conditions. moto's
`moto.iam.access_control.IAMPolicy` matches Action and Resource but checks only StringEquals,
answers Deny (not "does not apply") when an Allow's condition fails, and builds its regexes from
ARNs without escaping them; policyuniverse parses and expands policies and policy_sentry writes
them; neither evaluates a request. This module follows AWS's documented logic for the subset our
documents use, and raises on any condition operator it does not know rather than guessing.
AWS's own service reference (the database parliament ships, already a dev dependency) checks
that every request we build names a real action, a resource of a type that action takes, and
condition keys that action has (`reference_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import parliament


@dataclass(frozen=True)
class Request:
    """What AWS authorizes for one part of an API call."""

    action: str  # "s3:GetObjectVersion"
    resource: str  # an ARN, or "*" for actions AWS grants on no resource type
    context: Mapping[str, str] = field(default_factory=dict)  # condition keys, e.g. {"s3:prefix": "x/"}

    def __str__(self) -> str:
        keys = ", ".join(f"{key}={value}" for key, value in sorted(self.context.items()))
        return f"{self.action} on {self.resource}" + (f" [{keys}]" if keys else "")


class UnsupportedCondition(AssertionError):
    """A policy uses a condition operator this evaluator does not implement: extend `_OPERATORS`."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "allowed by <Sid>", "denied by <Sid>", "no statement allows it"
    explicit_deny: bool = False
    # Every Allow that admits the request: a test can insist that exactly the intended one does.
    allowed_by: tuple[str, ...] = ()


def evaluate(document: Mapping[str, Any], request: Request, *, principal: str | None = None) -> Decision:
    """An explicit Deny wins; otherwise some Allow must match action, resource and every condition.

    Without `principal` the document is an identity policy: a statement naming a principal belongs
    to a resource policy and does not apply. With one (a role or account ARN, or a service principal
    such as "events.amazonaws.com") it is a resource-based policy: only the statements naming that
    principal (or "*") apply.
    """
    allowed_by: list[str] = []
    for index, statement in enumerate(_statements(document)):
        if not _names_principal(statement.get("Principal"), principal):
            continue
        if not _applies(statement, request):
            continue
        sid = statement.get("Sid") or f"statement {index}"
        if statement["Effect"] == "Deny":
            return Decision(False, f"denied by {sid}", explicit_deny=True)
        allowed_by.append(sid)
    if allowed_by:
        return Decision(True, f"allowed by {allowed_by[0]}", allowed_by=tuple(allowed_by))
    return Decision(False, "no statement allows it")


def _statements(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    statements = document["Statement"]
    yield from [statements] if isinstance(statements, dict) else statements


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _names_principal(principals: Any, principal: str | None) -> bool:
    if principals is None or principal is None:
        return principals is None and principal is None
    if principals == "*":
        return True
    if principal.endswith(".amazonaws.com"):  # a service principal
        return principal in _listed(principals.get("Service", []))
    aws = _listed(principals.get("AWS", []))
    account_root = f"arn:aws:iam::{principal.split(':')[4]}:root"
    return any(p in ("*", principal, account_root) for p in aws)


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        action_ok = any(_glob(p, request.action, ignore_case=True) for p in _listed(statement["Action"]))
    else:
        action_ok = not any(
            _glob(p, request.action, ignore_case=True) for p in _listed(statement["NotAction"])
        )
    if not action_ok:
        return False
    if "Resource" in statement:
        resource_ok = any(_glob(p, request.resource) for p in _listed(statement["Resource"]))
    elif "NotResource" in statement:
        resource_ok = not any(_glob(p, request.resource) for p in _listed(statement["NotResource"]))
    else:
        resource_ok = True  # a resource-based policy's statement applies to the resource it is on
    return resource_ok and _conditions_hold(statement.get("Condition", {}), request.context)


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: '*' any run of characters (across '/' and ':'), '?' one character."""
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


@cache
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


# Operator -> (test of one request value against one policy value, negated?). A negated operator
# matches a missing key, a positive one does not (AWS "Condition operators"); "...IfExists" makes
# a missing key match either way.
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda value, wanted: value == wanted, False),
    "StringNotEquals": (lambda value, wanted: value == wanted, True),
    "StringEqualsIgnoreCase": (lambda value, wanted: value.lower() == wanted.lower(), False),
    "StringLike": (lambda value, wanted: _glob(wanted, value), False),
    "StringNotLike": (lambda value, wanted: _glob(wanted, value), True),
    "ArnEquals": (lambda value, wanted: _glob(wanted, value), False),
    "ArnLike": (lambda value, wanted: _glob(wanted, value), False),
    "ArnNotEquals": (lambda value, wanted: _glob(wanted, value), True),
    "ArnNotLike": (lambda value, wanted: _glob(wanted, value), True),
    "Bool": (lambda value, wanted: value.lower() == str(wanted).lower(), False),
}


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    """Every operator and every key must hold; any one of a key's values suffices."""
    for operator, keys in conditions.items():
        name = operator.removesuffix("IfExists")
        if name not in _OPERATORS:
            raise UnsupportedCondition(f"condition operator {operator} is not implemented in {__name__}")
        test, negated = _OPERATORS[name]
        for key, wanted in keys.items():
            value = _context_value(context, key)
            if value is None:
                if not (negated or operator.endswith("IfExists")):
                    return False
                continue
            matched = any(test(value, str(w)) for w in _listed(wanted))
            if matched == negated:
                return False
    return True


def _context_value(context: Mapping[str, str], key: str) -> str | None:
    # Condition key names are case-insensitive.
    lowered = key.lower()
    return next((value for name, value in context.items() if name.lower() == lowered), None)


def reference_problems(request: Request) -> list[str]:
    """What AWS's service reference says is wrong with `request` (empty when it is well formed)."""
    service, _, name = request.action.partition(":")
    privilege = _privileges().get((service, name.lower()))
    if privilege is None:
        return [f"{request.action} is not an action in AWS's service reference"]
    problems = []
    types = [t["resource_type"].rstrip("*") for t in privilege["resource_types"] if t["resource_type"]]
    formats = {r["resource"]: r["arn"] for r in _service(service)["resources"]}
    if not types and request.resource != "*":
        problems.append(f"{request.action} takes no resource type, yet the request names {request.resource}")
    if types and not any(
        parliament.is_arn_match(t, re.sub(r"\$\{.*?\}", "*", formats[t]), request.resource) for t in types
    ):
        problems.append(f"{request.resource} is none of {request.action}'s resource types {types}")
    allowed = [k for t in privilege["resource_types"] for k in t["condition_keys"]]
    allowed += [k for t in types for k in _resource_condition_keys(service, t)]
    for key in request.context:
        if not key.startswith("aws:") and not any(_key_matches(pattern, key) for pattern in allowed):
            problems.append(f"{key} is not a condition key of {request.action}")
    return problems


def _key_matches(pattern: str, key: str) -> bool:
    regex = re.sub(r"\\\$\\\{.*?\\\}|<.*?>", ".+", re.escape(pattern))
    return re.fullmatch(regex, key, re.IGNORECASE) is not None


@cache
def _privileges() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (service["prefix"], privilege["privilege"].lower()): privilege
        for service in parliament.iam_definition
        for privilege in service["privileges"]
    }


def _service(prefix: str) -> dict[str, Any]:
    return next(s for s in parliament.iam_definition if s["prefix"] == prefix)


def _resource_condition_keys(service: str, resource_type: str) -> list[str]:
    return next(
        (r["condition_keys"] for r in _service(service)["resources"] if r["resource"] == resource_type), []
    )
