"""What the CLI must agree on with the build and the infra: image tags, container, action names."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

from ml_deploy_cli.aws import executions, services
from ml_deploy_cli.images import parse_image

ROOT = Path(__file__).resolve().parents[2]


def test_the_build_tags_images_as_the_cli_parses_them() -> None:
    buildspec = (ROOT / "buildspec.yml").read_text()
    assert 'export IMAGE_TAG="${COMMIT_ID:0:12}-${MODEL_TAG}"' in buildspec, (
        "buildspec.yml changed how it tags images; update ml_deploy_cli.images.parse_image to match"
    )


@pytest.mark.parametrize(
    ("image", "commit", "model", "label"),
    [
        (
            "1.dkr.ecr.eu-west-1.amazonaws.com/svc:1a2b3c4d5e6f-20261123T101500Z-3f9a1c2b",
            "1a2b3c4d5e6f",
            "20261123T101500Z-3f9a1c2b",
            "1a2b3c4d5e6f-20261123T101500Z-3f9a1c2b",
        ),
        ("1.dkr.ecr.eu-west-1.amazonaws.com/svc:bootstrap", None, None, "bootstrap"),
        ("registry:5000/svc", None, None, "registry:5000/svc"),
        ("svc@sha256:" + "a" * 64, None, None, "svc@sha256:" + "a" * 64),
    ],
)
def test_image_references(image: str, commit: str | None, model: str | None, label: str) -> None:
    parsed = parse_image(image)

    assert (parsed.commit, parsed.model_version, parsed.label) == (commit, model, label)


def test_the_service_container_and_source_actions_are_the_infras() -> None:
    pytest.importorskip("pulumi")
    from infra.delivery.stages import CODE_ACTION, MODEL_ACTION
    from infra.serving.task_definition import CONTAINER_NAME

    assert services.SERVICE_CONTAINER == CONTAINER_NAME
    assert (executions.CODE_ACTION, executions.MODEL_ACTION) == (CODE_ACTION, MODEL_ACTION)


def test_the_ml_deploy_script_is_main() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["ml-deploy"].partition(":")

    assert getattr(importlib.import_module(module), function)(["--help"]) == 0


def test_every_stack_output_the_cli_reads_is_one_the_program_exports() -> None:
    pytest.importorskip("pulumi")
    import ast

    from tests.infra.shared_program import shared_program

    read = set()
    for path in (ROOT / "src" / "ml_deploy_cli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("require", "prefix")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                read.add(node.args[0].value)
    assert {"modelBucket", "pipelineName", "decisionsPrefix"} <= read, read
    exported = set(shared_program().outputs)
    assert read <= exported, f"the CLI reads outputs the program does not export: {sorted(read - exported)}"
