"""Loopback harness for backup.sh (issue #21), real redis-server/redis-cli/redis-check-rdb 7.0.15 with TLS.

Proves, on 127.0.0.1 only:
  1. a primary + replica over TLS replication, ACL users like redis-shared's plus ``backup``
     (``resetchannels -@all +sync +replconf +info``): backup.sh takes the snapshot from the replica over TLS with
     the CA, the password only from a file; no RDB file appears in either server's dir (diskless), the stored
     snapshot passes ``sha256sum -c``, loads with the same DEBUG DIGEST as the primary, 100k+ keys of every type;
  2. replica down: WARNING + fallback to the primary (which also writes nothing to disk); without a fallback: exit 1;
  3. a user without +sync: exit 2 with the NOPERM reply in the log;
  4. a truncated snapshot: (a) the stream breaks mid-transfer -> exit 2; (b) a complete transfer of a truncated
     RDB -> redis-check-rdb rejects it, exit 3, nothing stored;
  5. retention: 40 seeded daily snapshots + a real one -> exactly restic's keep-daily 7 / keep-weekly 4 set kept.

Run: python -m benchmarks.backup_harness  (exit 0 = every check passed). Not a pytest module: the runtime suite
runs the rendered Job through the pod runner (tests/runtime/test_backup_runtime.py); this is the loopback harness
the benchmark (benchmarks/backup_bench.py) builds its servers with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parent / "redis_constructs" / "backup" / "backup.sh"
KEYS = 100_000
PASSWORDS = {"admin": "adm-pw", "replication": "repl-pw", "backup": "bak-pw", "nosync": "nosync-pw"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sh(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload,no-any-return]


def make_certs(d: Path) -> None:
    sh(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        str(d / "ca.key"),
        "-out",
        str(d / "ca.crt"),
    )
    sh(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=redis",
        "-keyout",
        str(d / "tls.key"),
        "-out",
        str(d / "tls.csr"),
    )
    (d / "ext").write_text("subjectAltName=DNS:redis-shared-replica.redis.svc,DNS:localhost,IP:127.0.0.1\n")
    sh(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(d / "tls.csr"),
        "-CA",
        str(d / "ca.crt"),
        "-CAkey",
        str(d / "ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(d / "ext"),
        "-out",
        str(d / "tls.crt"),
    )


def acl_file(d: Path) -> Path:
    def h(pw: str) -> str:
        return "#" + hashlib.sha256(pw.encode()).hexdigest()

    p = d / "users.acl"
    p.write_text(
        f"user default off\n"
        f"user admin on {h(PASSWORDS['admin'])} ~* &* +@all\n"
        f"user replication on {h(PASSWORDS['replication'])} resetchannels -@all +psync +replconf +ping\n"
        f"user backup on {h(PASSWORDS['backup'])} resetchannels -@all +sync +replconf +info %W~redis-shared:backup:* +set\n"
        f"user nosync on {h(PASSWORDS['nosync'])} resetchannels -@all +replconf +info\n"
    )
    return p


class Server:
    def __init__(self, base: Path, name: str, tls_dir: Path, acl: Path, replica_of: int | None = None) -> None:
        self.dir = base / name
        self.dir.mkdir()
        self.port = free_port()
        self.tls_port = free_port()
        conf = [
            f"port {self.port}",
            "bind 127.0.0.1",
            f"tls-port {self.tls_port}",
            f"tls-cert-file {tls_dir / 'tls.crt'}",
            f"tls-key-file {tls_dir / 'tls.key'}",
            f"tls-ca-cert-file {tls_dir / 'ca.crt'}",
            "tls-auth-clients no",
            "tls-replication yes",
            f"dir {self.dir}",
            'save ""',
            "appendonly yes",
            "repl-diskless-sync yes",
            f"aclfile {acl}",
            "enable-debug-command local",
            f"logfile {self.dir / 'redis.log'}",
        ]
        if replica_of is not None:
            conf += [
                f"replicaof 127.0.0.1 {replica_of}",
                "masteruser replication",
                f"masterauth {PASSWORDS['replication']}",
            ]
        (self.dir / "redis.conf").write_text("\n".join(conf) + "\n")
        self.proc = subprocess.Popen(["redis-server", str(self.dir / "redis.conf")])
        self.wait_ping()

    def cli(self, *args: str) -> str:
        env = {**os.environ, "REDISCLI_AUTH": PASSWORDS["admin"]}
        return sh("redis-cli", "--no-auth-warning", "-p", str(self.port), "--user", "admin", *args, env=env).stdout

    def wait_ping(self) -> None:
        for _ in range(100):
            try:
                if self.cli("PING").strip() == "PONG":
                    return
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.dir} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)

    def rdb_files(self) -> list[tuple[str, int]]:
        return sorted((p.name, p.stat().st_mtime_ns) for p in self.dir.rglob("*") if p.is_file() and "rdb" in p.name)


def resp(*args: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else a.encode()
        out += [b"$%d\r\n" % len(b), b, b"\r\n"]
    return b"".join(out)


def fill(primary: Server, n: int) -> None:
    """n keys of every type (string, hash, list, set, zset, stream), a third with TTLs of 1-2 h; binary names."""
    rnd = random.Random(21)
    cmds: list[bytes] = []
    for i in range(n):
        kind = i % 6
        key = b"t%d:k%d:\xff %d" % (i % 3, i, kind)
        if kind == 0:
            cmds.append(resp("SET", key, os.urandom(rnd.randint(1, 200))))
        elif kind == 1:
            cmds.append(resp("HSET", key, "a", str(i), "b", os.urandom(16), "c", "x" * rnd.randint(0, 100)))
        elif kind == 2:
            cmds.append(resp("RPUSH", key, *[str(j) for j in range(rnd.randint(1, 20))]))
        elif kind == 3:
            cmds.append(resp("SADD", key, *[str(rnd.randint(0, 10**6)) for _ in range(rnd.randint(1, 20))]))
        elif kind == 4:
            cmds.append(resp("ZADD", key, *[x for j in range(5) for x in (str(rnd.random()), f"m{j}")]))
        else:
            cmds.append(resp("XADD", key, "*", "f", str(i)))
            if i % 12 == 5:
                cmds.append(resp("XGROUP", "CREATE", key, "g", "0"))
        if i % 3 == 0:
            cmds.append(resp("PEXPIRE", key, str(rnd.randint(3_600_000, 7_200_000))))
    env = {**os.environ, "REDISCLI_AUTH": PASSWORDS["admin"]}
    subprocess.run(
        ["redis-cli", "--no-auth-warning", "-p", str(primary.port), "--user", "admin", "--pipe"],
        input=b"".join(cmds),
        check=True,
        capture_output=True,
        env=env,
    )


def keyspace(s: Server) -> int:
    return sum(
        int(line.split("keys=")[1].split(",")[0])
        for line in s.cli("INFO", "keyspace").splitlines()
        if line.startswith("db")
    )


def run_backup(env_extra: dict[str, str], backup_dir: Path, work: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "BACKUP_DIR": str(backup_dir), "BACKUP_WORK_DIR": str(work), **env_extra}
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, errors="replace", timeout=300)


def expect(ok: bool, what: str, detail: str = "") -> None:
    print(("PASS " if ok else "FAIL ") + what + ("" if ok else "\n" + detail), flush=True)
    if not ok:
        raise SystemExit(1)


def fake_source(rdb: bytes, mode: str) -> int:
    """A one-shot fake server: answers AUTH/INFO/REPLCONF, then SYNC with ``rdb`` (``short``: the advertised
    length is the full file but the connection closes halfway; ``whole``: the truncated bytes, correct length)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = int(srv.getsockname()[1])

    def serve() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            f = c.makefile("rb")
            try:
                while True:
                    line = f.readline()
                    if not line:
                        break
                    if line.startswith(b"*"):
                        args = []
                        for _ in range(int(line[1:])):
                            n = int(f.readline()[1:])
                            args.append(f.read(n + 2)[:-2].upper())
                    else:
                        args = line.strip().upper().split()
                    if args[0] == b"INFO":
                        body = (
                            b"# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n"
                            if b"REPLICATION" in args
                            else b"# Keyspace\r\ndb0:keys=100,expires=0,avg_ttl=0\r\n"
                        )
                        c.sendall(b"$%d\r\n%s\r\n" % (len(body), body))
                    elif args[0] == b"SYNC":
                        half = rdb[: len(rdb) // 2]
                        if mode == "short":
                            c.sendall(b"$%d\r\n" % len(rdb) + half)
                        else:
                            c.sendall(b"$%d\r\n" % len(half) + half)
                        break
                    else:
                        c.sendall(b"+OK\r\n")
            finally:
                f.close()
                c.shutdown(socket.SHUT_RDWR)
                c.close()

    threading.Thread(target=serve, daemon=True).start()
    return port


def expected_retention(stamps: list[str], daily: int, weekly: int) -> set[str]:
    """restic's rule, written independently of the script: newest first, one per day/ISO week bucket."""
    keep: set[str] = set()
    days: list[str] = []
    weeks: list[str] = []
    for s in sorted(stamps, reverse=True):
        d = dt.datetime.strptime(s, "%Y%m%dT%H%M%SZ").date()
        day, (y, w, _) = d.isoformat(), d.isocalendar()
        week = f"{y}-{w}"
        if day not in days and len(days) < daily:
            days.append(day)
            keep.add(s)
        if week not in weeks and len(weeks) < weekly:
            weeks.append(week)
            keep.add(s)
    return keep


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="backup21-"))
    tls = base / "tls"
    tls.mkdir()
    make_certs(tls)
    acl = acl_file(base)
    for user, pw in PASSWORDS.items():
        (base / f"{user}-password").write_text(pw + "\n")
    primary = Server(base, "primary", tls, acl)
    replica = Server(base, "replica", tls, acl, replica_of=primary.tls_port)
    servers = [primary, replica]
    try:
        t = time.monotonic()
        fill(primary, KEYS)
        n = keyspace(primary)
        for _ in range(300):
            if "master_link_status:up" in replica.cli("INFO", "replication") and keyspace(replica) == n:
                break
            time.sleep(0.2)
        expect(keyspace(replica) == n, f"replica in sync over TLS: {n} keys (filled in {time.monotonic() - t:.1f}s)")
        # The replica's own initial full sync wrote dump.rdb (repl-diskless-load disabled is the default): the
        # backup must leave every file as it was (names and mtimes).
        for _ in range(300):  # the replica rewrites its AOF after the full sync: let that settle first
            infos = [s.cli("INFO", "persistence") for s in servers]
            if all("aof_rewrite_in_progress:0" in i and "aof_rewrite_scheduled:0" in i for i in infos):
                break
            time.sleep(0.2)
        time.sleep(1)
        rdb_before = (primary.rdb_files(), replica.rdb_files())
        backups, work = base / "backups", base / "work"
        backups.mkdir()
        work.mkdir()
        common = {
            "BACKUP_USER": "backup",
            "BACKUP_PASSWORD_FILE": str(base / "backup-password"),
            "BACKUP_TLS": "1",
            "BACKUP_CA_FILE": str(tls / "ca.crt"),
            "BACKUP_SNI": "redis-shared-replica.redis.svc",
        }
        env = {
            **common,
            "BACKUP_HOST": "127.0.0.1",
            "BACKUP_PORT": str(replica.tls_port),
            "BACKUP_REPORT_HOST": "127.0.0.1",
            "BACKUP_REPORT_PORT": str(primary.tls_port),
            "BACKUP_FALLBACK_HOST": "127.0.0.1",
            "BACKUP_FALLBACK_PORT": str(primary.tls_port),
        }

        d_primary = primary.cli("DEBUG", "DIGEST").strip()  # before the report keys are written
        # 1. from the replica over TLS
        t = time.monotonic()
        r = run_backup(env, backups, work)
        print(r.stdout + r.stderr)
        expect(r.returncode == 0, f"backup from the replica over TLS ({time.monotonic() - t:.1f}s)", r.stderr)
        (meta_file,) = backups.glob("*.json")
        meta = json.loads(meta_file.read_text())
        expect(meta["source"] == "replica" and meta["keys"] == n == meta["source_keys"], f"metadata: {meta}")
        rdb = backups / f"{meta['name']}.rdb"
        reported = primary.cli("MGET", "redis-shared:backup:last-bytes", "redis-shared:backup:last-keys").split()
        expect(reported == [str(meta["bytes"]), str(n)], f"reported to the primary: {reported}")
        n += 3  # the report keys are part of the next snapshot
        expect(sh("sha256sum", "-c", f"{rdb.name}.sha256", cwd=backups).returncode == 0, "sha256sum -c passes")
        expect(
            (primary.rdb_files(), replica.rdb_files()) == rdb_before,
            f"no RDB file written by either server (diskless): {rdb_before}",
            str((primary.rdb_files(), replica.rdb_files())),
        )
        expect(
            "Starting BGSAVE for SYNC with target: replicas sockets" in (replica.dir / "redis.log").read_text(),
            "the replica forked and streamed to the socket",
        )
        expect(not list(work.iterdir()), "work dir cleaned")
        # The stored snapshot has the primary's DEBUG DIGEST (every key, type, value and expire time).
        loaded = base / "loaded"
        loaded.mkdir()
        shutil.copy(rdb, loaded / "dump.rdb")
        lport = free_port()
        lp = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(lport),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(loaded),
                "--dbfilename",
                "dump.rdb",
                "--enable-debug-command",
                "local",
                "--logfile",
                str(loaded / "log"),
            ]
        )
        for _ in range(100):
            if (
                subprocess.run(["redis-cli", "-p", str(lport), "PING"], capture_output=True, text=True).stdout.strip()
                == "PONG"
            ):
                break
            time.sleep(0.1)
        d_loaded = sh("redis-cli", "-p", str(lport), "DEBUG", "DIGEST").stdout.strip()
        lp.terminate()
        lp.wait()
        expect(d_loaded == d_primary, f"stored snapshot loads with the primary's digest {d_primary}")

        # 3. a user without +sync
        r = run_backup(
            {
                **env,
                "BACKUP_USER": "nosync",
                "BACKUP_PASSWORD_FILE": str(base / "nosync-password"),
                "BACKUP_NOW": "20260101T000000Z",
            },
            backups,
            work,
        )
        expect(
            r.returncode == 2 and "NOPERM" in r.stderr, "user without +sync: exit 2, NOPERM shown", r.stdout + r.stderr
        )
        print(r.stderr)

        # 4. truncated snapshots
        for mode, code, message in (
            ("short", 2, "I/O Error reading RDB payload"),
            ("whole", 3, "rejects the snapshot ("),
        ):
            port = fake_source(rdb.read_bytes(), mode)
            r = run_backup(
                {
                    **common,
                    "BACKUP_TLS": "0",
                    "BACKUP_HOST": "127.0.0.1",
                    "BACKUP_PORT": str(port),
                    "BACKUP_NOW": "20260101T000001Z",
                },
                backups,
                work,
            )
            print(r.stderr)
            expect(
                r.returncode == code
                and "FAIL" in r.stderr
                and not list(backups.glob("redis-20260101*"))
                and not list(backups.glob(".*.part"))
                and message in r.stderr
                and (mode == "short" or "bytes): [offset " in r.stderr),  # the reason from redis-check-rdb
                f"truncated snapshot ({mode}): exit {code}, nothing stored",
                r.stdout + r.stderr,
            )

        # 2. replica down: fallback to the primary; without a fallback: exit 1
        replica.stop()
        servers.remove(replica)
        r = run_backup({**env, "BACKUP_NOW": "20260102T000000Z"}, backups, work)
        print(r.stdout + r.stderr)
        meta2 = json.loads((backups / "redis-20260102T000000Z.json").read_text())
        expect(
            r.returncode == 0 and "WARNING: replica" in r.stdout and meta2["source"] == "primary",
            "replica down: snapshot from the primary with a warning",
            r.stdout + r.stderr,
        )
        expect(primary.rdb_files() == rdb_before[0], "the primary wrote no RDB file either (diskless)")
        r = run_backup({**env, "BACKUP_FALLBACK_HOST": "", "BACKUP_NOW": "20260103T000000Z"}, backups, work)
        expect(
            r.returncode == 1 and "no fallback configured" in r.stderr,
            "replica down, no fallback: exit 1",
            r.stdout + r.stderr,
        )

        # 5. retention: seed 40 days of (fake) snapshots, one real run, check the kept set
        for f in backups.iterdir():
            if f.name.startswith("redis-2026010"):
                f.unlink()
        start = dt.datetime(2026, 10, 20, 2, 0, tzinfo=dt.UTC)
        stamps = []
        for i in range(40):
            s = (start + dt.timedelta(days=i)).strftime("%Y%m%dT%H%M%SZ")
            stamps.append(s)
            for suffix in (".rdb", ".rdb.sha256", ".json"):
                (backups / f"redis-{s}{suffix}").write_text("seed")
        # two runs on the same day: only the newer of that day counts as its daily
        (backups / "redis-20261128T010000Z.rdb").write_text("seed")
        stamps.append("20261128T010000Z")
        now = "20261129T020000Z"
        stamps.append(now)
        stamps.append(meta["name"].removeprefix("redis-"))
        r = run_backup({**env, "BACKUP_NOW": now}, backups, work)
        print(r.stdout[-600:] + r.stderr)
        kept = {p.name.removeprefix("redis-").removesuffix(".rdb") for p in backups.glob("redis-*.rdb")}
        want = expected_retention(stamps, 7, 4)
        expect(
            r.returncode == 0 and kept == want,
            f"retention keeps {len(want)}: {sorted(kept)}",
            f"kept {sorted(kept)}\nwant {sorted(want)}\n{r.stdout}{r.stderr}",
        )
        orphans = [p.name for p in backups.iterdir() if p.name.split(".")[0].removeprefix("redis-") not in kept]
        expect(not orphans, "no orphan .sha256/.json left", str(orphans))
        print("ALL PASSED")
        return 0
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
