"""RedisShared: a Redis 7 primary and its replicas for several tenants, hardened for a homelab K3s cluster."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cdk8s
import constructs
from cdk8s_plus_28 import k8s

from . import tls as tls_mod
from . import validation as v
from ._imports.io import cert_manager
from .errors import PropError, names_construct, names_construct_in
from .failover import FLUX_PRUNE, ROLE_LABEL, primary_statefulset, role_of
from .images import EXPORTER_IMAGE, REDIS_IMAGE
from .late import LateNetworkPolicy
from .pod_security import resources, restricted_container, restricted_pod
from .redis_config import (
    ACL_USERS,
    ADMIN_USERNAME,
    CLIENT_USERNAME,
    CONF_DIR,
    DATA_DIR,
    EXPORTER_RUN_DIR,
    EXPORTER_USERNAME,
    MIGRATION_USERNAME,
    RUN_DIR,
    SCRIPTS_DIR,
    SECRETS_DIR,
    AclUser,
    EvictionPolicy,
    Role,
    ServerSettings,
    TenantCommands,
    derive_client_limits,
    derive_maxmemory,
    render_acl_template,
    render_common_conf,
    render_role_conf,
)
from .rendering import checkov_skip_annotations, dns_egress_rule, image_ref, secret_files_volume
from .scripts import PROBE_TIMEOUT_SECONDS, render_scripts
from .tls import Tls

if TYPE_CHECKING:
    from .replicated_secret import ReplicatedSecret

REDIS_PORT = 6379
METRICS_PORT = 9121
REDIS_UID = 10001
EXPORTER_UID = 59000
#: The redis_exporter image's own binary; the command is set explicitly so no ENTRYPOINT is assumed.
EXPORTER_BINARY = "/redis_exporter"
MAX_NAME_LENGTH = 40  # "<name>-replicas" plus the controller-revision-hash suffix must fit 63


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckovSkip:
    """A checkov check that cannot apply to one kind of object here, and the reason a reviewer reads.

    Rendered on the object itself in checkov's inline form ``checkov.io/skip<n>: <check_id>=<reason>``, so
    each exception sits in dist/ next to what it excuses and ``make checkov`` stays at 0 failed checks.
    """

    kind: str
    check_id: str
    #: No ``=``: checkov splits the annotation value on it.
    reason: str
    #: Skip only with TLS on (the check concerns the tls-reload sidecar).
    only_with_tls: bool = False
    #: Skip only while an image has no pinned digest; with both digests set the check passes by itself.
    only_without_digests: bool = False

    def __post_init__(self) -> None:
        checkov_skip_annotations([(self.check_id, self.reason)])  # the reason's rule, at construction


#: Every checkov skip this construct renders; README "Policy checks (checkov)" lists the same.
CHECKOV_SKIPS: tuple[CheckovSkip, ...] = (
    CheckovSkip(
        kind="StatefulSet",
        check_id="CKV_K8S_43",
        reason="version-pinned tags; set image_digest and exporter_image_digest to pin digests",
        only_without_digests=True,
    ),
    CheckovSkip(
        kind="StatefulSet",
        check_id="CKV_K8S_15",
        reason="IfNotPresent with a version-pinned tag keeps pods starting while the registry is unreachable",
        only_without_digests=True,
    ),
    CheckovSkip(
        kind="StatefulSet",
        check_id="CKV_K8S_9",
        reason="the tls-reload sidecar has liveness only: a stalled reload loop must not take Redis out of its Services",
        only_with_tls=True,
    ),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class SecretKeyRef:
    """One key of a Secret in the Redis namespace."""

    name: str
    key: str


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


class RedisShared(constructs.Construct):
    """A Redis 7 primary with replicas, shared by several namespaces.

    Creates the namespace (Pod Security ``restricted``), one StatefulSet per role with a redis_exporter
    sidecar, headless/primary/replica/metrics Services and, when ``load_balancer`` is set, a MetalLB
    LoadBalancer for the LAN; ConfigMaps with redis.conf, the ACL template and the start/probe scripts;
    a ServiceAccount without a token, a PodDisruptionBudget and a NetworkPolicy.

    Example::

        redis = RedisShared(chart, "Redis", RedisSharedProps(client_namespaces=("beersystem",)))
        redis.master_host  # 'redis-shared-master.redis.svc.cluster.local'
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: RedisSharedProps | None = None) -> None:
        super().__init__(scope, id)
        p = props if props is not None else RedisSharedProps()
        v.instance("props", p, RedisSharedProps, "a RedisSharedProps")
        v.instance("resources", p.resources, Resources, "a Resources")
        v.instance("credentials", p.credentials, RedisCredentials, "a RedisCredentials")
        if p.load_balancer is not None:
            v.instance("load_balancer", p.load_balancer, LoadBalancer, "None or a LoadBalancer")
        self._props = p
        self.name = v.dns_1035_label("name", p.name, max_length=MAX_NAME_LENGTH)
        self.namespace = v.dns_label("namespace", p.namespace)
        self.replicas = v.int_in_range("replicas", p.replicas, 0, 8)
        #: The StatefulSet whose pod is the primary (the master one unless ``primary_pod`` promoted the replica).
        self.primary_statefulset = primary_statefulset(self.name, self.replicas, p.primary_pod)
        self.primary_pod = f"{self.statefulset_name(self.primary_statefulset)}-0"
        v.int_in_range("min_replicas_to_write", p.min_replicas_to_write, 0, self.replicas)
        v.int_in_range("min_replicas_max_lag_seconds", p.min_replicas_max_lag_seconds, 1, 3600)
        v.pinned_image("image", p.image)
        v.image_digest("image_digest", p.image_digest)
        v.pinned_image("exporter_image", p.exporter_image)
        v.image_digest("exporter_image_digest", p.exporter_image_digest)
        v.dns_label("storage_class", p.storage_class, max_length=253)
        v.storage_size("storage_size", p.storage_size, minimum_bytes=1024**3)
        memory_limit = v.memory_bytes("resources.memory_limit", p.resources.memory_limit)
        cpu_request = v.cpu_millis("resources.cpu_request", p.resources.cpu_request)
        cpu_limit = v.cpu_millis("resources.cpu_limit", p.resources.cpu_limit)
        if cpu_request > cpu_limit:
            raise PropError(
                "resources.cpu_request", p.resources.cpu_request, f"at most cpu_limit {p.resources.cpu_limit!r}"
            )
        self.maxmemory_bytes = derive_maxmemory(memory_limit, prop="resources.memory_limit")
        #: Per-client and all-client memory bounds and maxclients, derived from the memory limit.
        self.client_limits = derive_client_limits(memory_limit)
        self.eviction_policy = EvictionPolicy.parse("eviction_policy", p.eviction_policy)
        v.int_in_range("shutdown_timeout_seconds", p.shutdown_timeout_seconds, 1, 300)
        v.int_in_range(
            "termination_grace_period_seconds",
            p.termination_grace_period_seconds,
            p.shutdown_timeout_seconds + 10,
            3600,
        )
        v.dns_label("monitoring_namespace", p.monitoring_namespace)
        v.dns_label("dns_namespace", p.dns_namespace)
        self._dns_pod_labels = v.label_pairs("dns_pod_labels", p.dns_pod_labels)
        #: The cluster DNS pods every pod of this Redis (and a client's validation Job) may query.
        self.dns_namespace = p.dns_namespace
        self.dns_pod_labels = dict(self._dns_pod_labels)
        self._lan_networks = self._validate_load_balancer(p.load_balancer)
        self._validate_credentials(p.credentials)
        self.credentials = p.credentials
        if p.tls is not None:
            p.tls.validate(REDIS_PORT)
        self.tls = p.tls
        #: The TLS port, when ``tls`` is set. Default: - None.
        self.tls_port = p.tls.port if p.tls else None
        self._client_namespaces: list[str] = []
        for ns in v.unique("client_namespaces", p.client_namespaces):
            self.add_client_namespace(ns)

        self.port = REDIS_PORT
        self.metrics_port = METRICS_PORT
        self.headless_service_name = f"{self.name}-headless"
        self.master_service_name = f"{self.name}-master"
        self.replicas_service_name = f"{self.name}-replicas"
        self.metrics_service_name = f"{self.name}-metrics"
        self.external_service_name = f"{self.name}-external"
        self.master_host = f"{self.master_service_name}.{self.namespace}.svc.cluster.local"
        self.replicas_host = f"{self.replicas_service_name}.{self.namespace}.svc.cluster.local"
        self.client_username = CLIENT_USERNAME
        self.admin_username = ADMIN_USERNAME
        self.migration_username = MIGRATION_USERNAME
        #: Labels on every Redis pod (primary and replicas), for NetworkPolicies of other objects.
        self.pod_labels = self._labels()
        self.client_secret_name = p.credentials.client.name
        self.client_password_key = p.credentials.client.key
        self.load_balancer_ip = p.load_balancer.ip if p.load_balancer else None
        self.monitoring_namespace = p.monitoring_namespace
        #: Labels of the metrics Service, for a ServiceMonitor's selector. Not ``app.kubernetes.io/instance``:
        #: ArgoCD's label tracking rewrites it on every object's metadata with the Application's name.
        self.metrics_service_labels = {
            "app.kubernetes.io/name": "redis",
            "app.kubernetes.io/part-of": self.name,
            "app.kubernetes.io/component": "metrics",
        }

        self._render()

    # -- validation -------------------------------------------------------------------------------------
    def _validate_load_balancer(
        self, lb: LoadBalancer | None
    ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
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

    def _validate_credentials(self, creds: RedisCredentials) -> None:
        for file_name, ref in creds.by_file().items():
            prop = "credentials." + file_name.removesuffix("-password")
            v.instance(prop, ref, SecretKeyRef, "a SecretKeyRef(name=..., key=...)")
            v.secret_name(prop + ".name", ref.name)
            v.secret_key(prop + ".key", ref.key)
        v.version("credentials.version", creds.version)

    @names_construct_in
    def add_client_namespace(self, namespace: str) -> None:
        """Make ``namespace`` a client: everything a tenant needs follows from this one call.

        Its pods are admitted to the Redis port (the NetworkPolicy is built at synth from the current list) and,
        with :meth:`RedisCredentials.from_replicated`, the client Secret gets a copy there, so a
        :class:`RedisClientBinding` in that namespace is accepted. The Redis pods do not roll. Raises, changing
        nothing, when the namespace is invalid or taken, or when its copy cannot be made (sealed values lack it).
        """
        v.dns_label("client_namespaces", namespace)
        if namespace in self._client_namespaces:
            raise PropError("client_namespaces", namespace, "a namespace not added yet")
        if namespace == self._props.namespace:
            raise PropError("client_namespaces", namespace, f"a namespace other than Redis's own {namespace!r}")
        secret = self.credentials.client_secret
        if secret is not None and namespace not in secret.namespaces:
            secret.add_namespace(namespace)
        self._client_namespaces.append(namespace)

    @property
    def client_namespaces(self) -> tuple[str, ...]:
        """Namespaces admitted to 6379, in the order they were added."""
        return tuple(self._client_namespaces)

    # -- rendering --------------------------------------------------------------------------------------
    def _labels(self, role: Role | None = None) -> dict[str, str]:
        labels = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": self.name}
        if role is not None:
            labels["app.kubernetes.io/component"] = role.component
        return labels

    def _meta(self, name: str, *, role: Role | None = None, kind: str | None = None, **extra: str) -> k8s.ObjectMeta:
        labels = {**self._labels(role), "app.kubernetes.io/managed-by": "cdk8s", "app.kubernetes.io/part-of": self.name}
        annotations = {**extra, **(self._checkov_skips(kind) if kind else {})}
        return k8s.ObjectMeta(name=name, namespace=self.namespace, labels=labels, annotations=annotations or None)

    def _checkov_skips(self, kind: str) -> dict[str, str]:
        """checkov's inline skip annotations for an object of ``kind`` (see :data:`CHECKOV_SKIPS`)."""
        pinned = self._props.image_digest is not None and self._props.exporter_image_digest is not None
        skips = [
            s
            for s in CHECKOV_SKIPS
            if s.kind == kind
            and not (s.only_without_digests and pinned)
            and not (s.only_with_tls and not self._props.tls)
        ]
        return checkov_skip_annotations((s.check_id, s.reason) for s in skips)

    def _render(self) -> None:
        p = self._props
        k8s.KubeNamespace(
            self,
            "Namespace",
            metadata=k8s.ObjectMeta(
                name=self.namespace,
                labels={
                    f"pod-security.kubernetes.io/{mode}": value
                    for mode in ("enforce", "audit", "warn")
                    for value in ("restricted",)
                }
                | {f"pod-security.kubernetes.io/{mode}-version": "v1.28" for mode in ("enforce", "audit", "warn")},
            ),
        )
        self.service_account_name = self.name
        k8s.KubeServiceAccount(
            self, "ServiceAccount", metadata=self._meta(self.name), automount_service_account_token=False
        )
        settings = ServerSettings(
            port=REDIS_PORT,
            maxmemory_bytes=self.maxmemory_bytes,
            eviction_policy=self.eviction_policy,
            shutdown_timeout_seconds=p.shutdown_timeout_seconds,
            primary_host=self.primary_host,
            min_replicas_to_write=p.min_replicas_to_write,
            min_replicas_max_lag_seconds=p.min_replicas_max_lag_seconds,
            client_limits=self.client_limits,
            replication_port=self.tls_port,
        )
        self.config_map_name = f"{self.name}-configuration"
        self.scripts_config_map_name = f"{self.name}-scripts"
        config_data = {
            "common.conf": render_common_conf(settings) + (tls_mod.render_tls_conf(p.tls) if p.tls else ""),
            "users.acl.tmpl": render_acl_template(p.tenant_commands, users=self.credentials.acl_users()),
            **{f"{role.value}.conf": render_role_conf(role, settings) for role in Role},
        }
        scripts_data = render_scripts(users=self.credentials.acl_users())
        if p.tls is not None:
            scripts_data["tls-reload.sh"] = tls_mod.render_reload_script()
        k8s.KubeConfigMap(self, "Configuration", metadata=self._meta(self.config_map_name), data=config_data)
        k8s.KubeConfigMap(self, "Scripts", metadata=self._meta(self.scripts_config_map_name), data=scripts_data)
        # Pods roll when their configuration, scripts or credentials change.
        self._checksum = hashlib.sha256(repr(sorted({**config_data, **scripts_data}.items())).encode()).hexdigest()

        self._headless_service()
        self.statefulsets = {role: self._statefulset(role) for role in Role}
        for role in Role:
            self._role_service(role)
        self._metrics_service()
        if p.load_balancer is not None:
            self._external_service(p.load_balancer)
        self._disruption_budget()
        self._network_policy()
        if p.tls is not None and not isinstance(p.tls.certificates, tls_mod.ExistingTlsSecret):
            self._certificate(p.tls)

    def _exporter_uri(self) -> str:
        """What the exporter dials: the TLS port by name ``localhost`` (a SAN of the certificate) with TLS."""
        if self.tls_port is not None:
            return f"rediss://localhost:{self.tls_port}"
        return f"redis://localhost:{REDIS_PORT}"

    def _certificate(self, tls: Tls) -> None:
        """The cert-manager Certificate naming every address a client dials."""
        services = [self.master_service_name, self.replicas_service_name, self.headless_service_name]
        dns_names = [self.master_host]
        for svc in services:
            dns_names += [
                f"{svc}.{self.namespace}.svc.cluster.local",
                f"{svc}.{self.namespace}.svc",
                f"{svc}.{self.namespace}",
                svc,
            ]
        dns_names += [self.pod_host(Role.PRIMARY, 0), *(self.pod_host(Role.REPLICA, i) for i in range(self.replicas))]
        dns_names.append("localhost")  # the exporter dials localhost and verifies the name
        ips = [ip for ip in (self.load_balancer_ip,) if ip] + ["127.0.0.1"]
        spec = tls_mod.certificate_spec(
            tls, redis_name=self.name, dns_names=list(dict.fromkeys(dns_names)), ip_addresses=ips
        )
        labels = {**self._labels(), "app.kubernetes.io/managed-by": "cdk8s", "app.kubernetes.io/part-of": self.name}
        if isinstance(tls.certificates, tls_mod.CertManagerSelfSignedCa):
            tls_mod.add_self_signed_ca(
                self, tls.certificates, redis_name=self.name, namespace=self.namespace, labels=labels
            )
        cert_manager.Certificate(
            self,
            "Certificate",
            metadata=cdk8s.ApiObjectMetadata(
                name=f"{self.name}-tls",
                namespace=self.namespace,
                labels={
                    **self._labels(),
                    "app.kubernetes.io/managed-by": "cdk8s",
                    "app.kubernetes.io/part-of": self.name,
                },
            ),
            spec=spec,
        )

    def _reload_credentials_volume(self) -> k8s.Volume:
        """The TLS reload sidecar's credentials: ``admin-password`` alone."""
        return secret_files_volume(
            tls_mod.RELOAD_CREDENTIALS_VOLUME, {"admin-password": self.credentials.by_file()["admin-password"]}
        )

    def statefulset_name(self, role: Role) -> str:
        """``<name>-master`` or ``<name>-replicas``."""
        return f"{self.name}-master" if role is Role.PRIMARY else f"{self.name}-replicas"

    @property
    def primary_host(self) -> str:
        """Stable DNS name of the primary pod (``primary_pod``), which every replica follows."""
        return self.pod_host(self.primary_statefulset, 0)

    def _pod_labels(self, statefulset: Role) -> dict[str, str]:
        """The StatefulSet's own (immutable selector) labels plus the role its pods have now."""
        return {**self._labels(statefulset), ROLE_LABEL: role_of(statefulset, self.primary_statefulset).value}

    def _role_selector(self, role: Role) -> dict[str, str]:
        """Selects the pods that have ``role`` now (moves with a promotion), whichever StatefulSet holds them."""
        return {**self._labels(), ROLE_LABEL: role.value}

    def pod_host(self, role: Role, ordinal: int) -> str:
        """Stable DNS name of one pod through the headless Service (resolves also while not Ready)."""
        return (
            f"{self.statefulset_name(role)}-{ordinal}.{self.headless_service_name}.{self.namespace}.svc.cluster.local"
        )

    def _service(
        self, id: str, name: str, spec: k8s.ServiceSpec, *, role: Role | None = None, **annotations: str
    ) -> None:
        k8s.KubeService(self, id, metadata=self._meta(name, role=role, **annotations), spec=spec)

    def _redis_port(self) -> k8s.ServicePort:
        return k8s.ServicePort(
            name="redis", port=REDIS_PORT, target_port=k8s.IntOrString.from_string("redis"), protocol="TCP"
        )

    def _redis_ports(self) -> list[k8s.ServicePort]:
        """The plaintext port and, with TLS, the TLS port."""
        ports = [self._redis_port()]
        if self.tls_port is not None:
            ports.append(
                k8s.ServicePort(
                    name="redis-tls",
                    port=self.tls_port,
                    target_port=k8s.IntOrString.from_string("redis-tls"),
                    protocol="TCP",
                )
            )
        return ports

    def _headless_service(self) -> None:
        self._service(
            "HeadlessService",
            self.headless_service_name,
            k8s.ServiceSpec(
                cluster_ip="None",
                # The replica reaches the primary by its pod DNS name even before the primary is Ready.
                publish_not_ready_addresses=True,
                selector=self._labels(),
                ports=self._redis_ports(),
            ),
        )

    def _role_service(self, role: Role) -> None:
        name = self.master_service_name if role is Role.PRIMARY else self.replicas_service_name
        self._service(
            "MasterService" if role is Role.PRIMARY else "ReplicasService",
            name,
            k8s.ServiceSpec(type="ClusterIP", selector=self._role_selector(role), ports=self._redis_ports()),
            role=role,
        )

    def _metrics_service(self) -> None:
        k8s.KubeService(
            self,
            "MetricsService",
            metadata=k8s.ObjectMeta(
                name=self.metrics_service_name,
                namespace=self.namespace,
                labels={
                    **self._labels(),
                    "app.kubernetes.io/managed-by": "cdk8s",
                    "app.kubernetes.io/part-of": self.name,
                    "app.kubernetes.io/component": "metrics",
                },
            ),
            spec=k8s.ServiceSpec(
                type="ClusterIP",
                selector=self._labels(),
                ports=[
                    k8s.ServicePort(
                        name="metrics",
                        port=METRICS_PORT,
                        target_port=k8s.IntOrString.from_string("metrics"),
                        protocol="TCP",
                    )
                ],
            ),
        )

    def _external_service(self, lb: LoadBalancer) -> None:
        annotations = {
            # Both spellings: metallb.io (>= 0.14.9) wins when both are present; the older one keeps
            # MetalLB 0.12-0.14.8 working. spec.loadBalancerIP is deprecated and conflicts with them.
            "metallb.universe.tf/loadBalancerIPs": lb.ip,
            "metallb.io/loadBalancerIPs": lb.ip,
        }
        if lb.address_pool is not None:
            annotations["metallb.io/address-pool"] = lb.address_pool
        self._service(
            "ExternalService",
            self.external_service_name,
            k8s.ServiceSpec(
                type="LoadBalancer",
                selector=self._role_selector(Role.PRIMARY),
                # With TLS the LAN gets the TLS port only: no password crosses the LAN in clear.
                ports=self._redis_ports()[-1:],
                load_balancer_source_ranges=[str(n) for n in self._lan_networks],
                # Local keeps the client's source address, so the NetworkPolicy's ipBlock can judge it.
                external_traffic_policy="Local",
                # MetalLB needs no node ports: don't open 6379 on a NodePort of every node.
                allocate_load_balancer_node_ports=False,
            ),
            role=Role.PRIMARY,
            **annotations,
        )

    def _disruption_budget(self) -> None:
        # One budget across both roles: a drain may take the primary or a replica, never both at once.
        k8s.KubePodDisruptionBudget(
            self,
            "DisruptionBudget",
            metadata=self._meta(self.name),
            spec=k8s.PodDisruptionBudgetSpec(
                max_unavailable=k8s.IntOrString.from_number(1),
                selector=k8s.LabelSelector(match_labels=self._labels()),
            ),
        )

    def _network_policy(self) -> None:
        LateNetworkPolicy(self, "NetworkPolicy", metadata=self._meta(self.name), spec=self._network_policy_spec)

    def _network_policy_spec(self) -> k8s.NetworkPolicySpec:
        """The policy as of now: called again at synth, so late client namespaces are in it."""
        redis_pods = k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=self._labels()))
        redis_from: list[k8s.NetworkPolicyPeer] = [redis_pods]
        redis_from += [
            k8s.NetworkPolicyPeer(
                namespace_selector=k8s.LabelSelector(match_labels={"kubernetes.io/metadata.name": ns})
            )
            for ns in self._client_namespaces
        ]
        lan = [k8s.NetworkPolicyPeer(ip_block=k8s.IpBlock(cidr=str(n))) for n in self._lan_networks]
        # With TLS the LAN reaches only the TLS port; plaintext stays for the Redis pods and client namespaces.
        tls_from = [*redis_from, *lan]
        if self.tls_port is None:
            redis_from += lan
        redis_ports = [REDIS_PORT] if self.tls_port is None else [REDIS_PORT, self.tls_port]
        return k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=self._labels()),
            policy_types=["Ingress", "Egress"],
            ingress=[
                k8s.NetworkPolicyIngressRule(
                    from_=redis_from,
                    ports=[k8s.NetworkPolicyPort(port=k8s.IntOrString.from_number(REDIS_PORT), protocol="TCP")],
                ),
                k8s.NetworkPolicyIngressRule(
                    from_=[
                        k8s.NetworkPolicyPeer(
                            namespace_selector=k8s.LabelSelector(
                                match_labels={"kubernetes.io/metadata.name": self._props.monitoring_namespace}
                            )
                        )
                    ],
                    ports=[k8s.NetworkPolicyPort(port=k8s.IntOrString.from_number(METRICS_PORT), protocol="TCP")],
                ),
                *(
                    [
                        k8s.NetworkPolicyIngressRule(
                            from_=tls_from,
                            ports=[
                                k8s.NetworkPolicyPort(port=k8s.IntOrString.from_number(self.tls_port), protocol="TCP")
                            ],
                        )
                    ]
                    if self.tls_port is not None
                    else []
                ),
            ],
            egress=[
                dns_egress_rule(self.dns_namespace, self.dns_pod_labels),
                k8s.NetworkPolicyEgressRule(
                    to=[redis_pods],
                    ports=[
                        k8s.NetworkPolicyPort(port=k8s.IntOrString.from_number(port), protocol="TCP")
                        for port in redis_ports
                    ],
                ),
            ],
        )

    # -- the one pod template, two roles ----------------------------------------------------------------
    def _image(self, image: str, digest: str | None) -> str:
        return image_ref(image, digest)

    def _probe(self, mode: str, *, period: int, failures: int) -> k8s.Probe:
        return k8s.Probe(
            exec=k8s.ExecAction(command=["sh", f"{SCRIPTS_DIR}/probe.sh", mode]),
            period_seconds=period,
            timeout_seconds=PROBE_TIMEOUT_SECONDS,
            failure_threshold=failures,
            success_threshold=1,
        )

    def _statefulset(self, role: Role) -> k8s.KubeStatefulSet:
        p = self._props
        sts_name = self.statefulset_name(role)
        pod_role = role_of(role, self.primary_statefulset)
        pods = [(Role.PRIMARY, 0), *((Role.REPLICA, i) for i in range(self.replicas))]
        redis_env = [
            k8s.EnvVar(name="REDIS_ROLE", value=pod_role.value),
            # A promoted replica with an empty volume refuses to start (nothing there to promote).
            k8s.EnvVar(name="REDIS_PROMOTED", value=str(role is Role.REPLICA and pod_role is Role.PRIMARY).lower()),
            k8s.EnvVar(name="REDIS_PORT", value=str(REDIS_PORT)),
            # Pod to pod (replication, start.sh's peer checks): the TLS port with TLS, verified against the CA.
            k8s.EnvVar(name="REDIS_REPLICATION_PORT", value=str(self.tls_port or REDIS_PORT)),
            k8s.EnvVar(name="REDIS_TLS_CA_FILE", value=f"{tls_mod.TLS_DIR}/ca.crt" if p.tls else ""),
            # start.sh compares it with the primary the mounted (kubelet-refreshed) replica.conf names.
            k8s.EnvVar(
                name="REDIS_POD_NAME",
                value_from=k8s.EnvVarSource(field_ref=k8s.ObjectFieldSelector(field_path="metadata.name")),
            ),
            k8s.EnvVar(
                name="REDIS_REPLICA_HOSTS",
                value=" ".join(self.pod_host(r, i) for r, i in pods if (r, i) != (self.primary_statefulset, 0)),
            ),
            k8s.EnvVar(name="REDIS_EXPORTER_URI", value=self._exporter_uri()),
        ]
        config_mounts = [
            k8s.VolumeMount(name="configuration", mount_path=CONF_DIR, read_only=True),
            k8s.VolumeMount(name="scripts", mount_path=SCRIPTS_DIR, read_only=True),
            k8s.VolumeMount(name="credentials", mount_path=SECRETS_DIR, read_only=True),
        ]
        redis_resources = resources(
            cpu=(p.resources.cpu_request, p.resources.cpu_limit),
            memory=(p.resources.memory_limit, p.resources.memory_limit),
        )

        init = k8s.Container(
            name="config",
            image=self._image(p.image, p.image_digest),
            image_pull_policy="IfNotPresent",
            command=["sh", f"{SCRIPTS_DIR}/render-config.sh"],
            env=redis_env,
            volume_mounts=[
                *config_mounts,
                k8s.VolumeMount(name="runtime", mount_path=RUN_DIR),
                k8s.VolumeMount(name="exporter-auth", mount_path=EXPORTER_RUN_DIR),
            ],
            resources=resources(cpu=("10m", "100m"), memory=("32Mi", "32Mi")),
            security_context=restricted_container(REDIS_UID),
        )
        redis = k8s.Container(
            name="redis",
            image=self._image(p.image, p.image_digest),
            image_pull_policy="IfNotPresent",
            command=["sh", f"{SCRIPTS_DIR}/start.sh"],
            env=redis_env,
            ports=[
                k8s.ContainerPort(name="redis", container_port=REDIS_PORT, protocol="TCP"),
                *(
                    [k8s.ContainerPort(name="redis-tls", container_port=self.tls_port, protocol="TCP")]
                    if self.tls_port is not None
                    else []
                ),
            ],
            volume_mounts=[
                *config_mounts,
                k8s.VolumeMount(name="runtime", mount_path=RUN_DIR, read_only=True),
                k8s.VolumeMount(name="data", mount_path=DATA_DIR),
                k8s.VolumeMount(name="tmp", mount_path="/tmp"),
                *([k8s.VolumeMount(name="tls", mount_path=tls_mod.TLS_DIR, read_only=True)] if p.tls else []),
            ],
            resources=redis_resources,
            security_context=restricted_container(REDIS_UID),
            # Loading a large AOF can take minutes: 15 min budget before liveness takes over.
            startup_probe=self._probe("startup", period=10, failures=90),
            liveness_probe=self._probe("liveness", period=10, failures=3),
            readiness_probe=self._probe("readiness", period=5, failures=2),
        )
        exporter = k8s.Container(
            name="metrics",
            image=self._image(p.exporter_image, p.exporter_image_digest),
            image_pull_policy="IfNotPresent",
            command=[EXPORTER_BINARY],
            env=[
                k8s.EnvVar(name="REDIS_ADDR", value=self._exporter_uri()),
                *(
                    [k8s.EnvVar(name="REDIS_EXPORTER_TLS_CA_CERT_FILE", value=f"{tls_mod.TLS_CA_DIR}/ca.crt")]
                    if p.tls
                    else []
                ),
                k8s.EnvVar(name="REDIS_USER", value=EXPORTER_USERNAME),
                k8s.EnvVar(name="REDIS_PASSWORD_FILE", value=f"{EXPORTER_RUN_DIR}/password.json"),
                # CONFIG GET would return masterauth in clear text; the exporter user may not run it.
                k8s.EnvVar(name="REDIS_EXPORTER_CONFIG_COMMAND", value="-"),
                # CLIENT SETNAME is not granted to the exporter user; skip it instead of logging NOPERM.
                k8s.EnvVar(name="REDIS_EXPORTER_SET_CLIENT_NAME", value="false"),
                k8s.EnvVar(name="REDIS_EXPORTER_WEB_LISTEN_ADDRESS", value=f":{METRICS_PORT}"),
            ],
            ports=[k8s.ContainerPort(name="metrics", container_port=METRICS_PORT, protocol="TCP")],
            volume_mounts=[
                k8s.VolumeMount(name="exporter-auth", mount_path=EXPORTER_RUN_DIR, read_only=True),
                *([k8s.VolumeMount(name="tls-ca", mount_path=tls_mod.TLS_CA_DIR, read_only=True)] if p.tls else []),
            ],
            resources=resources(cpu=("10m", "200m"), memory=("64Mi", "64Mi")),
            security_context=restricted_container(EXPORTER_UID),
            liveness_probe=k8s.Probe(
                http_get=k8s.HttpGetAction(path="/health", port=k8s.IntOrString.from_string("metrics")),
                period_seconds=15,
                timeout_seconds=3,
                failure_threshold=3,
            ),
            readiness_probe=k8s.Probe(
                http_get=k8s.HttpGetAction(path="/health", port=k8s.IntOrString.from_string("metrics")),
                period_seconds=15,
                timeout_seconds=3,
                failure_threshold=2,
            ),
        )
        volumes = [
            k8s.Volume(
                name="configuration",
                config_map=k8s.ConfigMapVolumeSource(name=self.config_map_name, default_mode=0o440),
            ),
            k8s.Volume(
                name="scripts",
                config_map=k8s.ConfigMapVolumeSource(name=self.scripts_config_map_name, default_mode=0o550),
            ),
            secret_files_volume("credentials", self.credentials.by_file()),
            k8s.Volume(
                name="runtime",
                empty_dir=k8s.EmptyDirVolumeSource(medium="Memory", size_limit=k8s.Quantity.from_string("1Mi")),
            ),
            k8s.Volume(
                name="exporter-auth",
                empty_dir=k8s.EmptyDirVolumeSource(medium="Memory", size_limit=k8s.Quantity.from_string("1Mi")),
            ),
            k8s.Volume(name="tmp", empty_dir=k8s.EmptyDirVolumeSource(size_limit=k8s.Quantity.from_string("64Mi"))),
            *(tls_mod.volumes(p.tls, self.name) if p.tls else []),
            *([self._reload_credentials_volume()] if p.tls else []),
        ]
        sidecars = (
            [tls_mod.reload_container(p.tls, image=self._image(p.image, p.image_digest), uid=REDIS_UID, env=redis_env)]
            if p.tls
            else []
        )
        pod_labels = self._pod_labels(role)
        template = k8s.PodTemplateSpec(
            metadata=k8s.ObjectMeta(
                labels=pod_labels,
                annotations={
                    "redis-shared/config-checksum": self._checksum,
                    "redis-shared/credentials-version": self.credentials.version,
                    "kubectl.kubernetes.io/default-container": "redis",
                },
            ),
            spec=k8s.PodSpec(
                service_account_name=self.service_account_name,
                automount_service_account_token=False,
                enable_service_links=False,
                termination_grace_period_seconds=p.termination_grace_period_seconds,
                security_context=restricted_pod(REDIS_UID, fs_group_change_policy="OnRootMismatch"),
                affinity=k8s.Affinity(
                    # Required: the primary and each replica on different nodes, or one node failure
                    # takes both copies of the data.
                    pod_anti_affinity=k8s.PodAntiAffinity(
                        required_during_scheduling_ignored_during_execution=[
                            k8s.PodAffinityTerm(
                                label_selector=k8s.LabelSelector(match_labels=self._labels()),
                                topology_key="kubernetes.io/hostname",
                            )
                        ]
                    )
                ),
                init_containers=[init],
                containers=[redis, exporter, *sidecars],
                volumes=volumes,
            ),
        )
        return k8s.KubeStatefulSet(
            self,
            "Primary" if role is Role.PRIMARY else "Replicas",
            # Flux prunes nothing here when the StatefulSet moves between its Kustomizations (failover.py).
            metadata=self._meta(sts_name, role=role, kind="StatefulSet", **{FLUX_PRUNE: "disabled"}),
            spec=k8s.StatefulSetSpec(
                replicas=1 if role is Role.PRIMARY else self.replicas,
                service_name=self.headless_service_name,
                # Immutable: the StatefulSet's identity, never the role (which the pod labels carry).
                selector=k8s.LabelSelector(match_labels=self._labels(role)),
                pod_management_policy="OrderedReady",
                update_strategy=k8s.StatefulSetUpdateStrategy(type="RollingUpdate"),
                persistent_volume_claim_retention_policy=k8s.StatefulSetPersistentVolumeClaimRetentionPolicy(
                    when_deleted="Retain", when_scaled="Retain"
                ),
                template=template,
                volume_claim_templates=[
                    k8s.KubePersistentVolumeClaimProps(
                        metadata=k8s.ObjectMeta(name="data", labels=self._labels(role)),
                        spec=k8s.PersistentVolumeClaimSpec(
                            access_modes=["ReadWriteOnce"],
                            storage_class_name=p.storage_class,
                            resources=k8s.ResourceRequirements(
                                requests={"storage": k8s.Quantity.from_string(p.storage_size)}
                            ),
                        ),
                    )
                ],
            ),
        )
