"""Pulumi.yaml and every Pulumi.<stack>.yaml: accepted by Pulumi, and consistent with the program.

Pulumi validates a project in two steps (sdk/go/common/workspace/project.go in pulumi/pulumi):
its JSON schema (project.json; ours is tests/schemas/pulumi-project.schema.json, see the README
there), then `Project.Validate` in code. Stack files are checked against the project's config
declarations when a stack is loaded (`mergeConfig` in sdk/go/common/workspace/config.go). Every
`pulumi` command runs these checks, so a file that breaks them stops `pulumi preview` and `up`.
The rules below are those checks, as test data, each naming where it comes from.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from infra.config import _SECTIONS, KEY_SECTIONS, PROJECT_NAMESPACE, TEXT_KEYS, parse_config
from ml_deploy_dev import config_reference

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "Pulumi.yaml"
STACKS = sorted(ROOT.glob("Pulumi.*.yaml"))
SCHEMAS = ROOT / "tests" / "schemas"

# Namespaces of provider settings a stack may set (provider configuration, not the program's).
PROVIDER_NAMESPACES = {"aws", "pulumi"}
# Settings of the program left out of Pulumi.yaml (the program validates them itself):
# - no default (None in the sections `infra/config.py` reads): declared, they would become required on every
#   stack (config.go `mergeConfig` reports a declared project key with neither default nor value,
#   missing on the stack, as missing);
# - object-valued: Pulumi's config types are string, integer, boolean and array only.
UNDECLARED = {
    "vpcId",
    "certificateArn",
    "domainName",
    "hostedZoneId",
    "codeConnectionArn",
    "clientCaBundle",
    "precisionFloor",
    "recallFloor",
    "stage",
    "prod",
    "retrainJob",
    "monitorJob",
    "qualityJob",
}

# Python language host options (`parseOptions`, sdk/python/cmd/pulumi-language-python/main.go):
# every option is a string; these two take one of a fixed set of values.
PYTHON_OPTION_VALUES = {
    "toolchain": {"pip", "poetry", "uv"},
    "typechecker": {"mypy", "pyright"},
}
PYTHON_STRING_OPTIONS = {"toolchain", "virtualenv", "typechecker"}


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path.name} is not a YAML mapping"
    return document


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _schema_errors(name: str, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in _validator(name).iter_errors(document)
    ]


# --- Pulumi's rules, written in Python -------------------------------------------------------


def _namespaced_by_project(project_name: str, key: str) -> bool:
    """project.go `configKeyIsNamespacedByProject`: no namespace, or the project's own."""
    return ":" not in key or key.startswith(project_name + ":")


def _value_matches(type_name: str, items: dict[str, Any] | None, value: Any) -> bool:
    """project.go `ValidateConfigValue`, for values decoded from YAML (defaults)."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        if isinstance(value, float):
            return value == math.trunc(value)
        if isinstance(value, str):
            try:
                int(value)
            except ValueError:
                return False
            return True
        return False
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if not isinstance(value, list) or items is None:
        return False
    return all(_value_matches(items["type"], items.get("items"), item) for item in value)


def _strictly_matches(type_name: str, items: dict[str, Any] | None, value: Any) -> bool:
    """Stricter than Pulumi, which turns every scalar stack value into a string before it checks
    (so `"60"` passes as an integer): here a stack value must be written with its declared type."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "boolean":
        return isinstance(value, bool)
    return (
        type_name == "array"
        and isinstance(value, list)
        and items is not None
        and all(_strictly_matches(items["type"], items.get("items"), item) for item in value)
    )


def project_problems(project: dict[str, Any]) -> list[str]:
    """What `pulumi` would reject in a project file: schema, then project.go `Project.Validate`."""
    problems = _schema_errors("pulumi-project.schema.json", project)
    if problems:
        return problems
    for key, declaration in (project.get("config") or {}).items():
        if isinstance(declaration, dict):  # else shorthand: a default, or elsewhere a value
            problems.extend(_declaration_problems(project["name"], key, declaration))
    problems.extend(_runtime_problems(project["runtime"]))
    return problems


def _declaration_problems(project_name: str, key: str, declaration: dict[str, Any]) -> list[str]:
    """project.go `Project.Validate`, one config declaration."""
    type_name = declaration.get("type")
    has_default, has_value = "default" in declaration, "value" in declaration
    if has_default and has_value:
        return [f"{key}: cannot have both a 'default' and 'value' attribute"]
    if _namespaced_by_project(project_name, key):
        if type_name == "array" and "items" not in declaration:
            return [f"{key}: declares an array but not the type of its 'items'"]
        if (
            type_name
            and has_default
            and not _value_matches(type_name, declaration.get("items"), declaration["default"])
        ):
            return [f"{key}: the default value is not of the declared type {type_name}"]
        return []
    if type_name:
        return [f"{key}: is not namespaced by the project and should not define a type"]
    if has_default:
        return [f"{key}: is not namespaced by the project and should not define a default"]
    if not has_value:
        return [f"Configuration key '{key}' is namespaced and must provide an attribute 'value'"]
    return []


def _runtime_problems(runtime: Any) -> list[str]:
    if isinstance(runtime, str) or runtime.get("name") != "python":
        return []
    problems = []
    for option, value in (runtime.get("options") or {}).items():
        if option not in PYTHON_STRING_OPTIONS:
            problems.append(f"runtime option {option} is not one the Python language host reads")
        elif not isinstance(value, str):
            problems.append(f"runtime option {option} must be a string")
        elif option in PYTHON_OPTION_VALUES and value not in PYTHON_OPTION_VALUES[option]:
            problems.append(
                f"runtime option {option}: {value!r} is not one of {PYTHON_OPTION_VALUES[option]}"
            )
    return problems


def _declarations(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Project config, shorthand rewritten as project.go `RewriteShorthandConfigValues` does."""
    name = project["name"]
    declarations = {}
    for key, declaration in (project.get("config") or {}).items():
        if not isinstance(declaration, dict):
            declaration = {"default" if _namespaced_by_project(name, key) else "value": declaration}
        full_key = key if ":" in key else f"{name}:{key}"
        declarations[full_key] = declaration
    return declarations


def stack_problems(project: dict[str, Any], stack: dict[str, Any]) -> list[str]:
    """Stack file shape, required keys (config.go `mergeConfig`), declared types, known keys."""
    problems = _schema_errors("pulumi-stack.schema.json", stack)
    if problems:
        return problems
    name = project["name"]
    config = stack.get("config") or {}
    declarations = _declarations(project)
    for key, declaration in declarations.items():
        required = "default" not in declaration and "value" not in declaration
        if required and key.split(":")[0] == name and key not in config:
            problems.append(f"{key} is required by Pulumi.yaml (declared without a default)")
    for key, value in config.items():
        namespace, setting = key.split(":", 1)
        known = declarations.get(key)
        if namespace in PROVIDER_NAMESPACES:
            continue
        if namespace != name:
            problems.append(f"{key}: neither this project's namespace nor a provider's")
        elif known is None:
            if setting not in UNDECLARED:
                problems.append(f"{key} is not declared in Pulumi.yaml")
        elif "type" in known and not _strictly_matches(known["type"], known.get("items"), value):
            problems.append(f"{key}: {value!r} is not of the declared type {known['type']}")
    return problems


# --- the repository's files ------------------------------------------------------------------


def test_there_is_a_stack_file() -> None:
    assert STACKS, "no Pulumi.<stack>.yaml next to Pulumi.yaml"


def test_the_project_file_passes_pulumis_validation() -> None:
    problems = project_problems(_load(PROJECT))
    assert not problems, "Pulumi would reject Pulumi.yaml:\n" + "\n".join(problems)


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_stack_file_keys_are_declared_or_provider_keys_with_declared_types(stack: Path) -> None:
    problems = stack_problems(_load(PROJECT), _load(stack))
    assert not problems, f"{stack.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_stack_file_sets_the_region(stack: Path) -> None:
    """aws:region is left to the stacks (Pulumi.yaml could only pin one `value` for all)."""
    assert isinstance((_load(stack).get("config") or {}).get("aws:region"), str), (
        f"{stack.name} does not set aws:region"
    )


def test_the_project_declares_every_setting_of_the_program_with_its_default() -> None:
    """Pulumi.yaml and the typed config sections name the same settings and the same defaults."""
    declarations = _declarations(_load(PROJECT))
    prefix = f"{PROJECT_NAMESPACE}:"
    declared = {key.removeprefix(prefix) for key in declarations if key.startswith(prefix)}
    assert declared | UNDECLARED == set(KEY_SECTIONS), (
        f"only in Pulumi.yaml: {sorted(declared - set(KEY_SECTIONS))}; "
        f"only in the program: {sorted(set(KEY_SECTIONS) - declared - UNDECLARED)}"
    )
    assert not declared & UNDECLARED, "a setting listed in UNDECLARED is declared"
    fields = {
        field.alias or name: field
        for model in _SECTIONS.values()
        for name, field in model.model_fields.items()
    }
    for key, declaration in declarations.items():
        if not key.startswith(prefix):
            continue
        field = fields[key.removeprefix(prefix)]
        if "default" not in declaration:
            assert field.is_required(), f"{key} is required in Pulumi.yaml but has a default in the program"
            continue
        expected = field.get_default(call_default_factory=True)
        if isinstance(expected, BaseModel):
            expected = expected.model_dump(by_alias=True)
        assert declaration["default"] == expected, (
            f"{key}: Pulumi.yaml default {declaration['default']!r}, the program's {expected!r}"
        )


def test_the_keys_declared_string_are_the_keys_the_program_takes_as_text() -> None:
    """Pulumi hands the program every value as text; `load_config` decodes JSON for all but the
    string-typed keys, so a declared string such as codeBranch "2024" stays a string."""
    prefix = f"{PROJECT_NAMESPACE}:"
    declared = {
        key.removeprefix(prefix): declaration.get("type")
        for key, declaration in _declarations(_load(PROJECT)).items()
        if key.startswith(prefix)
    }
    strings = {key for key, type_name in declared.items() if type_name == "string"}
    assert strings == TEXT_KEYS & set(declared), (
        f"declared string but decoded as JSON: {sorted(strings - TEXT_KEYS)}; "
        f"taken as text but not declared string: {sorted((TEXT_KEYS & set(declared)) - strings)}"
    )


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_the_program_accepts_each_stack_with_the_project_defaults_applied(stack: Path) -> None:
    """What the program sees under `pulumi up`: stack values, then Pulumi.yaml defaults."""
    prefix = f"{PROJECT_NAMESPACE}:"
    raw = {
        key.removeprefix(prefix): declaration["default"]
        for key, declaration in _declarations(_load(PROJECT)).items()
        if "default" in declaration
    }
    config = _load(stack).get("config") or {}
    raw.update({key.removeprefix(prefix): value for key, value in config.items() if key.startswith(prefix)})
    parse_config(raw, region=config.get("aws:region"))


# --- the rules themselves catch what they should -------------------------------------------

GOOD_PROJECT = {
    "name": "demo",
    "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}},
    "config": {
        "aws:region": {"value": "eu-west-1"},
        "demo:size": {"type": "integer", "default": 2},
        "demo:names": {"type": "array", "items": {"type": "string"}, "default": ["a"]},
        "demo:required": {"type": "string"},
        "plain": "shorthand default",
    },
}

# What is wrong -> (config key or runtime option, its new declaration); each is a rule above.
BAD_PROJECTS: dict[str, tuple[str, Any]] = {
    # the issue 15 failure: a key outside the project's namespace without `value`
    "namespaced key without value": ("aws:region", {"description": "AWS region"}),
    "namespaced key with a type": ("aws:region", {"type": "string", "value": "eu-west-1"}),
    "namespaced key with a default": ("aws:region", {"default": "eu-west-1"}),
    "both default and value": ("demo:size", {"type": "integer", "default": 2, "value": 3}),
    "default not of its type": ("demo:size", {"type": "integer", "default": "two"}),
    "boolean default for an integer": ("demo:size", {"type": "integer", "default": True}),
    "array without items": ("demo:names", {"type": "array", "default": []}),
    "array item of the wrong type": (
        "demo:names",
        {"type": "array", "items": {"type": "string"}, "default": [1]},
    ),
    "unknown type object": ("demo:size", {"type": "object", "default": {}}),
    "unknown type number": ("demo:size", {"type": "number", "default": 1.5}),
    "unknown declaration attribute": ("demo:size", {"type": "integer", "required": True}),
    "unknown python toolchain": ("runtime:toolchain", "pipenv"),
    "unknown python option": ("runtime:venv", ".venv"),
    "non-string python option": ("runtime:virtualenv", True),
}


def _bad_project(change: str) -> dict[str, Any]:
    project = json.loads(json.dumps(GOOD_PROJECT))
    key, declaration = BAD_PROJECTS[change]
    if key.startswith("runtime:"):
        project["runtime"]["options"][key.removeprefix("runtime:")] = declaration
    else:
        project["config"][key] = declaration
    return project


def test_the_rules_accept_a_good_project() -> None:
    assert not project_problems(GOOD_PROJECT)


@pytest.mark.parametrize("change", sorted(BAD_PROJECTS))
def test_the_rules_reject_a_bad_project(change: str) -> None:
    assert project_problems(_bad_project(change)), f"a project with {change} passed"


@pytest.mark.parametrize(
    "project",
    [{"runtime": "python"}, {"name": "", "runtime": "python"}, {"name": "demo"}, {"name": "d", "runtime": 3}],
    ids=["no name", "empty name", "no runtime", "runtime not a string or object"],
)
def test_the_schema_rejects_a_project_without_name_or_runtime(project: dict[str, Any]) -> None:
    assert project_problems(project)


GOOD_STACK = {
    "config": {
        "aws:region": "eu-west-1",
        "demo:size": 3,
        "demo:names": ["a", "b"],
        "demo:required": "here",
        "demo:plain": "set",
    }
}
BAD_STACKS: dict[str, tuple[str, Any]] = {
    "required key missing": ("demo:required", None),
    "undeclared project key": ("demo:sizes", 3),
    "integer written as a string": ("demo:size", "3"),
    "array of the wrong items": ("demo:names", [1, 2]),
    "other project's namespace": ("other:size", 3),
    "key without a namespace": ("size", 3),
}


@pytest.mark.parametrize("change", sorted(BAD_STACKS))
def test_the_rules_reject_a_bad_stack(change: str) -> None:
    stack = json.loads(json.dumps(GOOD_STACK))
    key, value = BAD_STACKS[change]
    if value is None:
        del stack["config"][key]
    else:
        stack["config"][key] = value
    assert not stack_problems(GOOD_PROJECT, GOOD_STACK)
    assert stack_problems(GOOD_PROJECT, stack), f"a stack with {change} passed"


# --- generated from the typed config (ml_deploy_dev/config_reference.py) ---------------------


@pytest.mark.parametrize("path", [config_reference.PROJECT_FILE, config_reference.REFERENCE_PAGE], ids=str)
def test_the_generated_file_is_what_the_typed_config_renders(path: Path) -> None:
    expected = config_reference.rendered()[path]
    assert path.read_text() == expected, (
        f"{path.relative_to(ROOT)} is stale (a key, default or description changed): "
        f"run `{config_reference.COMMAND}`"
    )


def test_every_key_and_section_says_what_it_is() -> None:
    """The reference page has nothing to show for a key without a description."""
    undescribed = [key.name for key in config_reference.stack_keys() if not key.field.description]
    assert not undescribed, f"keys without Field(description=...): {undescribed}"
    undocumented = [model.__name__ for model in _SECTIONS.values() if not (model.__doc__ or "").strip()]
    assert not undocumented, f"config sections without a docstring: {undocumented}"


def test_check_reports_a_stale_file_and_writing_renews_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project, page = tmp_path / "Pulumi.yaml", tmp_path / "docs" / "configuration.md"
    project.write_text(PROJECT.read_text().replace("default: 8080", "default: 9090"))
    monkeypatch.setattr(config_reference, "ROOT", tmp_path)
    monkeypatch.setattr(config_reference, "PROJECT_FILE", project)
    monkeypatch.setattr(config_reference, "REFERENCE_PAGE", page)
    assert config_reference.main(["--check"]) == 1
    assert f"Pulumi.yaml is stale: run `{config_reference.COMMAND}`" in capsys.readouterr().err
    assert "default: 9090" in project.read_text() and not page.exists(), "--check wrote a file"
    assert config_reference.main([]) == 0
    assert config_reference.main(["--check"]) == 0
    assert project.read_text() == PROJECT.read_text()
    assert page.read_text() == config_reference.REFERENCE_PAGE.read_text()
