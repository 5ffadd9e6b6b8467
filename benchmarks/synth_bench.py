"""``make synth`` against ``python -c "import cdk8s_plus_28"`` in the same venv, interleaved in the same run.

The target (issue #12): a synth within 1.25x the time of importing cdk8s-plus-28 (which starts jsii's Node
process and loads the assemblies every synth needs). Both run in this process's environment, as a shell would
run them: the synth through ``make synth`` itself (make's prerequisite checks and the environment its recipe
sets included), into a temporary ``CDK8S_OUTDIR``. Also times ``make plan`` (target: under 10 s). Each figure
is the median of ``ROUNDS`` wall-clock runs; prints a table and the ratio, exits non-zero only if a run fails.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("SYNTH_BENCH_ROUNDS", "7"))
TARGET = 1.25
SYNTH = "make synth"
#: Quiet make, as a user runs it (``make bench`` passes its own flags down to it).
MAKE = ["make", "--silent", "--no-print-directory", "-C", str(ROOT)]


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as out:
        env = {**os.environ, "CDK8S_OUTDIR": out}
        cases = {
            "import cdk8s_plus_28": [python, "-c", "import cdk8s_plus_28"],
            SYNTH: [*MAKE, "synth"],
            "make plan": [*MAKE, "plan"],
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for argv in cases.values():  # warm the page cache and write __pycache__ once
            timed(argv, env)
        for _ in range(ROUNDS):
            for name, argv in cases.items():
                times[name].append(timed(argv, env))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    width = max(map(len, medians))
    print(f"{'case':<{width}}  median s  (min-max of {ROUNDS})")
    for name, median in medians.items():
        print(f"{name:<{width}}  {median:8.2f}  ({min(times[name]):.2f}-{max(times[name]):.2f})")
    ratio = medians[SYNTH] / medians["import cdk8s_plus_28"]
    print(f"synth / import: {ratio:.2f}x (target <= {TARGET}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
