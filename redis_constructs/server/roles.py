"""Which pod is the primary: the role label, the role of each StatefulSet, and the StatefulSets' sync waves.

The primary is one committed value (``RedisSharedProps.primary_pod``, set from ``main.PRIMARY_POD``): the pod
it names gets ``REDIS_ROLE=master`` and the label ``redis-shared/role: master``, every other pod
``replica`` and ``replicaof`` that pod. The master Service and the LAN LoadBalancer select the role label, so
they follow the commit. The StatefulSet names (``-master``, ``-replicas``), their selectors and the PVC names
are API (immutable, or the data's address) and keep naming the StatefulSet, not the role: after a failover
``redis-shared-replicas-0`` is the primary, and ``kubectl get pods -L redis-shared/role`` says so.
"""

from __future__ import annotations

from ..core.errors import PropError
from ..core.suggest import nearest
from .redis_conf import Role

#: Pod label carrying the pod's current role (``master`` or ``replica``), moved by the promotion commit.
ROLE_LABEL = "redis-shared/role"
#: ArgoCD sync waves of the two StatefulSets; every other redis-shared object is in wave 1 as well, so the
#: ConfigMaps are applied before (kind order) or with the first StatefulSet. The bound app comes after both.
REPLICAS_STATEFULSET_WAVE = 1
MASTER_STATEFULSET_WAVE = 2


def primary_statefulset(name: str, replicas: int, primary_pod: str | None) -> Role:
    """Which StatefulSet holds the primary for ``primary_pod`` (``None``: the master StatefulSet's pod).

    Only ordinal 0 of either StatefulSet can be named: the pods of one StatefulSet share one template, so
    promoting the replicas StatefulSet's pod needs ``replicas == 1``.
    """
    master, replica = f"{name}-master-0", f"{name}-replicas-0"
    if primary_pod is None or primary_pod == master:
        return Role.PRIMARY
    if primary_pod != replica:
        raise PropError(
            "primary_pod", primary_pod, f"one of {master!r}, {replica!r}", fix=nearest(primary_pod, (master, replica))
        )
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
