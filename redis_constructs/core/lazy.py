"""Names a package hands on without importing them until asked (PEP 562 ``__getattr__``).

A package's face (``redis_constructs`` and each sub-package) re-exports its concern's names, but importing it
must not start jsii and Node: the pure parts (``python -m redis_constructs seal``, the renderers, the copy
program) stay fast. Each face keeps a table name -> module and gets its ``__getattr__`` from here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``where[name]`` (relative to it) on first use."""

    def __getattr__(name: str) -> Any:  # noqa: N807 (the module hook PEP 562 names)
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module, package), name)

    return __getattr__
