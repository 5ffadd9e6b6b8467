"""One error shape for every bad prop: ``"<prop>: got <value!r>; expected <rule>"``."""

from __future__ import annotations

from typing import Any


class PropError(ValueError):
    """A prop (or input field) has a value the library cannot render.

    The message always reads ``"<prop>: got <value!r>; expected <rule>"``, optionally followed by
    ``"; did you mean <fix>?"``, so callers and tests can rely on one shape.
    """

    def __init__(self, prop: str, value: Any, expected: str, *, fix: str | None = None) -> None:
        self.prop = prop
        self.value = value
        self.expected = expected
        self.fix = fix
        message = f"{prop}: got {value!r}; expected {expected}"
        if fix is not None:
            message += f"; did you mean {fix}?"
        super().__init__(message)
