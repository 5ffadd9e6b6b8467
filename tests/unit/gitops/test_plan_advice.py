"""The plan's advice is computed from the change: list elements one by one, a class change gets the class-change
procedure, the Flux unit that applies the object, an unknown BASE ref named with the nearest one.

The advice make plan gives for changes it cannot make in place: right for what changed.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from redis_constructs.gitops import plan

NETPOL: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "redis-shared", "namespace": "redis"},
    "spec": {
        "ingress": [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "beersystem"}}},
                    {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis-shared"}}},
                ],
                "ports": [{"port": 6379, "protocol": "TCP"}],
            }
        ]
    },
}
STS: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "redis-shared-master", "namespace": "redis"},
    "spec": {
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {"storageClassName": "local-path", "resources": {"requests": {"storage": "8Gi"}}},
            }
        ]
    },
}
STS_KEY = ("apps", "StatefulSet", "redis", "redis-shared-master")


def test_a_namespace_added_to_a_networkpolicy_is_one_added_peer_shown_whole() -> None:
    new = copy.deepcopy(NETPOL)
    shop = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}}
    new["spec"]["ingress"][0]["from"].insert(1, shop)
    (change,) = plan.diff(NETPOL, new)
    assert change.where == "spec.ingress[0].from[1]"
    assert (
        plan._arrow(change) == 'added `{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}}`'
    )
    assert "…" not in plan._arrow(change)


def test_a_removed_peer_is_one_removal_and_a_changed_port_recurses() -> None:
    new = copy.deepcopy(NETPOL)
    del new["spec"]["ingress"][0]["from"][0]
    new["spec"]["ingress"][0]["ports"][0]["port"] = 6380
    changes = {c.where: plan._arrow(c) for c in plan.diff(NETPOL, new)}
    assert changes["spec.ingress[0].from[0]"].startswith("removed `")
    assert changes["spec.ingress[0].ports[0].port"] == "`6379` -> `6380`"


def test_a_storage_class_change_gets_the_class_change_procedure_not_a_resize() -> None:
    new = copy.deepcopy(STS)
    new["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] = "longhorn"
    (refusal,) = plan._refusals(
        STS_KEY, STS, new, tuple(plan.diff(STS, new)), {STS_KEY: "redis-shared-master-statefulset"}
    )
    assert "`data` local-path -> longhorn" in refusal.procedure
    assert "docs/operations.md#change-the-storage-class" in refusal.procedure
    assert "resize" not in refusal.procedure and "patch pvc" not in refusal.procedure
    assert "flux reconcile kustomization redis-shared-master-statefulset --with-source" in refusal.procedure


def test_a_bigger_size_on_local_path_still_says_it_cannot_expand() -> None:
    new = copy.deepcopy(STS)
    new["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "16Gi"
    (refusal,) = plan._refusals(STS_KEY, STS, new, tuple(plan.diff(STS, new)))
    assert "local-path has no `allowVolumeExpansion`" in refusal.procedure
    assert "README" not in refusal.procedure


def test_flux_units_name_the_master_statefulsets_own_unit() -> None:
    dist = Path(__file__).resolve().parents[3] / "dist"
    files = {str(p.relative_to(dist)): p.read_text() for p in dist.rglob("*.yaml")}
    units = plan.flux_units(files)
    assert units[STS_KEY] == "redis-shared-master-statefulset"
    assert units[("apps", "StatefulSet", "redis", "redis-shared-replicas")] == "redis-shared"


def _repo(tmp_path: Path) -> Path:
    def git(*argv: str) -> None:
        subprocess.run(["git", *argv], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "x.yaml").write_text(
        yaml.safe_dump({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}})
    )
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    git("branch", "release-1")
    return tmp_path


def test_an_unknown_base_ref_is_named_with_the_nearest_ref(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_repo(tmp_path))
    with pytest.raises(subprocess.CalledProcessError) as raised:
        plan.read_ref("relase-1")
    message = plan._ref_error("relase-1", "dist", raised.value)
    assert message.startswith("unknown git ref 'relase-1': no branch, tag or commit of that name in this clone")
    assert "did you mean 'release-1'?" in message
    assert not message.endswith(": ")
