"""The data copy as rendered: phases, hooks, Flux units, the Job's name, credentials and NetworkPolicies."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from binding_world import LATER, OLD_OBJECTS, T0, World, at, only_job, site
from conftest import find, of_kind
from netpol import Peer, Target, admits

import main
from redis_constructs.core.errors import PropError
from redis_constructs.core.refs import SecretKeyRef
from redis_constructs.gitops.sync_annotations import APP_SYNC_WAVE
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration.beersystem import (
    BEERSYSTEM_DATA_COPY,
    BeersystemRedisBinding,
    BeersystemRedisBindingProps,
)
from redis_constructs.migration.binding import MigrationPhase
from redis_constructs.migration.copy_program import __file__ as program_path
from redis_constructs.migration.data_copy import (
    PROGRAM,
    BindingDataCopy,
    CopyDirection,
    DataCopyJobRun,
    OldRedisEndpoint,
    RedisDataCopy,
    RedisDataCopyProps,
    copy_command,
)

Obj = dict[str, Any]
OLD_REDIS = {"app.kubernetes.io/name": "beersystem-redis"}
JOB_POD = {"app.kubernetes.io/name": "beersystem-redis-copy", "app.kubernetes.io/component": "redis-data-copy"}
OLD = OldRedisEndpoint(
    host="old.ns.svc.cluster.local", namespace="ns", pod_labels=OLD_REDIS, password=SecretKeyRef(name="old", key="pw")
)
REDIS_POD = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis-shared"}


@pytest.fixture
def world() -> Iterator[World]:
    yield World()


def args_of(job: Obj) -> list[str]:
    return list(job["spec"]["template"]["spec"]["containers"][0]["command"])


def test_scaled_down_stops_the_app_on_its_old_redis_and_copies_nothing() -> None:
    charts = site(MigrationPhase.SCALED_DOWN)
    app = find(charts["beersystem"], "Deployment", "beersystem", "beersystem")
    before = find(site(MigrationPhase.BEFORE_CUTOVER)["beersystem"], "Deployment", "beersystem", "beersystem")
    assert app["spec"]["replicas"] == 0
    # Only the replica count changes: still the old Redis, the app's own strategy and template.
    assert {**app["spec"], "replicas": before["spec"]["replicas"]} == before["spec"]
    assert app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == str(APP_SYNC_WAVE)
    # The old Redis is protected from pruning from here on.
    old = find(charts["beersystem"], "Deployment", "beersystem-redis", "beersystem")
    assert old["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
    assert charts["beersystem-migration"] == []


@pytest.mark.parametrize("phase", [MigrationPhase.BEFORE_CUTOVER, MigrationPhase.DECOMMISSIONED])
def test_no_copy_outside_cutover(phase: MigrationPhase) -> None:
    # DECOMMISSIONED holds the site's decommission gate there instead (tests/unit/migration/test_decommission_gate.py).
    assert [o for o in site(phase)["beersystem-migration"] if "gate" not in o["metadata"]["name"]] == []


def test_cutover_copy_is_a_pre_sync_hook_in_its_own_flux_unit() -> None:
    charts = site(MigrationPhase.CUTOVER)
    migration = charts["beersystem-migration"]
    assert sorted((o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in migration) == [
        ("ConfigMap", "redis", "beersystem-redis-copy-program"),
        ("Job", "redis", only_job(migration)["metadata"]["name"]),
        ("NetworkPolicy", "beersystem", "beersystem-redis-copy-ingress"),
        ("NetworkPolicy", "redis", "beersystem-redis-copy"),
        ("NetworkPolicy", "redis", "beersystem-redis-copy-ingress"),
    ]
    for o in migration:
        ann = o["metadata"]["annotations"]
        assert ann["argocd.argoproj.io/hook"] == "PreSync"
        assert ann["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
        # The program and the policies exist before the Job starts (hook waves).
        assert ann["argocd.argoproj.io/sync-wave"] == ("0" if o["kind"] == "Job" else "-1")
    # The copy is not in the app's folder: Flux applies beersystem only once this unit is Ready.
    assert of_kind(charts["beersystem"], "Job")[0]["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
    flux = {o["metadata"]["name"]: o["spec"] for o in charts["flux"]}
    assert {"name": "beersystem-migration"} in flux["beersystem"]["dependsOn"]
    assert flux["beersystem-migration"]["wait"] is True
    # Flux waits as long as the Job may run (activeDeadlineSeconds 3600) before calling the unit failed.
    assert flux["beersystem-migration"]["timeout"] == "65m"


def test_the_job_runs_the_packaged_program_with_passwords_from_files() -> None:
    migration = site(MigrationPhase.CUTOVER)["beersystem-migration"]
    assert find(migration, "ConfigMap", "beersystem-redis-copy-program", "redis")["data"] == {
        "copy_program.py": PROGRAM
    }
    assert Path(program_path).read_text() == PROGRAM
    job = only_job(migration)
    args = args_of(job)
    assert args[:3] == ["python3", "/opt/redis-shared-copy/copy_program.py", "copy"]
    opts = dict(zip(args[3::2], args[4::2], strict=True))
    assert opts["--source-host"] == "beersystem-redis.beersystem.svc.cluster.local"
    assert opts["--target-host"] == "redis-shared-master.redis.svc.cluster.local"
    assert opts["--target-user"] == "migration"
    assert opts["--marker"] == "redis-shared:migration:beersystem/beersystem:" + T0.isoformat()
    assert opts["--source-password-file"].startswith("/var/run/secrets/")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {e["name"] for e in container["env"]} == {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
    assert all("valueFrom" not in e for e in container["env"])
    sources = next(v for v in pod["volumes"] if v["name"] == "credentials")["projected"]["sources"]
    # Only the migration user's key of the system Secret, and the old password, both in `redis`.
    assert [(s["secret"]["name"], s["secret"]["items"]) for s in sources] == [
        ("beersystem-redis", [{"key": "password", "path": "old-password"}]),
        ("redis-shared-system", [{"key": "migration-password", "path": "shared-password"}]),
    ]
    # Retries for a killed pod; a conflict, a difference or a refusal fails the Job at once.
    rule = job["spec"]["podFailurePolicy"]["rules"][0]
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [2, 4, 5]


def test_the_job_name_changes_with_its_spec_and_only_then() -> None:
    first = only_job(site(MigrationPhase.CUTOVER)["beersystem-migration"])["metadata"]["name"]
    assert first == only_job(site(MigrationPhase.CUTOVER)["beersystem-migration"])["metadata"]["name"]
    later = only_job(site(MigrationPhase.CUTOVER, cutover_time=T0 + dt.timedelta(minutes=1))["beersystem-migration"])
    assert later["metadata"]["name"] != first
    assert first.startswith("beersystem-redis-copy-") and len(first) == len("beersystem-redis-copy-") + 8


def test_only_the_copy_jobs_pods_reach_both_redis_through_the_new_policies() -> None:
    charts = site(MigrationPhase.CUTOVER)
    objects = [o for objs in charts.values() for o in objs]
    job_pod = Peer.pod("redis", JOB_POD)
    old = Target(namespace="beersystem", labels=OLD_REDIS)
    shared = Target(namespace="redis", labels={**REDIS_POD, "app.kubernetes.io/component": "master"})
    assert admits(objects, old, job_pod, 6379)
    assert admits(objects, shared, job_pod, 6379)
    for other in (Peer.pod("redis", {"app": "other"}), Peer.pod("default", JOB_POD), Peer.address("192.168.4.50")):
        assert not admits(objects, old, other, 6379), other
    # Nothing reaches the Job's pods.
    assert not admits(objects, Target(namespace="redis", labels=JOB_POD), Peer.pod("redis", REDIS_POD), 8080)
    policy = find(charts["beersystem-migration"], "NetworkPolicy", "beersystem-redis-copy", "redis")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    egress_ports = sorted(p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"])
    assert egress_ports == [53, 53, 6379, 6379]


def test_reverse_copy_is_opt_in_after_the_scale_down(world: World) -> None:
    reverse = dataclasses.replace(BEERSYSTEM_DATA_COPY, reverse_match=("session:*", "cache:*"))
    world.bind(phase=MigrationPhase.SCALED_DOWN, data_copy=reverse)
    job = only_job(world.objects())
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
    args = args_of(job)
    assert args[2] == "reverse"
    opts = list(zip(args[3::2], args[4::2], strict=True))
    assert ("--match", "session:*") in opts and ("--match", "cache:*") in opts
    assert ("--source-user", "migration") in opts
    assert ("--target-host", "beersystem-redis.beersystem.svc.cluster.local") in opts
    assert "--marker" not in args


def test_the_generic_binding_copies_nothing_unless_asked(world: World) -> None:
    world.bind()
    assert [j["metadata"]["annotations"]["argocd.argoproj.io/hook"] for j in of_kind(world.objects(), "Job")] == [
        "PostSync"
    ]


# -- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("job", "match"),
    [
        (DataCopyJobRun(batch=0), r"^data_copy.job.batch: got 0; expected"),
        (
            DataCopyJobRun(active_deadline_seconds=59),
            r"^data_copy.job.active_deadline_seconds: got 59; expected an integer from 60 to 86400$",
        ),
        (
            DataCopyJobRun(active_deadline_seconds=86401),
            r"^data_copy.job.active_deadline_seconds: got 86401; expected an integer from 60 to 86400$",
        ),
        (DataCopyJobRun(image="python"), r"^data_copy.job.image: got 'python'"),
        (DataCopyJobRun(ttl_tolerance_ms=-1), r"^data_copy.job.ttl_tolerance_ms: got -1; expected"),
        (DataCopyJobRun(memory=("128Mi", "lots")), r"^data_copy.job.memory: got 'lots'"),
    ],
)
def test_fails_bad_job_props(world: World, job: DataCopyJobRun, match: str) -> None:
    with pytest.raises(PropError, match=match):
        world.bind(data_copy=dataclasses.replace(BEERSYSTEM_DATA_COPY, job=job))


@pytest.mark.parametrize("phase", list(MigrationPhase), ids=lambda p: p.value)
def test_fails_bad_job_props_in_every_phase(world: World, phase: MigrationPhase) -> None:
    with pytest.raises(PropError, match=r"^data_copy.job.batch: got 0; expected"):
        world.bind(phase=phase, data_copy=dataclasses.replace(BEERSYSTEM_DATA_COPY, job=DataCopyJobRun(batch=0)))


@pytest.mark.parametrize("phase", list(MigrationPhase), ids=lambda p: p.value)
def test_a_copy_needs_the_migration_user_in_every_phase(phase: MigrationPhase) -> None:
    without = World(system_keys=tuple(k for k in main.SYSTEM_KEYS if k != "migration-password"))
    assert without.redis.credentials.migration is None
    with pytest.raises(PropError, match=r"^redis.credentials.migration: got None; expected a SecretKeyRef to the migr"):
        without.bind(phase=phase, data_copy=BEERSYSTEM_DATA_COPY)
    without.bind(phase=phase, data_copy=None)  # no copy, no migration user needed


def test_fails_bad_old_password_ref(world: World) -> None:
    bad = BindingDataCopy(old_password=SecretKeyRef(name="Old_Secret", key="password"))
    with pytest.raises(PropError, match=r"^data_copy.old_password.name: got 'Old_Secret'"):
        world.bind(data_copy=bad)


def test_fails_copy_without_the_old_redis_service(world: World) -> None:
    old = tuple(world.obj(k, n) for k, n in OLD_OBJECTS if k != "Service")
    with pytest.raises(PropError, match=r"^old_redis: got \[\]; expected exactly one Service"):
        world.bind(data_copy=BEERSYSTEM_DATA_COPY, old_redis=old)


def test_fails_reverse_copy_without_patterns(world: World) -> None:
    with pytest.raises(PropError, match=r"^match: got \(\); expected at least one SCAN pattern"):
        RedisDataCopy(
            world.chart,
            "Reverse",
            RedisDataCopyProps(
                redis=world.redis, old=OLD, name="x-redis-copy-back", direction=CopyDirection.BACK_TO_OLD
            ),
        )


def test_fails_copy_without_marker(world: World) -> None:
    with pytest.raises(PropError, match=r"^marker: got None; expected a key name"):
        RedisDataCopy(world.chart, "Copy", RedisDataCopyProps(redis=world.redis, old=OLD, name="x-redis-copy"))


def test_fails_a_hook_phase_argocd_does_not_have(world: World) -> None:
    with pytest.raises(PropError, match=r"^hook: got 'PreDelete'; expected one of 'PreSync', 'Sync', 'PostSync'$"):
        RedisDataCopy(
            world.chart,
            "Copy",
            RedisDataCopyProps(redis=world.redis, old=OLD, name="x-redis-copy", marker="m", hook="PreDelete"),
        )


def test_fails_a_data_copy_that_is_not_one(world: World) -> None:
    with pytest.raises(PropError, match=r"^data_copy: got 'yes'; expected a BindingDataCopy or None$"):
        world.bind(data_copy="yes")


def test_beersystem_binding_defaults_to_copying(world: World) -> None:
    BeersystemRedisBinding(
        world.chart,
        "Beer",
        BeersystemRedisBindingProps(
            redis=world.redis,
            credentials=world.client,
            manifests=tuple(world.included.values()),
            phase=MigrationPhase.CUTOVER,
            cutover_time=T0,
            now=at(LATER),
        ),
    )
    names = [j["metadata"]["name"] for j in of_kind(world.beersystem(), "Job")]
    assert len([n for n in names if n.startswith("beersystem-redis-copy-")]) == 1, names


def test_the_site_renders_the_reverse_copy_only_when_its_patterns_are_set() -> None:
    def migration(**kw: Any) -> list[Obj]:
        app = main.build_app(phase=MigrationPhase.SCALED_DOWN, cutover_time=T0, now=at(LATER), **kw)
        return chart_objects(app)["beersystem-migration"]

    assert migration() == []
    job = only_job(migration(reverse_copy_match=("beer:*",)))
    assert job["metadata"]["name"].startswith("beersystem-redis-copy-back-")
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
    assert args_of(job)[args_of(job).index("--match") :][:2] == ["--match", "beer:*"]


def test_the_construct_keeps_its_child_ids_in_order(world: World) -> None:
    """Ids are API (node paths): the program, the Job's policy, both ingress policies, then the Job."""
    copy = RedisDataCopy(
        world.chart, "Copy", RedisDataCopyProps(redis=world.redis, old=OLD, name="x-redis-copy", marker="m")
    )
    assert [c.node.id for c in copy.node.children] == ["Program", "NetworkPolicy", "SharedIngress", "OldIngress", "Job"]
    assert copy.job_name.startswith("x-redis-copy-")


def test_copy_command_puts_redis_shared_on_the_side_the_direction_says(world: World) -> None:
    into = copy_command(RedisDataCopyProps(redis=world.redis, old=OLD, name="x", marker="m"))
    back = copy_command(
        RedisDataCopyProps(redis=world.redis, old=OLD, name="x", direction=CopyDirection.BACK_TO_OLD, match=("a:*",))
    )
    assert into[into.index("--source-host") + 1] == back[back.index("--target-host") + 1] == OLD.host
    assert into[into.index("--target-user") + 1] == back[back.index("--source-user") + 1] == "migration"
    assert ("--marker" in into, "--marker" in back, "--match" in back) == (True, False, True)
    assert not [a for a in into + back if "password" in a and not a.startswith(("--", "/var/run/secrets/"))]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"old": "old"}, r"^old: got 'old'; expected an OldRedisEndpoint$"),
        ({"redis": "redis"}, r"^redis: got 'redis'; expected a RedisShared construct$"),
        ({"job": DataCopyJobRun(batch=0)}, r"^job.batch: got 0; expected an integer from 1 to 10000$"),
        ({"name": "X"}, r"^name: got 'X'; expected an RFC 1123 label"),
    ],
    ids=lambda c: next(iter(c)) if isinstance(c, dict) else "",
)
def test_fails_bad_copy_props(world: World, change: dict[str, Any], match: str) -> None:
    with pytest.raises(PropError, match=match):
        base: dict[str, Any] = {"redis": world.redis, "old": OLD, "name": "x", "marker": "m"}
        RedisDataCopyProps(**(base | change))


def test_fails_binding_data_copy_fields_of_the_wrong_type(world: World) -> None:
    with pytest.raises(PropError, match=r"^data_copy.old_password: got 'pw'; expected a SecretKeyRef$"):
        world.bind(data_copy=BindingDataCopy(old_password="pw"))  # type: ignore[arg-type]
