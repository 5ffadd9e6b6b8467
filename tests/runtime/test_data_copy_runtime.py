"""The cutover's data copy, run for real: beersystem's old Redis pod, the redis-shared pods and the rendered copy Job.

The site is rendered in SCALED_DOWN (the app at 0 replicas) and then CUTOVER; the CUTOVER render's ArgoCD
``PreSync`` hooks are run in hook-wave order before anything of the Sync phase (the copy Job is the only one
that runs code). The old Redis Deployment and the Job's pod template are given to the pod runner as one-replica
StatefulSets (it emulates StatefulSet pods only); what runs is their rendered command, env, volumes and user.
The old Redis holds > 100,000 keys of every kind; redis-shared holds another tenant's keys. Tests share one
cluster and run in file order: guard, conflict, a copy killed half-way, its rerun, the marker.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from binding_world import World
from copy_data import as_statefulset, big_commands, cutover_secrets, hooks, keyspace, load, odd_commands
from podrunner import Cluster
from redis_pods import start_primary_first, tls_secrets

import main
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration.beersystem import BEERSYSTEM_DATA_COPY
from redis_constructs.migration.binding import MigrationPhase
from redis_constructs.migration.copy_program import READ_BUDGET_BYTES, Connection, by_size, pairs, scan

pytestmark = pytest.mark.runtime

Obj = dict[str, Any]
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
KEYS = 100_000
OLD_PW = "old-Beersystem_0123456789"
SYSTEM = {key: f"{key}-Copy_0123456789" for key in main.SYSTEM_KEYS}
CLIENT_PW = "client-Copy_0123456789ab"
SECRETS = cutover_secrets(OLD_PW, CLIENT_PW, SYSTEM)
ALL_PASSWORDS = (OLD_PW, CLIENT_PW, *SYSTEM.values())
OLD_POD = "beersystem-redis-0"
OTHER_TENANT = 1000


def render(phase: MigrationPhase) -> dict[str, list[Obj]]:
    return chart_objects(main.build_app(phase=phase, cutover_time=T0, now=lambda: T0))


def reverse_copy() -> list[Obj]:
    """The opt-in reverse copy (SCALED_DOWN with ``reverse_match``): the site's names, beersystem's key prefix."""
    world = World()
    world.bind(
        phase=MigrationPhase.SCALED_DOWN, data_copy=dataclasses.replace(BEERSYSTEM_DATA_COPY, reverse_match=("beer:*",))
    )
    found = hooks(world.objects(), "PostSync")
    assert [o["kind"] for o in found] == ["ConfigMap", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy", "Job"]
    return [*found[:-1], as_statefulset(found[-1], "copy-back")]


@pytest.fixture(scope="module")
def scaled_down() -> dict[str, list[Obj]]:
    return render(MigrationPhase.SCALED_DOWN)


@pytest.fixture(scope="module")
def cutover() -> dict[str, list[Obj]]:
    return render(MigrationPhase.CUTOVER)


@pytest.fixture(scope="module")
def copy_job(cutover: dict[str, list[Obj]]) -> Obj:
    pre = hooks([o for objs in cutover.values() for o in objs], "PreSync")
    assert [o["kind"] for o in pre] == ["ConfigMap", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy", "Job"]
    return pre[-1]


def with_wait(job: Obj, seconds: int) -> Obj:
    """The Job with a shorter wait for other clients (the rendered 120 s would only slow the guard test down)."""
    job = copy.deepcopy(job)
    args = job["spec"]["template"]["spec"]["containers"][0]["command"]
    args[args.index("--wait-clients-seconds") + 1] = str(seconds)
    return job


@pytest.fixture(scope="module")
def cluster(
    scaled_down: dict[str, list[Obj]],
    cutover: dict[str, list[Obj]],
    copy_job: Obj,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    # SCALED_DOWN: the app is at 0 replicas, so no beersystem pod runs; the old Redis does.
    app = next(
        o for o in scaled_down["beersystem"] if o["kind"] == "Deployment" and o["metadata"]["name"] == "beersystem"
    )
    assert app["spec"]["replicas"] == 0
    old = next(
        o
        for o in scaled_down["beersystem"]
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "beersystem-redis"
    )
    objects = [o for o in cutover["redis-shared"] if o["kind"] != "Job"]
    objects += [o for o in cutover["beersystem"] if o["kind"] in ("Service", "NetworkPolicy")]
    objects += [o for o in cutover["beersystem-migration"] if o["kind"] != "Job"]
    objects += [as_statefulset(old, "beersystem-redis"), as_statefulset(with_wait(copy_job, 2), "copy-guard")]
    objects += [as_statefulset(copy_job, "copy"), *reverse_copy()]
    # The site serves TLS too: cert-manager's Secret, issued here by a test CA.
    secrets = SECRETS | tls_secrets(cutover["redis-shared"])
    with Cluster(objects, tmp_path_factory.mktemp("data-copy"), secrets=secrets) as c:
        start_primary_first(
            c, ["redis-shared-replicas-0", OLD_POD], admin_password=SYSTEM["admin-password"], timeout=60
        )
        with connect(c, OLD_POD, OLD_PW) as conn:
            load(conn, [*keyspace(KEYS), *odd_commands(), *big_commands(1, 30 << 20)])
            load(conn, [["HSET", "big:hash2", "f", b"x" * (12 << 20)]])
        with connect(c, "redis-shared-master-0", SYSTEM["admin-password"], user="admin") as conn:
            load(conn, [["SET", b"other:%d" % i, b"tenant-%d" % i] for i in range(OTHER_TENANT)])
        yield c


class connect:  # noqa: N801 - used as a context manager like open()
    def __init__(self, cluster: Cluster, pod: str, password: str, user: str | None = None) -> None:
        self.conn = Connection(cluster.pod(pod).ip, 6379)
        self.conn.call(*(("AUTH", user, password) if user else ("AUTH", password)))

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def shared_state(cluster: Cluster) -> dict[bytes, bytes | None]:
    """Every key in redis-shared with its DUMP payload (the admin user)."""
    with connect(cluster, "redis-shared-master-0", SYSTEM["admin-password"], user="admin") as conn:
        keys = scan(conn)
        sizes = conn.pipeline([["MEMORY", "USAGE", k] for k in keys])
        state: dict[bytes, bytes | None] = {}
        # In reads of at most READ_BUDGET_BYTES: all of it at once would pass the output-buffer limit.
        for group in by_size(keys, [n if isinstance(n, int) else 0 for n in sizes], READ_BUDGET_BYTES):
            dumps = conn.pipeline([["DUMP", k] for k in group])
            state |= {k: d if isinstance(d, bytes) else None for k, d in zip(group, dumps, strict=True)}
        return state


def dbsize(cluster: Cluster) -> int:
    with connect(cluster, "redis-shared-master-0", SYSTEM["admin-password"], user="admin") as conn:
        n = conn.call("DBSIZE")
        assert isinstance(n, int)
        return n


def run_job(cluster: Cluster, pod: str, timeout: float = 120) -> tuple[int, str]:
    p = cluster.pod(pod)
    p.start()
    code = p.wait_exit(timeout)
    return code, p.logs()


def test_copy_refuses_while_another_client_is_connected_to_the_old_redis(cluster: Cluster) -> None:
    before = shared_state(cluster)
    with connect(cluster, OLD_POD, OLD_PW):
        code, log = run_job(cluster, "copy-guard-0")
    assert code == 3, log
    assert "other client(s) still connected" in log
    assert shared_state(cluster) == before


def test_conflict_fails_with_the_key_name_and_changes_nothing(cluster: Cluster) -> None:
    with connect(cluster, "redis-shared-master-0", SYSTEM["admin-password"], user="admin") as conn:
        conn.call("SET", b"new\nline", "another tenant's value")
        conn.call("SET", "beer:string:7", b"v7" * 3)  # equal to the old value: not a conflict
    before = shared_state(cluster)
    code, log = run_job(cluster, "copy-0")
    assert code == 2, log
    assert "1 key(s) already exist" in log and "'new\\nline'" in log and "nothing was written" in log
    assert shared_state(cluster) == before
    with connect(cluster, "redis-shared-master-0", SYSTEM["admin-password"], user="admin") as conn:
        conn.call("DEL", b"new\nline", "beer:string:7")


def _sample_cmdlines(stop: threading.Event, seen: set[str]) -> None:
    while not stop.is_set():
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    seen.add((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        time.sleep(0.05)


def test_copy_killed_half_way_then_rerun_completes_and_verifies(cluster: Cluster) -> None:
    stop, cmdlines = threading.Event(), set[str]()
    sampler = threading.Thread(target=_sample_cmdlines, args=(stop, cmdlines), daemon=True)
    sampler.start()
    try:
        pod = cluster.pod("copy-0")
        pod.start()
        deadline = time.monotonic() + 60
        while dbsize(cluster) < OTHER_TENANT + KEYS // 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        pod.kill()
        assert pod.wait_exit(10) == 137
        partial = dbsize(cluster)
        assert OTHER_TENANT < partial < OTHER_TENANT + KEYS, "the kill should land mid-copy"
        code, log = run_job(cluster, "copy-0", timeout=180)
    finally:
        stop.set()
        sampler.join()
    assert code == 0, log
    summary = log.strip().splitlines()[-1]
    assert summary.startswith("verified: ") and "differences=0" in summary, log
    fields = dict(f.split("=") for f in summary.removeprefix("verified: ").split())
    assert int(fields["already_present"]) > 0 and int(fields["copied"]) > 0
    assert int(fields["keys"]) >= KEYS
    # No password on any command line while the Job ran (the cmdline of every process on the host).
    assert cmdlines and not [c for c in cmdlines for pw in ALL_PASSWORDS if pw in c]


def unordered_value(conn: Connection, key: bytes) -> object:
    kind = conn.call("TYPE", key)
    if kind == b"set":
        members = conn.call("SMEMBERS", key)
        assert isinstance(members, list)
        return ("set", sorted(m for m in members if isinstance(m, bytes)))
    if kind == b"hash":
        flat = conn.call("HGETALL", key)
        assert isinstance(flat, list)
        return ("hash", sorted(zip(flat[::2], flat[1::2], strict=True), key=repr))
    return ("dump", conn.call("DUMP", key))  # any other type must DUMP identically


def test_every_key_equal_ttls_within_2s_other_tenant_untouched(cluster: Cluster) -> None:
    with (
        connect(cluster, OLD_POD, OLD_PW) as old,
        connect(cluster, "redis-shared-master-0", SYSTEM["admin-password"], user="admin") as new,
    ):
        keys = scan(old)
        assert len(keys) >= KEYS
        checked = 0
        for i in range(0, len(keys), 2000):
            batch = keys[i : i + 2000]
            cmds = pairs(batch, lambda k: ["DUMP", k], lambda k: ["PTTL", k])
            a, b = old.pipeline(cmds), new.pipeline(cmds)
            for k, da, ta, db, tb in zip(batch, a[::2], a[1::2], b[::2], b[1::2], strict=True):
                assert isinstance(ta, int) and isinstance(tb, int)
                if da is None:  # expired on the old Redis meanwhile (a ms TTL): then also gone, or about to go
                    assert db is None or 0 <= tb <= 2000, k
                    continue
                if da != db:  # a hashtable-encoded set or hash DUMPs in its iteration order: compare members
                    assert unordered_value(old, k) == unordered_value(new, k), k
                assert (ta < 0 and ta == tb) or abs(ta - tb) <= 2000, (k, ta, tb)
                checked += 1
        assert checked >= KEYS
        for name in (b"\xff\xfe not utf-8 \x80", b"new\nline", b"'single' \"double\" `back`", b""):
            assert new.call("GET", name) == b"odd:" + name
        stream = new.call("XINFO", "GROUPS", "beer:stream:5")
        assert isinstance(stream, list) and len(stream) == 2
        others = new.pipeline([["GET", b"other:%d" % i] for i in range(OTHER_TENANT)])
        assert others == [b"tenant-%d" % i for i in range(OTHER_TENANT)]


def test_a_later_sync_finds_the_marker_and_copies_nothing(cluster: Cluster) -> None:
    before = shared_state(cluster)
    code, log = run_job(cluster, "copy-0")
    assert code == 0, log
    assert "already copied and verified" in log
    assert shared_state(cluster) == before
    # It needs nothing of the old Redis then (the target is asked first): a later sync passes with it down.
    old = cluster.pod(OLD_POD)
    old.stop()
    try:
        code, log = run_job(cluster, "copy-0")
        assert code == 0 and "already copied and verified" in log, log
    finally:
        old.start()
        old.wait_ready(30)


def test_opt_in_reverse_copy_brings_the_apps_keys_back_to_the_old_redis(cluster: Cluster) -> None:
    with connect(cluster, "redis-shared-master-0", CLIENT_PW) as new:
        # What beersystem wrote after the cutover, and what another tenant wrote.
        new.call("SET", "beer:string:14", "changed after the cutover")
        new.call("SET", "beer:since-cutover", "new", "PX", 600_000)
        set_at = time.monotonic()
        new.call("SET", "other:since-cutover", "not beersystem's")
    code, log = run_job(cluster, "copy-back-0")
    assert code == 0, log
    assert "differences=0" in log.strip().splitlines()[-1]
    with connect(cluster, OLD_POD, OLD_PW) as old:
        assert old.call("GET", "beer:string:14") == b"changed after the cutover"
        assert old.call("GET", "beer:since-cutover") == b"new"
        pttl = old.call("PTTL", "beer:since-cutover")
        # The TTL went along (not dropped): what was left of it when read back, within the copy's
        # 2 s tolerance, however long the Job took on a loaded machine.
        elapsed_ms = (time.monotonic() - set_at) * 1000
        assert isinstance(pttl, int) and 600_000 - elapsed_ms - 2_000 < pttl <= 600_000, (pttl, elapsed_ms)
        assert old.call("EXISTS", "other:since-cutover", "other:1") == 0
