"""GitOps annotations: ArgoCD sync waves, hooks and sync options, Flux's prune switch, in one place.

Every object this library renders is applied by ArgoCD or Flux from dist/; what they may do with it is said by
annotations, and every construct takes them from here:

* :func:`add_sync_waves`: the ArgoCD wave of every object of a chart (namespace, credentials, Redis, the app).
* :func:`set_sync_wave`: one object's wave (the bound app, the StatefulSets' rollout order).
* :func:`argocd_hook`: an ArgoCD hook (the validation Job, the data copy); Flux ignores it and applies the object
  with the rest of its unit.
* :func:`protect_from_pruning`: neither ArgoCD nor Flux deletes the object when it stops being rendered (the old
  Redis after the cutover).
"""

from __future__ import annotations

from collections.abc import Mapping

import cdk8s
import constructs

SYNC_WAVE = "argocd.argoproj.io/sync-wave"
ARGOCD_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
ARGOCD_HOOK = "argocd.argoproj.io/hook"
ARGOCD_HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
#: ArgoCD neither prunes nor deletes (on app deletion) an object carrying this; Flux skips it in garbage collection.
PRUNE_PROTECTION: Mapping[str, str] = {ARGOCD_SYNC_OPTIONS: "Prune=false,Delete=false", FLUX_PRUNE: "disabled"}

#: ArgoCD sync waves of the shared Redis chart by kind (:func:`add_sync_waves`): namespace first, then the
#: credentials, then Redis itself (every other kind; the master StatefulSet in wave 2, after the replicas:
#: ``failover.add_rollout_order``); the bound app follows in :data:`APP_SYNC_WAVE`.
REDIS_CHART_SYNC_WAVES: Mapping[str, int] = {"Namespace": -1, "SealedSecret": 0, "ExternalSecret": 0, "Secret": 0}
REDIS_SYNC_WAVE = 1
APP_SYNC_WAVE = 3

#: The ArgoCD hook phases an object of this library may run in.
ARGOCD_HOOK_PHASES = ("PreSync", "Sync", "PostSync")


def argocd_hook(phase: str, *, wave: int | None = None) -> dict[str, str]:
    """The annotations making an object an ArgoCD hook of ``phase``, recreated on every sync.

    ``BeforeHookCreation`` deletes the previous run's object just before the next one is created, so a finished
    Job stays inspectable until then. ``wave``: its sync wave among the hooks of that phase (lower first).
    Default: - no wave annotation (wave 0).
    """
    annotations = {ARGOCD_HOOK: phase, ARGOCD_HOOK_DELETE_POLICY: "BeforeHookCreation"}
    if wave is not None:
        annotations[SYNC_WAVE] = str(wave)
    return annotations


def annotations_of(obj: cdk8s.ApiObject) -> Mapping[str, str]:
    """The annotations on ``obj``'s metadata now (given at construction or added since).

    Read from the metadata alone, not the whole rendered object (one jsii round trip instead of a full
    ``toJson``): this library never sets annotations by JSON patch, and one that a user adds by patch is applied
    after the metadata at synth, so it wins over an annotation added here anyway.
    """
    return obj.metadata.to_json().get("annotations") or {}


def set_sync_wave(obj: cdk8s.ApiObject, wave: int) -> None:
    """Put ``obj`` in ArgoCD sync wave ``wave`` (replacing a wave it had)."""
    obj.metadata.add_annotation(SYNC_WAVE, str(wave))


def merged_protection(existing: Mapping[str, str]) -> dict[str, str]:
    """:data:`PRUNE_PROTECTION`, keeping any other ArgoCD sync options already in ``existing`` annotations."""
    options = [o for o in (existing.get(ARGOCD_SYNC_OPTIONS) or "").split(",") if o]
    options = [o for o in options if o.split("=")[0] not in {"Prune", "Delete"}]
    return {
        ARGOCD_SYNC_OPTIONS: ",".join([*options, "Prune=false", "Delete=false"]),
        FLUX_PRUNE: PRUNE_PROTECTION[FLUX_PRUNE],
    }


def protect_from_pruning(obj: cdk8s.ApiObject) -> None:
    """Annotate ``obj`` so that neither ArgoCD nor Flux deletes it once it is no longer rendered.

    Other ArgoCD sync options on it stay (:func:`merged_protection`). The protection lives on in the cluster: a
    later commit that stops rendering the object leaves it there until someone deletes it by hand.
    """
    for key, value in merged_protection(annotations_of(obj)).items():
        obj.metadata.add_annotation(key, value)


def add_sync_waves(
    scope: constructs.IConstruct,
    *,
    by_kind: Mapping[str, int] = REDIS_CHART_SYNC_WAVES,
    default: int = REDIS_SYNC_WAVE,
) -> None:
    """Annotate every API object under ``scope`` with its ArgoCD sync wave (an aspect-like pass, run once).

    ArgoCD applies lower waves first and waits for them to be healthy. Called by the site on the redis-shared
    chart so that the namespace (-1), the credentials (0) and Redis (1; the master StatefulSet 2, set before by
    ``failover.add_rollout_order``) are in place before the bound app (3).
    Objects that already carry a wave keep it. Flux ignores the annotation (it orders with ``dependsOn``).
    """
    for child in scope.node.find_all():
        if isinstance(child, cdk8s.ApiObject):  # built in Python: no round trip to ask jsii
            obj = child
        elif cdk8s.ApiObject.is_api_object(child):
            obj = cdk8s.ApiObject.of(child)
        else:
            continue
        if SYNC_WAVE in annotations_of(obj):
            continue
        set_sync_wave(obj, by_kind.get(obj.kind, default))
