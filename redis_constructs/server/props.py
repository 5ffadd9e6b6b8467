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
from ..credentials.tenant_credentials import TenantCredentials
from .lan_proxy import LanProxy
from .names import REDIS_PORT
from .redis_conf import (
    ACL_USERS,
    SHUTDOWN_FSYNC_MARGIN_SECONDS,
    AclUser,
    EvictionPolicy,
    TenantCommands,
    derive_maxmemory,
)
from .roles import primary_statefulset
from .tenants import Tenant, validate_tenants
from .tls import Tls

#: ``"<name>-replicas"`` plus the controller-revision-hash suffix must fit 63 characters.
MAX_NAME_LENGTH = 40


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisCredentials:
    """Where each ACL user's password comes from; Secrets in the Redis namespace, mounted as files.

    The tenants' passwords (what applications use, one per tenant) are the keys ``<tenant>.password`` of Secret
    ``tenant_secret`` (a :class:`TenantCredentials` renders it); the system users' never leave the Redis
    namespace.
    """

    #: Secret in the Redis namespace holding ``<tenant>.password`` (and ``<tenant>.previous-password`` during a
    #: rotation) per tenant, mounted whole in the pods. Default: ``"redis-shared-client"``.
    tenant_secret: str = "redis-shared-client"
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
    #: The data-copy Job's user (``migration``: read, RESTORE without REPLACE, its marker; docs/migration.md
    #: beersystem"); a :class:`RedisDataCopy` needs it. Default: - no ``migration`` ACL user is rendered.
    migration: SecretKeyRef | None = None
    #: The backup Job's user (``backup``: SYNC for ``redis-cli --rdb``, INFO, SET of its report keys; docs
    #: "Backups"); a :class:`RedisBackup` needs it. Default: - no ``backup`` ACL user is rendered.
    backup: SecretKeyRef | None = None
    #: The check Job's user (``check``: PING, INFO, SET/GET/DEL on ``redis-shared:check:*`` only; docs/checks.md);
    #: a :class:`~redis_constructs.checks.check_job.RedisChecks` needs it. Default: - no ``check`` ACL user is
    #: rendered.
    check: SecretKeyRef | None = None
    #: Changing it rolls every Redis pod (annotation ``redis-shared/credentials-version``); set it from the
    #: sealed values' checksum or bump it by hand after rotating a system Secret created out of band. Tenants'
    #: passwords are not in it: they reach the running pods without a restart. Default: ``"1"``.
    version: str = "1"
    #: The TenantCredentials that render ``tenant_secret`` and each tenant's copy, so
    #: :meth:`RedisShared.add_client_namespace` gives a new tenant its password. Default: - set by
    #: :meth:`from_replicated`; otherwise both are yours to provide.
    tenants: TenantCredentials | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_replicated(
        cls,
        *,
        system: ReplicatedSecret,
        tenants: TenantCredentials,
        namespace: str = "redis",
    ) -> RedisCredentials:
        """Credentials from the ``system`` ReplicatedSecret and the tenants' :class:`TenantCredentials`.

        ``system`` holds ``replication-password``, ``exporter-password``, ``admin-password`` and, for a data
        copy, ``migration-password`` (the ``migration`` user exists only when it does), for backups
        ``backup-password`` and for the checks ``check-password`` (likewise); it should be replicated
        into the Redis namespace only. Its version rolls the Redis pods when it changes; the tenants' never do.
        """
        return cls(
            tenant_secret=tenants.secret_name,
            replication=system.key_ref("replication-password", namespace=namespace),
            exporter=system.key_ref("exporter-password", namespace=namespace),
            admin=system.key_ref("admin-password", namespace=namespace),
            migration=(
                system.key_ref("migration-password", namespace=namespace)
                if "migration-password" in system.keys
                else None
            ),
            backup=(
                system.key_ref("backup-password", namespace=namespace) if "backup-password" in system.keys else None
            ),
            check=(system.key_ref("check-password", namespace=namespace) if "check-password" in system.keys else None),
            version=system.version_in(namespace)[:63],
            tenants=tenants,
        )

    def by_file(self) -> dict[str, SecretKeyRef]:
        """The mounted file name of each system credential (see :data:`redis_config.ACL_USERS`)."""
        refs = {
            "replication-password": self.replication,
            "exporter-password": self.exporter,
            "admin-password": self.admin,
        }
        if self.migration is not None:
            refs["migration-password"] = self.migration
        if self.backup is not None:
            refs["backup-password"] = self.backup
        if self.check is not None:
            refs["check-password"] = self.check
        return refs

    def acl_users(self) -> tuple[AclUser, ...]:
        """The system ACL users these credentials give passwords to: ``migration``, ``backup`` and ``check``
        only when set."""
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


_DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 10


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
    #: How long the kubelet waits for a deleted Redis pod before SIGKILL; at least ``shutdown_timeout_seconds``
    #: + 10 (the final AOF fsync). It should also cover a replica's first AOF rewrite after a full sync, which
    #: refuses SIGTERM until it ends (docs/resilience.md#shutdown-and-the-grace-period). Default: -
    #: ``derive_grace_period``: a full ``maxmemory`` rewritten at 32 MiB/s + ``shutdown_timeout_seconds`` + 10
    #: (36 s at the default 1Gi memory limit).
    termination_grace_period_seconds: int | None = None
    #: Redis ``shutdown-timeout``: how long SIGTERM waits for replicas to catch up. Default: 10.
    shutdown_timeout_seconds: int = _DEFAULT_SHUTDOWN_TIMEOUT_SECONDS
    #: Default: - no LoadBalancer; Redis is reachable only inside the cluster.
    load_balancer: LoadBalancer | None = None
    #: The LAN's connection caps: with a ``load_balancer``, the LAN reaches Redis only through an HAProxy sidecar
    #: that admits a quarter of ``maxclients`` from the LAN in all and a sixteenth of that per address
    #: (docs/resilience.md). Default: - ``LanProxy()``, the limits derived from ``maxclients``.
    lan_proxy: LanProxy = field(default_factory=LanProxy)
    #: The tenants: one client namespace each, with its own ACL user, password and (optionally) key prefix
    #: (docs/tenants.md). Default: - none; add more with ``add_client_namespace``.
    tenants: tuple[Tenant, ...] = ()
    #: Shorthand: each namespace becomes ``Tenant(namespace=ns, commands=tenant_commands)`` (its own user, every
    #: key). A namespace in both ``tenants`` and here is an error. Default: - none.
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
    #: ``replicas=1``). docs/operations.md#failover-manual-one-commit. Default: - the master StatefulSet's pod ``<name>-master-0``.
    primary_pod: str | None = None
    #: Redis ``min-replicas-to-write``: the primary refuses writes unless this many replicas acknowledged
    #: within ``min_replicas_max_lag_seconds``. Bounds what a failover loses and fences an old primary cut
    #: off from its replica, at a price: with one replica, 1 refuses every write while the replica is away
    #: (restart, upgrade, node drain). docs/operations.md#failover-manual-one-commit.
    #: Default: 0 — writes never wait for a replica.
    min_replicas_to_write: int = 0
    #: Default: 10 (Redis's own default).
    min_replicas_max_lag_seconds: int = 10
    #: What the ``client_namespaces`` shorthand tenants may run beyond data commands (a :class:`Tenant` says it
    #: with ``commands``). Default: - scripting (EVAL*, FCALL*, FUNCTION, SCRIPT) and RESTORE denied; FLUSHALL,
    #: FLUSHDB, SWAPDB, MIGRATE and every admin command always are.
    tenant_commands: TenantCommands = field(default_factory=TenantCommands)
    #: Redis native TLS on its own port for the LAN (and any client that can): the LoadBalancer then publishes
    #: only that port, and plaintext 6379 stays for the client namespaces. Default: - no TLS.
    tls: Tls | None = None
    #: The cluster's pod network (K3s ``--cluster-cidr``): ``load_balancer.source_ranges`` must not overlap it,
    #: or the NetworkPolicy's LAN rule would admit pods of every namespace. Default: ``"10.42.0.0/16"`` (K3s).
    cluster_pod_cidr: str = "10.42.0.0/16"
    #: The cluster's Service network (K3s ``--service-cidr``), kept apart from the LAN the same way.
    #: Default: ``"10.43.0.0/16"`` (K3s).
    cluster_service_cidr: str = "10.43.0.0/16"
    #: Schedulable nodes: every Redis pod (``replicas + 1``) needs a node of its own (required anti-affinity),
    #: so more pods than nodes is refused (one would stay Pending). Default: - not checked.
    nodes: int | None = None

    def __post_init__(self) -> None:
        # The order is the one RedisShared checked in before: with several bad values, the same one is named.
        self._validate_records()
        v.dns_1035_label("name", self.name, max_length=MAX_NAME_LENGTH)
        v.dns_label("namespace", self.namespace)
        v.int_in_range("replicas", self.replicas, 0, 8)
        if self.nodes is not None:
            v.int_in_range("nodes", self.nodes, 1, 10000)
            if self.replicas + 1 > self.nodes:
                raise PropError(
                    "replicas",
                    self.replicas,
                    f"at most {self.nodes - 1} with nodes={self.nodes}: every Redis pod needs a node of its own "
                    "(required anti-affinity)",
                )
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
        if self.termination_grace_period_seconds is not None:
            self._check_shutdown_fits_grace_period()
            v.int_in_range(
                "termination_grace_period_seconds",
                self.termination_grace_period_seconds,
                self.shutdown_timeout_seconds + SHUTDOWN_FSYNC_MARGIN_SECONDS,
                3600,
            )
        v.dns_label("monitoring_namespace", self.monitoring_namespace)
        v.dns_label("dns_namespace", self.dns_namespace)
        v.label_pairs("dns_pod_labels", self.dns_pod_labels)
        v.cidr("cluster_pod_cidr", self.cluster_pod_cidr)
        v.cidr("cluster_service_cidr", self.cluster_service_cidr)
        self.lan_networks()
        self._validate_credentials()
        if self.tls is not None:
            self.tls.validate(REDIS_PORT)
        for namespace in v.unique("client_namespaces", self.client_namespaces):
            v.dns_label("client_namespaces", namespace)
            if namespace == self.namespace:
                raise PropError("client_namespaces", namespace, f"a namespace other than Redis's own {namespace!r}")
        if not isinstance(self.tenants, tuple):
            raise PropError("tenants", type(self.tenants).__name__, "a tuple of Tenant(namespace=...)")
        for tenant in validate_tenants(self.all_tenants()):
            if tenant.namespace == self.namespace:
                raise PropError("tenants", tenant.namespace, f"a namespace other than Redis's own {self.namespace!r}")

    def all_tenants(self) -> tuple[Tenant, ...]:
        """``tenants`` then one :class:`Tenant` per ``client_namespaces`` entry (refused when both name one)."""
        declared = {t.namespace for t in self.tenants if isinstance(t, Tenant)}
        for namespace in self.client_namespaces:
            if namespace in declared:
                raise PropError(
                    "client_namespaces", namespace, "a namespace not declared in tenants too (keep the Tenant)"
                )
        return (*self.tenants, *(Tenant(namespace=ns, commands=self.tenant_commands) for ns in self.client_namespaces))

    def _check_shutdown_fits_grace_period(self) -> None:
        """A raised ``shutdown_timeout_seconds`` beyond a set grace period names itself and the relation, not the
        grace period (whose own range is checked after; an unset one is derived from the shutdown timeout)."""
        shutdown, grace = self.shutdown_timeout_seconds, self.termination_grace_period_seconds
        if shutdown == _DEFAULT_SHUTDOWN_TIMEOUT_SECONDS or isinstance(grace, bool) or not isinstance(grace, int):
            return
        margin = SHUTDOWN_FSYNC_MARGIN_SECONDS
        if grace >= shutdown + margin or grace - margin < 1:
            return
        raise PropError(
            "shutdown_timeout_seconds",
            shutdown,
            f"at most termination_grace_period_seconds - {margin} ({grace - margin}): the kubelet kills Redis "
            f"termination_grace_period_seconds ({grace}) after SIGTERM and the final AOF fsync needs {margin} s after "
            f"the shutdown timeout; raise termination_grace_period_seconds to at least {shutdown + margin} too, or "
            "leave it unset (derived from the shutdown timeout)",
        )

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
        validate_tenants(self.tenants)

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
        v.secret_name("credentials.tenant_secret", creds.tenant_secret)
        v.version("credentials.version", creds.version)
        if creds.tenants is not None:
            v.instance("credentials.tenants", creds.tenants, TenantCredentials, "None or a TenantCredentials")
            if creds.tenants.secret_name != creds.tenant_secret:
                raise PropError(
                    "credentials.tenant_secret",
                    creds.tenant_secret,
                    f"the TenantCredentials' Secret {creds.tenants.secret_name!r}",
                )

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
        cluster = (
            ("pod", v.cidr("cluster_pod_cidr", self.cluster_pod_cidr)),
            ("Service", v.cidr("cluster_service_cidr", self.cluster_service_cidr)),
        )
        for network in networks:
            for kind, cluster_network in cluster:
                if network.version == cluster_network.version and network.overlaps(cluster_network):
                    if network.prefixlen == 0:
                        continue  # allow_any_source: every address on purpose
                    raise PropError(
                        "load_balancer.source_ranges",
                        str(network),
                        f"a range that does not overlap the cluster's {kind} network {cluster_network} "
                        f"({kind}s would match it; set cluster_{kind.lower()}_cidr if yours differs)",
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
