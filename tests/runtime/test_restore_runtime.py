"""RedisRestore, run by the pod runner against the site's rendered Redis pods and a snapshot its backup CronJob took.

The site's chart (main.build_app) with two restores added for one snapshot: a tenant's prefix and everything.
A tenant's deleted keys come back with type, value and TTL while the other keys stay as they are; a key that
changed since is a conflict and nothing is written; a re-applied Job finds its marker. Then both Redis volumes are
lost: fresh pods start empty, and the full restore brings every key back and the replica resyncs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from copy_data import keyspace, load
from podrunner import Cluster, Pod
from redis_pods import (
    ADMIN_PW,
    ADMIN_USER,
    PASSWORDS_BY_FILE,
    PRIMARY,
    REPLICA,
    aof_settled,
    link_up,
    out_of_band_secrets,
    start_primary_first,
    wait_for,
)

import main
from redis_constructs.backup import RedisBackup, RedisRestore, RedisRestoreProps
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration.copy_program import Connection
from redis_constructs.server.redis_shared import RedisShared

pytestmark = pytest.mark.runtime

NS = "redis"
STAMP = "20261206T031700Z"
SNAPSHOT = f"redis-{STAMP}"
TENANT = b"tenant-a:"
TENANT_KEYS = 20_000
OTHER_KEYS = 100_000
Obj = dict[str, Any]


def site_with_restores() -> tuple[list[Obj], dict[str, str]]:
    """The site's redis-shared chart plus restores of SNAPSHOT (a tenant's, the same with ``replace``, everything);
    their Job names."""
    app = main.build_app()
    chart = next(c for c in app.charts if c.node.id == "redis-shared")
    shared = chart.node.find_child("Redis")
    backup = chart.node.find_child("Backup")
    assert isinstance(shared, RedisShared) and isinstance(backup, RedisBackup)
    tenant = RedisRestore(
        chart,
        "RestoreTenant",
        RedisRestoreProps(redis=shared, backup=backup, snapshot=SNAPSHOT, match=(TENANT.decode() + "*",)),
    )
    replace = RedisRestore(
        chart,
        "RestoreTenantReplace",
        RedisRestoreProps(redis=shared, backup=backup, snapshot=SNAPSHOT, match=(TENANT.decode() + "*",), replace=True),
    )
    full = RedisRestore(chart, "RestoreAll", RedisRestoreProps(redis=shared, backup=backup, snapshot=SNAPSHOT))
    jobs = {"tenant": tenant.job_name, "replace": replace.job_name, "full": full.job_name}
    return chart_objects(app)["redis-shared"], jobs


def admin(pod: Pod) -> Connection:
    conn = Connection(pod.ip, 6379)
    conn.call("AUTH", ADMIN_USER, ADMIN_PW)
    return conn


def keys(conn: Connection, pattern: bytes) -> list[bytes]:
    out: list[bytes] = []
    cursor = b"0"
    while True:
        reply = conn.call("SCAN", cursor, "MATCH", pattern, "COUNT", 5000)
        assert isinstance(reply, list) and isinstance(reply[0], bytes) and isinstance(reply[1], list)
        cursor = reply[0]
        out += [k for k in reply[1] if isinstance(k, bytes)]
        if cursor == b"0":
            return sorted(set(out))


#: How each type's whole value is read (sets sorted: their order depends on the encoding, not the value).
READ = {
    "string": lambda k: [["GET", k]],
    "hash": lambda k: [["HGETALL", k]],
    "list": lambda k: [["LRANGE", k, 0, -1]],
    "set": lambda k: [["SMEMBERS", k]],
    "zset": lambda k: [["ZRANGE", k, 0, -1, "WITHSCORES"]],
    "stream": lambda k: [["XRANGE", k, "-", "+"], ["XINFO", "GROUPS", k]],
}
GROUP_FIELDS = (b"name", b"consumers", b"pending", b"last-delivered-id")
#: Restored TTLs keep their expiry time (RDB expiries are absolute); the copy checks them within 2 s.
TTL_TOLERANCE_MS = 2000


def state(conn: Connection, names: list[bytes]) -> dict[bytes, tuple[Any, Any, int]]:
    """Per key: type, value (read by type) and absolute expiry time in ms (PEXPIRETIME; -1: none)."""
    out: dict[bytes, tuple[Any, Any, int]] = {}
    for i in range(0, len(names), 2000):
        batch = names[i : i + 2000]
        types = [t.decode() if isinstance(t, bytes) else str(t) for t in conn.pipeline([["TYPE", k] for k in batch])]
        expiry = conn.pipeline([["PEXPIRETIME", k] for k in batch])
        reads = [READ[t](k) for k, t in zip(batch, types, strict=True)]
        replies = conn.pipeline([cmd for r in reads for cmd in r])
        pos = 0
        for k, t, r, at in zip(batch, types, reads, expiry, strict=True):
            value: list[Any] = replies[pos : pos + len(r)]
            pos += len(r)
            if t == "set":
                value = [sorted(x for x in v if isinstance(x, bytes)) if isinstance(v, list) else v for v in value]
            if t == "stream":  # each group's state a consumer sees; lag/entries-read are Redis's own estimates
                value = [value[0], [{f: g[g.index(f) + 1] for f in GROUP_FIELDS} for g in value[1]]]
            assert isinstance(at, int)
            out[k] = (t, value, at)
    return out


def assert_same(after: dict[bytes, tuple[Any, Any, int]], before: dict[bytes, tuple[Any, Any, int]]) -> None:
    """Every key with its type and value, and its expiry time within the tolerance."""
    assert after.keys() == before.keys()
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}
    far = [
        k for k, v in after.items() if (v[2] < 0) != (before[k][2] < 0) or abs(v[2] - before[k][2]) > TTL_TOLERANCE_MS
    ]
    assert not far, far[:5]


def delete(conn: Connection, names: list[bytes]) -> None:
    for i in range(0, len(names), 2000):
        conn.pipeline([["UNLINK", k] for k in names[i : i + 2000]])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, list[Obj], dict[str, str]]]:
    objects, jobs = site_with_restores()
    secrets = out_of_band_secrets(objects, PASSWORDS_BY_FILE)
    with Cluster(objects, tmp_path_factory.mktemp("restore"), secrets=secrets) as c:
        start_primary_first(c, timeout=40)
        conn = admin(c.pod(PRIMARY))
        load(conn, list(keyspace(OTHER_KEYS)))
        load(conn, list(keyspace(TENANT_KEYS, prefix=TENANT)))
        conn.close()
        wait_for("the AOF rewrites to settle", lambda: aof_settled(c.pod(PRIMARY)) and aof_settled(c.pod(REPLICA)), 60)
        cron = copy.deepcopy(next(o for o in objects if o["kind"] == "CronJob"))
        snapshot = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        snapshot["env"].append({"name": "BACKUP_NOW", "value": STAMP})
        pod, codes = c.run_job(cron, timeout=120)
        assert codes == {"snapshot": 0}, pod.logs("snapshot")
        yield c, objects, jobs


def job(objects: list[Obj], name: str) -> Obj:
    return next(o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == name)


def test_a_deleted_tenant_prefix_comes_back_and_a_conflict_changes_nothing(
    world: tuple[Cluster, list[Obj], dict[str, str]],
) -> None:
    c, objects, jobs = world
    conn = admin(c.pod(PRIMARY))
    tenant = keys(conn, TENANT + b"*")
    others = [k for k in keys(conn, b"*") if not k.startswith(TENANT) and not k.startswith(b"redis-shared:")]
    assert len(tenant) == TENANT_KEYS and len(others) == OTHER_KEYS
    tenant_before, others_before = state(conn, tenant), state(conn, others)
    assert any(at >= 0 for _, _, at in tenant_before.values())  # some keys carry a TTL
    delete(conn, tenant)

    # A key of the prefix written since the snapshot, with another value: refused, nothing written.
    conn.call("SET", tenant[0], "written-after-the-snapshot")
    dbsize = conn.call("DBSIZE")
    pod, codes = c.run_job(job(objects, jobs["tenant"]), timeout=120)
    assert codes["copy"] == 2, pod.logs("copy")
    assert "already exist" in pod.logs("copy")
    assert codes["snapshot-server"] in (0, 143), pod.logs("snapshot-server")  # stopped once the copy exited
    assert conn.call("DBSIZE") == dbsize
    assert conn.call("GET", tenant[0]) == b"written-after-the-snapshot"

    # With replace=True the same restore overwrites that key (and only the prefix's keys).
    pod, codes = c.run_job(job(objects, jobs["replace"]), timeout=120)
    assert codes["copy"] == 0, pod.logs("copy")
    assert_same(state(conn, tenant), tenant_before)
    assert state(conn, others) == others_before

    # Without replace, on keys equal to the snapshot's: nothing to write, verified, marker set.
    delete(conn, tenant[: TENANT_KEYS // 2])
    pod, codes = c.run_job(job(objects, jobs["tenant"]), timeout=120)
    assert codes["copy"] == 0, pod.logs("copy")
    assert_same(state(conn, tenant), tenant_before)
    assert state(conn, others) == others_before  # untouched: the same expiry times exactly
    # Re-applied (Flux after the TTL): the marker makes it exit 0 at once.
    pod, codes = c.run_job(job(objects, jobs["tenant"]), timeout=60)
    assert codes["copy"] == 0 and "already copied and verified" in pod.logs("copy"), pod.logs("copy")
    conn.close()


def test_both_volumes_lost_then_a_full_restore(world: tuple[Cluster, list[Obj], dict[str, str]]) -> None:
    c, objects, jobs = world
    conn = admin(c.pod(PRIMARY))
    everything = [k for k in keys(conn, b"*") if not k.startswith(b"redis-shared:")]
    before = state(conn, everything)
    conn.close()
    for name in (REPLICA, PRIMARY):
        wait_for(f"{name}'s AOF to settle", lambda n=name: aof_settled(c.pod(n)), 60)  # type: ignore[misc]
        c.pod(name).stop(grace=10)
        c.pod(name).wipe_pvc("data")
    start_primary_first(c, timeout=40)
    conn = admin(c.pod(PRIMARY))
    assert conn.call("DBSIZE") == 0  # both empty: the primary starts empty (no replica reports keys)
    pod, codes = c.run_job(job(objects, jobs["full"]), timeout=180)
    assert codes["copy"] == 0, pod.logs("copy")
    assert_same(state(conn, everything), before)
    replica = c.pod(REPLICA)
    wait_for("the replica's link", lambda: link_up(replica), 40)
    rconn = admin(replica)
    wait_for("the replica to resync", lambda: rconn.call("DBSIZE") == conn.call("DBSIZE"), 40)
    rconn.close()
    conn.close()
