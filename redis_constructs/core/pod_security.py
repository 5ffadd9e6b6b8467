"""Pod Security ``restricted`` building blocks and bounded resources, shared by every pod this library renders.

RedisShared's StatefulSets and the binding's validation Job use the same functions, so a hardening change
lands everywhere at once.
"""

from __future__ import annotations

from cdk8s_plus_28 import k8s

from .rendering import quantity


def restricted_container(uid: int) -> k8s.SecurityContext:
    """A container that passes Pod Security ``restricted`` with a read-only root filesystem, as ``uid:uid``."""
    return k8s.SecurityContext(
        allow_privilege_escalation=False,
        capabilities=k8s.Capabilities(drop=["ALL"]),
        privileged=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
    )


def restricted_pod(uid: int, *, fs_group_change_policy: str | None = None) -> k8s.PodSecurityContext:
    """Pod-level defaults for ``restricted``: non-root ``uid:uid``, volumes group-owned by ``uid``."""
    return k8s.PodSecurityContext(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        fs_group_change_policy=fs_group_change_policy,
        seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
    )


def resources(*, cpu: tuple[str, str], memory: tuple[str, str]) -> k8s.ResourceRequirements:
    """Requests and limits, each given as ``(request, limit)``."""
    return k8s.ResourceRequirements(
        requests={"cpu": quantity(cpu[0]), "memory": quantity(memory[0])},
        limits={"cpu": quantity(cpu[1]), "memory": quantity(memory[1])},
    )
