"""The runtime tests in several pytest processes side by side (``make test``): each process takes whole test modules,
one at a time, from one list, so every module runs once, in one process, with its module fixtures (one Cluster).

A process joins with ``RUNTIME_SHARE=<dir>`` (the same empty dir for all of them; ``make`` makes it) and a
``PODRUNNER_SLOT`` of its own (tests/support/podrunner/host.py: the slots' Clusters run side by side). It claims a
module by creating a file named after it in that dir (``O_EXCL``: one process wins), in one order all of them
compute alike: the modules marked ``host_exclusive`` first (they have the host to themselves, so they run while
the others are still starting), then collection order. What another process claimed is reported as deselected
here, and the terminal summary names the modules this process ran. Without ``RUNTIME_SHARE`` nothing changes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

_RAN = pytest.StashKey[list[str]]()


def _modules(items: list[pytest.Item]) -> list[tuple[str, list[pytest.Item]]]:
    """The items by module (each module's items in collection order), in claim order."""
    by_module: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_module.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    modules = list(by_module.items())
    return sorted(modules, key=lambda m: m[1][0].get_closest_marker("host_exclusive") is None)  # stable


def _claim(share: Path, module: str) -> bool:
    try:
        fd = os.open(share / re.sub(r"[^A-Za-z0-9_.-]", "_", module), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.write(fd, f"{os.getpid()}\n".encode())
    os.close(fd)
    return True


def runtestloop(session: pytest.Session) -> bool | None:
    """pytest's run loop over the modules this process claims; None (pytest's own loop) without RUNTIME_SHARE."""
    share = os.environ.get("RUNTIME_SHARE")
    if not share or session.config.option.collectonly:
        return None
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        return None  # pytest's own loop stops with the collection errors
    modules = _modules(session.items)

    def next_claimed(start: int) -> int | None:
        return next((i for i in range(start, len(modules)) if _claim(Path(share), modules[i][0])), None)

    ran: list[str] = []
    session.config.stash[_RAN] = ran
    current = next_claimed(0)
    while current is not None:
        name, items = modules[current]
        following: int | None = None
        for n, item in enumerate(items):
            if n + 1 < len(items):
                nextitem: pytest.Item | None = items[n + 1]
            else:  # the next module to run decides which module fixtures are torn down now
                following = next_claimed(current + 1)
                nextitem = modules[following][1][0] if following is not None else None
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            if session.shouldfail:
                raise session.Failed(session.shouldfail)
            if session.shouldstop:
                raise session.Interrupted(session.shouldstop)
        ran.append(name)
        current = following
    others = [item for name, items in modules if name not in ran for item in items]
    session.config.hook.pytest_deselected(items=others)
    return True


def summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = terminalreporter.config.stash.get(_RAN, None)
    if ran is not None:
        slot = os.environ.get("PODRUNNER_SLOT", "-")
        terminalreporter.write_line(
            f"runtime share (slot {slot}): this process ran {len(ran)} module(s), the other process(es) the rest "
            f"(shown as deselected): {', '.join(Path(m).stem for m in ran) or '-'}"
        )
