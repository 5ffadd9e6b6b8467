"""``redis-shared``: the package's one command line (console script; ``python -m redis_constructs`` runs the same).

A concern contributes commands with one function in its own module::

    def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        parser = subparsers.add_parser("name", help="one line", allow_abbrev=False)
        parser.add_argument(...)
        parser.set_defaults(handler=run)  # run(args: argparse.Namespace) -> int, heavy imports inside it

and is listed once in :data:`COMMAND_MODULES`. ``--help`` and ``--version`` run no handler (no cdk8s, no Node).
Exit codes, the same for every command, kept by ``python -m``:

- 0: done (``plan``: the cluster accepts every change in place);
- 1: a check or ``plan`` found a problem (``plan``: a change the API server refuses in place);
- 2: bad input, nothing done (a bad prop or argument, a tree that does not synthesize, an unknown git ref, a
  refused seal), with one ``error: ...`` line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib import metadata

from .core.errors import PropError

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2

PROG = "redis-shared"
DISTRIBUTION = "redis-shared"

#: Modules with a ``register(subparsers)`` function, in the order ``--help`` lists their commands.
COMMAND_MODULES: tuple[str, ...] = (
    "redis_constructs.gitops.synth_cli",  # synth
    "redis_constructs.gitops.plan",  # plan
    "redis_constructs.credentials.cli",  # seal, gen-password, seal-tenant, rotate-tenant, migrate-client-secret
    "redis_constructs.checks.cli",  # check (from a LAN host)
)

EPILOG = (
    "exit codes: 0 done; 1 a check or plan found a problem (plan: a change the API server refuses in place); "
    "2 bad input, nothing done (one 'error:' line on stderr). Docs: docs/cli.md"
)


def version() -> str:
    """The installed distribution's version (the wheel's metadata), or ``unknown`` when run from a bare tree."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """The parser: each module in ``modules`` adds its commands through its ``register(subparsers)``."""
    # allow_abbrev=False everywhere: `--password SECRET` must never be taken for `--password-file SECRET`.
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A shared, highly available Redis for K3s, rendered with cdk8s.",
        epilog=EPILOG,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for name in modules:
        importlib.import_module(name).register(subparsers)
    for sub in subparsers.choices.values():
        sub.epilog = sub.epilog or EPILOG
    return parser


def main(argv: Sequence[str] | None = None, modules: Sequence[str] = COMMAND_MODULES) -> int:
    """Run one command; return its exit code (argparse's own usage errors exit 2, as ours do)."""
    tokens = list(sys.argv[1:] if argv is None else argv)
    if any(t == "--password" or t.startswith("--password=") for t in tokens):
        # Before argparse, which would echo the next token (the password) as an invalid choice.
        print(
            "error: --password: got an option; expected the password from --password-file, stdin or the prompt, "
            "never an argument (it would stay in shell history and ps)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    parser = build_parser(modules)
    arguments, unknown = parser.parse_known_args(tokens)
    if unknown:
        # argparse would echo every unknown token; a mistyped `--password SECRET` must not print the secret.
        options = [token.split("=", 1)[0] for token in unknown if token.startswith("-")]
        parser.error(
            f"unrecognized arguments: {' '.join(options) or '-'} (+{len(unknown) - len(options)} values, not shown)"
        )
    try:
        code: int = arguments.handler(arguments)
    except PropError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    sys.exit(main())
