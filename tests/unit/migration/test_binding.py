"""RedisClientBinding / BeersystemRedisBinding: each migration phase, the 24 h gate, rollback, env kinds, bad input.

The validation Job's own tests are in ``test_validation_job``, the ArgoCD/Flux annotations' in
``test_gitops_annotations``, the data copy's in ``test_data_copy``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from binding_world import APPS, LATER, NS, OLD_OBJECTS, PASSWORD, T0, World, at, env_of, only_job, site
from conftest import ROOT, find, of_kind
from security_checks import bounds_problems, pod_security_problems
from syrupy.assertion import SnapshotAssertion

import main
from redis_constructs import PropError
from redis_constructs.core.restart_annotations import CREDENTIALS_VERSION_ANNOTATION, TARGET_ANNOTATION
from redis_constructs.credentials.replicated_secret import ReplicatedSecret, ReplicatedSecretProps, SecretSource
from redis_constructs.credentials.tenant_credentials import TenantCredentials
from redis_constructs.gitops.manifest_checks import ExternalRefs, check_objects
from redis_constructs.gitops.sync_annotations import APP_SYNC_WAVE, FLUX_PRUNE, SYNC_WAVE
from redis_constructs.gitops.synth import chart_objects, ordered, synthesize, to_yaml
from redis_constructs.migration.beersystem import (
    BEERSYSTEM_DATA_COPY,
    BeersystemRedisBinding,
    BeersystemRedisBindingProps,
)
from redis_constructs.migration.binding import MigrationPhase, RedisClientBinding, RedisClientBindingProps, utc_now
from redis_constructs.migration.redis_env import RedisEnv
from redis_constructs.migration.validation_job import DEFAULT_VALIDATION_RUN

Obj = dict[str, Any]
MASTER = "redis-shared-master.redis.svc.cluster.local"
PROTECTION = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false", FLUX_PRUNE: "disabled"}
#: What the test charts reference but do not render.
EXTERNAL = ExternalRefs(
    namespaces=frozenset({NS, "monitoring"}), secrets={(NS, "beersystem-redis"): frozenset({"password"})}
)


def input_objects(*files: str) -> list[Obj]:
    return [d for f in files or ("app.yaml", "redis.yaml") for d in yaml.safe_load_all((APPS / f).read_text()) if d]


def beersystem(phase: MigrationPhase, **kw: Any) -> list[Obj]:
    return list(site(phase, **kw)["beersystem"])


@pytest.fixture
def world() -> Iterator[World]:
    yield World()


def app_container(objects: list[Obj]) -> Obj:
    deployment = find(objects, "Deployment", "beersystem", NS)
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "beersystem")


# -- snapshots ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("phase", list(MigrationPhase), ids=lambda p: p.value)
def test_beersystem_chart_snapshot(phase: MigrationPhase, yaml_snapshot: SnapshotAssertion) -> None:
    assert to_yaml(ordered(beersystem(phase))) == yaml_snapshot


def test_flux_chart_snapshot(yaml_snapshot: SnapshotAssertion) -> None:
    assert to_yaml(ordered(site(MigrationPhase.BEFORE_CUTOVER)["flux"])) == yaml_snapshot


@pytest.mark.parametrize("phase", list(MigrationPhase), ids=lambda p: p.value)
def test_every_phase_passes_every_check(phase: MigrationPhase) -> None:
    objects = [o for objs in site(phase).values() for o in objs]
    assert check_objects(objects, external=main.EXTERNAL) == []


@pytest.mark.parametrize("phase", list(MigrationPhase), ids=lambda p: p.value)
def test_every_phase_meets_pod_security_restricted_and_is_bounded(phase: MigrationPhase) -> None:
    objects = [o for objs in site(phase).values() for o in objs]
    assert pod_security_problems(objects) == []
    assert bounds_problems(objects) == []


def test_every_phase_passes_checkov(tmp_path: Path) -> None:
    """``make checkov`` covers the committed phase; this covers the others (same venv, same flags)."""
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    assert checkov.exists(), "checkov's venv is missing: `make setup` creates it"
    for phase in (MigrationPhase.SCALED_DOWN, MigrationPhase.CUTOVER, MigrationPhase.DECOMMISSIONED):
        app = main.build_app(phase=phase, cutover_time=T0, now=at(LATER))
        synthesize(app, tmp_path / phase.value, external=main.EXTERNAL)
    result = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Failed checks: 0" in result.stdout


# -- BEFORE_CUTOVER and rollback ---------------------------------------------------------------------------
def _key(o: Obj) -> tuple[str, str]:
    return (o["kind"], o["metadata"]["name"])


def test_before_cutover_emits_the_app_and_its_redis_exactly_as_included() -> None:
    rendered = beersystem(MigrationPhase.BEFORE_CUTOVER)
    assert sorted(map(_key, rendered)) == sorted(map(_key, input_objects()))
    for obj in input_objects():
        assert find(rendered, obj["kind"], obj["metadata"]["name"], NS) == obj


def test_rollback_from_cutover_restores_the_input_deployment() -> None:
    original = find(input_objects("app.yaml"), "Deployment", "beersystem")
    cut = find(beersystem(MigrationPhase.CUTOVER), "Deployment", "beersystem", NS)
    assert cut != original
    rolled_back = find(beersystem(MigrationPhase.BEFORE_CUTOVER, cutover_time=T0), "Deployment", "beersystem", NS)
    assert rolled_back == original
    assert json.dumps(rolled_back, sort_keys=True) == json.dumps(original, sort_keys=True)


def test_beersystem_input_spells_out_its_rolling_update() -> None:
    """Applying Recreate over a merely defaulted rollingUpdate is refused by the API server (README runbook)."""
    strategy = find(input_objects("app.yaml"), "Deployment", "beersystem")["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert set(strategy["rollingUpdate"]) == {"maxSurge", "maxUnavailable"}


def test_cutover_changes_only_what_is_documented() -> None:
    """Undo the documented CUTOVER changes by hand: what is left must be the input, byte for byte."""
    original = find(input_objects("app.yaml"), "Deployment", "beersystem")
    cut = copy.deepcopy(find(beersystem(MigrationPhase.CUTOVER), "Deployment", "beersystem", NS))
    assert cut["metadata"]["annotations"].pop(SYNC_WAVE) == str(APP_SYNC_WAVE)
    annotations = cut["spec"]["template"]["metadata"].pop("annotations")
    assert set(annotations) == {CREDENTIALS_VERSION_ANNOTATION, TARGET_ANNOTATION}
    assert cut["spec"].pop("strategy") == {"type": "Recreate"}
    container = cut["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [e for e in container["env"] if not e["name"].startswith("REDIS_")]
    expected = copy.deepcopy(original)
    expected["spec"].pop("strategy")
    expected_container = expected["spec"]["template"]["spec"]["containers"][0]
    expected_container["env"] = [e for e in expected_container["env"] if not e["name"].startswith("REDIS_")]
    assert cut == expected


# -- CUTOVER -----------------------------------------------------------------------------------------------
def test_cutover_points_the_app_at_redis_shared_with_the_replicated_credential() -> None:
    charts = site(MigrationPhase.CUTOVER)
    objects = charts["beersystem"]
    env = env_of(app_container(objects))
    assert env["REDIS_HOST"] == {"name": "REDIS_HOST", "value": MASTER}
    assert env["REDIS_PORT"] == {"name": "REDIS_PORT", "value": "6379"}
    assert env["REDIS_PASSWORD"] == {
        "name": "REDIS_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "redis-shared-client", "key": "password"}},
    }
    # The other variables stay, in their order, around the rewritten ones.
    assert list(env) == ["BEERSYSTEM_LISTEN", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "BEERSYSTEM_SESSION_TTL"]
    # The Secret it reads is the one redis-shared replicates into beersystem.
    assert find(charts["redis-shared"], "SealedSecret", "redis-shared-client", NS)
    deployment = find(objects, "Deployment", "beersystem", NS)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod_annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert pod_annotations[TARGET_ANNOTATION] == f"{MASTER}:6379"
    # The version of the copy the app reads (its namespace's), so a copy added elsewhere does not roll it.
    app = main.build_app(phase=MigrationPhase.CUTOVER, cutover_time=T0, now=at(LATER))
    client = app.node.find_child("redis-shared").node.find_child("ClientCredentials")
    assert isinstance(client, TenantCredentials)
    # beersystem's copy is the one it always had: the snapshot shows the same version as before tenants.
    assert pod_annotations[CREDENTIALS_VERSION_ANNOTATION] == client.version_in(NS)


def test_rotating_the_credentials_rolls_the_app_and_renames_the_job() -> None:
    def render(version: str) -> tuple[str, str]:
        app = main.build_app(
            source=SecretSource.existing(version=version), phase=MigrationPhase.CUTOVER, now=at(LATER), cutover_time=T0
        )
        objects = chart_objects(app)["beersystem"]
        pod = find(objects, "Deployment", "beersystem", NS)["spec"]["template"]["metadata"]
        return pod["annotations"][CREDENTIALS_VERSION_ANNOTATION], only_job(objects)["metadata"]["name"]

    v1, job1 = render("1")
    v2, job2 = render("2")
    assert (v1, v2) == ("1", "2")
    assert job1 != job2


def test_cutover_protects_every_old_object_from_pruning() -> None:
    objects = beersystem(MigrationPhase.CUTOVER)
    for kind, name in OLD_OBJECTS:
        annotations = find(objects, kind, name, NS)["metadata"].get("annotations") or {}
        assert {k: annotations.get(k) for k in PROTECTION} == PROTECTION, (kind, name)
    assert not set(PROTECTION) & set(find(objects, "Deployment", "beersystem", NS)["metadata"]["annotations"])


def test_flux_kustomizations_apply_beersystem_after_redis_shared() -> None:
    flux = site(MigrationPhase.BEFORE_CUTOVER)["flux"]
    specs = {o["metadata"]["name"]: o["spec"] for o in flux if o["kind"] == "Kustomization"}
    assert set(specs) == {"redis-shared", "redis-shared-master-statefulset", "beersystem-migration", "beersystem"}
    # beersystem is applied only once its data copy (its own unit, empty outside CUTOVER) is Ready.
    assert specs["beersystem"]["dependsOn"] == [
        {"name": "redis-shared"},
        {"name": "redis-shared-master-statefulset"},
        {"name": "beersystem-migration"},
    ]
    assert specs["beersystem-migration"]["dependsOn"] == [
        {"name": "redis-shared"},
        {"name": "redis-shared-master-statefulset"},
    ]
    assert "dependsOn" not in specs["redis-shared"]
    for name, spec in specs.items():
        folder = name.removesuffix(
            "-master-statefulset"
        )  # its share of dist/redis-shared (tests/unit/server/test_failover.py)
        assert (spec["path"], spec["prune"], spec["wait"]) == (f"./dist/{folder}", True, True)
        assert (ROOT / "dist" / folder / "kustomization.yaml").exists()
    assert {o["apiVersion"] for o in flux} == {"kustomize.toolkit.fluxcd.io/v1"}


def test_validation_job_can_be_left_out(world: World) -> None:
    world.bind(validation=None)
    assert of_kind(world.beersystem(), "Job") == []


# -- DECOMMISSIONED and the 24 h gate ----------------------------------------------------------------------
def test_decommissioned_drops_the_old_redis_but_keeps_its_data_protected() -> None:
    objects = beersystem(MigrationPhase.DECOMMISSIONED)
    kept = {(k, n) for k, n in OLD_OBJECTS if any(_key(o) == (k, n) for o in objects)}
    assert kept == {("PersistentVolumeClaim", "beersystem-redis-data")}
    pvc = find(objects, "PersistentVolumeClaim", "beersystem-redis-data", NS)
    assert {k: pvc["metadata"]["annotations"][k] for k in PROTECTION} == PROTECTION
    assert env_of(app_container(objects))["REDIS_HOST"]["value"] == MASTER
    assert only_job(objects)


def test_decommissioned_with_delete_old_data_drops_the_volume_claim_too(world: World) -> None:
    world.bind(phase=MigrationPhase.DECOMMISSIONED, delete_old_data=True)
    objects = world.beersystem()
    assert not [o for o in objects if _key(o) in OLD_OBJECTS]
    assert find(objects, "Deployment", "beersystem", NS)


def test_decommission_is_refused_23h59m_after_cutover_and_says_how_long_remains() -> None:
    with pytest.raises(
        PropError,
        match=r"^cutover_time: got '2026-11-25T09:00:00\+00:00'; expected at least 24h before now to decommission "
        r"the old Redis; 0h01m remain \(earliest 2026-11-26T09:00:00\+00:00\)",
    ):
        site(MigrationPhase.DECOMMISSIONED, now=T0 + dt.timedelta(hours=23, minutes=59))


def test_decommission_remaining_time_is_rounded_up_to_the_minute() -> None:
    with pytest.raises(PropError, match=r"; 20h00m remain"):
        site(MigrationPhase.DECOMMISSIONED, now=T0 + dt.timedelta(hours=4, seconds=1))


def test_decommission_is_allowed_exactly_24h_after_cutover() -> None:
    objects = beersystem(MigrationPhase.DECOMMISSIONED, now=T0 + dt.timedelta(hours=24))
    assert not [o for o in objects if _key(o) == ("Deployment", "beersystem-redis")]


# -- env kinds ---------------------------------------------------------------------------------------------
def test_env_url_expands_the_password_from_the_secret(world: World) -> None:
    world.bind(env=RedisEnv.url(var="BEER_REDIS_URL", database=2), remove_env=("REDIS_HOST", "REDIS_PORT"))
    objects = world.beersystem()
    env = env_of(app_container(objects))
    assert env["BEER_REDIS_URL"]["value"] == f"redis://default:$(REDIS_PASSWORD)@{MASTER}:6379/2"
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "redis-shared-client", "key": "password"}
    names = list(env)
    # The kubelet expands $(VAR) only from variables defined earlier in the list.
    assert names.index("REDIS_PASSWORD") < names.index("BEER_REDIS_URL")
    assert "REDIS_HOST" not in env and "REDIS_PORT" not in env
    assert check_objects(world.objects(), external=EXTERNAL, allow_plaintext_secrets=True) == []


def test_env_host_port_password_can_name_the_user(world: World) -> None:
    world.bind(env=RedisEnv.host_port_password(host_var="RH", port_var="RP", password_var="RPW", username_var="RU"))
    env = env_of(app_container(world.beersystem()))
    assert env["RU"]["value"] == "default"
    assert (env["RH"]["value"], env["RP"]["value"]) == (MASTER, "6379")
    assert env["RPW"]["valueFrom"]["secretKeyRef"]["name"] == "redis-shared-client"
    # Variables the old setup used and env does not set are left as they are unless removed.
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "beersystem-redis"


def test_env_password_file_mounts_the_secret(world: World) -> None:
    world.bind(env=RedisEnv.password_file(mount_path="/run/secrets/redis"), remove_env=("REDIS_PASSWORD",))
    objects = world.beersystem()
    container = app_container(objects)
    env = env_of(container)
    assert env["REDIS_PASSWORD_FILE"] == {"name": "REDIS_PASSWORD_FILE", "value": "/run/secrets/redis/password"}
    assert "REDIS_PASSWORD" not in env
    assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in env.values())
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/run/secrets/redis")
    assert mount["readOnly"] is True
    pod = find(objects, "Deployment", "beersystem", NS)["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"] == {
        "secretName": "redis-shared-client",
        "defaultMode": 0o440,
        "items": [{"key": "password", "path": "password"}],
    }
    assert check_objects(world.objects(), external=EXTERNAL, allow_plaintext_secrets=True) == []


# -- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ("cutover", "; did you mean MigrationPhase.CUTOVER\\?"),
        ("CUTOVR", "; did you mean MigrationPhase.CUTOVER\\?"),
        ("scaled-dwn", "; did you mean MigrationPhase.SCALED_DOWN\\?"),
        ("go-live", ""),
        (2, ""),
    ],
)
def test_fails_unknown_phase(world: World, value: object, fix: str) -> None:
    with pytest.raises(
        PropError,
        match=rf"^phase: got {value!r}; expected one of MigrationPhase.BEFORE_CUTOVER, MigrationPhase.SCALED_DOWN, "
        rf"MigrationPhase.CUTOVER, MigrationPhase.DECOMMISSIONED{fix}$",
    ) as e:
        world.bind(phase=value)
    # A rule about the props alone fails where the props are built, before any construct: no construct path.
    assert e.value.path is None


@pytest.mark.parametrize("phase", [MigrationPhase.CUTOVER, MigrationPhase.DECOMMISSIONED])
def test_fails_cutover_time_missing(world: World, phase: MigrationPhase) -> None:
    with pytest.raises(
        PropError,
        match=rf"^cutover_time: got None; expected the time CUTOVER was first deployed \(required in {phase.name}\)",
    ):
        world.bind(phase=phase, cutover_time=None)


def test_cutover_time_is_not_needed_before_cutover(world: World) -> None:
    binding = world.bind(phase=MigrationPhase.BEFORE_CUTOVER, cutover_time=None)
    assert binding.cutover_time is None


def test_fails_cutover_time_in_the_future(world: World) -> None:
    with pytest.raises(
        PropError,
        match=r"^cutover_time: got '2026-11-25T09:00:00\+00:00'; expected a time not after now \(2026-11-25T08:59:00\+00:00\)",
    ):
        world.bind(now=at(T0 - dt.timedelta(minutes=1)))


def test_fails_cutover_time_without_timezone(world: World) -> None:
    with pytest.raises(
        PropError, match=r"^cutover_time: got datetime.datetime\(2026, 11, 25, 9, 0\); expected a timezone-aware"
    ):
        world.bind(cutover_time=T0.replace(tzinfo=None))


def test_fails_clock_without_timezone(world: World) -> None:
    with pytest.raises(PropError, match=r"^now: got .*; expected a clock returning timezone-aware datetimes"):
        world.bind(now=lambda: dt.datetime(2026, 11, 26))


def test_fails_app_not_a_deployment(world: World) -> None:
    with pytest.raises(
        PropError, match=r"^app: got 'Service beersystem/beersystem-redis'; expected a Deployment \(apps/v1\)"
    ):
        world.bind(app=world.obj("Service", "beersystem-redis"), old_redis=())


def test_fails_app_not_an_api_object(world: World) -> None:
    with pytest.raises(PropError, match=r"^app: got 'beersystem'; expected the Deployment's cdk8s.ApiObject"):
        world.bind(app="beersystem")


def test_client_namespace_brings_the_credentials_copy_the_binding_needs() -> None:
    world = World()
    assert world.client.namespaces == (NS,)
    assert world.bind().secret_ref.name == "redis-shared-client"


def test_fails_credentials_not_replicated_into_the_apps_namespace() -> None:
    world = World()
    # A ReplicatedSecret that RedisShared does not own (not given through RedisCredentials.from_replicated).
    world.client = ReplicatedSecret(  # type: ignore[assignment]
        world.redis,
        "Unlinked",
        ReplicatedSecretProps(
            name="redis-shared-client",
            namespaces=("redis",),
            keys=("password",),
            source=SecretSource.plaintext_for_tests({"password": PASSWORD}),
        ),
    )
    with pytest.raises(
        PropError,
        match=r"^credentials: got 'redis-shared-client'; expected credentials with a copy in the app's "
        r"namespace 'beersystem' \(it is in: redis\)",
    ):
        world.bind()


def test_fails_credentials_that_are_not_the_clients(world: World) -> None:
    with pytest.raises(
        PropError,
        match=r"^credentials: got 'redis-shared-system'; expected the TenantCredentials holding Redis's tenant passwords",
    ):
        world.bind(credentials=world.system)


def test_fails_redis_that_does_not_admit_the_apps_namespace() -> None:
    world = World(admitted=("other",))
    with pytest.raises(
        PropError,
        match=r"^redis: got 'redis-shared/Redis'; expected a RedisShared that admits namespace 'beersystem'; "
        r"did you mean client_namespaces",
    ):
        world.bind()


def test_fails_unknown_container(world: World) -> None:
    with pytest.raises(PropError, match=r"^container: got 'web'; expected one of beersystem"):
        world.bind(container="web")


def test_fails_bad_env_variable_name(world: World) -> None:
    with pytest.raises(PropError, match=r"^env: got 'REDIS-HOST'; expected environment variable names"):
        world.bind(env=RedisEnv.host_port_password(host_var="REDIS-HOST"))
    with pytest.raises(PropError, match=r"^env: .*expected no duplicates \('X' appears twice\)"):
        world.bind(env=RedisEnv.host_port_password(host_var="X", port_var="X"))


def test_fails_relative_password_mount_path(world: World) -> None:
    with pytest.raises(PropError, match=r"^env.mount_path: got 'secrets'; expected an absolute path"):
        world.bind(env=RedisEnv.password_file(mount_path="secrets"))


def test_fails_removing_a_variable_env_sets(world: World) -> None:
    with pytest.raises(PropError, match=r"^remove_env: got 'REDIS_HOST'; expected old variable names"):
        world.bind(remove_env=("REDIS_HOST",))


def test_fails_old_redis_holding_the_app(world: World) -> None:
    with pytest.raises(PropError, match=r"^old_redis: .*expected the old Redis's cdk8s.ApiObjects, not the app"):
        world.bind(old_redis=(world.obj("Deployment", "beersystem"),))


def test_fails_beersystem_manifests_without_its_redis(world: World) -> None:
    with pytest.raises(
        PropError,
        match=r"^manifests: got \[.*\]; expected exactly one Deployment or StatefulSet named 'beersystem-redis'",
    ):
        BeersystemRedisBinding(
            world.chart,
            "Beersystem",
            BeersystemRedisBindingProps(
                redis=world.redis,
                credentials=world.client,
                manifests=(world.included["App"],),
                phase=MigrationPhase.BEFORE_CUTOVER,
            ),
        )


@pytest.mark.parametrize("phase", list(MigrationPhase), ids=lambda p: p.value)
def test_fails_clock_that_is_not_a_function(world: World, phase: MigrationPhase) -> None:
    with pytest.raises(
        PropError, match=r"^now: got None; expected a clock returning timezone-aware datetimes, e.g. utc_now$"
    ):
        world.bind(phase=phase, now=None)


def test_fails_delete_old_data_that_is_not_a_bool(world: World) -> None:
    with pytest.raises(PropError, match=r"^delete_old_data: got 'false'; expected True or False"):
        world.bind(delete_old_data="false")


def test_fails_props_that_are_not_the_bindings(world: World) -> None:
    with pytest.raises(
        PropError, match=r"^props: got 'x'; expected a RedisClientBindingProps \(construct beersystem/Binding\)$"
    ):
        RedisClientBinding(world.chart, "Binding", "x")  # type: ignore[arg-type]


def test_fails_beersystem_manifests_that_are_not_included_manifests(world: World) -> None:
    with pytest.raises(PropError, match=r"^manifests: got 'app.yaml'; expected a tuple of included manifests"):
        BeersystemRedisBindingProps(
            redis=world.redis,
            credentials=world.client,
            manifests="app.yaml",  # type: ignore[arg-type]
            phase=MigrationPhase.BEFORE_CUTOVER,
        )


def test_beersystem_props_are_the_generic_props_with_beersystems_defaults(world: World) -> None:
    props = BeersystemRedisBindingProps(
        redis=world.redis,
        credentials=world.client,
        manifests=tuple(world.included.values()),
        phase=MigrationPhase.BEFORE_CUTOVER,
    )
    assert isinstance(props, RedisClientBindingProps)
    assert (props.app.kind, props.app.name) == ("Deployment", "beersystem")
    assert [(o.kind, o.name) for o in props.old_redis] == list(OLD_OBJECTS)
    # beersystem's defaults; every other default is the generic one.
    assert props.env == RedisEnv.host_port_password()
    assert props.data_copy == BEERSYSTEM_DATA_COPY
    assert (props.now, props.validation, props.container, props.remove_env) == (
        utc_now,
        DEFAULT_VALIDATION_RUN,
        None,
        (),
    )
    binding = BeersystemRedisBinding(world.chart, "Beer", props)
    assert (binding.namespace, binding.container, binding.props) == (NS, "beersystem", props)
