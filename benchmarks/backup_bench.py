"""Backup benchmark (issue #21): backup.sh end to end vs `redis-cli --rdb` alone, same servers, same run.

Datasets: 1M small keys (strings, ~100 B) and ~1 GiB (1024 x 1 MiB strings). A primary + replica on loopback
(plaintext; TLS with --tls), repl-diskless-sync-delay as redis-shared renders it (default 5 s) unless --delay.
Prints seconds and MB/s (figures, not assertions): the best and worst of three interleaved runs of each.
Run: python -m benchmarks.backup_bench [--tls] [--delay N] [--only 1m|1g]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import backup_harness as h


def fill_1m(s: h.Server) -> None:
    cmds = b"".join(h.resp("SET", b"k:%07d" % i, b"v" * 100) for i in range(1_000_000))
    env = {**os.environ, "REDISCLI_AUTH": h.PASSWORDS["admin"]}
    subprocess.run(
        ["redis-cli", "--no-auth-warning", "-p", str(s.port), "--user", "admin", "--pipe"],
        input=cmds,
        check=True,
        capture_output=True,
        env=env,
    )


def fill_1g(s: h.Server) -> None:
    blob = os.urandom(1 << 20)
    cmds = b"".join(h.resp("SET", b"big:%04d" % i, blob[i:] + blob[:i]) for i in range(1024))
    env = {**os.environ, "REDISCLI_AUTH": h.PASSWORDS["admin"]}
    subprocess.run(
        ["redis-cli", "--no-auth-warning", "-p", str(s.port), "--user", "admin", "--pipe"],
        input=cmds,
        check=True,
        capture_output=True,
        env=env,
    )


def settle(*servers: h.Server) -> None:
    """Wait until no server has a child (AOF rewrite after the replica's sync): a SYNC would wait for it."""
    while any(
        "rdb_bgsave_in_progress:0" not in s.cli("INFO", "persistence")
        or "aof_rewrite_in_progress:0" not in s.cli("INFO", "persistence")
        for s in servers
    ):
        time.sleep(0.2)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--delay", type=int, default=5)
    ap.add_argument("--only", choices=("1m", "1g"))
    a = ap.parse_args()
    for label, fill in (("1M keys", fill_1m), ("1 GiB", fill_1g)):
        if (a.only == "1m" and label != "1M keys") or (a.only == "1g" and label != "1 GiB"):
            continue
        base = Path(tempfile.mkdtemp(prefix="bench21-"))
        tls = base / "tls"
        tls.mkdir()
        h.make_certs(tls)
        acl = h.acl_file(base)
        (base / "backup-password").write_text(h.PASSWORDS["backup"])
        p = h.Server(base, "primary", tls, acl)
        r = h.Server(base, "replica", tls, acl, replica_of=p.tls_port)
        try:
            for s in (p, r):
                s.cli("CONFIG", "SET", "repl-diskless-sync-delay", str(a.delay))
            fill(p)
            n = h.keyspace(p)
            while h.keyspace(r) != n or "master_link_status:up" not in r.cli("INFO", "replication"):
                time.sleep(0.5)
            port = r.tls_port if a.tls else r.port
            tls_args = ["--tls", "--cacert", str(tls / "ca.crt")] if a.tls else []
            env = {**os.environ, "REDISCLI_AUTH": h.PASSWORDS["backup"]}
            settle(p, r)
            (base / "w").mkdir()
            alone_runs, full_runs = [], []
            for i in range(3):  # interleaved: neither pays for the other's warm-up
                t = time.monotonic()
                subprocess.run(
                    [
                        "redis-cli",
                        "--no-auth-warning",
                        "-p",
                        str(port),
                        "--user",
                        "backup",
                        *tls_args,
                        "--rdb",
                        str(base / f"alone{i}.rdb"),
                    ],
                    check=True,
                    capture_output=True,
                    env=env,
                )
                alone_runs.append(time.monotonic() - t)
                size = (base / f"alone{i}.rdb").stat().st_size
                (base / f"alone{i}.rdb").unlink()
                settle(p, r)
                (base / f"b{i}").mkdir()
                t = time.monotonic()
                res = h.run_backup(
                    {
                        "BACKUP_HOST": "127.0.0.1",
                        "BACKUP_PORT": str(port),
                        "BACKUP_USER": "backup",
                        "BACKUP_PASSWORD_FILE": str(base / "backup-password"),
                        "BACKUP_TLS": "1" if a.tls else "0",
                        "BACKUP_CA_FILE": str(tls / "ca.crt"),
                    },
                    base / f"b{i}",
                    base / "w",
                )
                full_runs.append(time.monotonic() - t)
                if res.returncode:
                    print(res.stdout, res.stderr)
                    return 1
                shutil.rmtree(base / f"b{i}")
                settle(p, r)
            alone, full = min(alone_runs), min(full_runs)
            mb = size / 1e6
            print(
                f"{label}: {n} keys, RDB {mb:.1f} MB, tls={a.tls}, diskless delay {a.delay}s | "
                f"redis-cli --rdb alone {alone:.2f}-{max(alone_runs):.2f}s (runs {', '.join(f'{x:.2f}' for x in alone_runs)})  ({mb / alone:.1f} MB/s) | "
                f"backup.sh {full:.2f}-{max(full_runs):.2f}s (runs {', '.join(f'{x:.2f}' for x in full_runs)})  ({mb / full:.1f} MB/s), overhead {full - alone:.2f}s",
                flush=True,
            )
            print("   " + "\n   ".join(line for line in res.stdout.splitlines() if "backup:" in line))
        finally:
            for s in (p, r):
                s.stop()
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
