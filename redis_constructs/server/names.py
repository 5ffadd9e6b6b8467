"""RedisNames: the names, labels and DNS names every object of one RedisShared derives from, and its ports.

RedisShared validates ``name`` and ``namespace`` once and hands this value to each child construct, so the
StatefulSets, Services, NetworkPolicy and certificate agree on every name without reading the props.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdk8s_plus_28 import k8s

from .redis_conf import Role
from .roles import ROLE_LABEL

#: Redis's plaintext port: the Services, the pods, redis.conf and the NetworkPolicy agree on it.
REDIS_PORT = 6379
#: The redis_exporter sidecar's port, scraped through the metrics Service.
METRICS_PORT = 9121


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisNames:
    """Names and labels of one RedisShared (``name`` and ``namespace`` already validated).

    Example::

        names = RedisNames(name="redis-shared", namespace="redis")
        names.pod_host(Role.PRIMARY, 0)  # 'redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local'
    """

    #: Prefix of every object name.
    name: str
    #: The namespace every object is in.
    namespace: str

    @property
    def headless_service_name(self) -> str:
        """The StatefulSets' governing Service: it gives each pod its stable DNS name."""
        return f"{self.name}-headless"

    @property
    def master_service_name(self) -> str:
        return f"{self.name}-master"

    @property
    def replicas_service_name(self) -> str:
        return f"{self.name}-replicas"

    @property
    def metrics_service_name(self) -> str:
        return f"{self.name}-metrics"

    @property
    def external_service_name(self) -> str:
        return f"{self.name}-external"

    @property
    def config_map_name(self) -> str:
        """The ConfigMap holding redis.conf per role and the ACL template."""
        return f"{self.name}-configuration"

    @property
    def scripts_config_map_name(self) -> str:
        """The ConfigMap holding the start, render-config and probe scripts."""
        return f"{self.name}-scripts"

    @property
    def tenants_config_map_name(self) -> str:
        """The ConfigMap holding the tenants file (no passwords), outside the config checksum."""
        return f"{self.name}-tenants"

    @property
    def service_account_name(self) -> str:
        return self.name

    @property
    def master_host(self) -> str:
        """The master Service's DNS name: what clients dial for writes."""
        return f"{self.master_service_name}.{self.namespace}.svc.cluster.local"

    @property
    def replicas_host(self) -> str:
        return f"{self.replicas_service_name}.{self.namespace}.svc.cluster.local"

    def statefulset_name(self, role: Role) -> str:
        """``<name>-master`` or ``<name>-replicas``."""
        return f"{self.name}-master" if role is Role.PRIMARY else f"{self.name}-replicas"

    def pod_host(self, role: Role, ordinal: int) -> str:
        """Stable DNS name of one pod through the headless Service (resolves also while not Ready)."""
        return (
            f"{self.statefulset_name(role)}-{ordinal}.{self.headless_service_name}.{self.namespace}.svc.cluster.local"
        )

    def labels(self, role: Role | None = None) -> dict[str, str]:
        """The selector labels of every Redis pod, or (with ``role``) of one StatefulSet's pods."""
        labels = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": self.name}
        if role is not None:
            labels["app.kubernetes.io/component"] = role.component
        return labels

    def role_selector(self, role: Role) -> dict[str, str]:
        """Selects the pods that have ``role`` now (moves with a promotion), whichever StatefulSet holds them."""
        return {**self.labels(), ROLE_LABEL: role.value}

    def metrics_selector(self) -> dict[str, str]:
        """Labels of the metrics Service that a ServiceMonitor selects it by (the Service carries them all).

        Not ``app.kubernetes.io/instance``: ArgoCD's label tracking rewrites it on every object's metadata with
        the Application's name.
        """
        return {
            "app.kubernetes.io/name": "redis",
            "app.kubernetes.io/part-of": self.name,
            "app.kubernetes.io/component": "metrics",
        }

    def object_labels(self, role: Role | None = None) -> dict[str, str]:
        """The labels on every object's metadata: the selector labels plus managed-by and part-of."""
        return {**self.labels(role), "app.kubernetes.io/managed-by": "cdk8s", "app.kubernetes.io/part-of": self.name}

    def meta(
        self, name: str, *, role: Role | None = None, annotations: Mapping[str, str] | None = None
    ) -> k8s.ObjectMeta:
        """Metadata of an object ``name`` in the Redis namespace (no annotations key when there are none)."""
        return k8s.ObjectMeta(
            name=name,
            namespace=self.namespace,
            labels=self.object_labels(role),
            annotations=dict(annotations or {}) or None,
        )
