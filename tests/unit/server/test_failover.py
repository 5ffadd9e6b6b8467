"""The promotion value, the role label, and the rollout order (ArgoCD waves, Flux Kustomizations) as rendered.

The runtime behaviour (promotion, the old primary's return, failback, probes) is in test_failover_runtime.py.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml
from conftest import containers, find, of_kind

import main
from redis_constructs import PropError, RedisShared, RedisSharedProps
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration.binding import MigrationPhase
from redis_constructs.server.roles import ROLE_LABEL

Obj = dict[str, Any]
ROOT = Path(__file__).resolve().parents[3]
MASTER, REPLICAS = "redis-shared-master", "redis-shared-replicas"
HOST = "{}-0.redis-shared-headless.redis.svc.cluster.local"
WAVE = "argocd.argoproj.io/sync-wave"


def render(props: RedisSharedProps) -> list[Obj]:
    chart = cdk8s.Chart(cdk8s.App(), "test", disable_resource_name_hashes=True)
    RedisShared(chart, "Redis", props)
    return list(chart.to_json())


def env(objects: list[Obj], sts: str) -> dict[str, str]:
    return {
        e["name"]: e["value"] for e in containers(find(objects, "StatefulSet", sts))["redis"]["env"] if "value" in e
    }


#: The primary's port the site's replicas dial: the TLS port when the site replicates over TLS.
REPLICATION_PORT = main.REDIS.tls.port if main.REDIS.tls is not None else 6379


def role(objects: list[Obj], sts: str) -> str:
    return str(find(objects, "StatefulSet", sts)["spec"]["template"]["metadata"]["labels"][ROLE_LABEL])


@pytest.fixture(scope="module")
def promoted() -> list[Obj]:
    return chart_objects(main.build_app(primary_pod=f"{REPLICAS}-0"))["redis-shared"]


def test_site_commits_the_master_statefulsets_pod_as_primary(site_charts: dict[str, list[Obj]]) -> None:
    assert main.PRIMARY_POD == MASTER + "-0"
    objects = site_charts["redis-shared"]
    assert (role(objects, MASTER), role(objects, REPLICAS)) == ("master", "replica")
    assert env(objects, MASTER)["REDIS_ROLE"] == "master"
    assert env(objects, REPLICAS)["REDIS_ROLE"] == "replica"
    assert {env(objects, s)["REDIS_PROMOTED"] for s in (MASTER, REPLICAS)} == {"false"}
    assert env(objects, MASTER)["REDIS_REPLICA_HOSTS"] == HOST.format(REPLICAS)
    conf = find(objects, "ConfigMap", "redis-shared-configuration")["data"]["replica.conf"]
    assert f"replicaof {HOST.format(MASTER)} {REPLICATION_PORT}" in conf


def test_promotion_moves_the_role_the_services_and_replicaof(
    site_charts: dict[str, list[Obj]], promoted: list[Obj]
) -> None:
    assert (role(promoted, MASTER), role(promoted, REPLICAS)) == ("replica", "master")
    assert env(promoted, REPLICAS)["REDIS_ROLE"] == "master"
    assert env(promoted, REPLICAS)["REDIS_PROMOTED"] == "true"
    assert env(promoted, MASTER)["REDIS_ROLE"] == "replica"
    assert env(promoted, MASTER)["REDIS_PROMOTED"] == "false"
    # The pods that are replicas now: the empty-primary guard asks them before the primary starts empty.
    assert env(promoted, REPLICAS)["REDIS_REPLICA_HOSTS"] == HOST.format(MASTER)
    conf = find(promoted, "ConfigMap", "redis-shared-configuration")["data"]["replica.conf"]
    assert f"replicaof {HOST.format(REPLICAS)} {REPLICATION_PORT}" in conf
    for name, wanted in (("redis-shared-master", "master"), ("redis-shared-external", "master")):
        assert find(promoted, "Service", name)["spec"]["selector"][ROLE_LABEL] == wanted
    assert find(promoted, "Service", "redis-shared-replicas")["spec"]["selector"][ROLE_LABEL] == "replica"
    # Both pods roll (new template), nothing else changes but the role-dependent values.
    before, after = site_charts["redis-shared"], promoted
    for sts in (MASTER, REPLICAS):
        assert (
            find(before, "StatefulSet", sts)["spec"]["template"] != find(after, "StatefulSet", sts)["spec"]["template"]
        )
    changed = {(o["kind"], o["metadata"]["name"]) for o in after if o not in before}
    # A new check Job (its name covers the chart), so the checks run again after the failover.
    (check_job,) = [c for c in changed if c[0] == "Job"]
    assert check_job[1].startswith("redis-shared-check-")
    assert changed - {check_job} == {
        ("ConfigMap", "redis-shared-configuration"),
        ("StatefulSet", MASTER),
        ("StatefulSet", REPLICAS),
    }


def test_promotion_changes_no_field_the_api_server_refuses_to_update(
    site_charts: dict[str, list[Obj]], promoted: list[Obj]
) -> None:
    immutable = ("selector", "volumeClaimTemplates", "serviceName", "podManagementPolicy")
    for sts in (MASTER, REPLICAS):
        before = find(site_charts["redis-shared"], "StatefulSet", sts)["spec"]
        after = find(promoted, "StatefulSet", sts)["spec"]
        assert {f: before[f] for f in immutable} == {f: after[f] for f in immutable}
        assert ROLE_LABEL not in after["selector"]["matchLabels"]
        assert ROLE_LABEL not in after["volumeClaimTemplates"][0]["metadata"]["labels"]


def test_every_pod_is_selected_by_exactly_one_role_service(promoted: list[Obj]) -> None:
    services = {s["metadata"]["name"]: s["spec"]["selector"] for s in of_kind(promoted, "Service")}
    for sts in of_kind(promoted, "StatefulSet"):
        labels = sts["spec"]["template"]["metadata"]["labels"]
        selecting = {n for n, sel in services.items() if all(labels.get(k) == v for k, v in sel.items())}
        assert selecting & {"redis-shared-master", "redis-shared-replicas"} in (
            {"redis-shared-master"},
            {"redis-shared-replicas"},
        )


def test_fails_primary_pod_not_a_pod_of_either_statefulset() -> None:
    with pytest.raises(
        PropError,
        match=r"^primary_pod: got 'redis-shared-replicas-1'; expected one of 'redis-shared-master-0', "
        r"'redis-shared-replicas-0'; did you mean redis-shared-replicas-0\?$",
    ):
        render(RedisSharedProps(replicas=2, primary_pod="redis-shared-replicas-1"))


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [
        # The failover typo: the replica meant, never the (dead) master's pod.
        ("redis-shared-replica-0", "; did you mean redis-shared-replicas-0?"),
        ("redis-shared-mastr-0", "; did you mean redis-shared-master-0?"),
        ("postgres", ""),
    ],
)
def test_a_mistyped_primary_pod_suggests_the_nearest_pod(typed: str, suggestion: str) -> None:
    with pytest.raises(PropError) as error:
        render(RedisSharedProps(replicas=1, primary_pod=typed))
    assert str(error.value).startswith(
        f"primary_pod: got {typed!r}; expected one of 'redis-shared-master-0', 'redis-shared-replicas-0'{suggestion}"
    )
    assert str(error.value).count("did you mean") == (1 if suggestion else 0)


@pytest.mark.parametrize("replicas", [0, 2])
def test_fails_promotion_unless_the_replicas_statefulset_has_one_pod(replicas: int) -> None:
    with pytest.raises(PropError, match=rf"^primary_pod: got 'redis-shared-replicas-0'; .* replicas is {replicas}:"):
        render(RedisSharedProps(replicas=replicas, primary_pod="redis-shared-replicas-0"))


def test_argocd_rolls_the_replicas_then_the_master_statefulset_then_the_app() -> None:
    cutover = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    charts = chart_objects(main.build_app(phase=MigrationPhase.CUTOVER, cutover_time=cutover, now=lambda: cutover))
    redis = charts["redis-shared"]

    def wave(o: Obj) -> int:
        return int(o["metadata"]["annotations"][WAVE])

    replicas, master = find(redis, "StatefulSet", REPLICAS), find(redis, "StatefulSet", MASTER)
    app = find(charts["beersystem"], "Deployment", "beersystem")
    assert wave(replicas) < wave(master) < wave(app)
    # The configuration both read is in place when the first StatefulSet rolls (same wave, ConfigMaps first).
    assert all(wave(o) <= wave(replicas) for o in of_kind(redis, "ConfigMap"))
    assert all(wave(o) <= wave(replicas) for o in redis if o is not master)


def kustomize(tmp_path: Path, patches: list[Any]) -> list[tuple[str, str, str]]:
    """What Flux applies for a Kustomization over dist/redis-shared with ``patches``: (kind, namespace, name)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "install kubectl (with its built-in kustomize) to run this test"
    unit = tmp_path / "unit"
    unit.mkdir()
    shutil.copy(ROOT / "dist" / "redis-shared" / "manifests.yaml", unit)
    # Flux appends spec.patches to the folder's own kustomization.yaml: the same kustomize build.
    own = yaml.safe_load((ROOT / "dist" / "redis-shared" / "kustomization.yaml").read_text())
    (unit / "kustomization.yaml").write_text(yaml.safe_dump({**own, "patches": patches}))
    out = subprocess.run([kubectl, "kustomize", str(unit)], capture_output=True, text=True, timeout=60, check=True)
    return sorted(
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        for o in yaml.safe_load_all(out.stdout)
        if o
    )


def test_flux_applies_the_master_statefulset_only_after_everything_else_is_ready(tmp_path: Path) -> None:
    flux = {
        o["metadata"]["name"]: o["spec"] for o in yaml.safe_load_all((ROOT / "dist/flux/manifests.yaml").read_text())
    }
    first, second = flux["redis-shared"], flux[main.FLUX_MASTER_STATEFULSET_UNIT]
    assert first["path"] == second["path"] == "./dist/redis-shared"
    assert second["dependsOn"] == [{"name": "redis-shared"}]
    assert first["wait"] and second["wait"]  # Ready = every object healthy, a StatefulSet's rollout complete
    assert {d["name"] for d in flux["beersystem"]["dependsOn"]} == {
        "redis-shared",
        main.FLUX_MASTER_STATEFULSET_UNIT,
        "beersystem-migration",
    }
    everything = sorted(
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        for o in yaml.safe_load_all((ROOT / "dist/redis-shared/manifests.yaml").read_text())
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    applied_first = kustomize(tmp_path / "a", first["patches"])
    applied_second = kustomize(tmp_path / "b", second["patches"])
    # The checks go with the master StatefulSet: their Job needs both pods, and the unit waits for it.
    checks = [o for o in everything if o[2].startswith("redis-shared-check")]
    assert {o[0] for o in checks} == {"ConfigMap", "NetworkPolicy", "Job", "CronJob"}
    assert applied_second == sorted([("StatefulSet", "redis", MASTER), *checks])
    assert sorted(applied_first + applied_second) == everything
    assert ("StatefulSet", "redis", REPLICAS) in applied_first
    # Moving the master StatefulSet into its own Kustomization must not prune it: Flux skips these.
    for o in of_kind(list(yaml.safe_load_all((ROOT / "dist/redis-shared/manifests.yaml").read_text())), "StatefulSet"):
        assert o["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"


def test_writes_never_wait_for_a_replica_by_default_and_can_be_bounded() -> None:
    common = find(render(RedisSharedProps()), "ConfigMap", "redis-shared-configuration")["data"]["common.conf"]
    assert "min-replicas-to-write 0\n" in common
    bounded = render(RedisSharedProps(min_replicas_to_write=1, min_replicas_max_lag_seconds=5))
    common = find(bounded, "ConfigMap", "redis-shared-configuration")["data"]["common.conf"]
    assert "min-replicas-to-write 1\nmin-replicas-max-lag 5\n" in common


def test_fails_min_replicas_to_write_above_the_replica_count() -> None:
    with pytest.raises(PropError, match=r"^min_replicas_to_write: got 2; expected an integer from 0 to 1$"):
        render(RedisSharedProps(replicas=1, min_replicas_to_write=2))
    with pytest.raises(
        PropError,
        match=r"^min_replicas_max_lag_seconds: got 0; expected an integer from 1 to 3600$",
    ):
        render(RedisSharedProps(min_replicas_max_lag_seconds=0))


def test_pod_to_pod_checks_use_the_replication_port_and_the_ca(site_charts: dict[str, list[Obj]]) -> None:
    """start.sh's self-demotion and peer checks dial what replica.conf dials: the TLS port with TLS on."""
    objects = site_charts["redis-shared"]
    for sts in (MASTER, REPLICAS):
        e = env(objects, sts)
        assert (e["REDIS_PORT"], e["REDIS_REPLICATION_PORT"]) == ("6379", "6380")
        assert e["REDIS_TLS_CA_FILE"] == "/opt/redis-shared/tls/ca.crt"
        pod_name = next(
            x for x in containers(find(objects, "StatefulSet", sts))["redis"]["env"] if x["name"] == "REDIS_POD_NAME"
        )
        assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    conf = find(objects, "ConfigMap", "redis-shared-configuration")["data"]["replica.conf"]
    assert "replicaof redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local 6380" in conf
