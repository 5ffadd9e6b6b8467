"""The props and records of :class:`~redis_constructs.server.redis_shared.RedisShared`: what a user writes.

``RedisSharedProps`` and the records it holds (:class:`RedisCredentials`, :class:`LoadBalancer`,
:class:`Resources`; a Secret's key is a :class:`~redis_constructs.core.refs.SecretKeyRef`). Nothing here renders an
object. ``RedisSharedProps`` validates itself, records included, when it is built (and again on
``dataclasses.replace``), with the :mod:`redis_constructs.core.validation` rules; RedisShared then resolves the
values and hands its child constructs only what each needs. The package root re-exports them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..core import validation as v
from ..core.errors import PropError
from ..core.images import EXPORTER_IMAGE, REDIS_IMAGE
from ..core.refs import SecretKeyRef
from ..credentials.replicated_secret import ReplicatedSecret
from .lan_proxy import LanProxy
from .names import REDIS_PORT
from .redis_conf import ACL_USERS, AclUser, EvictionPolicy, TenantCommands, derive_maxmemory
from .roles import primary_statefulset
from .tls import Tls

#: ``"<name>-replicas"`` plus the controller-revision-hash suffix must fit 63 characters.
MAX_NAME_LENGTH = 40


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
    """Props of :class:`RedisShared`. Every default is the behaviour you get when you leave it out.

    Validates itself when built: a bad value raises :class:`~redis_constructs.core.errors.PropError` naming
    the prop (``"<prop>: got <value!r>; expected <rule>"``). Rules that need the construct tree (a client
    namespace added twice) are :class:`RedisShared`'s.
    """

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
    #: The LAN's connection caps: with a ``load_balancer``, the LAN reaches Redis only through an HAProxy sidecar
    #: that admits a quarter of ``maxclients`` from the LAN in all and a sixteenth of that per address
    #: (docs/resilience.md). Default: - ``LanProxy()``, the limits derived from ``maxclients``.
    lan_proxy: LanProxy = field(default_factory=LanProxy)
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

    def __post_init__(self) -> None:
        # The order is the one RedisShared checked in before: with several bad values, the same one is named.
        self._validate_records()
        v.dns_1035_label("name", self.name, max_length=MAX_NAME_LENGTH)
        v.dns_label("namespace", self.namespace)
        v.int_in_range("replicas", self.replicas, 0, 8)
        primary_statefulset(self.name, self.replicas, self.primary_pod)
        v.int_in_range("min_replicas_to_write", self.min_replicas_to_write, 0, self.replicas)
        v.int_in_range("min_replicas_max_lag_seconds", self.min_replicas_max_lag_seconds, 1, 3600)
        v.pinned_image("image", self.image)
        v.image_digest("image_digest", self.image_digest)
        v.pinned_image("exporter_image", self.exporter_image)
        v.image_digest("exporter_image_digest", self.exporter_image_digest)
        v.dns_label("storage_class", self.storage_class, max_length=253)
        v.storage_size("storage_size", self.storage_size, minimum_bytes=1024**3)
        self._validate_resources()
        EvictionPolicy.parse("eviction_policy", self.eviction_policy)
        v.int_in_range("shutdown_timeout_seconds", self.shutdown_timeout_seconds, 1, 300)
        v.int_in_range(
            "termination_grace_period_seconds",
            self.termination_grace_period_seconds,
            self.shutdown_timeout_seconds + 10,
            3600,
        )
        v.dns_label("monitoring_namespace", self.monitoring_namespace)
        v.dns_label("dns_namespace", self.dns_namespace)
        v.label_pairs("dns_pod_labels", self.dns_pod_labels)
        self.lan_networks()
        self._validate_credentials()
        if self.tls is not None:
            self.tls.validate(REDIS_PORT)
        for namespace in v.unique("client_namespaces", self.client_namespaces):
            v.dns_label("client_namespaces", namespace)
            if namespace == self.namespace:
                raise PropError("client_namespaces", namespace, f"a namespace other than Redis's own {namespace!r}")

    def _validate_records(self) -> None:
        v.instance("resources", self.resources, Resources, "a Resources")
        v.instance("credentials", self.credentials, RedisCredentials, "a RedisCredentials")
        if self.load_balancer is not None:
            v.instance("load_balancer", self.load_balancer, LoadBalancer, "None or a LoadBalancer")
        v.instance("lan_proxy", self.lan_proxy, LanProxy, "a LanProxy")
        if self.tls is not None:
            v.instance("tls", self.tls, Tls, "None or a Tls(certificates=...)")
        v.instance("tenant_commands", self.tenant_commands, TenantCommands, "a TenantCommands")
        v.boolean("tenant_commands.allow_scripting", self.tenant_commands.allow_scripting)
        v.boolean("tenant_commands.allow_restore", self.tenant_commands.allow_restore)

    def _validate_resources(self) -> None:
        r = self.resources
        memory_limit = v.memory_bytes("resources.memory_limit", r.memory_limit)
        cpu_request = v.cpu_millis("resources.cpu_request", r.cpu_request)
        cpu_limit = v.cpu_millis("resources.cpu_limit", r.cpu_limit)
        if cpu_request > cpu_limit:
            raise PropError("resources.cpu_request", r.cpu_request, f"at most cpu_limit {r.cpu_limit!r}")
        derive_maxmemory(memory_limit, prop="resources.memory_limit")

    def _validate_credentials(self) -> None:
        creds = self.credentials
        for file_name, ref in creds.by_file().items():
            prop = "credentials." + file_name.removesuffix("-password")
            v.instance(prop, ref, SecretKeyRef, "a SecretKeyRef(name=..., key=...)")
            v.secret_name(prop + ".name", ref.name)
            v.secret_key(prop + ".key", ref.key)
        v.version("credentials.version", creds.version)
        if creds.client_secret is not None:
            v.instance("credentials.client_secret", creds.client_secret, ReplicatedSecret, "None or a ReplicatedSecret")

    def memory_limit_bytes(self) -> int:
        """``resources.memory_limit`` in bytes."""
        return v.memory_bytes("resources.memory_limit", self.resources.memory_limit)

    def lan_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``load_balancer.source_ranges`` as networks (normalized spelling); ``()`` without a LoadBalancer."""
        lb = self.load_balancer
        if lb is None:
            return ()
        address = v.ip_address("load_balancer.ip", lb.ip)
        if not lb.source_ranges:
            raise PropError(
                "load_balancer.source_ranges", lb.source_ranges, "at least one CIDR, e.g. ('192.168.4.0/24',)"
            )
        networks = tuple(
            v.cidr("load_balancer.source_ranges", r) for r in v.unique("load_balancer.source_ranges", lb.source_ranges)
        )
        v.boolean("load_balancer.allow_any_source", lb.allow_any_source)
        for network in networks:
            if network.prefixlen == 0 and not lb.allow_any_source:
                raise PropError(
                    "load_balancer.source_ranges",
                    str(network),
                    "LAN networks only; admitting every address needs allow_any_source=True",
                )
        if not any(address in n for n in networks):
            raise PropError(
                "load_balancer.ip",
                lb.ip,
                "an address inside load_balancer.source_ranges " + repr(tuple(str(n) for n in networks)),
            )
        if lb.address_pool is not None:
            v.dns_label("load_balancer.address_pool", lb.address_pool)
        return networks
