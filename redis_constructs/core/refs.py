"""References to objects a construct does not own: one key of a Secret."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class SecretKeyRef:
    """One key of a Secret in the Redis namespace."""

    name: str
    key: str
