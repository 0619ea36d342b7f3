"""What one render of the dev program under Pulumi's mocks costs (`ml_deploy_dev.program.run_program`).

The infra tests render the program some forty times a session. Times a render as the harness does
it now against the baseline of how it rendered before, in one run: the cyclic GC left on during the
render, and each service role's trust policy rendered by an `aws.iam.get_policy_document` invoke
(18 synchronous invokes) instead of `json.dumps`. Each variant renders the same resources; the
bench checks that before timing it. The first render of a process (importing pulumi_aws) is
timed once, apart.

    .venv/bin/python bench/render.py [--repeat 5]

Numbers on a shared machine move with the neighbours' load; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator

from _common import best, timed

import infra.delivery.pipeline
import infra.iam
import ml_deploy_dev.program as harness


def _trust_by_invoke(*services: str) -> str:
    """The trust policy as infra/iam.py rendered it before: one getPolicyDocument invoke per role."""
    import pulumi_aws as aws

    principal = aws.iam.GetPolicyDocumentStatementPrincipalArgs(type="Service", identifiers=list(services))
    statement = aws.iam.GetPolicyDocumentStatementArgs(
        sid="AssumedByService", effect="Allow", actions=["sts:AssumeRole"], principals=[principal]
    )
    return aws.iam.get_policy_document(statements=[statement]).json


@contextlib.contextmanager
def _variant(*, gc_paused: bool, trust: Callable[..., str]) -> Iterator[None]:
    """The harness with the GC left on or paused, and `trust` rendering every trust policy."""
    swaps: dict[tuple[object, str], object] = {
        # The helper's module, and the one that imports it by name.
        (infra.iam, "assume_role_policy"): trust,
        (infra.delivery.pipeline, "assume_role_policy"): trust,
    }
    if not gc_paused:
        swaps[(harness, "_cyclic_gc_paused")] = contextlib.nullcontext
    saved = {(owner, name): getattr(owner, name) for owner, name in swaps}
    for (owner, name), value in swaps.items():
        setattr(owner, name, value)
    try:
        yield
    finally:
        for (owner, name), value in saved.items():
            setattr(owner, name, value)


def _fingerprint(program: harness.Program) -> list[str]:
    """Every resource's type, name and inputs (an archive by its path)."""
    return sorted(
        json.dumps([r.type, r.name, r.inputs], sort_keys=True, default=lambda o: getattr(o, "path", repr(o)))
        for r in program.resources
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat

    first = timed(harness.run_program)
    expected = _fingerprint(harness.run_program())
    json_trust = infra.iam.assume_role_policy
    variants = [
        ("baseline: GC on, trust policies by invoke (before)", False, _trust_by_invoke),
        ("GC paused, trust policies by invoke", True, _trust_by_invoke),
        ("GC on, trust policies as JSON", False, json_trust),
        ("GC paused, trust policies as JSON (now)", True, json_trust),
    ]
    rows = []
    for name, gc_paused, trust in variants:
        with _variant(gc_paused=gc_paused, trust=trust):
            assert _fingerprint(harness.run_program()) == expected, f"{name}: another program"
            rows.append((name, best(lambda: timed(harness.run_program), repeat)))

    print(f"first render of the process (imports pulumi_aws): {first:.2f} s; then best of {repeat}")
    print(f"{'render':52} {'seconds':>8} {'ratio':>6}")
    for name, seconds in rows:
        print(f"{name:52} {seconds:8.3f} {seconds / rows[0][1]:6.2f}")


if __name__ == "__main__":
    main()
