"""One render of the program per distinct stack config per test session, shared by every module.

Running the program under the mocks costs seconds; seven modules (the infra and enforcement
`dev_program`, the pipeline, build, deploy, promote-jobs and buildspec tests) asked for the dev
stack's own render and ran it again each time. A `Program` is only read by the tests (nothing
writes to its resources or outputs), so one render per config serves them all. A test that needs
a render of its own (its warnings, or a program it changes) calls `run_program` itself. Before
calling `run_program` with a config, look here: the CLI's quota and contract tests, the monitor's
fan-out tests and the serving tests' certificate and existing-VPC renders also share theirs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ml_deploy_dev.program import Program, run_program

_RENDERED: dict[str, Program] = {}


def shared_program(
    overrides: Mapping[str, Any] | None = None,
    *,
    images: Mapping[str, Sequence[str]] | None = None,
    remove: Sequence[str] = (),
) -> Program:
    """The dev stack without the `remove` keys, changed by `overrides` (namespaced keys), with ECR
    listing `images`."""
    key = json.dumps([overrides or {}, images or {}, sorted(remove)], sort_keys=True)
    if key not in _RENDERED:
        _RENDERED[key] = run_program(overrides=dict(overrides or {}), images=images, remove=tuple(remove))
    return _RENDERED[key]
