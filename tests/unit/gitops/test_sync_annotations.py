"""gitops: ArgoCD sync waves, hooks and sync options and Flux's prune switch, alone and as the site renders them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cdk8s
import pytest
from binding_world import NS, World, only_job, site
from conftest import find, of_kind

from redis_constructs.gitops.sync_annotations import (
    ARGOCD_HOOK,
    ARGOCD_HOOK_DELETE_POLICY,
    ARGOCD_SYNC_OPTIONS,
    FLUX_PRUNE,
    PRUNE_PROTECTION,
    SYNC_WAVE,
    add_sync_waves,
    annotations_of,
    argocd_hook,
    merged_protection,
    protect_from_pruning,
    set_sync_wave,
)
from redis_constructs.migration.binding import MigrationPhase

Obj = dict[str, Any]


@pytest.fixture
def world() -> Iterator[World]:
    yield World()


def config_map(chart: cdk8s.Chart, name: str, annotations: dict[str, str] | None = None) -> cdk8s.ApiObject:
    return cdk8s.ApiObject(
        chart,
        name,
        api_version="v1",
        kind="ConfigMap",
        metadata=cdk8s.ApiObjectMetadata(name=name, annotations=annotations),
    )


# -- alone ---------------------------------------------------------------------------------------------------
def test_the_annotation_names_are_argocds_and_fluxs() -> None:
    assert SYNC_WAVE == "argocd.argoproj.io/sync-wave"
    assert ARGOCD_SYNC_OPTIONS == "argocd.argoproj.io/sync-options"
    assert (ARGOCD_HOOK, ARGOCD_HOOK_DELETE_POLICY) == (
        "argocd.argoproj.io/hook",
        "argocd.argoproj.io/hook-delete-policy",
    )
    assert FLUX_PRUNE == "kustomize.toolkit.fluxcd.io/prune"
    assert PRUNE_PROTECTION == {ARGOCD_SYNC_OPTIONS: "Prune=false,Delete=false", FLUX_PRUNE: "disabled"}


def test_a_hook_is_recreated_before_its_next_run_and_has_a_wave_only_when_given_one() -> None:
    assert argocd_hook("PostSync") == {ARGOCD_HOOK: "PostSync", ARGOCD_HOOK_DELETE_POLICY: "BeforeHookCreation"}
    # The order is the rendered order (dist/ is byte-compared).
    assert list(argocd_hook("PreSync", wave=-1).items()) == [
        (ARGOCD_HOOK, "PreSync"),
        (ARGOCD_HOOK_DELETE_POLICY, "BeforeHookCreation"),
        (SYNC_WAVE, "-1"),
    ]


@pytest.mark.parametrize(
    ("existing", "options"),
    [
        ({}, "Prune=false,Delete=false"),
        ({ARGOCD_SYNC_OPTIONS: ""}, "Prune=false,Delete=false"),
        ({ARGOCD_SYNC_OPTIONS: "ServerSideApply=true,Prune=true"}, "ServerSideApply=true,Prune=false,Delete=false"),
        ({ARGOCD_SYNC_OPTIONS: "Delete=true,Replace=true,Prune=false"}, "Replace=true,Prune=false,Delete=false"),
    ],
)
def test_protection_replaces_prune_and_delete_and_keeps_other_sync_options(
    existing: dict[str, str], options: str
) -> None:
    assert merged_protection(existing) == {ARGOCD_SYNC_OPTIONS: options, FLUX_PRUNE: "disabled"}


def test_protect_from_pruning_annotates_the_object() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    obj = config_map(chart, "cm", {ARGOCD_SYNC_OPTIONS: "ServerSideApply=true", "other": "kept"})
    protect_from_pruning(obj)
    assert annotations_of(obj) == {
        ARGOCD_SYNC_OPTIONS: "ServerSideApply=true,Prune=false,Delete=false",
        "other": "kept",
        FLUX_PRUNE: "disabled",
    }


def test_add_sync_waves_by_kind_keeps_a_wave_already_set() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    plain = config_map(chart, "plain")
    early = config_map(chart, "early")
    set_sync_wave(early, 7)
    set_sync_wave(early, -2)  # replaces
    namespace = cdk8s.ApiObject(
        chart, "ns", api_version="v1", kind="Namespace", metadata=cdk8s.ApiObjectMetadata(name="ns")
    )
    add_sync_waves(chart)
    assert annotations_of(plain)[SYNC_WAVE] == "1"
    assert annotations_of(early)[SYNC_WAVE] == "-2"
    assert annotations_of(namespace)[SYNC_WAVE] == "-1"
    add_sync_waves(chart, by_kind={"ConfigMap": 5}, default=9)
    assert annotations_of(plain)[SYNC_WAVE] == "1"  # a second pass changes nothing already set


def test_add_sync_waves_takes_its_table_and_default() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    cm = config_map(chart, "cm")
    ns = cdk8s.ApiObject(chart, "ns", api_version="v1", kind="Namespace", metadata=cdk8s.ApiObjectMetadata(name="n"))
    add_sync_waves(chart, by_kind={"ConfigMap": 5}, default=9)
    assert (annotations_of(cm)[SYNC_WAVE], annotations_of(ns)[SYNC_WAVE]) == ("5", "9")


# -- as the binding and the site render them -----------------------------------------------------------------
def test_protection_keeps_other_argocd_sync_options(world: World) -> None:
    world.obj("Service", "beersystem-redis").metadata.add_annotation(
        "argocd.argoproj.io/sync-options", "ServerSideApply=true,Prune=true"
    )
    world.bind()
    svc = find(world.beersystem(), "Service", "beersystem-redis", NS)
    assert svc["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == (
        "ServerSideApply=true,Prune=false,Delete=false"
    )


def test_sync_waves_order_namespace_credentials_redis_then_the_app() -> None:
    charts = site(MigrationPhase.CUTOVER)

    def wave(obj: Obj) -> str:
        return str(obj["metadata"]["annotations"][SYNC_WAVE])

    shared = charts["redis-shared"]
    assert wave(find(shared, "Namespace", "redis")) == "-1"
    assert {wave(o) for o in of_kind(shared, "SealedSecret")} == {"0"}
    master_sts = find(shared, "StatefulSet", "redis-shared-master")
    assert wave(master_sts) == "2"  # after the replicas (failover.add_rollout_order)
    assert {wave(o) for o in shared if o["kind"] not in {"Namespace", "SealedSecret"} and o is not master_sts} == {"1"}
    assert wave(find(charts["beersystem"], "Deployment", "beersystem", NS)) == "3"
    job = only_job(charts["beersystem"])
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
