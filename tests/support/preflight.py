"""What the tests need on the host, checked in a second before anything runs.

``python tests/support/preflight.py`` (``make preflight``, run before pytest) and the session hook in conftest.py print
ONE line naming what to install, instead of failing tests one by one after the whole run.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class Tool:
    """A command the tests run, and how to get it."""

    command: str
    install: str
    #: Only the runtime tests (marker ``runtime``) need it.
    runtime_only: bool = False


TOOLS = (
    Tool(command="shellcheck", install="apt-get install shellcheck"),
    Tool(command="kubectl", install="kubectl (with kustomize) from https://kubernetes.io/docs/tasks/tools/"),
    Tool(command="redis-server", install="apt-get install redis-server"),
    Tool(command="redis-cli", install="apt-get install redis-tools"),
    Tool(command="promtool", install="apt-get install prometheus"),
    Tool(command="prometheus", install="apt-get install prometheus"),
    Tool(command="prometheus-redis-exporter", install="apt-get install prometheus-redis-exporter"),
    Tool(command="ip", install="apt-get install iproute2", runtime_only=True),
    Tool(command="unshare", install="apt-get install util-linux", runtime_only=True),
    Tool(command="nsenter", install="apt-get install util-linux", runtime_only=True),
    Tool(command="setpriv", install="apt-get install util-linux", runtime_only=True),
)


def problems(*, runtime: bool = True) -> list[str]:
    """What is missing, one entry per prerequisite (``runtime``: also what the runtime tests need)."""
    found: list[str] = []
    if runtime and os.geteuid() != 0:
        found.append("root (the runtime tests make network and mount namespaces: run as root, e.g. sudo make test)")
    found += [
        f"{t.command} ({t.install})"
        for t in TOOLS
        if (runtime or not t.runtime_only) and shutil.which(t.command) is None
    ]
    return found


def message(missing: list[str]) -> str:
    """The one line to print."""
    return (
        f"missing prerequisite{'s' if len(missing) > 1 else ''}: {'; '.join(missing)} "
        "(or run `sudo .ci/run` on Debian/Ubuntu: it installs them all, then runs make setup and make test)"
    )


def main() -> int:
    missing = problems()
    if missing:
        print(message(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
