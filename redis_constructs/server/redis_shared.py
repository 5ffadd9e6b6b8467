"""RedisShared: a Redis 7 primary and its replicas for several tenants, hardened for a homelab K3s cluster.

RedisShared resolves its props (which validated themselves) once and composes child constructs, each in a
module of its own (read any one alone; docs/development.md#layout), created in the order their objects are rendered:

* :class:`~redis_constructs.server.namespace.RedisNamespace` (``Namespace``): the namespace and ServiceAccount;
* :class:`~redis_constructs.server.config_maps.RedisConfiguration` (``Configuration``): the two ConfigMaps
  and the config checksum the pods roll on;
* :class:`~redis_constructs.server.services.RedisHeadlessService` (``HeadlessService``), the StatefulSets'
  governing Service;
* :class:`~redis_constructs.server.workload.RedisWorkload` per :class:`Role` (``Primary``, ``Replicas``);
* :class:`~redis_constructs.server.services.RedisServices` (``Services``): role, metrics and LAN Services;
* :class:`~redis_constructs.server.disruption_budget.RedisDisruptionBudget` (``DisruptionBudget``);
* :class:`~redis_constructs.server.network_policy.RedisNetworkPolicy` (``NetworkPolicy``), built at synth;
* :class:`~redis_constructs.server.certificates.RedisCertificates` (``Tls``) with cert-manager TLS.

Why these rooms: the Namespace and the ServiceAccount are one (the identity every pod runs under; nothing else
reads them); the cert-manager objects are one (they exist only with cert-manager TLS and need the Service and
pod names, nothing of the pods). The headless Service lives in the services module but is a construct of its
own: it is rendered before the StatefulSets it governs, the other Services after them, and dist/ keeps that
order.

Each child takes ``(scope, id, props)`` with a frozen ``<Child>Props`` record naming only what it needs (the
:class:`~redis_constructs.server.names.RedisNames` and resolved values), never RedisShared's props.
:class:`RedisSharedProps` and its records live in :mod:`redis_constructs.server.props` and validate themselves.
"""

from __future__ import annotations

from dataclasses import replace

import constructs

from ..core import validation as v
from ..core.errors import PropError, names_construct, names_construct_in
from ..core.rendering import image_ref
from . import tls as tls_mod
from .certificates import RedisCertificates, RedisCertificatesProps
from .config_maps import RedisConfiguration, RedisConfigurationProps
from .disruption_budget import RedisDisruptionBudget, RedisDisruptionBudgetProps
from .names import METRICS_PORT, REDIS_PORT, RedisNames
from .namespace import RedisNamespace, RedisNamespaceProps
from .network_policy import RedisNetworkPolicy, RedisNetworkPolicyProps
from .props import RedisSharedProps
from .redis_conf import (
    ADMIN_USERNAME,
    CHECK_USERNAME,
    CLIENT_USERNAME,
    MIGRATION_USERNAME,
    EvictionPolicy,
    Role,
    ServerSettings,
    derive_client_limits,
    derive_grace_period,
    derive_maxmemory,
)
from .roles import primary_statefulset
from .services import RedisHeadlessService, RedisHeadlessServiceProps, RedisServices, RedisServicesProps
from .tenants import Tenant, validate_tenants
from .workload import RedisWorkload, RedisWorkloadProps


class RedisShared(constructs.Construct):
    """A Redis 7 primary with replicas, shared by several namespaces.

    Creates the namespace (Pod Security ``restricted``), one StatefulSet per role with a redis_exporter
    sidecar, headless/primary/replica/metrics Services and, when ``load_balancer`` is set, a MetalLB
    LoadBalancer for the LAN; ConfigMaps with redis.conf, the ACL template and the start/probe scripts;
    a ServiceAccount without a token, a PodDisruptionBudget and a NetworkPolicy. Each of these is a child
    construct of its own module (see the module docstring); RedisShared resolves and composes.

    Example::

        redis = RedisShared(chart, "Redis", RedisSharedProps(client_namespaces=("beersystem",)))
        redis.master_host  # 'redis-shared-master.redis.svc.cluster.local'
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: RedisSharedProps | None = None) -> None:
        super().__init__(scope, id)
        p = props if props is not None else RedisSharedProps()
        # The props validated themselves when built; here they are only resolved, once, before any object exists.
        v.instance("props", p, RedisSharedProps, "a RedisSharedProps")
        self._props = p
        self.name = p.name
        self.namespace = p.namespace
        #: The names and labels every child derives its objects from.
        self.names = RedisNames(name=self.name, namespace=self.namespace)
        self.replicas = p.replicas
        #: The StatefulSet whose pod is the primary (the master one unless ``primary_pod`` promoted the replica).
        self.primary_statefulset = primary_statefulset(self.name, self.replicas, p.primary_pod)
        self.primary_pod = f"{self.statefulset_name(self.primary_statefulset)}-0"
        memory_limit = p.memory_limit_bytes()
        self.maxmemory_bytes = derive_maxmemory(memory_limit, prop="resources.memory_limit")
        #: Per-client and all-client memory bounds and maxclients, derived from the memory limit.
        self.client_limits = derive_client_limits(memory_limit)
        self.eviction_policy = EvictionPolicy.parse("eviction_policy", p.eviction_policy)
        #: The pods' ``terminationGracePeriodSeconds``: the prop, or derived from ``maxmemory`` and the shutdown
        #: timeout (:func:`~redis_constructs.server.redis_conf.derive_grace_period`).
        self.termination_grace_period_seconds = (
            p.termination_grace_period_seconds
            if p.termination_grace_period_seconds is not None
            else derive_grace_period(self.maxmemory_bytes, p.shutdown_timeout_seconds)
        )
        #: The cluster DNS pods every pod of this Redis (and a client's validation Job) may query.
        self.dns_namespace = p.dns_namespace
        self.dns_pod_labels = v.label_pairs("dns_pod_labels", p.dns_pod_labels)
        self._lan_networks = p.lan_networks()
        self.credentials = p.credentials
        self.tls = p.tls
        #: What the LAN proxy sidecar enforces. Default: - None without a ``load_balancer`` (no LAN, no proxy).
        self.lan_proxy_settings = (
            p.lan_proxy.settings(
                maxclients=self.client_limits.maxclients,
                upstream_port=p.tls.port if p.tls else REDIS_PORT,
                tls=p.tls is not None,
            )
            if p.load_balancer is not None
            else None
        )
        #: The TLS port, when ``tls`` is set. Default: - None.
        self.tls_port = p.tls.port if p.tls else None
        self._tenants: list[Tenant] = []
        for tenant in p.all_tenants():
            self.add_client_namespace(tenant.namespace, tenant=tenant)

        self.port = REDIS_PORT
        self.metrics_port = METRICS_PORT
        self.headless_service_name = self.names.headless_service_name
        self.master_service_name = self.names.master_service_name
        self.replicas_service_name = self.names.replicas_service_name
        self.metrics_service_name = self.names.metrics_service_name
        self.external_service_name = self.names.external_service_name
        self.master_host = self.names.master_host
        self.replicas_host = self.names.replicas_host
        self.service_account_name = self.names.service_account_name
        self.config_map_name = self.names.config_map_name
        self.scripts_config_map_name = self.names.scripts_config_map_name
        #: The user an app sending only a password is (``default``); a tenant's own is ``tenant(ns).user``.
        self.client_username = CLIENT_USERNAME
        self.admin_username = ADMIN_USERNAME
        self.migration_username = MIGRATION_USERNAME
        #: The check Job's ACL user; rendered only when ``credentials.check`` is set (:attr:`check_password`).
        self.check_username = CHECK_USERNAME
        #: Where the check user's password is. Default: - None, no ``check`` user (``credentials.check`` unset).
        self.check_password = p.credentials.check
        #: Labels on every Redis pod (primary and replicas), for NetworkPolicies of other objects.
        self.pod_labels = self.names.labels()
        #: The tenants' Secret: in Redis's namespace ``<tenant>.password`` per tenant, in each tenant's namespace
        #: its own password as key :attr:`client_password_key`.
        self.client_secret_name = p.credentials.tenant_secret
        self.client_password_key = "password"
        self.load_balancer_ip = p.load_balancer.ip if p.load_balancer else None
        self.monitoring_namespace = p.monitoring_namespace
        #: Labels of the metrics Service, for a ServiceMonitor's selector (:meth:`RedisNames.metrics_selector`).
        self.metrics_service_labels = self.names.metrics_selector()

        self._compose()

    @names_construct_in
    def add_client_namespace(self, namespace: str, *, tenant: Tenant | None = None) -> None:
        """Make ``namespace`` a tenant: everything it needs follows from this one call.

        ``tenant``: its user, key prefix and commands. Default: - ``Tenant(namespace=namespace)`` (user named
        after the namespace, every key; the ``tenant_commands`` prop's commands). Its pods are admitted to the
        Redis port (the NetworkPolicy is built at synth), its ACL user reaches the tenants ConfigMap (built at
        synth; the running pods apply it without a restart) and, with :meth:`RedisCredentials.from_replicated`,
        its password gets its copy in ``namespace`` and its key in Redis's Secret. Raises, changing nothing, when
        the tenant is invalid or clashes with another, or when its copy cannot be made (sealed values lack it).
        """
        v.dns_label("client_namespaces", namespace)
        if tenant is None:
            tenant = Tenant(namespace=namespace, commands=self._props.tenant_commands)
        v.instance("tenant", tenant, Tenant, "None or a Tenant(namespace=...)")
        if tenant.namespace != namespace:
            raise PropError("tenant.namespace", tenant.namespace, f"the namespace added, {namespace!r}")
        if namespace in self.client_namespaces:
            raise PropError("client_namespaces", namespace, "a namespace not added yet")
        if namespace == self.namespace:
            raise PropError("client_namespaces", namespace, f"a namespace other than Redis's own {namespace!r}")
        validate_tenants([*self._tenants, tenant])
        credentials = self.credentials.tenants
        if credentials is not None and namespace not in credentials.namespaces:
            credentials.add_tenant(namespace)  # raises first when the sealed values lack either copy
        self._tenants.append(tenant)

    @property
    def client_namespaces(self) -> tuple[str, ...]:
        """Namespaces admitted to 6379 (one per tenant), in the order they were added."""
        return tuple(t.namespace for t in self._tenants)

    @property
    def tenants(self) -> tuple[Tenant, ...]:
        """Every declared tenant, late adds included, in the order they were added."""
        return tuple(self._tenants)

    def tenant(self, namespace: str) -> Tenant:
        """The tenant of ``namespace``; raises naming the tenants there are."""
        for t in self._tenants:
            if t.namespace == namespace:
                return t
        raise PropError(
            "namespace",
            namespace,
            "a tenant namespace, one of " + (", ".join(self.client_namespaces) or "none yet"),
            fix=f"redis.add_client_namespace({namespace!r})",
        )

    # -- composition ------------------------------------------------------------------------------------
    def _compose(self) -> None:
        """The child constructs, in the order their objects have always been rendered (dist/ is pre-order)."""
        p, names = self._props, self.names
        RedisNamespace(self, "Namespace", RedisNamespaceProps(names=names))
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
            replicas=self.replicas,
        )
        #: The ConfigMaps and the config checksum.
        self.configuration = RedisConfiguration(
            self,
            "Configuration",
            RedisConfigurationProps(
                names=names,
                settings=settings,
                tenant_commands=p.tenant_commands,
                users=self.credentials.acl_users(),
                tenants=lambda: self.tenants,
                tls=self.tls,
                lan_proxy=self.lan_proxy_settings,
            ),
        )
        RedisHeadlessService(self, "HeadlessService", RedisHeadlessServiceProps(names=names, tls_port=self.tls_port))
        workload = RedisWorkloadProps(
            names=names,
            role=Role.PRIMARY,
            replicas=self.replicas,
            primary=self.primary_statefulset,
            image=image_ref(p.image, p.image_digest),
            exporter_image=image_ref(p.exporter_image, p.exporter_image_digest),
            digests_pinned=p.image_digest is not None
            and p.exporter_image_digest is not None
            and (p.load_balancer is None or p.lan_proxy.image_digest is not None),
            resources=p.resources,
            termination_grace_period_seconds=self.termination_grace_period_seconds,
            storage_class=p.storage_class,
            storage_size=p.storage_size,
            credentials=self.credentials,
            config_checksum=self.configuration.checksum,
            tls=self.tls,
            lan_proxy=self.lan_proxy_settings,
            lan_proxy_image=image_ref(p.lan_proxy.image, p.lan_proxy.image_digest),
        )
        #: One StatefulSet construct per role (ids ``Primary``, ``Replicas``).
        self.workloads = {
            role: RedisWorkload(self, "Primary" if role is Role.PRIMARY else "Replicas", replace(workload, role=role))
            for role in Role
        }
        #: The StatefulSet of each role (``failover.add_rollout_order`` annotates them).
        self.statefulsets = {role: w.statefulset for role, w in self.workloads.items()}
        #: The role, metrics and LAN Services.
        self.services = RedisServices(
            self,
            "Services",
            RedisServicesProps(
                names=names,
                tls_port=self.tls_port,
                load_balancer=p.load_balancer,
                lan_networks=self._lan_networks,
                lan_proxy=self.lan_proxy_settings is not None,
            ),
        )
        RedisDisruptionBudget(self, "DisruptionBudget", RedisDisruptionBudgetProps(names=names))
        RedisNetworkPolicy(
            self,
            "NetworkPolicy",
            RedisNetworkPolicyProps(
                names=names,
                client_namespaces=lambda: self.client_namespaces,
                monitoring_namespace=p.monitoring_namespace,
                dns_namespace=self.dns_namespace,
                dns_pod_labels=tuple(self.dns_pod_labels.items()),
                tls_port=self.tls_port,
                lan_networks=self._lan_networks,
                lan_proxy=self.lan_proxy_settings is not None,
            ),
        )
        #: The cert-manager Certificate Redis serves. Default: - None without TLS or with an ExistingTlsSecret.
        self.tls_certificate_name: str | None = None
        if self.tls is not None and not isinstance(self.tls.certificates, tls_mod.ExistingTlsSecret):
            self.tls_certificate_name = f"{names.name}-tls"
            RedisCertificates(
                self,
                "Tls",
                RedisCertificatesProps(
                    names=names, tls=self.tls, replicas=self.replicas, load_balancer_ip=self.load_balancer_ip
                ),
            )

    def statefulset_name(self, role: Role) -> str:
        """``<name>-master`` or ``<name>-replicas``."""
        return self.names.statefulset_name(role)

    @property
    def primary_host(self) -> str:
        """Stable DNS name of the primary pod (``primary_pod``), which every replica follows."""
        return self.pod_host(self.primary_statefulset, 0)

    def pod_host(self, role: Role, ordinal: int) -> str:
        """Stable DNS name of one pod through the headless Service (resolves also while not Ready)."""
        return self.names.pod_host(role, ordinal)
