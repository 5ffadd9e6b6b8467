"""One error shape for every bad prop: ``"<prop>: got <value!r>; expected <rule>"``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar


class PropError(ValueError):
    """A prop (or input field) has a value the library cannot render.

    The message always reads ``"<prop>: got <value!r>; expected <rule>"``, optionally followed by
    ``"; did you mean <fix>?"``, so callers and tests can rely on one shape. Raised from a construct, it also
    names the construct's path (``" (construct redis-shared/Redis)"``): ``path`` then holds it.
    """

    def __init__(
        self, prop: str, value: Any, expected: str, *, fix: str | None = None, path: str | None = None
    ) -> None:
        self.prop = prop
        self.value = value
        self.expected = expected
        self.fix = fix
        self.path = path
        message = f"{prop}: got {value!r}; expected {expected}"
        if fix is not None:
            message += f"; did you mean {fix}?"
        if path:
            message += f" (construct {path})"
        super().__init__(message)

    def at(self, path: str) -> PropError:
        """The same error, naming the construct at ``path`` (the innermost construct's path is kept)."""
        if self.path:
            return self
        return PropError(self.prop, self.value, self.expected, fix=self.fix, path=path)


class _HasPath(Protocol):
    @property
    def path(self) -> str: ...


class _Node(Protocol):
    @property
    def node(self) -> _HasPath: ...


P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=_Node)


def names_construct(init: Callable[Concatenate[C, Any, str, P], R]) -> Callable[Concatenate[C, Any, str, P], R]:
    """Decorate a construct's ``__init__(self, scope, id, ...)``: a PropError it raises names the construct path."""

    @functools.wraps(init)
    def wrapper(self: C, scope: Any, id: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return init(self, scope, id, *args, **kwargs)
        except PropError as e:
            parent = getattr(getattr(scope, "node", None), "path", "")
            raise e.at(f"{parent}/{id}" if parent else str(id)) from None

    return wrapper


def names_construct_in(method: Callable[Concatenate[C, P], R]) -> Callable[Concatenate[C, P], R]:
    """Decorate a construct's ``add_*`` method: a PropError it raises names the construct path."""

    @functools.wraps(method)
    def wrapper(self: C, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except PropError as e:
            raise e.at(self.node.path) from None

    return wrapper
