"""The docs build's griffe extension turns the package's reST-flavoured docstrings into Markdown."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_EXT = Path(__file__).resolve().parents[3] / "docs" / "_ext" / "rst_roles.py"


def _load() -> Any:
    """The extension as mkdocstrings loads it (by path; it imports griffe, a dev dependency of the docs build)."""
    spec = importlib.util.spec_from_file_location("rst_roles", _EXT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


markdown: Callable[[str], str] = _load().markdown


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "Where clients connect; see :class:`LoadBalancer`.\nDefault: - no LoadBalancer.",
            "Where clients connect; see `LoadBalancer`.\n\n**Default:** - no LoadBalancer.",
        ),
        ('Size of each data PVC. Default: ``"8Gi"``.', 'Size of each data PVC.\n\n**Default:** `"8Gi"`.'),
        ("Default: 1.", "**Default:** 1."),
        ("See :class:`~redis_constructs.server.props.LoadBalancer`.", "See `LoadBalancer`."),
        (
            "See :meth:`.from_replicated` and :data:`images.REDIS_IMAGE`.",
            "See `from_replicated` and `images.REDIS_IMAGE`.",
        ),
        ("No default here: DefaultX.", "No default here: DefaultX."),
    ],
)
def test_markdown(source: str, expected: str) -> None:
    assert markdown(source) == expected
