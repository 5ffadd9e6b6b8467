"""RUNTIME_SHARE (tests/support/runtime_share.py): pytest processes sharing one list of test modules run every test
once, each module whole in one process with its module fixture set up once, modules marked host_exclusive first.

Two real pytest processes on a small generated suite whose tests log what ran where.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SUPPORT = Path(__file__).resolve().parents[1] / "support"
MODULES = ["test_a", "test_b", "test_c", "test_d", "test_e", "test_f"]
CONFTEST = """
import pytest
import runtime_share

def pytest_configure(config):
    config.addinivalue_line("markers", "host_exclusive: first")

@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    return runtime_share.runtestloop(session)

def pytest_terminal_summary(terminalreporter):
    runtime_share.summary(terminalreporter)
"""
MODULE = """
import os, time
import pytest
{mark}
LOG = {log!r}

def write(what):
    with open(LOG, "a") as f:
        f.write(f"{{os.getpid()}} {{__name__}} {{what}}\\n")

@pytest.fixture(scope="module")
def world():
    write("setup")
    yield
    write("teardown")

@pytest.mark.parametrize("n", range(3))
def test_one(world, n):
    write(f"test{{n}}")
    time.sleep(0.1)
"""


def suite(tmp_path: Path) -> tuple[Path, Path]:
    root, log = tmp_path / "suite", tmp_path / "log"
    root.mkdir()
    (root / "conftest.py").write_text(CONFTEST)
    for name in MODULES:
        mark = "pytestmark = pytest.mark.host_exclusive" if name == "test_e" else ""
        (root / f"{name}.py").write_text(MODULE.format(mark=mark, log=str(log)))
    return root, log


def pytest_processes(root: Path, env: dict[str, str], count: int) -> list[subprocess.CompletedProcess[str]]:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(root), str(root)]
    full = {**os.environ, **env, "PYTHONPATH": str(SUPPORT)}
    procs = [
        subprocess.Popen(argv, cwd=root, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(count)
    ]
    return [subprocess.CompletedProcess(argv, p.wait(timeout=120), p.stdout.read() if p.stdout else "") for p in procs]


def ran(log: Path) -> list[tuple[str, str, str]]:
    return [(pid, module, what) for pid, module, what in (line.split() for line in log.read_text().splitlines())]


def test_two_processes_run_every_module_once_and_whole(tmp_path: Path) -> None:
    root, log = suite(tmp_path)
    share = tmp_path / "share"
    share.mkdir()
    runs = pytest_processes(root, {"RUNTIME_SHARE": str(share)}, 2)
    assert [r.returncode for r in runs] == [0, 0], [r.stdout for r in runs]
    lines = ran(log)
    by_module: dict[str, list[tuple[str, str]]] = {}
    for pid, module, what in lines:
        by_module.setdefault(module, []).append((pid, what))
    assert sorted(by_module) == MODULES
    for module, events in by_module.items():
        assert len({pid for pid, _ in events}) == 1, (module, events)  # one process ran the whole module
        assert [w for _, w in events] == ["setup", "test0", "test1", "test2", "teardown"], (module, events)
    # Within each process, a module's fixture is torn down before the next module's is set up.
    for pid in {pid for pid, _, _ in lines}:
        whats = [w for p, _, w in lines if p == pid and w in ("setup", "teardown")]
        assert whats == ["setup", "teardown"] * (len(whats) // 2), whats
    # The host_exclusive module is claimed first: the first module either process started.
    first = {pid: module for pid, module, what in reversed(lines) if what == "setup"}
    assert "test_e" in first.values(), lines
    # Each process reports what it ran; together every test, each once.
    counts = [re.search(r"(\d+) passed(?:, (\d+) deselected)?", r.stdout) for r in runs]
    assert all(counts), [r.stdout for r in runs]
    assert sum(int(c.group(1)) for c in counts if c) == 3 * len(MODULES)
    assert all("runtime share (slot" in r.stdout for r in runs)
    assert sorted(share.iterdir()) == sorted(share / f"{m}.py" for m in MODULES)


def test_without_runtime_share_one_process_runs_everything(tmp_path: Path) -> None:
    root, log = suite(tmp_path)
    (run,) = pytest_processes(root, {"RUNTIME_SHARE": ""}, 1)
    assert run.returncode == 0, run.stdout
    assert "18 passed" in run.stdout and "runtime share" not in run.stdout
    assert {module for _, module, _ in ran(log)} == set(MODULES)
