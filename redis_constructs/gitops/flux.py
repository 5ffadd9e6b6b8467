"""Flux: one Kustomization per unit of a chart folder, applied in order, and the patches that split a folder.

``wait: true`` makes a unit Ready only when all its objects are (a Job once it completed, a StatefulSet once its
rollout completed), so a dependent unit is applied only after that: Flux's counterpart of ArgoCD's sync waves.
dist/flux is applied by a Kustomization file added inside the cluster's bootstrap path, never by re-pointing the
bootstrap Kustomization ``flux-system`` (it would prune Flux itself).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cdk8s
import constructs

from .._imports.io.fluxcd.toolkit import kustomize as flux


@dataclass(frozen=True, kw_only=True, slots=True)
class FluxUnit:
    """One Flux Kustomization: a chart folder of dist/ (or a share of it), applied after ``depends_on``."""

    #: The Kustomization's name.
    name: str
    #: The chart folder under dist/ it applies.
    folder: str
    #: Units that must be Ready first. Default: - none.
    depends_on: tuple[str, ...] = ()
    #: Kustomize ``$patch: delete`` patches picking this unit's share of a folder that two units apply
    #: (:func:`flux_split_patches`). Default: - the whole folder.
    patches: tuple[Any, ...] = ()
    #: How long its apply and health checks may take. Default: 5m.
    timeout: str = "5m"


def flux_kustomizations(
    scope: constructs.Construct, id: str, *, units: Sequence[FluxUnit], namespace: str, source: str
) -> cdk8s.Chart:
    """A chart ``id`` of Flux Kustomizations, one per unit, in ``namespace``, from the GitRepository ``source``.

    Every unit prunes what it no longer renders and waits for its objects' health.
    """
    chart = cdk8s.Chart(scope, id, disable_resource_name_hashes=True)
    for unit in units:
        flux.Kustomization(
            chart,
            unit.name,
            metadata=cdk8s.ApiObjectMetadata(name=unit.name, namespace=namespace),
            spec=flux.KustomizationSpec(
                interval="10m",
                retry_interval="1m",
                timeout=unit.timeout,
                path=f"./dist/{unit.folder}",
                prune=True,
                wait=True,
                source_ref=flux.KustomizationSpecSourceRef(
                    kind=flux.KustomizationSpecSourceRefKind.GIT_REPOSITORY, name=source
                ),
                depends_on=[flux.KustomizationSpecDependsOn(name=d) for d in unit.depends_on] or None,
                patches=[
                    flux.KustomizationSpecPatches(
                        patch=p["patch"], target=flux.KustomizationSpecPatchesTarget(**p["target"])
                    )
                    for p in unit.patches
                ]
                or None,
            ),
        )
    return chart


def _delete_patch(obj: Mapping[str, Any], *, by_name: bool) -> dict[str, Any]:
    kind = str(obj["kind"])
    name = str(obj["metadata"]["name"])
    target: dict[str, Any] = {"kind": kind}
    if by_name:
        target["name"] = name
    body = f"$patch: delete\napiVersion: {obj['apiVersion']}\nkind: {kind}\nmetadata:\n  name: {name}\n"
    return {"patch": body, "target": target}


def flux_split_patches(
    objects: Sequence[Mapping[str, Any]],
    master_statefulset: str,
    *,
    after: Collection[tuple[str, str]] = (),
) -> tuple[list[Any], list[Any]]:
    """Kustomize ``$patch: delete`` patches splitting one chart folder into two Flux Kustomizations.

    Returns ``(first, second)``: ``first`` removes the master StatefulSet (that unit applies everything else),
    ``second`` removes everything but it (one patch per other kind, one for the replicas StatefulSet). Flux
    passes ``spec.patches`` to kustomize, which drops a resource matched by a delete patch. ``after``: further
    objects, as ``(kind, name)``, that go with the master StatefulSet into the second unit (the checks, which need
    both pods). Default: - none.
    """
    master = [o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == master_statefulset]
    if len(master) != 1:
        raise ValueError(f"expected one StatefulSet {master_statefulset!r}, found {len(master)}")
    keep = set(after)
    missing = keep - {(str(o["kind"]), str(o["metadata"]["name"])) for o in objects}
    if missing:
        raise ValueError(f"after: {sorted(missing)} not among the objects")
    first = [_delete_patch(master[0], by_name=True)]
    first += [_delete_patch(o, by_name=True) for o in objects if (o["kind"], o["metadata"]["name"]) in keep]
    kept_kinds = {kind for kind, _ in keep}
    second: list[Any] = []
    seen: set[str] = set()
    for o in objects:
        if (o["kind"], o["metadata"]["name"]) in keep:
            continue
        if o["kind"] == "StatefulSet" or o["kind"] in kept_kinds:
            if o is not master[0]:
                second.append(_delete_patch(o, by_name=True))
        elif o["kind"] not in seen:
            seen.add(str(o["kind"]))
            second.append(_delete_patch(o, by_name=False))
    return first, second
