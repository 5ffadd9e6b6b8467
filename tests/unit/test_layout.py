"""The tree is the architecture: one sub-package per concern, imports one way, a small public face.

The import graph is built from the package's own source (every ``import`` and ``from`` statement, those under
``TYPE_CHECKING`` too), so a new module or import is held to the same rules without editing this file.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import redis_constructs
from redis_constructs._moved import MOVED_MODULES

PACKAGE = Path(redis_constructs.__file__).resolve().parent
ROOT = PACKAGE.parent
#: The concerns, bottom up: a module may import its own concern and those listed before it, never one after.
#: ``checks`` (the checks after a sync) and ``backup`` are listed where they belong once they exist.
LAYERS = ("core", "gitops", "credentials", "server", "checks", "migration", "backup", "monitoring")
#: Concerns on the same floor, which must not import each other.
SIBLINGS = {frozenset({"migration", "monitoring"})}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The package modules ``path`` imports (a ``from X import name`` of a submodule counts as that submodule)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return {m for m in found if m.startswith("redis_constructs") and (ROOT / (m.replace(".", "/") + ".py")).exists()}


def package_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports; the faces (``__init__``) and generated bindings left out."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "_imports" in path.parts or path.name == "__init__.py":
            continue
        graph[module_name(path)] = imports_of(path)
    return graph


def circles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every strongly connected set of two or more modules (Tarjan), or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                members.append(member)
                if member == node:
                    break
            if len(members) > 1 or node in graph.get(node, ()):
                out.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def concern(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else None


def back_edges(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Imports from a concern to one above it, or between sibling concerns."""
    bad = []
    for module, targets in graph.items():
        here = concern(module)
        for target in targets:
            there = concern(target)
            if here is None or there is None or here == there:
                continue
            if frozenset({here, there}) in SIBLINGS or LAYERS.index(there) > LAYERS.index(here):
                bad.append(f"{module} -> {target}")
    return sorted(bad)


def test_no_import_circle() -> None:
    graph = package_graph()
    assert len(graph) > 40, sorted(graph)  # the walk found the package
    assert circles(graph) == []


def test_imports_run_one_way_between_concerns() -> None:
    assert back_edges(package_graph()) == []


def test_the_checks_find_a_circle_and_a_back_edge() -> None:
    graph = {"p.core.a": {"p.core.b"}, "p.core.b": {"p.server.c"}, "p.server.c": {"p.core.a"}, "p.core.d": set()}
    assert circles(graph) == [["p.core.a", "p.core.b", "p.server.c"]]
    assert back_edges({"redis_constructs.core.a": {"redis_constructs.server.b"}}) == [
        "redis_constructs.core.a -> redis_constructs.server.b"
    ]
    assert back_edges({"redis_constructs.migration.a": {"redis_constructs.monitoring.b"}}) != []
    assert back_edges({"redis_constructs.monitoring.a": {"redis_constructs.server.b"}}) == []


def test_every_module_lives_in_a_concern() -> None:
    at_root = sorted(p.name for p in PACKAGE.glob("*.py"))
    # The face, the command line (cli.py: redis-shared, which lists the concerns' commands; __main__.py), the
    # plan's old entry point, and the table of moved modules.
    assert at_root == ["__init__.py", "__main__.py", "_moved.py", "cli.py", "plan.py"]
    concerns = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")} - {"_imports"}
    assert concerns <= set(LAYERS), sorted(concerns - set(LAYERS))
    assert {"core", "gitops", "credentials", "server", "migration", "monitoring"} <= concerns


@pytest.mark.parametrize(
    "face", ["redis_constructs", *(f"redis_constructs.{c}" for c in LAYERS if (PACKAGE / c / "__init__.py").exists())]
)
def test_every_face_hands_on_what_it_lists(face: str) -> None:
    module = importlib.import_module(face)
    assert module.__all__, face
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__name__ == name, (face, name)
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        module.nothing_here  # noqa: B018


def test_the_site_imports_only_the_package_root() -> None:
    tree = ast.parse((ROOT / "main.py").read_text())
    modules = [
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("redis")
    ]
    modules += [
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if a.name.startswith("redis")
    ]
    assert set(modules) == {"redis_constructs"}


@pytest.mark.parametrize(("old", "new"), sorted((o, n) for o, n in MOVED_MODULES.items() if isinstance(n, str)))
def test_a_moved_module_still_imports_with_a_warning_naming_its_new_path(old: str, new: str) -> None:
    sys.modules.pop(f"redis_constructs.{old}", None)
    with pytest.warns(DeprecationWarning, match=rf"redis_constructs\.{old} moved to redis_constructs\.{new};"):
        module = importlib.import_module(f"redis_constructs.{old}")
    assert module is importlib.import_module(f"redis_constructs.{new}")
