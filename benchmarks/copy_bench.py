"""Data-copy throughput and the downtime it adds: the rendered copy Job between beersystem's old Redis and redis-shared.

Runs, as local processes (tests/support/podrunner), the site's CUTOVER render: the redis-shared primary (no replica: on
this 2-core machine it would compete for CPU, which it does not on the cluster), the old Redis pod from
apps/beersystem/redis.yaml and the copy Job's pod, with redis-shared's memory limit raised to 4 GiB so that
1 GB fits under its maxmemory. Two data sets, each into an empty redis-shared:

1. 100,000 keys of every kind (tests/support/copy_data.py: strings, hashes, lists, sets, sorted sets, streams with
   consumer groups, HyperLogLogs, every tenth with a TTL; ~5 MB of DUMP payloads);
2. 1,000,000 small strings (the most keys redis-shared's maxmemory holds is a few million of these);
3. 1 GiB in 1,024 random 1 MiB strings.

For each: the Job's wall time (pod start to exit: what it adds to the downtime), keys/s and MB/s over it, the copy
program's peak memory (its container's cgroup ``memory.max_usage_in_bytes``: the pods run with their rendered
memory limits, CPU unlimited as before), and as a baseline in the same run the server-side ``MIGRATE ... COPY`` of
the same keys, 500 a call, the key list known beforehand (no SCAN, no conflict check, no verification; run on the
bench's own test servers with a test password), and the ratio. Prints a table; exits non-zero only if the harness
fails, never on a figure.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT))

from copy_data import copy_world, cutover_secrets, keyspace, load, odd_commands  # noqa: E402
from podrunner import Cluster  # noqa: E402
from redis_pods import tls_secrets  # noqa: E402

import main  # noqa: E402
from redis_constructs.gitops.synth import chart_objects  # noqa: E402
from redis_constructs.migration.binding import MigrationPhase  # noqa: E402
from redis_constructs.migration.copy_program import Command, Connection, scan  # noqa: E402
from redis_constructs.server.props import Resources  # noqa: E402

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
OLD_PW = "bench-Old_0123456789abc"
SYSTEM = {key: f"bench-{key}-0123456789" for key in main.SYSTEM_KEYS}
SECRETS = cutover_secrets(OLD_PW, "bench-Client_0123456789", SYSTEM)
PRIMARY, OLD = "redis-shared-master-0", "beersystem-redis-0"
MIB = 1 << 20
Obj = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Result:
    name: str
    keys: int
    bytes: int
    job_seconds: float
    peak_bytes: int
    migrate_seconds: float


def admin(cluster: Cluster) -> Connection:
    c = Connection(cluster.pod(PRIMARY).ip, 6379)
    c.call("AUTH", "admin", SYSTEM["admin-password"])
    return c


def old(cluster: Cluster) -> Connection:
    c = Connection(cluster.pod(OLD).ip, 6379)
    c.call("AUTH", OLD_PW)
    return c


def flush(cluster: Cluster) -> None:
    for conn in (admin(cluster), old(cluster)):
        conn.call("FLUSHALL")
        conn.close()


def migrate_baseline(cluster: Cluster) -> float:
    """Server-side MIGRATE COPY of every key of the old Redis into the empty redis-shared, 500 keys a call."""
    conn = old(cluster)
    keys = scan(conn)
    start = time.monotonic()
    for i in range(0, len(keys), 500):
        cmd: Command = [
            "MIGRATE",
            cluster.pod(PRIMARY).ip,
            6379,
            "",
            0,
            60_000,
            "COPY",
            "AUTH2",
            "admin",  # MIGRATE SELECTs on the target, which the migration user may not
            SYSTEM["admin-password"],
            "KEYS",
            *keys[i : i + 500],
        ]
        reply = conn.call(*cmd)
        assert reply in (b"OK", b"NOKEY"), reply
    seconds = time.monotonic() - start
    conn.close()
    return seconds


def run_copy(cluster: Cluster, name: str, commands: list[Command]) -> Result:
    flush(cluster)
    conn = old(cluster)
    load(conn, commands, batch=200)
    conn.close()
    pod = cluster.pod("copy-0")
    start = time.monotonic()
    pod.start()
    code = pod.wait_exit(3600)
    job_seconds = time.monotonic() - start
    log = pod.logs()
    assert code == 0, log
    copied = re.search(r"copied (\d+) keys \((\d+) bytes\) in ([\d.]+)s", log)
    verified = re.search(r"verified: keys=(\d+) .* seconds=([\d.]+) differences=0", log)
    assert copied and verified, log
    peak = pod.memory_stats("copy").max_usage_bytes
    # Baseline: the same keys, server-side, into an empty redis-shared.
    shared = admin(cluster)
    shared.call("FLUSHALL")
    shared.close()
    migrate_seconds = migrate_baseline(cluster)
    return Result(
        name=name,
        keys=int(verified.group(1)),
        bytes=int(copied.group(2)),
        job_seconds=job_seconds,
        peak_bytes=peak,
        migrate_seconds=migrate_seconds,
    )


def small_strings(n: int) -> list[Command]:
    """``n`` small strings in MSETs of 1,000 (what a session store holds, loaded in a few seconds)."""
    return [
        ["MSET", *(x for i in range(start, min(start + 1000, n)) for x in (b"beer:s:%d" % i, b"v%05d" % (i % 100_000)))]
        for start in range(0, n, 1000)
    ]


def without_cpu_limits(obj: Obj) -> Obj:
    """The object with its containers' CPU limits removed: the pod runner's cgroups then hold memory only."""
    obj = copy.deepcopy(obj)
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    for c in [*spec.get("containers", []), *spec.get("initContainers", [])]:
        c.get("resources", {}).get("limits", {}).pop("cpu", None)
    return obj


def one_gib() -> list[Command]:
    return [["SET", b"blob:%d" % n, os.urandom(MIB)] for n in range(1024)]


def main_() -> int:
    props = dataclasses.replace(main.REDIS, resources=Resources(memory_limit="4Gi"))
    charts = chart_objects(main.build_app(props, phase=MigrationPhase.CUTOVER, cutover_time=T0, now=lambda: T0))
    scaled = chart_objects(main.build_app(props, phase=MigrationPhase.SCALED_DOWN, cutover_time=T0, now=lambda: T0))
    # The old Redis must hold 1 GiB (its own limit is 128Mi): raised; the copy Job keeps its rendered limit.
    objects, _ = copy_world(charts, scaled, old_memory="3Gi")
    objects = [without_cpu_limits(o) for o in objects]
    results: list[Result] = []
    # The site serves TLS too: cert-manager's Secret, issued here by a throwaway CA.
    secrets = SECRETS | tls_secrets(charts["redis-shared"])
    with (
        tempfile.TemporaryDirectory(prefix="copy-bench-") as tmp,
        Cluster(objects, Path(tmp), secrets=secrets, cgroup_limits=True) as c,
    ):
        c.start([PRIMARY, OLD], wait_ready=True, timeout=120)
        results.append(run_copy(c, "100k keys, every kind", [*keyspace(100_000), *odd_commands()]))
        results.append(run_copy(c, "1M small strings", small_strings(1_000_000)))
        results.append(run_copy(c, "1 GiB, 1024 x 1 MiB", one_gib()))
    print("copy Job (rendered, python3 on the host) between the old Redis pod and the redis-shared primary")
    print(
        f"{'data':24} {'keys':>8} {'MB':>8} {'job s':>7} {'keys/s':>9} {'MB/s':>7} {'peak MiB':>8} "
        f"{'migrate s':>9} {'ratio':>6}"
    )
    for r in results:
        mb = r.bytes / 1e6
        print(
            f"{r.name:24} {r.keys:8d} {mb:8.1f} {r.job_seconds:7.2f} {r.keys / r.job_seconds:9.0f} "
            f"{mb / r.job_seconds:7.1f} {r.peak_bytes / MIB:8.1f} {r.migrate_seconds:9.2f} "
            f"{r.job_seconds / r.migrate_seconds:6.2f}x"
        )
    print(
        "job s = pod start to exit (scan, conflict check, copy, verify, marker): the downtime the copy adds;"
        " keys/s and MB/s over job s; peak = the copy container's cgroup max usage; migrate s = server-side"
        " MIGRATE COPY of the same keys, key list known (no checks, baseline); ratio = job s / migrate s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main_())
