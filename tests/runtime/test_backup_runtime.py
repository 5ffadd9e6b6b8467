"""The backup CronJob of dist/redis-shared, run by the pod runner against the rendered Redis pods (TLS on, as the
site renders them): real redis-server/redis-cli/redis-check-rdb 7.0, 100,000+ keys of every type, some with TTLs.

What each test shows: a run stores a verified snapshot (sha256, metadata, the key count of the source) taken
from the replica over TLS, and keeps the Redis data dirs untouched; its size and key count reach the replica's
exporter (Debian's redis_exporter 1.45) as the ServiceMonitor's backup-report endpoint scrapes it, with nothing
denied to the exporter user; retention keeps restic's set; a truncated
snapshot (a fake source on the bridge, the only change to the rendered Job being its host) fails with the reason
and stores nothing; with the replica stopped it falls back to the primary with a warning.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from copy_data import keyspace, load
from podrunner import Cluster, load_manifests
from podrunner.host import HOST_IP
from redis_pods import (
    ADMIN_PW,
    ADMIN_USER,
    MANIFESTS,
    PASSWORDS_BY_FILE,
    PRIMARY,
    REPLICA,
    aof_settled,
    connect,
    kept_pods,
    kept_series,
    link_up,
    out_of_band_secrets,
    scrape,
    scrape_endpoint,
    start_primary_first,
    wait_for,
)

from redis_constructs.migration.copy_program import Connection
from redis_constructs.server.redis_conf import REPORT_KEYS

pytestmark = pytest.mark.runtime

NS = "redis"
CRONJOB = "redis-shared-backup"
KEYS = 100_000
Obj = dict[str, Any]


def cronjob(objects: list[Obj]) -> Obj:
    return next(o for o in objects if o["kind"] == "CronJob" and o["metadata"]["name"] == CRONJOB)


def with_env(job: Obj, **env: str) -> Obj:
    """The CronJob with some of the snapshot container's settings replaced (the test's only change)."""
    out = copy.deepcopy(job)
    spec = out["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = next(c for c in [*(spec.get("initContainers") or []), *spec["containers"]] if c["name"] == "snapshot")
    for e in container["env"]:
        if e["name"] in env:
            e["value"] = env.pop(e["name"])
    container["env"] += [{"name": k, "value": v} for k, v in env.items()]
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, list[Obj]]]:
    objects = load_manifests(MANIFESTS)
    secrets = out_of_band_secrets(objects, PASSWORDS_BY_FILE)
    with Cluster(objects, tmp_path_factory.mktemp("backup"), secrets=secrets) as c:
        start_primary_first(c, timeout=40)
        conn = Connection(c.pod(PRIMARY).ip, 6379)
        conn.call("AUTH", ADMIN_USER, ADMIN_PW)
        load(conn, list(keyspace(KEYS)))
        conn.close()
        wait_for("the replica to catch up", lambda: dbsize(c, REPLICA) == KEYS, 30)
        wait_for("the AOF rewrites to settle", lambda: aof_settled(c.pod(PRIMARY)) and aof_settled(c.pod(REPLICA)), 60)
        yield c, objects


def dbsize(c: Cluster, pod: str) -> int:
    with connect(c.pod(pod), ADMIN_USER, ADMIN_PW) as admin:
        return int(admin.dbsize())


def backup_dir(c: Cluster) -> Path:
    return c.claim_path(NS, CRONJOB)


def snapshots(c: Cluster) -> list[str]:
    return sorted(p.name for p in backup_dir(c).iterdir())


def data_files(c: Cluster) -> dict[str, str]:
    """Every file in both Redis data dirs, with the sha256 of each but the AOF's incremental files (the report keys
    the run SETs on the primary are appended there): the SYNC must write no RDB file, diskless."""
    out = {}
    for pod in (PRIMARY, REPLICA):
        root = c.pod(pod).pvc_path("data")
        for f in sorted(root.rglob("*")):
            if f.is_file():
                out[str(f)] = "" if f.name.endswith(".incr.aof") else hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def backup_report(c: Cluster, objects: list[Obj]) -> dict[str, float]:
    """What Prometheus would store from the ServiceMonitor's backup-report scrape, by key: ``redis_key_value``."""
    endpoint = scrape_endpoint(objects, "backup-report")
    assert [p.name for p in kept_pods(endpoint, objects, c)] == [REPLICA]
    out = {}
    for series, value in kept_series(scrape(c.pod(REPLICA), endpoint), endpoint).items():
        assert series.startswith('redis_key_value{db="db0",key="'), series
        key = re.search(r'key="([^"]*)"', series)
        assert key, series
        out[key.group(1)] = value
    return out


def test_a_run_stores_a_verified_snapshot_from_the_replica(world: tuple[Cluster, list[Obj]]) -> None:
    c, objects = world
    with connect(c.pod(PRIMARY), ADMIN_USER, ADMIN_PW) as admin:
        admin.delete(*REPORT_KEYS)  # no report yet, whichever test ran first
    with connect(c.pod(REPLICA), ADMIN_USER, ADMIN_PW) as replica:
        wait_for("the replica to drop the report", lambda: not replica.exists(*REPORT_KEYS), 15)
        replica.acl_log_reset()
    assert backup_report(c, objects) == {}
    before = data_files(c)
    pod, codes = c.run_job(cronjob(objects), timeout=120)
    log = pod.logs("snapshot")
    assert codes == {"snapshot": 0}, log
    assert sorted(pod.kept_off) == [PRIMARY, REPLICA]  # the required anti-affinity names both Redis pods
    names = snapshots(c)
    assert len(names) == 3, names
    rdb = next(n for n in names if n.endswith(".rdb"))
    stem = rdb.removesuffix(".rdb")
    assert names == [f"{stem}.json", rdb, f"{rdb}.sha256"]
    check = subprocess.run(["sha256sum", "-c", f"{rdb}.sha256"], cwd=backup_dir(c), capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    meta = json.loads((backup_dir(c) / f"{stem}.json").read_text())
    assert meta["source"] == "replica" and meta["keys"] == KEYS == meta["source_keys"], meta
    assert "source replica redis-shared-replicas" in log and "WARNING" not in log, log
    # redis-check-rdb, run here too, reads every key back.
    rdb_check = subprocess.run(["redis-check-rdb", str(backup_dir(c) / rdb)], capture_output=True, text=True)
    assert rdb_check.returncode == 0 and f"[info] {KEYS} keys read" in rdb_check.stdout, rdb_check.stdout
    assert data_files(c) == before
    # The run's report keys on the primary (written as the backup user: %W~redis-shared:backup:*).
    with connect(c.pod(PRIMARY), ADMIN_USER, ADMIN_PW) as admin:
        assert admin.get("redis-shared:backup:last-keys") == str(KEYS)
        assert admin.get("redis-shared:backup:last-bytes") == str(meta["bytes"])
    # The size and key count, as the replica's exporter reports them to Prometheus (docs/backups.md, "Watching it");
    # the exporter user was denied nothing on the way (ACL LOG: a denied command or key would be an entry).
    with connect(c.pod(REPLICA), ADMIN_USER, ADMIN_PW) as replica:
        wait_for("the report on the replica", lambda: replica.get(REPORT_KEYS[0]) == str(meta["bytes"]), 15)
        assert backup_report(c, objects) == {REPORT_KEYS[0]: meta["bytes"], REPORT_KEYS[1]: KEYS}
        assert [e for e in replica.acl_log() if e.get("username") == "exporter"] == []
    assert "NOPERM" not in c.pod(REPLICA).logs("metrics")


def expected_retention(stamps: list[str], daily: int, weekly: int) -> set[str]:
    """restic's --keep-daily/--keep-weekly, written independently of the script: newest first, one per bucket."""
    keep: set[str] = set()
    days: list[dt.date] = []
    weeks: list[tuple[int, int]] = []
    for s in sorted(stamps, reverse=True):
        d = dt.datetime.strptime(s, "%Y%m%dT%H%M%SZ").date()
        week = d.isocalendar()[:2]
        if d not in days and len(days) < daily:
            days.append(d)
            keep.add(s)
        if week not in weeks and len(weeks) < weekly:
            weeks.append(week)
            keep.add(s)
    return keep


def test_retention_keeps_seven_daily_and_four_weekly(world: tuple[Cluster, list[Obj]]) -> None:
    c, objects = world
    d = backup_dir(c)
    if not any(d.glob("redis-*.rdb")):
        assert c.run_job(cronjob(objects), timeout=120)[1] == {"snapshot": 0}
    real = sorted(d.glob("redis-*.rdb"))[-1]
    start = dt.datetime(2026, 10, 1, 3, 17, tzinfo=dt.UTC)
    seeded = [(start + dt.timedelta(hours=13 * i)).strftime("%Y%m%dT%H%M%SZ") for i in range(80)]
    for stamp in seeded:
        shutil.copy(real, d / f"redis-{stamp}.rdb")
        (d / f"redis-{stamp}.rdb.sha256").write_text("seeded\n")
        (d / f"redis-{stamp}.json").write_text("{}\n")
    now = "20261201T031700Z"
    pod, codes = c.run_job(with_env(cronjob(objects), BACKUP_NOW=now), timeout=120)
    assert codes == {"snapshot": 0}, pod.logs("snapshot")
    stamps = [real.name.removeprefix("redis-").removesuffix(".rdb"), *seeded, now]
    kept = {p.name.removeprefix("redis-").removesuffix(".rdb") for p in d.glob("redis-*.rdb")}
    assert kept == expected_retention(stamps, 7, 4)
    assert len(kept) <= 11
    # No orphans: every kept snapshot has its two companions, nothing else is left.
    assert sorted(p.name for p in d.iterdir()) == sorted(
        f"redis-{s}{ext}" for s in kept for ext in (".rdb", ".rdb.sha256", ".json")
    )


def fake_source(rdb: bytes, mode: str) -> tuple[socket.socket, int]:
    """A fake Redis on the bridge: answers AUTH/INFO/REPLCONF, then SYNC with half of ``rdb`` (``short``: the
    full length is announced and the connection closes halfway; ``whole``: the half, with its own length)."""
    srv = socket.socket()
    srv.bind((HOST_IP, 0))
    srv.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            f = conn.makefile("rb")
            try:
                while line := f.readline():
                    if line.startswith(b"*"):
                        args = [f.read(int(f.readline()[1:]) + 2)[:-2].upper() for _ in range(int(line[1:]))]
                    else:  # redis-cli sends SYNC inline (sendSync writes "SYNC\r\n")
                        args = line.strip().upper().split()
                    if args[0] == b"INFO":
                        body = (
                            b"# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n"
                            if b"REPLICATION" in args
                            else b"# Keyspace\r\ndb0:keys=100000,expires=0,avg_ttl=0\r\n"
                        )
                        conn.sendall(b"$%d\r\n%s\r\n" % (len(body), body))
                    elif args[0] == b"SYNC":
                        half = rdb[: len(rdb) // 2]
                        conn.sendall(b"$%d\r\n" % (len(rdb) if mode == "short" else len(half)) + half)
                        break
                    else:
                        conn.sendall(b"+OK\r\n")
            finally:
                f.close()
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv, int(srv.getsockname()[1])


@pytest.mark.parametrize(
    ("mode", "code", "reason"),
    [
        ("short", 2, "FAIL: redis-cli --rdb from"),
        ("whole", 3, "FAIL: redis-check-rdb rejects the snapshot"),
    ],
)
def test_a_truncated_snapshot_fails_and_nothing_is_stored(
    world: tuple[Cluster, list[Obj]], mode: str, code: int, reason: str
) -> None:
    c, objects = world
    d = backup_dir(c)
    if not any(d.glob("redis-*.rdb")):
        assert c.run_job(cronjob(objects), timeout=120)[1] == {"snapshot": 0}
    before = snapshots(c)
    srv, port = fake_source(sorted(d.glob("redis-*.rdb"))[-1].read_bytes(), mode)
    try:
        job = with_env(
            cronjob(objects),
            BACKUP_HOST=HOST_IP,
            BACKUP_PORT=str(port),
            BACKUP_TLS="0",
            BACKUP_FALLBACK_HOST="",
            BACKUP_REPORT_HOST="",
        )
        pod, codes = c.run_job(job, timeout=60)
    finally:
        srv.close()
    log = pod.logs("snapshot")
    assert codes == {"snapshot": code}, log
    assert reason in log, log
    if mode == "whole":
        assert "Unexpected EOF" in log or "[offset" in log, log  # redis-check-rdb's own reason is in the line
    assert snapshots(c) == before  # no new file, no .part left


def test_replica_down_falls_back_to_the_primary_with_a_warning(world: tuple[Cluster, list[Obj]]) -> None:
    c, objects = world
    replica = c.pod(REPLICA)
    wait_for("the replica's AOF to settle", lambda: aof_settled(replica), 60)
    replica.stop(grace=10)
    try:
        pod, codes = c.run_job(cronjob(objects), timeout=120)
        log = pod.logs("snapshot")
        assert codes == {"snapshot": 0}, log
        assert "WARNING: replica redis-shared-replicas" in log and "snapshot from the primary" in log, log
        newest = sorted(backup_dir(c).glob("redis-*.json"))[-1]
        assert json.loads(newest.read_text())["source"] == "primary"
        # Without the fallback the same run fails with exit 1 and says why.
        pod, codes = c.run_job(with_env(cronjob(objects), BACKUP_FALLBACK_HOST=""), timeout=60)
        assert codes == {"snapshot": 1}, pod.logs("snapshot")
        assert "no fallback configured" in pod.logs("snapshot")
    finally:
        replica.start()
        replica.wait_ready(40)
        wait_for("the replica's link", lambda: link_up(replica), 40)
