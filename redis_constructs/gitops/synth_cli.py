"""``redis-shared synth``: run the site app (``main.py``), which synthesizes into dist/ (checked first)."""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
from pathlib import Path

from ..core.errors import PropError

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``synth`` to the ``redis-shared`` command line (:mod:`redis_constructs.cli`)."""
    summary = "synthesize the site app into dist/ (checked first; dist/ untouched on error)"
    parser = subparsers.add_parser("synth", help=summary, description=summary, allow_abbrev=False)
    parser.add_argument("--app", default="main.py", help="the site app whose main() synthesizes (default: %(default)s)")
    parser.add_argument(
        "--out", default=None, help="output folder (default: $CDK8S_OUTDIR, else dist next to the app's charts)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load the app file and return its ``main()``'s exit code (2 when it cannot be loaded or a prop is bad)."""
    app_file = Path(args.app)
    spec = importlib.util.spec_from_file_location("_redis_shared_site", app_file)
    if spec is None or spec.loader is None or not app_file.is_file():
        print(f"error: --app: got {str(app_file)!r}; expected the site's app file, e.g. main.py", file=sys.stderr)
        return EXIT_USAGE
    previous = os.environ.get("CDK8S_OUTDIR")
    if args.out is not None:
        os.environ["CDK8S_OUTDIR"] = args.out
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(app_file.resolve().parent))
    try:
        spec.loader.exec_module(module)  # the site's props validate as it loads
        code = int(module.main())
    except PropError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if args.out is not None:  # in-process callers (tests) keep their environment
            if previous is None:
                os.environ.pop("CDK8S_OUTDIR", None)
            else:
                os.environ["CDK8S_OUTDIR"] = previous
    # As main.py does: the process ends now; skip the collector's last walk over jsii's objects.
    gc.freeze()
    return code
