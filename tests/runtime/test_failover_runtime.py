"""Manual failover (README "Failover") and a full volume, on the synthesized pods run as local processes.

One scenario on one cluster, in file order: the primary's node is lost (SIGKILL) while the replica restarts;
the promotion (``main.build_app(primary_pod=...)``, synthesized here) is applied and the changed pods are
recreated as the StatefulSet controller would (replicas StatefulSet first, wave 1); the old primary comes back
on its old data dir, first with its old spec (the mounted ConfigMap demotes it), then rolled; started again with
its old spec while the new primary is down (the ConfigMap alone must demote it: asking the peer finds no primary);
failback; a primary
restarting while its replica hangs starts fenced; a replica that never synced (Redis's own empty AOF on its volume)
stays unready and its promotion is refused; a planned switchover (FAILOVER, then the commit); the primary's volume
fills up and gets room again. ``Cluster.roll`` refuses an unready pod, as the StatefulSet controller does.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from podrunner import Cluster, Pod, PodError, load_manifests
from redis_pods import (
    ADMIN_PW,
    ADMIN_USER,
    CLIENT_PW,
    CLIENT_USER,
    MANIFESTS,
    NS,
    PASSWORDS_BY_FILE,
    PRIMARY,
    REPLICA,
    aof_settled,
    connect,
    info,
    link_up,
    metrics,
    missing_keys,
    mounts,
    out_of_band_secrets,
    sync_at_once,
    synced_pair,
    volume_on_tmpfs,
    wait_for,
    write_keys,
)

import main
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.server.redis_conf import SCRIPTS_DIR

pytestmark = pytest.mark.runtime

__all__ = ["mounts"]  # the fixture, used by name

MASTER_SERVICE = "redis-shared-master.redis.svc.cluster.local"
ROLE_LABEL = "redis-shared/role"
#: Keys by what happened to them, shared by the steps of the scenario.
KEYS: dict[str, list[str]] = {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, mounts: list[Path]) -> Iterator[Cluster]:
    objects = load_manifests(MANIFESTS)
    with synced_pair(objects, tmp_path_factory.mktemp("failover")) as c:
        kubelet_probes(c)
        yield c


def kubelet_probes(cluster: Cluster) -> None:
    """One round of the readiness probes the kubelet runs every 5 s (probe.sh marks a synced volume)."""
    for pod in cluster.pods.values():
        if pod.running("redis"):
            pod.probe("redis", "readiness")


def site_objects(primary_pod: str) -> list[dict[str, Any]]:
    """dist/redis-shared as ``make synth`` renders it with ``PRIMARY_POD = primary_pod``."""
    return chart_objects(main.build_app(primary_pod=primary_pod))["redis-shared"]


def master_service_pod(cluster: Cluster) -> Pod:
    """The pod the master Service (and the LAN LoadBalancer, same selector) selects now."""
    ip = cluster.resolve(MASTER_SERVICE, NS)
    (pod,) = [p for p in cluster.pods.values() if p.ip == ip]
    external = cluster.objects.get("Service", NS, "redis-shared-external")
    assert external is not None
    assert [p.name for p in cluster.service_pods(external)] == [pod.name]
    return pod


def test_first_install_replica_is_ready_before_its_primary_pod_exists(tmp_path: Path) -> None:
    """The replicas StatefulSet rolls first, also on the first install: it must get healthy with no primary yet.

    Runs before the module's cluster exists (one cluster per host at a time).
    """
    objects = load_manifests(MANIFESTS)
    secrets = out_of_band_secrets(objects, PASSWORDS_BY_FILE)
    first_wave = [o for o in objects if (o["kind"], o["metadata"]["name"]) != ("StatefulSet", "redis-shared-master")]
    with Cluster(first_wave, tmp_path, secrets=secrets) as c:
        replica = c.pod(REPLICA)
        replica.start()
        replica.wait_ready(20)
        # Empty and never synced: Ready only because its primary's name does not resolve (no such pod).
        assert info(replica, "replication")["master_link_status"] == "down"
        assert info(replica, "keyspace") == {}


def test_replica_restart_while_primary_down_is_ready_and_serves_its_persisted_keys(cluster: Cluster) -> None:
    primary, replica = cluster.pod(PRIMARY), cluster.pod(REPLICA)
    KEYS["replicated"] = write_keys(primary, "replicated", 2000)
    wait_for("the keys on the replica", lambda: missing_keys(replica, KEYS["replicated"]) == [], timeout=10)
    kubelet_probes(cluster)
    replica.stop(grace=15)
    # Acknowledged by the primary, on its disk (fsync every second), never sent to the replica: lost in a failover.
    KEYS["unreplicated"] = write_keys(primary, "unreplicated", 100)
    time.sleep(1.5)
    primary.kill(signal.SIGKILL)  # its node is gone
    assert primary.wait_exit(5) == 128 + signal.SIGKILL
    primary.stop(grace=0)  # and the rest of the pod with it
    cluster.lose_node(PRIMARY)
    replica.start()
    took = replica.wait_ready(40)
    assert took < 40
    assert missing_keys(replica, KEYS["replicated"]) == []
    assert info(replica, "replication")["master_link_status"] == "down"
    with connect(replica, CLIENT_USER, CLIENT_PW) as r, pytest.raises(redis.ReadOnlyError):
        r.set("replica:write", "x")


def test_promotion_makes_the_replica_the_primary_with_its_data(cluster: Cluster) -> None:
    assert cluster.apply(site_objects(REPLICA)) == [PRIMARY, REPLICA]
    # Wave 1: the replicas StatefulSet. The master StatefulSet's pod is on the lost node: not recreated.
    promoted = cluster.roll(REPLICA, grace=15)
    promoted.wait_ready(30)
    assert promoted.labels[ROLE_LABEL] == "master"
    assert master_service_pod(cluster) is promoted
    assert info(promoted, "replication")["role"] == "master"
    with connect(promoted, CLIENT_USER, CLIENT_PW) as c:
        assert c.set("promoted:write", "ok") is True
    assert missing_keys(promoted, KEYS["replicated"]) == []
    # The price of asynchronous replication: writes acknowledged but not replicated are not there.
    assert missing_keys(promoted, KEYS["unreplicated"]) == KEYS["unreplicated"]
    KEYS["after-promotion"] = write_keys(promoted, "after-promotion", 200)


def test_old_primary_comes_back_as_a_replica_refuses_writes_and_converges(cluster: Cluster) -> None:
    new_primary = cluster.pod(REPLICA)
    old = cluster.pod(PRIMARY)
    # Its node is back before the new pod spec reached it: the old spec still says REDIS_ROLE=master, and its
    # data dir holds the keys that never reached the new primary.
    assert old.labels[ROLE_LABEL] == "master"
    assert old.container("redis").spec["env"][0] == {"name": "REDIS_ROLE", "value": "master"}
    # First even before the commit reached the cluster: its mounted ConfigMap still names it the primary, so only
    # asking the other pod (over the TLS replication port) tells it that it was demoted.
    assert cluster.apply(load_manifests(MANIFESTS)) == [REPLICA]
    sync_at_once(new_primary)
    old.start()
    wait_for("the old primary to answer", lambda: old.probe("redis", "liveness"), timeout=20)
    assert "already acts as primary" in old.logs("redis")
    assert info(old, "replication")["role"] == "slave"
    with connect(old, CLIENT_USER, CLIENT_PW) as c, pytest.raises(redis.ReadOnlyError):
        c.set("split-brain", "x")
    wait_for("the old primary to sync from the new one", lambda: link_up(old), timeout=30)
    assert not old.probe("redis", "readiness")  # configured primary everywhere it looks: out of the master Service
    # The commit reaches the cluster; the kubelet refreshes the running pod's ConfigMap volume (not its env). It
    # names the new primary: a demoted replica, Ready once synced, so the StatefulSet controller (OrderedReady: it
    # replaces only Ready pods) can roll it to the new template.
    assert cluster.apply(site_objects(REPLICA)) == [PRIMARY]
    assert old.probe("redis", "readiness")
    # Restarted with its old spec again, it now learns it from the ConfigMap before asking anyone.
    wait_for("the AOF rewrite after its sync", lambda: aof_settled(old), timeout=15)  # it refuses SIGTERM meanwhile
    old.stop(grace=15)
    old.start()
    old.wait_ready(30)
    assert "the mounted configuration names" in old.logs("redis")
    assert info(old, "replication")["role"] == "slave"
    wait_for("the new primary's keys", lambda: missing_keys(old, KEYS["after-promotion"]) == [], timeout=10)
    assert missing_keys(old, KEYS["replicated"]) == []
    assert missing_keys(old, KEYS["unreplicated"]) == KEYS["unreplicated"]  # its extra keys are gone
    assert info(old, "keyspace") == info(new_primary, "keyspace")
    assert master_service_pod(cluster) is new_primary
    # Then the StatefulSet controller recreates it from the new template: a replica by configuration.
    old = cluster.roll(PRIMARY, grace=15)
    old.wait_ready(30)
    assert old.labels[ROLE_LABEL] == "replica"
    assert "NOT STARTING AS PRIMARY" not in old.logs("redis")
    wait_for("the link after the roll", lambda: link_up(old), timeout=30)
    with connect(old, CLIENT_USER, CLIENT_PW) as c, pytest.raises(redis.ReadOnlyError):
        c.set("split-brain", "x")


def with_old_master_template(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``objects`` with the master StatefulSet's template as before the promotion (``REDIS_ROLE=master``)."""
    old = next(
        o
        for o in load_manifests(MANIFESTS)
        if (o["kind"], o["metadata"]["name"]) == ("StatefulSet", "redis-shared-master")
    )
    return [old if (o["kind"], o["metadata"]["name"]) == ("StatefulSet", "redis-shared-master") else o for o in objects]


def test_a_demoted_primary_obeys_the_configmap_when_its_peer_is_down(cluster: Cluster) -> None:
    """The ConfigMap rule alone: the old primary starts with its old spec while the mounted ConfigMap names the
    new primary, and that peer refuses connections, so asking it finds "no other primary". Only the ConfigMap
    can tell the old primary that it was demoted; a start.sh without that rule starts it as a writable primary.
    """
    new_primary, old = cluster.pod(REPLICA), cluster.pod(PRIMARY)
    # The node of the old primary comes back with the pod spec it had (a kubelet that has not heard of the
    # change), while the ConfigMap it mounts is the committed one, naming the new primary.
    assert cluster.apply(with_old_master_template(site_objects(REPLICA))) == [PRIMARY]
    wait_for("the AOF rewrite after its sync", lambda: aof_settled(old), timeout=15)  # it refuses SIGTERM meanwhile
    old.stop(grace=15)
    new_primary.stop(grace=15)  # the peer: nothing listens on its address, connections are refused
    old = cluster.roll(PRIMARY)  # recreated from the old template (the pod was deleted: no readiness needed)
    assert old.container("redis").spec["env"][0] == {"name": "REDIS_ROLE", "value": "master"}
    wait_for("the old primary to answer", lambda: old.probe("redis", "liveness"), timeout=30)
    replication = info(old, "replication")
    assert replication["role"] == "slave"
    assert str(replication["master_host"]).startswith(f"{REPLICA}.")
    with connect(old, CLIENT_USER, CLIENT_PW) as c, pytest.raises(redis.ReadOnlyError):
        c.set("split-brain", "x")
    readiness = old.exec("redis", ["sh", f"{SCRIPTS_DIR}/probe.sh", "readiness"])
    assert readiness.returncode == 1
    assert f"demoted (the configuration names {REPLICA}." in readiness.stdout
    assert "not synced with it yet" in readiness.stdout
    # The new primary comes back: the old one follows it and is Ready (a synced, demoted replica).
    new_primary.start()
    new_primary.wait_ready(30)
    sync_at_once(new_primary)
    wait_for("the old primary to sync from the new one", lambda: link_up(old), timeout=30)
    assert old.probe("redis", "readiness")
    assert info(new_primary, "replication")["role"] == "master"
    wait_for("the new primary's keys", lambda: missing_keys(old, KEYS["after-promotion"]) == [], timeout=10)
    # Back to where the scenario was: the master StatefulSet's pod from the committed template.
    assert cluster.apply(site_objects(REPLICA)) == [PRIMARY]
    wait_for("the AOF rewrite after its sync", lambda: aof_settled(old), timeout=15)
    old = cluster.roll(PRIMARY, grace=15)
    old.wait_ready(30)
    assert old.labels[ROLE_LABEL] == "replica"
    assert master_service_pod(cluster) is new_primary
    wait_for("the link after the roll", lambda: link_up(old), timeout=30)


def test_failback_to_the_original_pod(cluster: Cluster) -> None:
    KEYS["before-failback"] = write_keys(cluster.pod(REPLICA), "before-failback", 200)
    assert cluster.apply(load_manifests(MANIFESTS)) == [PRIMARY, REPLICA]
    # Wave 1: the replicas StatefulSet (the serving primary) is demoted while the other pod serves reads; its
    # SIGTERM waits for that replica to catch up (shutdown-timeout), so no acknowledged write is left behind.
    assert cluster.pod(PRIMARY).ready()
    demoted = cluster.roll(REPLICA, grace=15)
    demoted.wait_ready(30)
    # Wave 2 only once wave 1 is healthy: the master StatefulSet's pod becomes the primary again.
    assert demoted.ready()
    original = cluster.roll(PRIMARY, grace=15)
    original.wait_ready(30)
    sync_at_once(original)
    assert "NOT STARTING AS PRIMARY" not in original.logs("redis")
    assert master_service_pod(cluster) is original
    assert (original.labels[ROLE_LABEL], demoted.labels[ROLE_LABEL]) == ("master", "replica")
    everything = KEYS["replicated"] + KEYS["after-promotion"] + KEYS["before-failback"]
    assert missing_keys(original, everything) == []
    wait_for("the demoted pod to follow", lambda: link_up(demoted), timeout=30)
    write_keys(original, "after-failback", 10)
    with connect(demoted, CLIENT_USER, CLIENT_PW) as r:
        wait_for("a new write on the replica", lambda: r.get("after-failback:9") == "after-failback:9", timeout=5)


def test_a_primary_unsure_of_its_peer_starts_fenced_until_a_replica_follows(cluster: Cluster) -> None:
    """No clear answer from the peer (a hung node: connections open, nothing answers) is not "no primary"."""
    primary, replica = cluster.pod(PRIMARY), cluster.pod(REPLICA)
    primary.stop(grace=15)
    replica.kill(signal.SIGSTOP)
    try:
        primary.start()
        wait_for("the fenced start", lambda: "FENCED" in primary.logs("redis"), timeout=60, interval=0.5)
        wait_for("the primary to answer", lambda: primary.probe("redis", "liveness"), timeout=20)
        assert info(primary, "replication")["role"] == "master"
        assert not primary.probe("redis", "readiness")
        with connect(primary, CLIENT_USER, CLIENT_PW) as c, pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            c.set("fenced:write", "x")
        sync_at_once(primary)
    finally:
        replica.kill(signal.SIGCONT)
    # The replica follows it again: proof that it is no primary; writes and readiness come back by themselves.
    primary.wait_ready(30)
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        assert c.set("fenced:write", "x") is True


def test_promoting_a_replica_that_never_synced_is_refused(cluster: Cluster) -> None:
    """Redis 7 writes an empty AOF (manifest + BASE) on its first start: Redis's files are not a dataset."""
    replica, primary = cluster.pod(REPLICA), cluster.pod(PRIMARY)
    wait_for("the AOF rewrite after its sync", lambda: aof_settled(replica), timeout=15)  # it refuses SIGTERM meanwhile
    replica.stop(grace=15)
    replica.wipe_pvc("data")
    primary.stop(grace=15)
    replica.start()  # its primary is down: nothing to sync from, but Redis creates its AOF files
    aof = replica.pvc_path("data") / "appendonlydir"
    wait_for("Redis's empty AOF", lambda: any(aof.glob("*.manifest")) and any(aof.glob("*.base.rdb")), timeout=10)
    assert not replica.probe("redis", "readiness")
    replica.stop(grace=15)
    replica.start()  # restarted on those files: still nothing to serve
    wait_for("the replica to answer", lambda: replica.probe("redis", "liveness"), timeout=20)
    assert not replica.probe("redis", "readiness")
    assert "not completed a sync" in replica.exec("redis", ["sh", f"{SCRIPTS_DIR}/probe.sh", "readiness"]).stdout
    replica.stop(grace=15)
    primary.start()  # the replica's pod refuses connections (nothing listens): not a primary, no fence
    primary.wait_ready(30)
    assert "FENCED" not in primary.logs("redis")
    assert cluster.apply(site_objects(REPLICA)) == [PRIMARY, REPLICA]
    refused = cluster.roll(REPLICA)
    assert refused.wait_exit(20, "redis") == 1
    assert "REFUSING TO START AS PRIMARY" in refused.logs("redis")
    # ArgoCD's wave 1 never gets healthy, so wave 2 never demotes the primary: it keeps serving.
    assert primary.ready()
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        assert c.set("still-primary", "ok") is True


def test_planned_switchover_runs_failover_then_commits_the_promotion(cluster: Cluster) -> None:
    """Both pods healthy: FAILOVER hands over without losing a write, then the commit makes it the configuration."""
    assert cluster.apply(load_manifests(MANIFESTS)) == [REPLICA]  # revert the refused promotion
    refused = cluster.pod(REPLICA)
    # The StatefulSet controller (OrderedReady) does not replace the unready pod, so the revert needs the
    # runbook's `kubectl delete pod` (README "Failover"); then it recreates it from the current template.
    with pytest.raises(PodError, match="not Ready"):
        cluster.roll(REPLICA)
    refused.stop(grace=15)
    primary = cluster.pod(PRIMARY)
    sync_at_once(primary)
    replica = cluster.roll(REPLICA)
    replica.wait_ready(30)  # empty volume: Ready only after its first sync
    keys = write_keys(primary, "before-switchover", 200)
    with connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        assert admin.execute_command("FAILOVER", "TIMEOUT", "10000") in (True, "OK")
    wait_for("the handover", lambda: info(replica, "replication")["role"] == "master", timeout=15)
    wait_for("the old primary to follow", lambda: link_up(primary), timeout=15)
    assert not primary.probe("redis", "readiness")  # labelled master, runs as replica: out of the master Service
    assert cluster.apply(site_objects(REPLICA)) == [PRIMARY, REPLICA]
    promoted = cluster.roll(REPLICA, grace=15)  # wave 1: configured primary, and the other pod is a replica
    promoted.wait_ready(30)
    sync_at_once(promoted)
    assert "NOT STARTING AS PRIMARY" not in promoted.logs("redis")
    # The old primary's mounted ConfigMap names the promoted pod now: a demoted replica, Ready once it follows
    # it again (the controller waits for that; OrderedReady replaces only Ready pods).
    cluster.pod(PRIMARY).wait_ready(30)
    wait_for("the AOF rewrite after its sync", lambda: aof_settled(cluster.pod(PRIMARY)), timeout=15)
    demoted = cluster.roll(PRIMARY, grace=15)  # wave 2
    demoted.wait_ready(30)
    assert master_service_pod(cluster) is promoted
    assert missing_keys(promoted, keys + KEYS["replicated"]) == []
    wait_for("the demoted pod to follow", lambda: link_up(demoted), timeout=30)


def test_full_volume_refuses_writes_keeps_reads_and_liveness_then_recovers(
    cluster: Cluster, mounts: list[Path], tmp_path: Path
) -> None:
    primary = master_service_pod(cluster)
    primary.stop(grace=15)
    data = volume_on_tmpfs(primary, tmp_path, 1024, mounts)
    primary.start()
    primary.wait_ready(30)
    value = "v" * 65536
    error = ""
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        for i in range(200):  # 12 MiB at most, the volume has about 1 MiB free
            try:
                c.set(f"fill:{i}", value)
            except redis.ResponseError as e:
                error = str(e)
                break
        assert error.startswith("MISCONF"), error
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            c.set("one-more", "x")
        assert c.get("before-switchover:0") == "before-switchover:0"  # reads go on
    assert primary.probe("redis", "liveness")  # alive: a restart would free nothing
    assert primary.probe("redis", "startup")
    assert not primary.probe("redis", "readiness")  # says what is wrong
    assert [v for _, v in metrics(primary)["redis_aof_last_write_status"]] == [0.0]  # RedisAofWriteFailing
    subprocess.run(["mount", "-o", "remount,size=64m", str(data)], check=True)

    def writable() -> bool:
        try:
            with connect(primary, CLIENT_USER, CLIENT_PW) as c:
                return c.set("room-again", "ok") is True
        except redis.ResponseError:
            return False

    wait_for("writes to resume", writable, timeout=15, interval=0.5)
    # probe.sh rewrites the AOF a short write damaged (docs/resilience.md) and is Ready once that completed.
    wait_for("the AOF repair", lambda: primary.probe("redis", "readiness"), timeout=15, interval=0.5)
    assert primary.running("redis")
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        acknowledged = {k: c.get(k) for k in [*c.keys("fill:*"), "room-again", "before-switchover:0"]}
        assert c.set("after-recovery", "x") is True
    acknowledged["after-recovery"] = "x"
    # The happy path that hid the AOF hole: a restart after the recovery loads every acknowledged key.
    primary.stop(grace=15)
    primary.start()
    primary.wait_ready(30)
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        assert {k: c.get(k) for k in acknowledged} == acknowledged, primary.logs("redis")[-3000:]
