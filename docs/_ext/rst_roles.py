"""Griffe extension for the docs build: the package's reST-flavoured docstrings read as Markdown.

The library writes docstrings for readers of the source: ``#:`` comments on fields (griffe-sphinx, listed
before this extension, turns them into docstrings) and Sphinx roles (``:class:`X```, ``:data:`X```,
``:meth:`X```…) with reST literals (````x````). mkdocstrings renders docstrings as Markdown, where a role would
show as ``:class: X``. This turns each role into inline code (``~a.b.C`` shows ``C``, as in Sphinx), reST
literals into Markdown code, and a field's ``Default:`` sentence into a paragraph of its own. It links nothing,
so a renamed class can never break ``mkdocs build --strict`` through a docstring: the reference pages' ``:::``
lines are the references the strict build checks.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLE = re.compile(r":(?:py:)?(?:class|data|meth|func|attr|mod|obj|exc|const):`(~?)\.?([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)
#: "Default:" starting a sentence (after a full stop or a line break), not inside a word or code.
_DEFAULT = re.compile(r"(^|(?<=[.;:)])\s+|\n)Default:\s*")


def markdown(text: str) -> str:
    """``text`` with Sphinx roles and reST literals as Markdown inline code, ``Default:`` on its own paragraph."""
    text = _ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text)
    text = _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)
    return _DEFAULT.sub(lambda m: ("" if m.start() == 0 else "\n\n") + "**Default:** ", text, count=1)


class RstRoles(Extension):
    """Rewrite every docstring griffe loaded (module, class, function, attribute) once, after loading."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
