"""The preflight check: a missing prerequisite is one line naming what to install, before any test runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import preflight
from conftest import ROOT


def path_without(tmp_path: Path, *left_out: str) -> str:
    """A PATH holding every prerequisite but ``left_out`` (symlinks to the real ones)."""
    for tool in preflight.TOOLS:
        real = shutil.which(tool.command)
        assert real, f"{tool.command} must be installed to run this test"
        if tool.command not in left_out:
            (tmp_path / tool.command).symlink_to(real)
    return str(tmp_path)


def test_nothing_missing_on_this_host() -> None:
    assert preflight.problems(runtime=os.geteuid() == 0) == []


def test_a_missing_tool_is_named_with_its_package(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": path_without(tmp_path, "shellcheck", "promtool")}
    run = subprocess.run(
        [sys.executable, "tests/support/preflight.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        "missing prerequisites: shellcheck (apt-get install shellcheck); promtool (apt-get install prometheus) "
        "(or run `sudo .ci/run` on Debian/Ubuntu: it installs them all, then runs make setup and make test)"
    ]


def test_pytest_stops_before_running_anything(tmp_path: Path) -> None:
    """The session hook: one line and no test run (here a module whose tests would all pass)."""
    env = {**os.environ, "PATH": path_without(tmp_path, "kubectl")}
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/server/test_redis_conf.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 4, run.stdout + run.stderr
    lines = [line for line in (run.stdout + run.stderr).splitlines() if "missing prerequisite" in line]
    assert len(lines) == 1
    assert "kubectl (kubectl (with kustomize)" in lines[0]
    assert " passed" not in run.stdout
    assert elapsed < 30, elapsed  # a bound on "at once", generous for a loaded 2-core host
