"""Run the real Pulumi program under Pulumi's in-process mocks and record what it registers.

Used by the infra tests and by the local delivery, which reads
the pipeline the program defines from it.

The mocks answer the provider calls the program makes (caller identity, region, zones, IAM
policy documents rendered to real JSON) and record every resource with its inputs, so tests
can ask for "all buckets" or "every policy document" and assert on the lot.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import runpy
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from ml_deploy_dev.mocks import (
    ACCOUNT,
    FIRST_BUILD_IMAGES,
    REGION,
    RecordingMocks,
    RecordingMonitor,
    Resource,
    render_policy_document,
)

__all__ = [
    "ACCOUNT",
    "FIRST_BUILD_IMAGES",
    "MAIN",
    "REGION",
    "ROOT",
    "Program",
    "RecordingMocks",
    "RecordingMonitor",
    "Resource",
    "dev_stack_config",
    "render_policy_document",
    "run_program",
    "run_under_mocks",
]

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "infra" / "__main__.py"


@dataclass
class Program:
    """What one run of the program registered and exported."""

    resources: list[Resource]
    outputs: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_token} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def called(self, type_token: str, physical_name: str) -> Resource:
        """The one `type_token` resource AWS knows as `physical_name` (given or generated)."""
        found = [r for r in self.of_type(type_token) if r.inputs.get(r.autonamed or "name") == physical_name]
        assert len(found) == 1, f"expected one {type_token} called {physical_name}, found {len(found)}"
        return found[0]

    def named(self, name: str) -> Resource:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def urn_of(self, resource: Resource) -> str:
        """The URN suffix that names `resource` (type and name), as dependencies carry it."""
        return f"{resource.type}::{resource.name}"

    def depends_explicitly_on(self, dependent: Resource, dependency: Resource) -> bool:
        """`dependency` is in `dependent`'s `depends_on` (directly, not through an input)."""
        suffix = self.urn_of(dependency)
        return any(urn.endswith(suffix) for urn in dependent.depends_on)

    def by_id(self, resource_id: str) -> Resource:
        found = [r for r in self.resources if r.id == resource_id or r.state.get("arn") == resource_id]
        assert found, f"no resource has id or ARN {resource_id}"
        return found[0]

    def policy_documents(self) -> Iterator[tuple[Resource, str, dict[str, Any]]]:
        """Every IAM/resource policy the program registers: (resource, input name, parsed JSON)."""
        for resource in self.resources:
            for key in ("policy", "assumeRolePolicy", "accessPolicy"):
                value = resource.inputs.get(key)
                if isinstance(value, str) and value.strip().startswith("{") and '"Statement"' in value:
                    yield resource, key, json.loads(value)


def dev_stack_config() -> dict[str, Any]:
    """The `config:` block of Pulumi.dev.yaml, as `pulumi up -s dev` would pass it."""
    with (ROOT / "Pulumi.dev.yaml").open() as handle:
        return dict(yaml.safe_load(handle)["config"])


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_program(
    config: dict[str, Any] | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    stack: str = "dev",
    images: Mapping[str, Sequence[str]] | None = None,
    parameters: Mapping[str, str] | None = None,
) -> Program:
    """Run infra/__main__.py with the dev stack config (or `config`), changed by overrides.

    `images`: repository name -> the tags ECR lists there (default: none, a fresh account).
    `parameters`: SSM parameter name -> a value written outside the program (PromoteJobs).
    """
    return run_under_mocks(
        lambda: runpy.run_path(str(MAIN), run_name="__main__"),
        config=config,
        overrides=overrides,
        remove=remove,
        stack=stack,
        images=images,
        parameters=parameters,
    )


def run_under_mocks(
    build: Callable[[], object],
    *,
    config: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    stack: str = "dev",
    images: Mapping[str, Sequence[str]] | None = None,
    parameters: Mapping[str, str] | None = None,
) -> Program:
    """Run `build` (the whole program, or a few components) under the mocks and record it."""
    values = dict(dev_stack_config() if config is None else config)
    for key in remove:
        values.pop(key, None)
    values.update(overrides or {})
    pulumi.runtime.set_all_config(
        {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
    )
    mocks = RecordingMocks(images=images, parameters=parameters)
    capture = _Capture()
    logger = logging.getLogger(f"pulumi-mocks-{id(capture)}")
    logger.addHandler(capture)
    logger.propagate = False
    # Pulumi's runtime uses the thread's current event loop; tests of async code (the service)
    # may have closed or unset it, so each run gets its own.
    asyncio.set_event_loop(asyncio.new_event_loop())
    settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(
        mocks,
        project="ml-deploy",
        stack=stack,
        preview=False,
        logger=logger,
        monitor=RecordingMonitor(mocks),
    )

    def program() -> None:
        build()

    with _cyclic_gc_paused():
        _sync_await(run_pulumi_func(program))

    root = settings.get_root_resource()
    outputs = {
        name: _sync_await(pulumi.Output.from_input(value).future())
        for name, value in getattr(root, "outputs", {}).items()
    }
    return Program(resources=mocks.resources, outputs=outputs, warnings=capture.messages)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the program registers its resources.

    A render allocates enough (futures, tracebacks, Outputs) to trigger full collections, each
    walking every live object of the process (pulumi_aws alone is ~300k): more than half of a
    render's time (`bench/render.py`). Its cycles are collected by the next collection after it;
    the render is the same.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
