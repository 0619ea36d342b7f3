"""Every role AWS services act through holds what their documentation says they need.

The needs are data (`tests/infra/documented_permissions.py`, each naming its page); this test
fills their resources with the concrete ARNs the program registers and asks the rendered inline
policies whether they allow each call (`tests/enforcement/policy_eval.py`). A statement dropped,
narrowed off the resource AWS touches, or conditioned on a key the call does not carry fails here,
naming the documented action, the resource and the page.
"""

from __future__ import annotations

import pytest

from ml_deploy_dev.program import Program
from tests.enforcement.policy_eval import Request, evaluate
from tests.infra.documented_permissions import DOCUMENTED_USES, DocumentedUse
from tests.infra.rendered_roles import MANAGED_POLICIES, concrete_names, request_of, role_policy


def missing_needs(program: Program, use: DocumentedUse) -> list[str]:
    """The documented calls the role's policies do not allow, each as a readable line."""
    names = concrete_names(program)
    policy = role_policy(program, use.role)
    missing = []
    for need in use.needs:
        request = request_of(need, names)
        decision = evaluate(policy, request)
        if not decision.allowed:
            missing.append(f"{request}: {decision.reason} ({need.source or use.url})")
    return missing


def test_only_ecs_deployments_attach_a_managed_policy(dev_program: Program) -> None:
    """The coverage check knows the managed policies in MANAGED_POLICIES only; the one attached is
    the ECS deployments' load-balancer policy, which AWS revises (a copy would go stale)."""
    attached = {
        (a.name, a.inputs["policyArn"])
        for a in dev_program.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == {
        (f"serving-{env}-deployments-load-balancers", arn)
        for env in ("stage", "prod")
        for arn in MANAGED_POLICIES
    }, f"managed policies attached: {sorted(attached)}"


@pytest.mark.parametrize("use", DOCUMENTED_USES, ids=lambda use: use.what)
def test_role_holds_what_the_documentation_says_the_service_needs(
    dev_program: Program, use: DocumentedUse
) -> None:
    missing = missing_needs(dev_program, use)
    assert not missing, f"{use.role} lacks, for {use.what} ({use.url}):\n  " + "\n  ".join(missing)


@pytest.mark.parametrize("use", DOCUMENTED_USES, ids=lambda use: use.what)
def test_withheld_documented_actions_are_really_withheld(dev_program: Program, use: DocumentedUse) -> None:
    """A documented action listed as withheld is granted neither on "*" nor on what the use touches."""
    names = concrete_names(dev_program)
    policy = role_policy(dev_program, use.role)
    resources = {"*", *(request_of(need, names).resource for need in use.needs)}
    granted = sorted(
        action
        for action in use.withheld
        if any(evaluate(policy, Request(action, r)).allowed for r in resources)
    )
    assert not granted, f"{use.role} grants {granted}, listed as withheld for {use.what}"
