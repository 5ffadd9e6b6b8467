"""Test modules don't import each other: what two of them share lives in conftest.py or a support module.

A test module imported by another runs its module-level code twice and drags its fixtures along; a support
module (tests/support/redis_pods.py, tests/support/binding_world.py, ...) is the one home for a shared helper.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_test_modules(source: str) -> list[str]:
    """Every test module (``test_*``, also as ``tests.test_*`` or ``from . import test_*``) that ``source`` imports."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] if module else []
            if node.level or module in ("", "tests"):
                names += [f"{module}.{alias.name}" if module else alias.name for alias in node.names]
        else:
            continue
        found += [n for n in names if any(part.startswith("test_") for part in n.split("."))]
    return found


def test_no_test_module_imports_another() -> None:
    modules = sorted(TESTS.rglob("test_*.py"))
    assert len(modules) > 10, modules  # the glob found the suite
    offenders = {m.name: imported for m in modules if (imported := imported_test_modules(m.read_text()))}
    assert offenders == {}, f"move the shared pieces into conftest.py or a support module: {offenders}"


def test_the_check_finds_every_spelling_of_such_an_import() -> None:
    source = """
import test_a
import tests.test_b as b
from test_c import X
from tests.test_d import Y
from tests import test_e
from . import test_f
from .test_g import Z
def later() -> None:
    import test_h
"""
    assert imported_test_modules(source) == [
        "test_a",
        "tests.test_b",
        "test_c",
        "tests.test_d",
        "tests.test_e",
        "test_f",
        "test_g",
        "test_g.Z",
        "test_h",
    ]
    allowed = "import redis_pods\nfrom binding_world import World\nfrom conftest import ROOT\nimport pytest\n"
    assert imported_test_modules(allowed) == []
