"""The Makefile: `make help` lists the targets, synth and plan install only the venv, and `make plan` names the
command's own exit code (GNU make itself exits 2 whenever a recipe fails)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _make(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    assert make, "make is required"
    return subprocess.run(
        [make, "--no-print-directory", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_help_lists_every_target_with_a_line() -> None:
    run = _make("-s", "help")
    assert run.returncode == 0, run.stderr
    listed = re.findall(r"^  make (\S+) ", run.stdout, re.M)
    for target in ("synth", "test", "docs", "plan", "pytest", "bench", "help"):
        assert target in listed, run.stdout


def test_synth_and_plan_need_only_the_venv(tmp_path: Path) -> None:
    """In a fresh copy (no venvs): what `make -n synth`/`plan` would run installs no checkov and no npm packages."""
    shutil.copy(ROOT / "Makefile", tmp_path)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for target in ("synth", "plan"):
        run = _make("-n", target, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert "pip install --quiet -e '.[dev]'" in run.stdout
        assert "checkov" not in run.stdout and "npm" not in run.stdout, run.stdout
    assert "checkov" in _make("-n", "test", cwd=tmp_path).stdout


def test_make_plan_names_the_commands_exit_code(tmp_path: Path) -> None:
    """A plan that cannot be made: the command exits 2 and make says so (make's own exit is 2 either way)."""
    env = {**os.environ, "BASE": "no-such-ref-anywhere"}
    # -o: never (re)install the venv from a test, even when pyproject.toml is newer than its stamp.
    run = _make("-s", "-o", ".venv/.installed", "plan", env=env)
    assert run.returncode == 2
    assert "make plan: redis-shared plan exited 2 (no plan could be made)" in run.stderr
    assert "error: unknown git ref 'no-such-ref-anywhere'" in run.stderr
