"""A replica whose volume fills up (docs/resilience.md "Full data volumes"), on the pod runner with dist/.

The replica's data dir becomes a tmpfs with about 2 MiB free; the primary takes 64 KiB writes until the
replica fails its AOF writes. The replica must not restart (replica-ignore-disk-write-errors), stay Ready and
serve current reads; the primary is unaffected; the exporter reports the failure RedisReplicaCannotPersist
reads. Once room is made, probe.sh's one BGREWRITEAOF replaces the AOF a short write damaged, and the replica,
restarted with its primary down (so nothing can resync it), loads every key from its own volume. Sync
leftovers seeded in the volume are gone after a start.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from podrunner import Cluster, Pod
from podrunner.runner import load_manifests
from redis_pods import (
    CLIENT_PW,
    CLIENT_USER,
    MANIFESTS,
    PRIMARY,
    REPLICA,
    connect,
    info,
    link_up,
    metrics,
    mounts,
    synced_pair,
    volume_on_tmpfs,
    wait_for,
)

pytestmark = pytest.mark.runtime

__all__ = ["mounts"]  # the fixture, used by name

VALUE = "v" * 65536


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, mounts: list[Path]) -> Iterator[Cluster]:
    objects = load_manifests(MANIFESTS)
    with synced_pair(objects, tmp_path_factory.mktemp("full-replica")) as c:
        yield c


def aof_ok(pod: Pod) -> bool:
    return bool(info(pod, "persistence")["aof_last_write_status"] == "ok")


def test_a_full_replica_volume_is_no_restart_loop_and_recovers(
    cluster: Cluster, mounts: list[Path], tmp_path: Path
) -> None:
    primary, replica = cluster.pod(PRIMARY), cluster.pod(REPLICA)
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        c.set("before", "before")
    wait_for("the replica to hold 'before'", lambda: info(replica, "keyspace") != {}, timeout=10)
    replica.probe("redis", "readiness")  # marks the synced volume (start.sh's has_data)
    replica.stop(grace=15)
    data = volume_on_tmpfs(replica, tmp_path, 2048, mounts)
    # Sync leftovers: an orphaned disk-sync temp file and a dump.rdb beside the AOF manifest.
    for leftover in ("temp-1700000000.12.rdb", "dump.rdb"):
        (data / leftover).write_bytes(b"x" * 1024)
    replica.start()
    replica.wait_ready(30)
    wait_for("the replica's link", lambda: link_up(replica), timeout=20)
    assert replica.probe("redis", "readiness")
    # Neither the orphan nor the dump.rdb (seeded, or the one this start's full sync wrote) is left.
    assert sorted(p.name for p in data.glob("*.rdb")) == []

    pid = replica.container("redis").pid
    written: list[str] = []
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        for i in range(200):  # 12 MiB at most, the replica's volume has about 2 MiB free
            c.set(f"fill:{i}", VALUE)  # the primary is unaffected: every write is acknowledged
            written.append(f"fill:{i}")
            if i % 8 == 7 and not aof_ok(replica):
                break
    wait_for("the replica's failed AOF write", lambda: not aof_ok(replica), timeout=10)
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        assert c.set("after-full", "current") is True
        written.append("after-full")
    # No restart loop: the same process, alive and Ready, its reads current (the stream is applied in memory).
    assert replica.running("redis") and replica.container("redis").pid == pid
    assert replica.probe("redis", "liveness")
    assert replica.probe("redis", "readiness")
    wait_for("the newest write on the replica", lambda: replica_get(replica, "after-full") == "current", timeout=10)
    assert info(replica, "replication")["master_link_status"] == "up"
    assert [v for _, v in metrics(replica)["redis_aof_last_write_status"]] == [0.0]  # RedisReplicaCannotPersist
    rewrites = int(info(replica, "persistence")["aof_rewrites"])

    subprocess.run(["mount", "-o", "remount,size=64m", str(data)], check=True)
    wait_for("the replica's AOF writes to resume", lambda: aof_ok(replica), timeout=15, interval=0.5)
    # probe.sh asks one BGREWRITEAOF and is Ready again once it completed.
    wait_for(
        "the AOF repair", lambda: replica.probe("redis", "readiness") and repaired(replica), timeout=20, interval=0.5
    )
    assert int(info(replica, "persistence")["aof_rewrites"]) > rewrites
    assert replica.container("redis").pid == pid

    # Restart with the primary down: the replica can only load its own AOF (a damaged one would not load).
    primary.stop(grace=15)
    replica.stop(grace=15)
    replica.start()
    replica.wait_ready(30)
    assert "Bad file format" not in replica.logs("redis")
    with connect(replica, CLIENT_USER, CLIENT_PW) as c:
        values = c.mget(written)
    assert [k for k, v in zip(written, values, strict=True) if v not in (VALUE, "current")] == []
    primary.start()
    primary.wait_ready(30)


def replica_get(pod: Pod, key: str) -> str | None:
    with connect(pod, CLIENT_USER, CLIENT_PW) as c:
        try:
            value = c.get(key)
        except redis.ResponseError:
            return None
        return value if isinstance(value, str) else None


def repaired(pod: Pod) -> bool:
    """probe.sh removed its AOF-repair flag (the rewrite it asked for completed)."""
    return pod.exec("redis", ["ls", "/tmp"]).stdout.split().count("redis-shared-aof-write-failed") == 0
