"""Parliament lint of the program's policy documents, with the few findings that are parliament's gaps.

Each tolerated finding says why it is parliament's gap and not a loose policy; the tests of each
component add their own, narrower list of actions that may stand on "*".
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from parliament import analyze_policy_string


def _actions(detail: Any) -> set[str]:
    if isinstance(detail, list):
        return {d["action"] if isinstance(d, dict) else str(d) for d in detail}
    return {str(detail)}


def _tolerated(issue: str, detail: Any, *, field: str, resource_type: str) -> bool:
    if issue == "MALFORMED" and field == "assumeRolePolicy":
        return True  # a trust policy names principals, never a Resource
    if issue == "RESOURCE_STAR" and resource_type == "aws:kms/key:Key":
        return True  # in a key policy "*" means this key; nothing else can be named
    if issue == "UNKNOWN_PREFIX" and "codeconnections" in str(detail):
        return True  # parliament's action table predates the codeconnections prefix
    if issue == "RESOURCE_MISMATCH" and _only_the_other_load_balancer_type(detail):
        return True
    # parliament's data predates revisioned job-definition ARNs; AWS documents
    # job-definition/<name>:* plus the queue as the scope of SubmitJob.
    return issue == "RESOURCE_MISMATCH" and _actions(detail) == {"batch:SubmitJob"}


def _only_the_other_load_balancer_type(detail: Any) -> bool:
    """A listener (rule) action names an ALB's; parliament also wants the NLB form (listener/net/...)
    of the same resource type, though one ARN can only be one of the two."""
    nlb_forms = (":listener/net/", ":listener-rule/net/")
    return isinstance(detail, list) and all(
        isinstance(d, dict) and any(form in d["required_format"] for form in nlb_forms) for d in detail
    )


def findings(
    document: dict[str, Any] | str,
    *,
    star_only_actions: Collection[str],
    field: str = "policy",
    resource_type: str = "",
) -> list[str]:
    """Parliament's findings that are real problems: `issue detail` strings, empty when clean."""
    text = document if isinstance(document, str) else json.dumps(document)
    problems = []
    for finding in analyze_policy_string(text).findings:
        if finding.issue == "RESOURCE_STAR" and _actions(finding.detail) <= set(star_only_actions):
            continue
        if _tolerated(finding.issue, finding.detail, field=field, resource_type=resource_type):
            continue
        problems.append(f"{finding.issue} {finding.detail}")
    return problems
