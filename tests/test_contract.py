"""The runtime contract holds: one spelling per setting, a shipped library that stands alone.

These read the code (ast), so a renamed variable or a stray import fails here, before an image or
a stack is built with it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from infra.serving.smoke_hook import handler as smoke_hook
from ml_deploy.settings import (
    EnvSettings,
    MonitorSettings,
    QualitySettings,
    RetrainSettings,
    ServiceSettings,
    SmokeHookSettings,
    environment,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "ml_deploy"
CODE_ROOTS = [ROOT / "infra", ROOT / "service", ROOT / "retrain_job", ROOT / "src", ROOT / "ml_deploy_dev"]
RUNTIMES: list[type[EnvSettings]] = [
    ServiceSettings,
    RetrainSettings,
    MonitorSettings,
    QualitySettings,
    SmokeHookSettings,
]
# The one allowed second reader: the smoke hook's Lambda has no pydantic, so it spells its own
# variables; the tests below hold them to SmokeHookSettings.
SMOKE_HOOK = ROOT / "infra" / "serving" / "smoke_hook" / "handler.py"


def _modules(*roots: Path) -> list[Path]:
    return sorted(path for root in roots for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _variables() -> set[str]:
    return {field.alias for model in RUNTIMES for field in model.model_fields.values() if field.alias}


def _string_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_nothing_under_src_imports_infra_or_the_dev_tools() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imports(path) if name.split(".")[0] in ("infra", "ml_deploy_dev", "tests")
        )
        for path in _modules(ROOT / "src")
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert not offenders, f"src/ ships without infra and the dev tools: {offenders}"


def test_the_shipped_library_imports_neither_infra_nor_dev_tools_nor_runtimes() -> None:
    forbidden = ("infra", "ml_deploy_dev", "ml_deploy_cli", "service", "retrain_job")
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imports(path) if name.split(".")[0] in forbidden
        )
        for path in _modules(SHIPPED)
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert not offenders, f"src/ml_deploy must stand alone in the images: {offenders}"


@pytest.mark.parametrize("module", ["ml_deploy.settings", "ml_deploy.layout"])
def test_the_contract_is_light_enough_for_infra_and_every_image(module: str) -> None:
    probe = (
        f"import sys, {module}; "
        "heavy = sorted(m for m in ('sklearn', 'fastapi', 'boto3', 'pandas', 'pulumi') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "", f"{module} pulls in {done.stdout.strip()}"


def test_each_runtime_variable_is_spelt_once_outside_the_tests() -> None:
    counts: Counter[str] = Counter()
    where: dict[str, list[str]] = {}
    variables = _variables()
    for path in _modules(*CODE_ROOTS):
        if path == SMOKE_HOOK:
            continue
        for literal in _string_literals(path):
            if literal in variables:
                counts[literal] += 1
                where.setdefault(literal, []).append(str(path.relative_to(ROOT)))
    repeated = {name: where[name] for name, count in counts.items() if count > 1}
    assert not repeated, f"runtime variables spelt in more than one place: {repeated}"
    assert set(counts) == variables, f"never spelt at all: {sorted(variables - set(counts))}"


def test_the_smoke_hook_reads_exactly_the_variables_of_its_settings_model() -> None:
    expected = {name: field.alias for name, field in SmokeHookSettings.model_fields.items()}
    assert expected == smoke_hook.VARIABLES
    spelt = Counter(literal for literal in _string_literals(SMOKE_HOOK) if literal in set(expected.values()))
    assert spelt == Counter(expected.values()), f"the hook spells each variable once, in VARIABLES: {spelt}"


def test_the_smoke_hook_has_the_models_defaults_and_requires_only_what_infra_sets_from_the_layout() -> None:
    for name, default in smoke_hook.DEFAULTS.items():
        assert SmokeHookSettings.default(name) == default, f"{name}: hook {default!r}, contract default"
    required = set(smoke_hook.VARIABLES) - set(smoke_hook.DEFAULTS)
    layout_templates = {
        name for name in required if SmokeHookSettings.model_fields[name].is_required() is False
    }
    assert layout_templates == {"bundle_key_template", "result_key_template"}, layout_templates


def test_the_smoke_hook_parses_an_environment_as_the_contract_does() -> None:
    rendered = environment(
        SmokeHookSettings,
        environment="stage",
        model_bucket="models",
        test_url="http://internal-alb:8443",
        bundle_key_template=SmokeHookSettings.default("bundle_key_template"),
        result_bucket="logs",
        result_key_template=SmokeHookSettings.default("result_key_template"),
        probability_tolerance=1e-7,
        max_p99_ms=120.0,
        request_timeout_seconds=2.5,
    )
    contract = SmokeHookSettings.from_env(rendered)
    hook = smoke_hook.HookSettings.from_environ(rendered)
    assert {name: getattr(hook, name) for name in smoke_hook.VARIABLES} == contract.model_dump()


def test_the_bundle_file_name_is_spelt_once_in_python() -> None:
    spelt = {
        str(path.relative_to(ROOT))
        for path in _modules(*CODE_ROOTS)
        for literal in _string_literals(path)
        if "model-bundle.zip" in literal
    }
    assert spelt == {"src/ml_deploy/layout.py"}, spelt
