"""The synthesized redis-shared pods, run as local processes (tests/support/podrunner), against the success criteria.

The objects are dist/redis-shared/manifests.yaml exactly as committed (kept fresh by test_synth). The two
Secrets the cluster gets out of band are supplied here. Every client talks to pod IPs on the runner's private
bridge (198.18.<slot>.0/24); every loop is bounded in count and time. Tests run in file order on one cluster: the
last one deliberately leaves the primary down.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from podrunner import Cluster, Pod, load_manifests
from podrunner.host import decoy_dirs
from redis.exceptions import NoPermissionError
from redis_pods import (
    ADMIN_PW,
    ADMIN_USER,
    CLIENT_PW,
    CLIENT_USER,
    CREDENTIALS,
    EXPORTER_PW,
    EXPORTER_USER,
    MANIFESTS,
    PASSWORDS_BY_FILE,
    PRIMARY,
    REDIS_DEFAULT_SYNC_DELAY_SECONDS,
    REPL_PW,
    REPL_USER,
    REPLICA,
    aof_settled,
    connect,
    info,
    link_up,
    metrics,
    missing_keys,
    out_of_band_secrets,
    raw_replies,
    resp,
    set_sync_delay,
    start_primary_first,
    sync_at_once,
    wait_for,
    write_keys,
)

# host_exclusive: the decoy dirs (the cluster fixture) need no other runner on the host meanwhile.
pytestmark = [pytest.mark.runtime, pytest.mark.host_exclusive]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    objects = load_manifests(MANIFESTS)
    with (
        Cluster(
            objects,
            tmp_path_factory.mktemp("redis-shared"),
            secrets=out_of_band_secrets(objects, PASSWORDS_BY_FILE),
            cgroup_limits=True,
        ) as c,
        decoy_dirs(mount_paths(objects)),
    ):
        # Hermetic: the whole module runs on a host with dirs (holding a file) at every path the pods mount.
        start_primary_first(c)
        wait_for("the replica's first sync", lambda: link_up(c.pod(REPLICA)), timeout=20)
        yield c


def mount_paths(objects: list[dict[str, Any]]) -> list[Path]:
    """Every mountPath of every container of the StatefulSets."""
    return sorted(
        {
            Path(vm["mountPath"])
            for sts in objects
            if sts["kind"] == "StatefulSet"
            for c in [
                *sts["spec"]["template"]["spec"].get("initContainers", []),
                *sts["spec"]["template"]["spec"]["containers"],
            ]
            for vm in c.get("volumeMounts", [])
        }
    )


@pytest.fixture
def primary(cluster: Cluster) -> Pod:
    return cluster.pod(PRIMARY)


@pytest.fixture
def replica(cluster: Cluster) -> Pod:
    return cluster.pod(REPLICA)


def restart_primary(pod: Pod) -> None:
    """Recreate the primary and wait until it is Ready; the replica's resync then starts at once."""
    pod.restart(grace=15)
    pod.wait_ready(30)
    sync_at_once(pod)


# --- replication --------------------------------------------------------------------------------------------


def test_write_on_primary_is_read_on_replica(primary: Pod, replica: Pod) -> None:
    with connect(primary, CLIENT_USER, CLIENT_PW) as p, connect(replica, CLIENT_USER, CLIENT_PW) as r:
        assert p.set("repl:probe", "v1")
        wait_for("the key on the replica", lambda: r.get("repl:probe") == "v1", timeout=5)
        with pytest.raises(redis.ReadOnlyError):
            r.set("repl:probe", "v2")
    repl = info(replica, "replication")
    assert repl["role"] == "slave"
    assert repl["master_link_status"] == "up"
    assert repl["master_host"] == "redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local"
    assert info(primary, "replication")["connected_slaves"] == 1


# --- authentication and ACLs ----------------------------------------------------------------------------------


def test_sc008_every_unauthenticated_or_wrong_password_try_is_rejected(primary: Pod, replica: Pod) -> None:
    tries = 1000
    wrong: list[tuple[str, ...]] = [
        ("AUTH", "wrong"),
        ("AUTH", CLIENT_PW + "x"),
        ("AUTH", CLIENT_PW[:-1]),
        ("AUTH", ""),
        ("AUTH", ADMIN_USER, CLIENT_PW),  # a real password for the wrong user
        ("AUTH", ADMIN_USER, ADMIN_PW.upper()),
        ("AUTH", REPL_USER, "x" * 64),
        ("AUTH", "nosuchuser", CLIENT_PW),
    ]
    started = time.monotonic()
    no_pw = wrong_pw = 0
    for i in range(tries):
        pod = primary if i % 10 else replica  # mostly the primary, the published one; the replica too
        first, second = raw_replies(pod.ip, resp("SET", "sc008", "x") + resp("GET", "sc008"), 2)
        no_pw += first.startswith(b"-NOAUTH") and second.startswith(b"-NOAUTH")
        auth = wrong[i % len(wrong)]
        first, second = raw_replies(pod.ip, resp(*auth) + resp("GET", "sc008"), 2)
        wrong_pw += first.startswith((b"-WRONGPASS", b"-ERR")) and second.startswith(b"-NOAUTH")
        assert time.monotonic() - started < 60, f"{i} tries took over 60 s"
    assert (no_pw, wrong_pw) == (tries, tries)
    with pytest.raises(redis.AuthenticationError), connect(primary, CLIENT_USER, "wrong") as c:
        c.ping()
    with connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        assert admin.exists("sc008") == 0  # not one SET got through


@pytest.mark.parametrize(
    "command",
    [
        ("FLUSHDB",),
        ("FLUSHALL",),
        ("CONFIG", "GET", "requirepass"),
        ("CONFIG", "SET", "maxmemory", "1"),
        ("SHUTDOWN", "NOSAVE"),
        ("ACL", "SETUSER", "default", "+@all"),
        ("ACL", "SETUSER", "intruder", "on", ">pw", "+@all", "~*"),
        ("ACL", "LIST"),
        ("REPLICAOF", "NO", "ONE"),
        ("SLAVEOF", "NO", "ONE"),
        ("MODULE", "LOAD", "/nonexistent/evil.so"),
        ("DEBUG", "SLEEP", "0"),
        ("MONITOR",),
        ("SYNC",),
        ("PSYNC", "?", "-1"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_client_user_cannot_run_admin_or_dangerous_commands(primary: Pod, command: tuple[str, ...]) -> None:
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        c.set("acl:canary", "alive")
        # MODULE and DEBUG are refused even before the ACL check (enable-*-command defaults to "no")...
        with pytest.raises(redis.ResponseError) as refused:
            c.execute_command(*command)
        if command[0] not in ("MODULE", "DEBUG"):
            assert isinstance(refused.value, NoPermissionError), refused.value
        assert c.get("acl:canary") == "alive"
        assert c.ping()
    # ...so the ACL itself is checked too: the client user must not be allowed to run any of them.
    with connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        verdict = admin.execute_command("ACL", "DRYRUN", CLIENT_USER, *command)
        assert "no permissions" in str(verdict), verdict


def test_client_user_can_do_ordinary_work(primary: Pod) -> None:
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        c.set("app:a", "1", ex=300)
        assert c.incr("app:counter") >= 1
        c.hset("app:h", mapping={"f": "v"})
        assert c.hgetall("app:h") == {"f": "v"}
        assert c.ttl("app:a") > 0
        assert "redis_version" in c.info("server")


def test_admin_user_can_administer(primary: Pod) -> None:
    with connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        assert admin.acl_whoami() == ADMIN_USER
        users = admin.acl_list()
        assert sorted(u.split()[1] for u in users) == [
            "admin",
            "backup",
            "check",
            "default",
            "exporter",
            "migration",
            "replication",
        ]
        for _, pw in CREDENTIALS.values():
            assert all(pw not in u for u in users)  # only SHA-256 hashes are loaded
        assert admin.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        admin.execute_command("SELECT", "9")
        admin.set("admin:scratch", "1")
        assert admin.execute_command("FLUSHDB") in (True, "OK")
        assert admin.dbsize() == 0


def test_replication_and_exporter_users_can_do_their_job_and_nothing_else(primary: Pod, replica: Pod) -> None:
    with connect(primary, REPL_USER, REPL_PW) as repl:
        assert repl.ping()
        assert repl.execute_command("REPLCONF", "listening-port", "6380") in (True, "OK")
        repl_denied: list[tuple[str, ...]] = [("GET", "k"), ("SET", "k", "v"), ("INFO",), ("CONFIG", "GET", "*")]
        for command in repl_denied:
            with pytest.raises(NoPermissionError):
                repl.execute_command(*command)
    with connect(primary, EXPORTER_USER, EXPORTER_PW) as exp:
        assert exp.ping()
        assert "connected_slaves" in exp.info("replication")
        exp.execute_command("SLOWLOG", "GET", "1")
        # Per-tenant metrics: CLIENT LIST (connections by user) and SCAN (key counts by prefix); names only.
        exp.execute_command("CLIENT", "LIST")
        exp.execute_command("SCAN", "0", "MATCH", "shop:*")
        exp_denied: list[tuple[str, ...]] = [("GET", "k"), ("SET", "k", "v"), ("CONFIG", "GET", "requirepass")]
        exp_denied += [("KEYS", "*"), ("CLIENT", "KILL", "ID", "1"), ("CLIENT", "SETNAME", "x"), ("ACL", "LIST")]
        # The backup's report keys (the ServiceMonitor's backup-report scrape): read with every command the exporter
        # sends per key (v1.88's MEMORY USAGE too, which the tests' 1.45 does not send), never written.
        report = "redis-shared:backup:last-bytes"
        for command in (("TYPE",), ("MEMORY", "USAGE"), ("PFCOUNT",), ("STRLEN",), ("GET",)):
            exp.execute_command(*command, report)
        exp_denied += [("SET", report, "1"), ("DEL", report), ("MEMORY", "USAGE", "k"), ("STRLEN", "k")]
        for command in exp_denied:
            with pytest.raises(NoPermissionError):
                exp.execute_command(*command)
    # Their real job: the replica's link authenticated as `replication` (checked live in the fixture).
    assert info(replica, "replication")["master_link_status"] == "up"


# --- exporter -------------------------------------------------------------------------------------------------


def test_exporter_reports_each_pod_with_only_its_own_credentials(primary: Pod, replica: Pod) -> None:
    for pod, role in ((primary, "master"), (replica, "slave")):
        m = metrics(pod)
        assert m["redis_up"] == [("", 1.0)], pod.name
        assert [v for labels, v in m["redis_instance_info"] if f'role="{role}"' in labels] == [1.0], pod.name
        assert pod.probe("metrics", "liveness")
        assert pod.probe("metrics", "readiness")
        # The exporter container holds the exporter's password and nothing else.
        assert pod.exec("metrics", ["ls", "/opt/redis-shared/secrets"]).returncode != 0
        assert pod.exec("metrics", ["ls", "/run/redis-exporter"]).stdout.split() == ["password.json"]
        pw_file = pod.exec("metrics", ["cat", "/run/redis-exporter/password.json"]).stdout
        # The site scrapes over TLS (REDIS_ADDR rediss://localhost:6380): the file is keyed by that address
        # (what this 1.45 exporter looks up, so redis_up 1 above proves it) and by it with the user (>= 1.69).
        assert json.loads(pw_file) == {
            "rediss://localhost:6380": EXPORTER_PW,
            "rediss://exporter@localhost:6380": EXPORTER_PW,
        }
        assert not any(pw in pod.exec("metrics", ["env"]).stdout for _, pw in CREDENTIALS.values())
    assert metrics(primary)["redis_connected_slaves"] == [("", 1.0)]
    assert [v for _, v in metrics(replica)["redis_master_link_up"]] == [1.0]


# --- durability (SC-007) ----------------------------------------------------------------------------------------


def test_sc007_sigterm_loses_no_acknowledged_write(primary: Pod) -> None:
    keys = write_keys(primary, "sc007-term", 5000)
    primary.kill(signal.SIGTERM)
    assert primary.wait_exit(15) == 0
    assert "ready to exit" in primary.logs("redis")
    restart_primary(primary)
    assert missing_keys(primary, keys) == []


def test_sc007_sigkill_loses_nothing_written_more_than_a_second_earlier(primary: Pod) -> None:
    keys = write_keys(primary, "sc007-kill", 5000)
    time.sleep(1.5)  # appendfsync everysec: older writes are on disk
    primary.kill(signal.SIGKILL)
    assert primary.wait_exit(5) == 128 + signal.SIGKILL
    restart_primary(primary)
    assert missing_keys(primary, keys) == []


# --- availability (SC-002) ------------------------------------------------------------------------------------


def test_sc002_replica_keeps_serving_reads_while_the_primary_is_down(primary: Pod, replica: Pod) -> None:
    wait_for("the replica to resync after the restarts", lambda: link_up(replica), timeout=20)
    keys = write_keys(primary, "sc002", 200)
    with connect(replica, CLIENT_USER, CLIENT_PW) as r:
        wait_for("the keys on the replica", lambda: r.get(keys[-1]) == keys[-1], timeout=5)
    primary.kill(signal.SIGKILL)
    assert primary.wait_exit(5) == 128 + signal.SIGKILL
    wait_for("the replica to notice", lambda: not link_up(replica), timeout=10)
    reads = 0
    deadline = time.monotonic() + 4
    with connect(replica, CLIENT_USER, CLIENT_PW) as r:
        while time.monotonic() < deadline and reads < 400:
            assert r.get(keys[reads % len(keys)]) == keys[reads % len(keys)]
            reads += 1
            if reads % 100 == 0:  # the rendered probes, as the kubelet would run them meanwhile
                for kind in ("liveness", "readiness", "startup"):
                    assert replica.probe("redis", kind), kind
            time.sleep(0.005)
    assert reads >= 100
    assert replica.running("redis")
    restart_primary(primary)
    wait_for("the replica to reconnect", lambda: link_up(replica), timeout=20)
    write_keys(primary, "sc002-after", 10)
    with connect(replica, CLIENT_USER, CLIENT_PW) as r:
        wait_for("a new write on the replica", lambda: r.get("sc002-after:9") == "sc002-after:9", timeout=5)


def test_a_new_replica_is_not_ready_until_its_first_sync(primary: Pod, replica: Pod) -> None:
    """A replica with a fresh volume answers PING at once but has no data until the primary's full sync."""
    write_keys(primary, "fresh", 5)
    set_sync_delay(primary, REDIS_DEFAULT_SYNC_DELAY_SECONDS)  # as rendered: the window this test looks into
    wait_for("the replica's AOF rewrite after its last sync", lambda: aof_settled(replica), timeout=15)
    replica.stop(grace=15)
    replica.wipe_pvc("data")
    replica.start()
    wait_for("the replica to answer", lambda: replica.probe("redis", "liveness"), timeout=15)
    # The primary waits repl-diskless-sync-delay (5 s) before it sends the data: the window is wide.
    assert not link_up(replica)
    assert not replica.probe("redis", "readiness")
    sync_at_once(primary)  # seen unready while it waited: the sync may start now
    wait_for("the first sync", lambda: link_up(replica), timeout=30)
    assert replica.probe("redis", "readiness")
    with connect(replica, CLIENT_USER, CLIENT_PW) as r:
        assert r.get("fresh:4") == "fresh:4"


# --- memory -----------------------------------------------------------------------------------------------------


def test_primary_evicts_at_maxmemory_inside_its_memory_limit_and_is_never_oom_killed(
    primary: Pod, replica: Pod
) -> None:
    limit = primary.memory_limit("redis")
    assert limit is not None
    stats = primary.memory_stats("redis")
    assert stats.limit_bytes == limit
    with connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        maxmemory = int(admin.config_get("maxmemory")["maxmemory"])
    assert 0 < maxmemory < limit
    value = "x" * 65536
    batches = (2 * maxmemory) // (len(value) * 64) + 1
    started = time.monotonic()
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        for b in range(batches):
            pipe = c.pipeline(transaction=False)
            for i in range(64):
                pipe.set(f"mem:{b}:{i}", value)
            assert all(r is True for r in pipe.execute())
            assert time.monotonic() - started < 60
    evicted = info(primary, "stats")["evicted_keys"]
    memory = info(primary, "memory")
    # What Redis holds under maxmemory: used_memory less the replicas' share of the replication buffer beyond the
    # backlog and the AOF buffer (evict.c, getMaxmemoryState / freeMemoryGetNotCountedMemory, 7.0.15; INFO's
    # mem_not_counted_for_evict). A replica slowed down by a busy machine grows that share; the RSS check below
    # bounds the whole process.
    counted = memory["used_memory"] - memory["mem_not_counted_for_evict"]
    stats = primary.memory_stats("redis")
    assert evicted > 0
    assert counted <= maxmemory * 1.05
    assert primary.running("redis")
    assert stats.oom_kills == 0
    # Usage may touch the limit through the AOF's page cache (reclaimable); the process memory must not.
    assert stats.rss_bytes < limit, stats
    (exported,) = [v for _, v in metrics(primary)["redis_evicted_keys_total"]]
    assert exported >= evicted  # what the alerting sees
    # The replica applies the same writes and the primary's evictions (replicas ignore maxmemory).
    assert replica.running("redis")
    assert replica.memory_stats("redis").oom_kills == 0


# --- a primary that lost its data -------------------------------------------------------------------------------


def test_empty_primary_refuses_to_start_and_the_replica_keeps_its_data(primary: Pod, replica: Pod) -> None:
    wait_for("the replica to be in sync", lambda: link_up(replica), timeout=20)
    keys = write_keys(primary, "survivor", 50)
    with connect(replica, CLIENT_USER, CLIENT_PW) as r:
        wait_for("the keys on the replica", lambda: r.get(keys[-1]) == keys[-1], timeout=5)
    primary.stop(grace=15)
    before = info(replica, "keyspace")["db0"]["keys"]  # the primary is gone: nothing changes it any more
    assert before > 0
    primary.wipe_pvc("data")
    primary.start()
    assert primary.wait_exit(20, "redis") == 1
    assert "REFUSING TO START" in primary.logs("redis")
    assert info(replica, "keyspace")["db0"]["keys"] == before
    assert missing_keys(replica, keys) == []
    assert info(replica, "replication")["master_link_status"] == "down"  # no resync from the empty primary
