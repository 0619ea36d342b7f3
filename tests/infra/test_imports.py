"""Imports inside infra run one way: no circle, and the shared modules import no component."""

from __future__ import annotations

import ast
from pathlib import Path

from ml_deploy_dev.program import ROOT

INFRA = ROOT / "infra"
COMPONENT_FOLDERS = ("serving", "jobs", "delivery", "analytics")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _infra_imports(path: Path, modules: set[str]) -> set[str]:
    """The infra modules `path` imports (TYPE_CHECKING imports count: a reader follows them too)."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from infra.serving import roles` imports the module infra.serving.roles.
            imported.update(
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                for alias in node.names
            )
    return {name for name in imported if name in modules}


def import_graph() -> dict[str, set[str]]:
    """infra module -> the infra modules it imports."""
    paths = {_module_name(path): path for path in INFRA.rglob("*.py")}
    modules = set(paths)
    return {name: _infra_imports(path, modules) - {name} for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (as a path that returns to its start), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str] | None:
        if module in visiting:
            return [*visiting[visiting.index(module) :], module]
        if module in done:
            return None
        visiting.append(module)
        for imported in sorted(graph[module]):
            cycle = visit(imported)
            if cycle:
                return cycle
        visiting.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return None


def test_infra_has_no_import_circle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "infra modules import each other in a circle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_circle() -> None:
    """Guards the guard: a two-module circle and a longer one are both reported."""
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_the_components() -> None:
    graph = import_graph()
    assert "infra.delivery.roles" in graph["infra.delivery.pipeline"], graph["infra.delivery.pipeline"]
    assert "infra.serving.environment" in graph["infra.__main__"], graph["infra.__main__"]


def test_shared_modules_import_no_component_folder() -> None:
    """The top-level modules are what the components build on, never the other way round.

    Two exceptions read like tables of contents: `__main__` wires the components, `config` gathers
    the config section each component keeps beside itself into one stack config.
    """
    graph = import_graph()
    shared = [m for m in graph if m.count(".") == 1 and m not in ("infra.__main__", "infra.config")]
    upward = {
        module: sorted(i for i in graph[module] if i.split(".")[1] in COMPONENT_FOLDERS) for module in shared
    }
    upward = {module: imported for module, imported in upward.items() if imported}
    assert not upward, f"shared infra modules import component folders: {upward}"


def test_component_folders_import_each_other_one_way_only() -> None:
    """delivery may know serving and jobs (it deploys them); they never know delivery or each other."""
    graph = import_graph()
    allowed = {("delivery", "serving"), ("delivery", "jobs")}
    crossing = sorted(
        (module, imported)
        for module, imports in graph.items()
        for imported in imports
        if module.count(".") >= 2
        and imported.count(".") >= 2
        and module.split(".")[1] != imported.split(".")[1]
        and (module.split(".")[1], imported.split(".")[1]) not in allowed
    )
    assert not crossing, f"component folders import each other the wrong way: {crossing}"
