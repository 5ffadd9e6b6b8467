"""The props and records of :class:`~redis_constructs.server.redis_shared.RedisShared`: what a user writes.

``RedisSharedProps`` and the records it holds (:class:`RedisCredentials`, :class:`LoadBalancer`,
:class:`Resources`; a Secret's key is a :class:`~redis_constructs.core.refs.SecretKeyRef`). Nothing here renders an
object; RedisShared validates these values once, at construction (:mod:`redis_constructs.core.validation` rules),
and hands its child constructs only what each needs. The package root re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.images import EXPORTER_IMAGE, REDIS_IMAGE
from ..core.refs import SecretKeyRef
from .redis_conf import ACL_USERS, AclUser, EvictionPolicy, TenantCommands
from .tls import Tls

if TYPE_CHECKING:
    from ..credentials.replicated_secret import ReplicatedSecret


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisCredentials:
    """Where each ACL user's password comes from; Secrets in the Redis namespace, mounted as files.

    The client credential is what applications use (Redis user ``default``); the others never leave
    the Redis namespace.
    """

    #: Default: key ``password`` of Secret ``redis-shared-client``.
    client: SecretKeyRef = field(default_factory=lambda: SecretKeyRef(name="redis-shared-client", key="password"))
    #: Default: key ``replication-password`` of Secret ``redis-shared-system``.
    replication: SecretKeyRef = field(
        default_factory=lambda: SecretKeyRef(name="redis-shared-system", key="replication-password")
    )
    #: Default: key ``exporter-password`` of Secret ``redis-shared-system``.
    exporter: SecretKeyRef = field(
        default_factory=lambda: SecretKeyRef(name="redis-shared-system", key="exporter-password")
    )
    #: Default: key ``admin-password`` of Secret ``redis-shared-system``.
    admin: SecretKeyRef = field(default_factory=lambda: SecretKeyRef(name="redis-shared-system", key="admin-password"))
    #: The data-copy Job's user (``migration``: read, RESTORE without REPLACE, its marker; README "Migrating
    #: beersystem"); a :class:`RedisDataCopy` needs it. Default: - no ``migration`` ACL user is rendered.
    migration: SecretKeyRef | None = None
    #: Changing it rolls every Redis pod (annotation ``redis-shared/credentials-version``); set it from the
    #: sealed values' checksum or bump it by hand after rotating a Secret created out of band.
    #: Default: ``"1"``.
    version: str = "1"
    #: The ReplicatedSecret that holds ``client``, so each client namespace gets its copy from
    #: :meth:`RedisShared.add_client_namespace`. Default: - set by :meth:`from_replicated`; otherwise the client
    #: Secret in each client namespace is yours to provide.
    client_secret: ReplicatedSecret | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_replicated(
        cls,
        *,
        client: ReplicatedSecret,
        system: ReplicatedSecret,
        namespace: str = "redis",
        client_key: str = "password",
    ) -> RedisCredentials:
        """Credentials from two ReplicatedSecrets: ``client`` (shared with the apps) and ``system``.

        ``system`` holds ``replication-password``, ``exporter-password``, ``admin-password`` and, for a data
        copy, ``migration-password`` (the ``migration`` user exists only when it does); it should be replicated
        into the Redis namespace only. Both versions roll the Redis pods when they change.
        """
        return cls(
            client=client.key_ref(client_key, namespace=namespace),
            replication=system.key_ref("replication-password", namespace=namespace),
            exporter=system.key_ref("exporter-password", namespace=namespace),
            admin=system.key_ref("admin-password", namespace=namespace),
            migration=(
                system.key_ref("migration-password", namespace=namespace)
                if "migration-password" in system.keys
                else None
            ),
            # Only the copies in Redis's namespace: a copy added for a new client must not roll Redis.
            version=f"{client.version_in(namespace)}.{system.version_in(namespace)}"[:63],
            client_secret=client,
        )

    def by_file(self) -> dict[str, SecretKeyRef]:
        """The mounted file name of each credential (see :data:`redis_config.ACL_USERS`)."""
        refs = {
            "client-password": self.client,
            "replication-password": self.replication,
            "exporter-password": self.exporter,
            "admin-password": self.admin,
        }
        if self.migration is not None:
            refs["migration-password"] = self.migration
        return refs

    def acl_users(self) -> tuple[AclUser, ...]:
        """The ACL users these credentials give passwords to: every user, ``migration`` only when it is set."""
        files = self.by_file()
        return tuple(u for u in ACL_USERS if u.secret_file in files)


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadBalancer:
    """A MetalLB LoadBalancer Service for clients on the LAN, admitting only ``source_ranges``."""

    #: The fixed address MetalLB assigns (annotations, never ``spec.loadBalancerIP``).
    ip: str
    #: Client networks allowed by kube-proxy and by the NetworkPolicy, e.g. ``("192.168.4.0/24",)``.
    source_ranges: tuple[str, ...]
    #: MetalLB address pool annotation. Default: - no pool annotation; MetalLB picks the pool holding ``ip``.
    address_pool: str | None = None
    #: Opt-out, named for what it costs: admit ``0.0.0.0/0`` or ``::/0``. Default: False.
    allow_any_source: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Resources:
    """The Redis container's requests and limits; memory request equals the limit (no overcommit)."""

    #: Default: ``"1Gi"``; maxmemory is derived from it (half, for fork copy-on-write headroom).
    memory_limit: str = "1Gi"
    #: Default: ``"250m"``.
    cpu_request: str = "250m"
    #: Default: ``"1"``.
    cpu_limit: str = "1"


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisSharedProps:
    """Props of :class:`RedisShared`. Every default is the behaviour you get when you leave it out."""

    #: Prefix of every object name. Default: ``"redis-shared"`` (the release name clients know).
    name: str = "redis-shared"
    #: Namespace created for Redis, labelled Pod Security ``restricted``. Default: ``"redis"``.
    namespace: str = "redis"
    #: Pods of the replica StatefulSet; each needs its own node (required anti-affinity). Default: 1.
    replicas: int = 1
    #: Official Redis 7 image with a pinned tag. Default: :data:`images.REDIS_IMAGE`, the current patched 7.4 release.
    image: str = REDIS_IMAGE
    #: Image digest pinned next to the tag. Default: - the tag alone is used.
    image_digest: str | None = None
    #: redis_exporter image with a pinned tag. Default: :data:`images.EXPORTER_IMAGE`, its current release.
    exporter_image: str = EXPORTER_IMAGE
    #: Default: - the tag alone is used.
    exporter_image_digest: str | None = None
    #: StorageClass of the data PVCs. Default: ``"local-path"`` (K3s).
    storage_class: str = "local-path"
    #: Size of each data PVC. Default: ``"8Gi"``.
    storage_size: str = "8Gi"
    #: Default: 1Gi memory (maxmemory 512 MiB), CPU 250m requested, 1 CPU limit.
    resources: Resources = field(default_factory=Resources)
    #: Default: ``EvictionPolicy.ALLKEYS_LRU``: this is a cache, the least recently used keys go first.
    eviction_policy: EvictionPolicy = EvictionPolicy.ALLKEYS_LRU
    #: Default: 30; must exceed ``shutdown_timeout_seconds`` by 10 s for the final AOF fsync.
    termination_grace_period_seconds: int = 30
    #: Redis ``shutdown-timeout``: how long SIGTERM waits for replicas to catch up. Default: 10.
    shutdown_timeout_seconds: int = 10
    #: Default: - no LoadBalancer; Redis is reachable only inside the cluster.
    load_balancer: LoadBalancer | None = None
    #: Namespaces whose pods may connect on 6379. Default: - none; add more with ``add_client_namespace``.
    client_namespaces: tuple[str, ...] = ()
    #: Namespace of Prometheus, the only one admitted to 9121. Default: ``"monitoring"``.
    monitoring_namespace: str = "monitoring"
    #: Default: - the Secrets described by :class:`RedisCredentials`'s defaults.
    credentials: RedisCredentials = field(default_factory=RedisCredentials)
    #: Labels on the DNS pods NetworkPolicy egress admits. Default: K3s CoreDNS (``k8s-app: kube-dns``
    #: in ``kube-system``). At least one label: an empty selector would admit every pod of ``dns_namespace``.
    dns_namespace: str = "kube-system"
    dns_pod_labels: tuple[tuple[str, str], ...] = (("k8s-app", "kube-dns"),)
    #: The pod that is the primary: ``"<name>-master-0"`` or, to fail over, ``"<name>-replicas-0"`` (needs
    #: ``replicas=1``). README "Failover". Default: - the master StatefulSet's pod ``<name>-master-0``.
    primary_pod: str | None = None
    #: Redis ``min-replicas-to-write``: the primary refuses writes unless this many replicas acknowledged
    #: within ``min_replicas_max_lag_seconds``. Bounds what a failover loses and fences an old primary cut
    #: off from its replica, at a price: with one replica, 1 refuses every write while the replica is away
    #: (restart, upgrade, node drain). README "Failover". Default: 0 — writes never wait for a replica.
    min_replicas_to_write: int = 0
    #: Default: 10 (Redis's own default).
    min_replicas_max_lag_seconds: int = 10
    #: What the tenants' user may run beyond data commands. Default: - scripting (EVAL*, FCALL*, FUNCTION,
    #: SCRIPT) and RESTORE denied; FLUSHALL, FLUSHDB, SWAPDB, MIGRATE and every admin command always are.
    tenant_commands: TenantCommands = field(default_factory=TenantCommands)
    #: Redis native TLS on its own port for the LAN (and any client that can): the LoadBalancer then publishes
    #: only that port, and plaintext 6379 stays for the client namespaces. Default: - no TLS.
    tls: Tls | None = None
