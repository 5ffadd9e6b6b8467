"""``redis-shared check``: the LAN checks from a host on the LAN (SC-003, SC-008) or outside it (SC-004).

It runs :mod:`redis_constructs.checks.check_program`'s ``lan`` mode: a TLS handshake verified against ``--ca`` for
``--tls-name`` (default ``--host``), AUTH, ``NOAUTH``/``WRONGPASS`` for a connection without or with a wrong password,
and the p95 of ``--rounds`` PING round trips at most ``--max-p95-ms``; with ``--expect-refused``, only that the port
gives no answer. The password is read from ``--password-file``, never from the command line. Exit codes: 0 every
check passed, 1 one failed, 2 bad input. docs/checks.md, "From a LAN host".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

DESCRIPTION = (__doc__ or "").split("\n\n")[0]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check`` to a command line's ``subparsers``; its handler runs the LAN checks."""
    from .check_program import add_lan_arguments

    # No abbreviations: ``--password secret`` must be refused, not read as ``--password-file secret``.
    p = subparsers.add_parser(
        "check", help="check redis-shared from a LAN host", description=DESCRIPTION, allow_abbrev=False
    )
    add_lan_arguments(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the LAN checks; one line per check on stdout."""
    from . import check_program as cp

    problem = cp.lan_usage_error(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    report = cp.Report(sys.stdout)
    try:
        cp.run_lan(args, report)
    except OSError as e:  # the password or CA file
        print(f"error: {e}", file=sys.stderr)
        return 2
    return report.finish()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m redis_constructs.checks check ...`` until the package's one command line takes ``check``."""
    parser = argparse.ArgumentParser(prog="redis-shared")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    handler = args.handler
    return int(handler(args))
