"""Manual failover without Sentinel: the rollout order of the two StatefulSets.

The replicas StatefulSet rolls first, the master StatefulSet after it is healthy — ArgoCD by sync wave
(:func:`add_rollout_order`), Flux by two Kustomizations (``dependsOn`` + ``wait``, split by
:func:`redis_constructs.gitops.flux.flux_split_patches`). The order is fixed per StatefulSet, not per role: a
promotion of ``redis-shared-replicas-0`` then never waits for the lost node's pod, and a failback demotes the
serving primary first (its SIGTERM waits for the replica to catch up), then promotes the other pod. Which pod is
the primary: :mod:`redis_constructs.server.roles`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..gitops import sync_annotations as gitops
from .roles import statefulset_wave

if TYPE_CHECKING:
    from .redis_shared import RedisShared


def add_rollout_order(redis: RedisShared) -> None:
    """Give both StatefulSets of ``redis`` their ArgoCD sync wave (:func:`statefulset_wave`).

    Call it before :func:`redis_constructs.gitops.sync_annotations.add_sync_waves`, which keeps a wave already set.
    """
    for statefulset, obj in redis.statefulsets.items():
        gitops.set_sync_wave(obj, statefulset_wave(statefulset))
