"""``make plan`` on real changes of the site's props (main.build_app variants) against the committed site."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

import main
from redis_constructs import RedisSharedProps
from redis_constructs.credentials.replicated_secret import SecretSource
from redis_constructs.gitops.plan import (
    EXIT_NO_PLAN,
    EXIT_REFUSED,
    Key,
    Obj,
    Plan,
    make_plan,
    parse_manifests,
    read_ref,
    render_markdown,
)
from redis_constructs.gitops.synth import chart_objects, render_files
from redis_constructs.migration.binding import MigrationPhase
from redis_constructs.server.redis_conf import EvictionPolicy

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
MASTER: Key = ("apps", "StatefulSet", "redis", "redis-shared-master")
REPLICAS: Key = ("apps", "StatefulSet", "redis", "redis-shared-replicas")


def objects(redis: RedisSharedProps = main.REDIS, **kw: Any) -> dict[Key, Obj]:
    """The site's objects as dist/ would hold them (the same YAML, read back)."""
    kw.setdefault("now", lambda: T0 + dt.timedelta(hours=30))
    return parse_manifests(render_files(chart_objects(main.build_app(redis, **kw))))


@pytest.fixture(scope="module")
def base() -> dict[Key, Obj]:
    return objects()


def plan_for(base: dict[Key, Obj], **changes: Any) -> tuple[Plan, str]:
    plan = make_plan(base, objects(dataclasses.replace(main.REDIS, **changes)))
    return plan, render_markdown(plan, base="dist/")


def test_no_change_plans_nothing(base: dict[Key, Obj]) -> None:
    plan = make_plan(base, objects())
    assert (plan.added, plan.removed, dict(plan.changed), plan.exit_code) == ((), (), {}, 0)
    assert "No changes" in render_markdown(plan, base="dist/")


def test_a_bigger_storage_size_is_refused_with_the_orphan_procedure(base: dict[Key, Obj]) -> None:
    plan, text = plan_for(base, storage_size="16Gi")
    assert plan.exit_code == EXIT_REFUSED
    assert {(r.key, r.field) for r in plan.refused} == {
        (sts, "spec.volumeClaimTemplates[data].spec.resources.requests.storage") for sts in (MASTER, REPLICAS)
    }
    assert "`8Gi` -> `16Gi`" in text
    assert "kubectl -n redis delete statefulset redis-shared-master --cascade=orphan" in text
    assert "local-path has no `allowVolumeExpansion`" in text
    assert plan.restarts == {}  # the pod template is the same


def test_more_replicas_scale_and_restart_the_pods_that_list_them(base: dict[Key, Obj]) -> None:
    plan, text = plan_for(base, replicas=2)
    assert plan.exit_code == 0
    changes = {c.where: (c.old, c.new) for c in plan.changed[REPLICAS]}
    assert changes["spec.replicas"] == (1, 2)
    assert set(plan.restarts) == {MASTER, REPLICAS}
    assert "env REDIS_REPLICA_HOSTS of redis" in plan.restarts[MASTER]
    assert "API server accepts every change" in text


def test_an_eviction_policy_restarts_both_by_config_checksum(base: dict[Key, Obj]) -> None:
    plan, text = plan_for(base, eviction_policy=EvictionPolicy.ALLKEYS_LFU)
    assert plan.exit_code == 0
    for sts in (MASTER, REPLICAS):
        assert plan.restarts[sts] == ("config checksum (redis.conf, ACL template or scripts changed)",)
    assert (
        "`data.common.conf`: changed lines: - `maxmemory-policy allkeys-lru`; + `maxmemory-policy allkeys-lfu`" in text
    )


def test_an_image_tag_restarts_with_the_image_named(base: dict[Key, Obj]) -> None:
    plan, text = plan_for(base, image="redis:7.4.10-bookworm")
    assert plan.exit_code == 0
    assert "image of redis: `redis:7.4.11-bookworm` -> `redis:7.4.10-bookworm`" in plan.restarts[MASTER]
    assert "**StatefulSet redis/redis-shared-master**: " in text


def test_a_client_namespace_adds_its_credentials_and_admits_it() -> None:
    existing = SecretSource.existing(version="1")
    before = objects(source=existing)
    after = objects(dataclasses.replace(main.REDIS, client_namespaces=("grafana",)), source=existing)
    plan = make_plan(before, after)
    text = render_markdown(plan, base="dist/")
    assert plan.exit_code == 0
    policy = ("networking.k8s.io", "NetworkPolicy", "redis", "redis-shared")
    assert any("grafana" in str(c.new) for c in plan.changed[policy]), plan.changed[policy]
    assert "NetworkPolicy redis/redis-shared" in text


def test_sealed_values_are_summarized_never_printed(base: dict[Key, Obj]) -> None:
    new = copy.deepcopy(base)
    (key,) = [k for k in new if k[1] == "SealedSecret" and k[2:] == ("redis", "redis-shared-system")]
    encrypted = new[key]["spec"]["encryptedData"]
    old_value = encrypted["admin-password"]
    encrypted["admin-password"] = "AgB" + "x" * 400
    plan = make_plan(base, new)
    text = render_markdown(plan, base="dist/")
    assert "(secret value changed" in text and "not shown" in text
    assert old_value[:16] not in text
    assert "xxxxxxxx" not in text


def test_cutover_restarts_the_app_and_runs_a_new_job(base: dict[Key, Obj]) -> None:
    plan = make_plan(base, objects(phase=MigrationPhase.CUTOVER, cutover_time=T0))
    assert plan.exit_code == 0
    app: Key = ("apps", "Deployment", "beersystem", "beersystem")
    why = plan.restarts[app]
    assert any(w.startswith("credentials version") for w in why), why
    assert any(w.startswith("Redis target") for w in why), why
    assert any(w.startswith("env REDIS_HOST of beersystem") for w in why), why
    assert [k for k in plan.added if k[1] == "Job"], plan.added


def test_decommission_with_data_deletion_warns_of_the_removed_claim() -> None:
    cutover = objects(phase=MigrationPhase.CUTOVER, cutover_time=T0)
    gone = objects(phase=MigrationPhase.DECOMMISSIONED, cutover_time=T0, delete_old_data=True)
    plan = make_plan(cutover, gone)
    text = render_markdown(plan, base="dist/")
    assert ("", "PersistentVolumeClaim", "beersystem", "beersystem-redis-data") in plan.removed
    assert "PersistentVolumeClaim beersystem/beersystem-redis-data is removed" in text
    assert "### Warnings" in text


def test_removing_the_redis_statefulsets_and_namespace_warns(base: dict[Key, Obj]) -> None:
    new = {k: v for k, v in base.items() if k not in (MASTER, ("", "Namespace", "", "redis"))}
    warnings = make_plan(base, new).warnings
    assert any(w.startswith("StatefulSet redis/redis-shared-master is removed") for w in warnings)
    assert any(w.startswith("Namespace redis is removed") for w in warnings)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("spec", "serviceName"), "other-headless", "spec.serviceName"),
        (("spec", "podManagementPolicy"), "Parallel", "spec.podManagementPolicy"),
        (("spec", "selector", "matchLabels", "app.kubernetes.io/name"), "other", "spec.selector"),
    ],
)
def test_other_immutable_statefulset_fields_are_refused(
    base: dict[Key, Obj], path: tuple[str, ...], value: str, field: str
) -> None:
    new = copy.deepcopy(base)
    target: Any = new[MASTER]
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value
    (refusal,) = make_plan(base, new).refused
    assert refusal.key == MASTER
    assert refusal.field.startswith(field)
    assert "--cascade=orphan" in refusal.procedure


def test_a_job_template_change_under_the_same_name_is_refused() -> None:
    cutover = objects(phase=MigrationPhase.CUTOVER, cutover_time=T0)
    new = copy.deepcopy(cutover)
    (job,) = [k for k in new if k[1] == "Job" and "-redis-validate-" in k[3]]
    new[job]["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:7.4.10-bookworm"
    plan = make_plan(cutover, new)
    (refusal,) = plan.refused
    assert refusal.field == "spec.template.spec.containers[validate].image"
    assert "kustomize.toolkit.fluxcd.io/force" in refusal.procedure


def test_a_pvc_cannot_shrink_nor_change_its_class() -> None:
    cutover = objects(phase=MigrationPhase.CUTOVER, cutover_time=T0)
    key: Key = ("", "PersistentVolumeClaim", "beersystem", "beersystem-redis-data")
    new = copy.deepcopy(cutover)
    size = new[key]["spec"]["resources"]["requests"]["storage"]
    new[key]["spec"]["resources"]["requests"]["storage"] = "1Mi"
    new[key]["spec"]["storageClassName"] = "nfs"
    fields = sorted(r.field for r in make_plan(cutover, new).refused)
    assert fields == ["spec.resources.requests.storage", "spec.storageClassName"], size


def test_a_service_cluster_ip_change_is_refused(base: dict[Key, Obj]) -> None:
    key: Key = ("", "Service", "redis", "redis-shared-headless")
    assert base[key]["spec"]["clusterIP"] == "None"
    new = copy.deepcopy(base)
    del new[key]["spec"]["clusterIP"]
    (refusal,) = make_plan(base, new).refused
    assert refusal.field == "spec.clusterIP"


# -- the command line --------------------------------------------------------------------------------------
def run_plan(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redis_constructs.gitops.plan", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_against_the_committed_dist_plans_nothing_and_writes_nothing() -> None:
    before = {p: p.stat().st_mtime_ns for p in (ROOT / "dist").rglob("*")}
    run = run_plan()
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.startswith("## Plan: `dist/` -> working tree")
    assert "No changes" in run.stdout
    assert {p: p.stat().st_mtime_ns for p in (ROOT / "dist").rglob("*")} == before


def test_cli_fails_on_a_ref_that_does_not_exist() -> None:
    run = run_plan("--base", "no-such-ref-anywhere")
    assert run.returncode == EXIT_NO_PLAN
    assert run.stderr.startswith("error: unknown git ref 'no-such-ref-anywhere': no branch, tag or commit")


def test_read_ref_reads_the_committed_files_not_the_working_tree(tmp_path: Path) -> None:
    def git(*argv: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *argv], cwd=tmp_path, check=True)

    git("init", "-q")
    (tmp_path / "dist" / "a").mkdir(parents=True)
    (tmp_path / "dist" / "a" / "manifests.yaml").write_text("kind: ConfigMap\n")
    (tmp_path / "dist" / "b.yaml").write_text("x" * 10000)
    git("add", ".")
    git("commit", "-q", "-m", "c")
    (tmp_path / "dist" / "a" / "manifests.yaml").write_text("changed\n")
    assert read_ref("HEAD", cwd=tmp_path) == {"a/manifests.yaml": "kind: ConfigMap\n", "b.yaml": "x" * 10000}
    assert (tmp_path / "dist" / "a" / "manifests.yaml").read_text() == "changed\n"


def test_cli_fails_when_the_app_does_not_synthesize(tmp_path: Path) -> None:
    app = tmp_path / "site.py"
    app.write_text(
        "import sys\n\ndef main() -> int:\n    print('error: replicas: got -1', file=sys.stderr)\n    return 1\n"
    )
    run = run_plan("--app", str(app))
    assert run.returncode == EXIT_NO_PLAN
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        "error: replicas: got -1",
        f"error: {app} does not synthesize (exit 1); see the error above",
    ]


def test_redis_shared_plan_exits_1_on_a_refused_change(tmp_path: Path) -> None:
    """The console command keeps the plan's own code: 1 when the API server would refuse a change in place."""
    sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: r, namespace: n}\nspec: {serviceName: %s}\n"
    (tmp_path / "dist" / "a").mkdir(parents=True)
    (tmp_path / "dist" / "a" / "manifests.yaml").write_text(sts % "old")
    app = tmp_path / "site.py"
    app.write_text(
        "import os, pathlib\n\ndef main() -> int:\n"
        "    out = pathlib.Path(os.environ['CDK8S_OUTDIR']) / 'a'\n    out.mkdir(parents=True)\n"
        f"    (out / 'manifests.yaml').write_text({sts % 'new'!r})\n    return 0\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "redis_constructs", "plan", "--app", str(app), "--dist", str(tmp_path / "dist")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == EXIT_REFUSED, run.stderr
    assert "spec.serviceName" in run.stdout
