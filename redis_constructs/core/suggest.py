"""Suggestions computed from what was typed: the nearest valid value, never a fixed one.

A ``PropError``'s ``fix`` ("did you mean ...?") must be a value the user plausibly meant. A fixed suggestion is
wrong advice at the worst moment: during a failover a mistyped ``PRIMARY_POD="redis-shared-replica-0"`` must not
be told to use ``redis-shared-master-0``, the dead pod.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

#: How alike a typed value and a suggestion must be (difflib's ratio): below it nothing is suggested.
CUTOFF = 0.6

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def nearest(value: object, choices: Iterable[str], *, cutoff: float = CUTOFF) -> str | None:
    """The choice closest to ``value`` (case-insensitive), or None when none is close or ``value`` is one."""
    if not isinstance(value, str):
        return None
    options = list(dict.fromkeys(choices))
    if value in options:
        return None
    folded = {option.casefold(): option for option in options}
    match = difflib.get_close_matches(value.casefold(), list(folded), n=1, cutoff=cutoff)
    return folded[match[0]] if match else None


def prometheus_label_name_fix(value: object) -> str | None:
    """``value`` made a valid Prometheus label name (other characters become ``_``), or None if that fails."""
    if not isinstance(value, str) or not value:
        return None
    fixed = re.sub(r"[^a-zA-Z0-9_]", "_", value)
    fixed = f"_{fixed}" if fixed[0].isdigit() else fixed
    return fixed if fixed != value and _LABEL_NAME.fullmatch(fixed) else None
