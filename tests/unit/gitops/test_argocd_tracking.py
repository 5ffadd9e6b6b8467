"""Selections survive ArgoCD's label tracking.

ArgoCD (label tracking, the default up to 2.14) overwrites ``app.kubernetes.io/instance`` on the metadata of every
object it syncs with the Application's name; pod templates (and so pods) keep theirs. Every selector in dist/ must
pick the same objects after that rewrite: ServiceMonitor -> Services, and Service, NetworkPolicy,
PodDisruptionBudget, StatefulSet/Deployment/Job -> pods.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from redis_constructs.gitops.manifest_checks import _matches, _ns

Obj = dict[str, Any]
INSTANCE = "app.kubernetes.io/instance"
WORKLOADS = ("Deployment", "StatefulSet", "Job")


def argocd_tracked(objects: Sequence[Obj], application: str) -> list[Obj]:
    """``objects`` as the cluster holds them after an ArgoCD Application named ``application`` synced them."""
    tracked = copy.deepcopy(list(objects))
    for obj in tracked:
        obj["metadata"].setdefault("labels", {})[INSTANCE] = application
    return tracked


def _pods(objects: Sequence[Obj]) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, owner, labels) of the pods each workload makes (from its pod template)."""
    return [
        (_ns(o), f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["metadata"].get("labels") or {})
        for o in objects
        if o["kind"] in WORKLOADS
    ]


def _namespace_labels(objects: Sequence[Obj], name: str) -> dict[str, str]:
    """A namespace's labels: its object's metadata (if dist/ holds it) and the API server's own name label."""
    labels = next(
        (
            o["metadata"].get("labels") or {}
            for o in objects
            if o["kind"] == "Namespace" and o["metadata"]["name"] == name
        ),
        {},
    )
    return {**labels, "kubernetes.io/metadata.name": name}


def selections(objects: Sequence[Obj]) -> Iterator[tuple[str, frozenset[str]]]:
    """Every selector in ``objects`` with what it selects, by a stable description of the selector."""
    pods = _pods(objects)
    namespaces = {_ns(o) for o in objects} | {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}

    def pods_of(selector: Obj | None, namespace: str) -> frozenset[str]:
        return frozenset(owner for ns, owner, labels in pods if ns == namespace and _matches(selector, labels))

    for o in objects:
        kind, name, ns, spec = o["kind"], o["metadata"]["name"], _ns(o), o.get("spec") or {}
        where = f"{kind} {ns}/{name}"
        if kind == "ServiceMonitor":
            allowed = spec["namespaceSelector"]["matchNames"]
            services = frozenset(
                f"{_ns(s)}/{s['metadata']['name']}"
                for s in objects
                if s["kind"] == "Service" and _ns(s) in allowed and _matches(spec["selector"], s["metadata"]["labels"])
            )
            yield f"{where} selector", services
        elif kind == "Service" and spec.get("selector"):
            yield f"{where} selector", pods_of({"matchLabels": spec["selector"]}, ns)
        elif kind in ("PodDisruptionBudget", *WORKLOADS) and "selector" in spec:
            yield f"{where} selector", pods_of(spec["selector"], ns)
        elif kind == "NetworkPolicy":
            yield f"{where} podSelector", pods_of(spec["podSelector"] or {"matchLabels": {}}, ns)
            rules = [("ingress", r.get("from") or []) for r in spec.get("ingress") or []]
            rules += [("egress", r.get("to") or []) for r in spec.get("egress") or []]
            for i, (direction, peers) in enumerate(rules):
                for j, peer in enumerate(peers):
                    if "podSelector" not in peer and "namespaceSelector" not in peer:
                        continue
                    in_ns = (
                        [
                            n
                            for n in sorted(namespaces)
                            if _matches(peer["namespaceSelector"], _namespace_labels(objects, n))
                        ]
                        if "namespaceSelector" in peer
                        else [ns]
                    )
                    selected = frozenset(
                        f"{n}/{p}" for n in in_ns for p in pods_of(peer.get("podSelector") or {"matchLabels": {}}, n)
                    ) | frozenset(f"namespace {n}" for n in in_ns if "podSelector" not in peer)
                    yield f"{where} {direction}[{i}] peer[{j}]", selected


def test_every_selection_holds_when_argocd_rewrites_the_instance_label(site_objects: list[Obj]) -> None:
    before = dict(selections(site_objects))
    after = dict(selections(argocd_tracked(site_objects, "homelab-redis")))
    assert before.keys() == after.keys()
    changed = {k: (sorted(before[k]), sorted(after[k])) for k in before if before[k] != after[k]}
    assert changed == {}


@pytest.mark.parametrize(
    "selector",
    ["ServiceMonitor redis/redis-shared selector", "Service redis/redis-shared-master selector"],
)
def test_the_selections_that_matter_select_something(site_objects: list[Obj], selector: str) -> None:
    """The comparison above is not vacuous: the metrics Service and the primary's pods are selected."""
    after = dict(selections(argocd_tracked(site_objects, "homelab-redis")))
    assert after[selector], f"{selector} selects nothing"


def test_service_monitor_ignores_the_instance_label(site_objects: list[Obj]) -> None:
    (monitor,) = [o for o in site_objects if o["kind"] == "ServiceMonitor"]
    assert INSTANCE not in monitor["spec"]["selector"]["matchLabels"]
    after = dict(selections(argocd_tracked(site_objects, "anything-but-redis-shared")))
    assert after["ServiceMonitor redis/redis-shared selector"] == {"redis/redis-shared-metrics"}


def test_the_old_selector_would_have_broken() -> None:
    """The rewrite this module emulates breaks a selection by ``app.kubernetes.io/instance`` (the test can fail)."""
    service = {"kind": "Service", "metadata": {"name": "m", "namespace": "redis", "labels": {INSTANCE: "redis-shared"}}}
    monitor = {
        "kind": "ServiceMonitor",
        "metadata": {"name": "m", "namespace": "redis"},
        "spec": {
            "selector": {"matchLabels": {INSTANCE: "redis-shared"}},
            "namespaceSelector": {"matchNames": ["redis"]},
        },
    }
    assert dict(selections([service, monitor]))["ServiceMonitor redis/m selector"] == {"redis/m"}
    assert dict(selections(argocd_tracked([service, monitor], "homelab")))["ServiceMonitor redis/m selector"] == set()
