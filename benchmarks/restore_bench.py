"""Restore benchmark (issue #21): the rendered restore Job against the copy program's own figures, same data.

Runs, as local processes (tests/support/podrunner), the site's redis-shared chart with one ``RedisRestore`` of
everything (``match=("*",)``): the primary only (no replica: on this 2-core machine it would compete for CPU, which
it does not on the cluster; the backup then takes its snapshot from the primary, with its warning). The data set is
backup_bench's: 1M small keys (``SET k:NNNNNNN`` of 100 B). Then:

1. the rendered backup CronJob's Job stores a verified snapshot on the backup volume;
2. redis-shared is emptied (FLUSHALL as admin) and the rendered restore Job runs: its ``snapshot-server`` checks the
   sha256 and loads the RDB into a throwaway redis-server, then its ``copy`` container runs the copy program in
   restore mode into redis-shared (TLS off inside the cluster, as the site renders it: plaintext 6379) and verifies
   every key. Timed from pod start to exit (what a restore takes), with the phases the programs log;
3. the copy program alone, with the Job's own argv and interpreter, between two plain redis-servers on the host's
   loopback: one loaded from the same snapshot file, one emptied before each run (no pod, no ACL, no AOF, no load).

Steps 2 and 3 alternate ``--runs`` times (default 2), so a busy minute on a shared machine hits both.

Prints seconds, keys/s and MB/s (MB: the snapshot's RDB size, as backup_bench counts it; the DUMP payloads the copy
program moved are printed beside it) and the ratios: the Job against its own copy program (what the pod, the
sha256 check and the load add) and against the copy program alone. Figures, not assertions: exits non-zero only if
the harness fails.
Run: python -m benchmarks.restore_bench [--keys N] [--runs N]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT))

from podrunner import Cluster  # noqa: E402
from redis_pods import ADMIN_PW, ADMIN_USER, PASSWORDS_BY_FILE, PRIMARY, aof_settled, out_of_band_secrets  # noqa: E402

import main  # noqa: E402
from redis_constructs.backup import RedisBackup, RedisRestore, RedisRestoreProps  # noqa: E402
from redis_constructs.gitops.synth import chart_objects  # noqa: E402
from redis_constructs.migration.copy_program import Command, Connection  # noqa: E402
from redis_constructs.migration.data_copy import PROGRAM_FILE  # noqa: E402
from redis_constructs.server.redis_shared import RedisShared  # noqa: E402

Obj = dict[str, Any]
#: The pod runner's PATH (tests/support/podrunner/runner.py): ``python3`` resolves as in the Job's copy container.
POD_PATH = "/usr/local/bin:/usr/bin:/bin"
NS = "redis"
STAMP = "20261206T031700Z"
SNAPSHOT = f"redis-{STAMP}"


@dataclasses.dataclass(frozen=True)
class CopyFigures:
    """What the copy program logs: keys scanned, keys and payload bytes copied, seconds to the end of the copy and
    to the end of its verification (its whole run). ``None`` where its log has no such line."""

    keys: int | None
    copied: int | None
    payload_bytes: int | None
    copy_seconds: float | None
    total_seconds: float | None


def copy_figures(log: str) -> CopyFigures:
    """The copy program's own figures from its log (copy_program.run's lines; a line it no longer prints reads as
    ``None``, never as a failure: the program is rewritten independently of this benchmark)."""
    scanned = re.search(r"source \S+: (\d+) keys", log)
    copied = re.search(r"copied (\d+) keys \((\d+) bytes\) in ([\d.]+)s", log)
    verified = re.search(r"verified: .*\bseconds=([\d.]+)", log)
    return CopyFigures(
        keys=int(scanned.group(1)) if scanned else None,
        copied=int(copied.group(1)) if copied else None,
        payload_bytes=int(copied.group(2)) if copied else None,
        copy_seconds=float(copied.group(3)) if copied else None,
        total_seconds=float(verified.group(1)) if verified else None,
    )


def site_with_restore() -> tuple[list[Obj], str, str]:
    """The site's redis-shared chart plus a full restore of SNAPSHOT: its objects, the Job's and the program's
    ConfigMap's names."""
    app = main.build_app()
    chart = next(c for c in app.charts if c.node.id == "redis-shared")
    shared = chart.node.find_child("Redis")
    backup = chart.node.find_child("Backup")
    assert isinstance(shared, RedisShared) and isinstance(backup, RedisBackup)
    restore = RedisRestore(chart, "RestoreBench", RedisRestoreProps(redis=shared, backup=backup, snapshot=SNAPSHOT))
    return chart_objects(app)["redis-shared"], restore.job_name, restore.program_config_map_name


def find(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    return next(o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def admin(cluster: Cluster) -> Connection:
    conn = Connection(cluster.pod(PRIMARY).ip, 6379)
    conn.call("AUTH", ADMIN_USER, ADMIN_PW)
    return conn


def fill(conn: Connection, keys: int) -> None:
    """backup_bench's 1M data set: ``SET k:NNNNNNN`` with 100-byte values, pipelined."""
    value = b"v" * 100
    for start in range(0, keys, 10_000):
        batch: list[Command] = [["SET", b"k:%07d" % i, value] for i in range(start, min(start + 10_000, keys))]
        replies = conn.pipeline(batch)
        assert all(r == b"OK" for r in replies), replies[:3]


def wait(what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PlainPair:
    """Two plain redis-servers on the host's loopback: ``source`` loaded from a snapshot file (as the Job's
    snapshot-server loads it), ``target`` empty with a password (the copy program needs a target password file)."""

    PASSWORD = "bench-target-password"

    def __init__(self, rdb: Path, work: Path) -> None:
        self.work = work
        (work / "source").mkdir(parents=True)
        (work / "target").mkdir()
        shutil.copy(rdb, work / "source" / "dump.rdb")
        (work / "target-password").write_text(self.PASSWORD)
        self.source_port, self.target_port = free_port(), free_port()
        self.servers = [
            self._server("source", self.source_port),
            self._server("target", self.target_port, "--requirepass", self.PASSWORD),
        ]

    def _server(self, name: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
        directory = self.work / name
        proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory), "--save", "",
             "--appendonly", "no", "--logfile", str(directory / "redis.log"), *extra],
        )  # fmt: skip
        deadline = time.monotonic() + 600
        while True:
            probe = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True)
            if "PONG" in probe.stdout or "NOAUTH" in probe.stdout + probe.stderr:
                return proc
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server {name} did not start: {(directory / 'redis.log').read_text()[-500:]}")
            time.sleep(0.1)

    def copy(self, job: Obj, program: str) -> tuple[float, str]:
        """The restore Job's copy command with this pair's addresses, into the emptied target: (seconds, log).

        Run with the pod runner's PATH, so ``python3`` is the interpreter the Job's copy container gets here."""
        target = Connection("127.0.0.1", self.target_port)
        target.call("AUTH", self.PASSWORD)
        target.call("FLUSHALL")
        target.close()
        (self.work / PROGRAM_FILE).write_text(program)
        (container,) = job["spec"]["template"]["spec"]["containers"]
        argv = list(container["command"])
        argv[1] = str(self.work / PROGRAM_FILE)
        i = argv.index("--target-user")
        del argv[i : i + 2]  # the plain target's default user: AUTH with the password alone
        for flag, value in {
            "--source-port": str(self.source_port),
            "--target-host": "127.0.0.1",
            "--target-port": str(self.target_port),
            "--target-password-file": str(self.work / "target-password"),
        }.items():
            argv[argv.index(flag) + 1] = value
        start = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600, env={"PATH": POD_PATH})
        seconds = time.monotonic() - start
        if proc.returncode:
            raise RuntimeError(f"the copy program alone exited {proc.returncode}: {proc.stdout}{proc.stderr}")
        return seconds, proc.stdout

    def close(self) -> None:
        for s in self.servers:
            s.terminate()
            s.wait(60)


@dataclasses.dataclass
class Runs:
    """Wall seconds of each run of one thing, and the copy program's own figures of each."""

    seconds: list[float] = dataclasses.field(default_factory=list)
    figures: list[CopyFigures] = dataclasses.field(default_factory=list)

    def row(self, label: str, mb: float, pick: str = "wall") -> str:
        """``label``, best and worst seconds, keys/s and MB/s at the best run (``pick``: the wall time, or the copy
        program's own ``total`` or ``copy`` seconds)."""
        if pick == "wall":
            values = self.seconds
        else:
            own = [f.total_seconds if pick == "total" else f.copy_seconds for f in self.figures]
            if any(v is None for v in own):
                return f"{label:46} {'n/a (not in its log)':>17}"
            values = [v for v in own if v is not None]
        best = min(values)
        keys = next((f.copied if f.copied is not None else f.keys for f in self.figures), None)
        rate = f"{keys / best:9.0f}" if keys else f"{'n/a':>9}"
        runs = ", ".join(f"{v:.1f}" for v in values)
        return f"{label:46} {best:8.1f} {max(values):8.1f} {rate} {mb / best:7.1f}   ({runs})"


def restore_job(c: Cluster, job: Obj) -> tuple[float, CopyFigures, str]:
    """Empty redis-shared, then run the rendered restore Job: (pod start to exit, its copy program's figures, the
    snapshot-server's load time as redis-server logs it)."""
    conn = admin(c)
    conn.call("FLUSHALL")  # the marker too: the Job would otherwise find it and exit at once
    conn.close()
    wait("the AOF rewrite to settle", lambda: aof_settled(c.pod(PRIMARY)), 600)
    start = time.monotonic()
    pod, codes = c.run_job(job, timeout=3600)
    seconds = time.monotonic() - start
    log = pod.logs("copy")
    if codes.get("copy") != 0:
        raise RuntimeError(f"restore Job: {codes}\n{log}\n{pod.logs('snapshot-server')}")
    loaded = re.search(r"DB loaded from disk: ([\d.]+) seconds", pod.logs("snapshot-server"))
    print("   restore Job: " + "\n   restore Job: ".join(log.strip().splitlines()), flush=True)
    return seconds, copy_figures(log), loaded.group(1) if loaded else "n/a"


def main_() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=2, help="interleaved runs of the Job and of the copy alone")
    a = ap.parse_args()
    objects, job_name, program_cm = site_with_restore()
    job = find(objects, "Job", job_name)
    program = find(objects, "ConfigMap", program_cm)["data"][PROGRAM_FILE]
    cron = copy.deepcopy(find(objects, "CronJob", "redis-shared-backup"))
    snapshot = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    snapshot["env"].append({"name": "BACKUP_NOW", "value": STAMP})
    secrets = out_of_band_secrets(objects, PASSWORDS_BY_FILE)
    load_before = os.getloadavg()[0]
    in_job, alone, loads = Runs(), Runs(), []
    with tempfile.TemporaryDirectory(prefix="restore-bench-") as tmp:
        base = Path(tmp)
        (base / "cluster").mkdir()
        with Cluster(objects, base / "cluster", secrets=secrets) as c:
            c.start([PRIMARY], wait_ready=True, timeout=120)
            conn = admin(c)
            t = time.monotonic()
            fill(conn, a.keys)
            conn.close()
            print(f"filled {a.keys} keys in {time.monotonic() - t:.1f}s", flush=True)
            wait("the AOF rewrite to settle", lambda: aof_settled(c.pod(PRIMARY)), 600)
            t = time.monotonic()
            pod, codes = c.run_job(cron, timeout=1800)
            if codes != {"snapshot": 0}:
                raise RuntimeError(f"backup Job: {codes}\n{pod.logs('snapshot')}")
            rdb = c.claim_path(NS, "redis-shared-backup") / f"{SNAPSHOT}.rdb"
            rdb_mb = rdb.stat().st_size / 1e6
            print(f"backup Job: {time.monotonic() - t:.1f}s, RDB {rdb_mb:.1f} MB (from the primary)", flush=True)
            plain = PlainPair(rdb, base / "alone")
            try:
                for _ in range(a.runs):  # interleaved: neither pays for the other's warm-up or a busy minute
                    seconds, figures, loaded = restore_job(c, job)
                    in_job.seconds.append(seconds)
                    in_job.figures.append(figures)
                    loads.append(loaded)
                    seconds, log = plain.copy(job, program)
                    alone.seconds.append(seconds)
                    alone.figures.append(copy_figures(log))
                    print(
                        f"   run: restore Job {in_job.seconds[-1]:.1f}s, copy program alone {seconds:.1f}s", flush=True
                    )
                conn = admin(c)
                restored = conn.call("DBSIZE")
                conn.close()
            finally:
                plain.close()

    payload = next((f.payload_bytes for f in in_job.figures if f.payload_bytes is not None), 0)
    print(
        f"\nrestore of {a.keys} keys: RDB {rdb_mb:.1f} MB ({payload / 1e6:.1f} MB of DUMP payloads); redis-shared"
        f" holds {restored!r} keys after it (with the marker); load average {load_before:.1f} at the start,"
        f" {os.getloadavg()[0]:.1f} at the end; {a.runs} interleaved run(s)"
    )
    print(f"{'':46} {'best s':>8} {'worst s':>8} {'keys/s':>9} {'MB/s':>7}   (runs)")
    print(in_job.row("restore Job (pod start to exit)", rdb_mb))
    print(in_job.row("  its copy program (scan, check, copy, verify)", rdb_mb, "total"))
    print(alone.row("copy program alone, plain servers (wall)", rdb_mb))
    print(alone.row("  as it logs itself", rdb_mb, "total"))
    print(f"snapshot-server: sha256sum -c, then redis-server loaded the RDB in {', '.join(loads)} s")
    own = [f.total_seconds for f in in_job.figures]
    if all(v is not None for v in own):
        best_own = min(v for v in own if v is not None)
        print(
            f"ratios (best / best): restore Job / its copy program {min(in_job.seconds) / best_own:.2f}x"
            f" (the pod, sha256, load and startup probe add {min(in_job.seconds) - best_own:.1f}s);"
            f" restore Job / copy program alone {min(in_job.seconds) / min(alone.seconds):.2f}x"
        )
    else:
        print(f"ratio (best / best): restore Job / copy program alone {min(in_job.seconds) / min(alone.seconds):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main_())
