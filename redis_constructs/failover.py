"""Manual failover without Sentinel: which pod is the primary, the role label, and the rollout order.

The primary is one committed value (``RedisSharedProps.primary_pod``, set from ``main.PRIMARY_POD``): the pod
it names gets ``REDIS_ROLE=master`` and the label ``redis-shared/role: master``, every other pod
``replica`` and ``replicaof`` that pod. The master Service and the LAN LoadBalancer select the role label, so
they follow the commit. The StatefulSet names (``-master``, ``-replicas``), their selectors and the PVC names
are API (immutable, or the data's address) and keep naming the StatefulSet, not the role: after a failover
``redis-shared-replicas-0`` is the primary, and ``kubectl get pods -L redis-shared/role`` says so.

Rollout order (README "Failover", "Upgrades"): the replicas StatefulSet rolls first, the master StatefulSet
after it is healthy — ArgoCD by sync wave, Flux by two Kustomizations (``dependsOn`` + ``wait``). The order
is fixed per StatefulSet, not per role: a promotion of ``redis-shared-replicas-0`` then never waits for the
lost node's pod, and a failback demotes the serving primary first (its SIGTERM waits for the replica to
catch up), then promotes the other pod.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import gitops
from .errors import PropError
from .redis_config import Role

if TYPE_CHECKING:
    from .redis_shared import RedisShared

#: Pod label carrying the pod's current role (``master`` or ``replica``), moved by the promotion commit.
ROLE_LABEL = "redis-shared/role"
#: ArgoCD sync waves of the two StatefulSets; every other redis-shared object is in wave 1 as well, so the
#: ConfigMaps are applied before (kind order) or with the first StatefulSet. The bound app comes after both.
REPLICAS_STATEFULSET_WAVE = 1
MASTER_STATEFULSET_WAVE = 2
#: Aliases of :mod:`redis_constructs.gitops` names, importable from here as before.
ARGOCD_SYNC_WAVE = gitops.SYNC_WAVE
FLUX_PRUNE = gitops.FLUX_PRUNE


def primary_statefulset(name: str, replicas: int, primary_pod: str | None) -> Role:
    """Which StatefulSet holds the primary for ``primary_pod`` (``None``: the master StatefulSet's pod).

    Only ordinal 0 of either StatefulSet can be named: the pods of one StatefulSet share one template, so
    promoting the replicas StatefulSet's pod needs ``replicas == 1``.
    """
    master, replica = f"{name}-master-0", f"{name}-replicas-0"
    if primary_pod is None or primary_pod == master:
        return Role.PRIMARY
    if primary_pod != replica:
        raise PropError("primary_pod", primary_pod, f"one of {master!r}, {replica!r}", fix=master)
    if replicas != 1:
        raise PropError(
            "primary_pod",
            primary_pod,
            f"{master!r} while replicas is {replicas}: the pods of one StatefulSet share its role, so a "
            "promotion of the replica needs replicas=1",
        )
    return Role.REPLICA


def role_of(statefulset: Role, primary: Role) -> Role:
    """The role the pods of ``statefulset`` have when ``primary`` holds the primary."""
    return Role.PRIMARY if statefulset is primary else Role.REPLICA


def statefulset_wave(statefulset: Role) -> int:
    """ArgoCD sync wave of a StatefulSet: the replicas StatefulSet first (see the module docstring)."""
    return REPLICAS_STATEFULSET_WAVE if statefulset is Role.REPLICA else MASTER_STATEFULSET_WAVE


def add_rollout_order(redis: RedisShared) -> None:
    """Give both StatefulSets of ``redis`` their ArgoCD sync wave (:func:`statefulset_wave`).

    Call it before :func:`redis_constructs.gitops.add_sync_waves`, which keeps a wave already set.
    """
    for statefulset, obj in redis.statefulsets.items():
        gitops.set_sync_wave(obj, statefulset_wave(statefulset))


def _delete_patch(obj: Mapping[str, Any], *, by_name: bool) -> dict[str, Any]:
    kind = str(obj["kind"])
    name = str(obj["metadata"]["name"])
    target: dict[str, Any] = {"kind": kind}
    if by_name:
        target["name"] = name
    body = f"$patch: delete\napiVersion: {obj['apiVersion']}\nkind: {kind}\nmetadata:\n  name: {name}\n"
    return {"patch": body, "target": target}


def flux_split_patches(objects: Sequence[Mapping[str, Any]], master_statefulset: str) -> tuple[list[Any], list[Any]]:
    """Kustomize ``$patch: delete`` patches splitting one chart folder into two Flux Kustomizations.

    Returns ``(first, second)``: ``first`` removes the master StatefulSet (that unit applies everything else),
    ``second`` removes everything but it (one patch per other kind, one for the replicas StatefulSet). Flux
    passes ``spec.patches`` to kustomize, which drops a resource matched by a delete patch.
    """
    master = [o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == master_statefulset]
    if len(master) != 1:
        raise ValueError(f"expected one StatefulSet {master_statefulset!r}, found {len(master)}")
    first = [_delete_patch(master[0], by_name=True)]
    second: list[Any] = []
    seen: set[str] = set()
    for o in objects:
        if o["kind"] == "StatefulSet":
            if o["metadata"]["name"] != master_statefulset:
                second.append(_delete_patch(o, by_name=True))
        elif o["kind"] not in seen:
            seen.add(str(o["kind"]))
            second.append(_delete_patch(o, by_name=False))
    return first, second
