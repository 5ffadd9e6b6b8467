"""A replica deleted right after a full sync (docs/resilience.md "Shutdown and the grace period"), on dist/.

After a full sync a replica rewrites its AOF from memory, and Redis refuses a SIGTERM until that first rewrite
ends ("Writing initial AOF, can't exit") and drops it: without help the pod lives until the kubelet's SIGKILL at
the end of the grace period (and restarts on its pre-sync AOF if the rewrite outlasted it). The rendered preStop
hook waits for that rewrite, so the SIGTERM that follows shuts Redis down by itself, and the volume holds the
synced dataset.

The rewrite is made slow reproducibly with a small dataset: the replica's redis.conf gets Redis's own test knob
``rdb-key-save-delay`` (microseconds per key written by a fork child: the AOF rewrite's RDB preamble; src/rdb.c
``rdbSaveKeyValuePair``, 7.0 and 7.4), so KEYS keys take about KEYS * DELAY_US / 1e6 s to rewrite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from podrunner import Cluster, Pod, load_manifests
from redis_pods import (
    MANIFESTS,
    PRIMARY,
    REPLICA,
    aof_settled,
    info,
    missing_keys,
    synced_pair,
    wait_for,
    write_keys,
)

pytestmark = pytest.mark.runtime

KEYS = 1500
DELAY_US = 3000  # 1500 keys: a rewrite of about 4.5 s
#: Where Redis 7 writes during its first rewrite (aof.c ``openNewIncrAofForAppend``, AOF_WAIT_REWRITE).
TEMP_INCR = "appendonlydir/temp-appendonly.aof.incr"


def slow_rewrite_objects() -> list[dict[str, Any]]:
    """dist/redis-shared, the replica's redis.conf with ``rdb-key-save-delay`` (nothing else changed)."""
    objects = load_manifests(MANIFESTS)
    (cm,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "redis-shared-configuration"]
    cm["data"]["replica.conf"] += f"rdb-key-save-delay {DELAY_US}\n"
    return objects


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    objects = slow_rewrite_objects()
    with synced_pair(objects, tmp_path_factory.mktemp("shutdown")) as c:
        yield c


def in_initial_rewrite(replica: Pod) -> bool:
    """The replica's first AOF rewrite after a sync runs (the state in which Redis refuses a SIGTERM)."""
    try:
        running = info(replica, "persistence")["aof_rewrite_in_progress"] == 1
    except redis.ConnectionError:  # still starting
        return False
    return running and (replica.pvc_path("data") / TEMP_INCR).exists()


def answers(pod: Pod) -> bool:
    try:
        info(pod, "server")
    except redis.RedisError:
        return False
    return True


def test_replica_deleted_right_after_a_full_sync_exits_within_the_grace_period(cluster: Cluster) -> None:
    primary, replica = cluster.pod(PRIMARY), cluster.pod(REPLICA)
    wait_for("the replica's AOF after its first (empty) sync", lambda: aof_settled(replica), timeout=15)
    replica.probe("redis", "readiness")  # the kubelet's probe: marks the synced volume
    assert replica.stop()["redis"] == 0
    # Written while the replica is away: only the full sync of its next start brings them.
    keys = write_keys(primary, "sync", KEYS)
    replica.start()
    wait_for("the full sync and the rewrite after it", lambda: in_initial_rewrite(replica), timeout=20)

    codes = replica.stop()  # deleted: preStop, SIGTERM, SIGKILL at the rendered grace period
    log = replica.logs("redis")
    assert codes["redis"] == 0, (
        f"Redis was killed at the end of the {replica.grace_seconds:.0f} s grace period (exit {codes['redis']}):\n"
        + "\n".join(line for line in log.splitlines() if "AOF" in line or "shut" in line.lower())
    )
    assert "Writing initial AOF, can't exit" not in log  # the SIGTERM came after the rewrite
    assert "Background AOF rewrite finished successfully" in log

    # Its own volume holds the synced dataset: started with the primary down, it loads every key itself.
    primary.stop()
    replica.start()
    replica.wait_ready(30)
    assert info(replica, "replication")["master_link_status"] == "down"
    assert missing_keys(replica, keys) == []


def test_a_replica_killed_during_that_rewrite_is_not_ready_until_it_has_synced_again(cluster: Cluster) -> None:
    """What it costs when the rewrite outlasts the grace period: the replica restarts on its pre-sync AOF (here an
    empty volume). Its probe must not have counted the volume as synced while the rewrite ran, or it would be
    Ready at once on the restart, serving no keys; instead it waits for the primary and syncs again."""
    primary, replica = cluster.pod(PRIMARY), cluster.pod(REPLICA)
    primary.start()
    primary.wait_ready(30)
    replica.stop()
    replica.wipe_pvc("data")  # a fresh volume: its first sync brings all KEYS keys
    replica.start()
    wait_for("the first full sync and the rewrite after it", lambda: in_initial_rewrite(replica), timeout=20)
    replica.probe("redis", "readiness")  # the kubelet probes while the rewrite runs (the link is up)
    codes = replica.stop(grace=1)  # a grace period the rewrite outlasts: the kubelet's SIGKILL
    assert codes["redis"] == 137, codes

    primary.stop()
    replica.start()
    wait_for("Redis to answer on the restarted replica", lambda: answers(replica), timeout=20)
    assert info(replica, "keyspace") == {}  # the pre-sync AOF: nothing
    assert not replica.probe("redis", "readiness")  # not Ready on an empty volume...
    primary.start()
    replica.wait_ready(60)  # ...until it has synced again
    assert missing_keys(replica, [f"sync:{i}" for i in range(KEYS)]) == []
