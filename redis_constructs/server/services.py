"""RedisShared's Services: the headless one the StatefulSets name, and those clients and Prometheus use.

* :class:`RedisHeadlessService` ``<name>-headless``: every Redis pod, not-ready ones included, so each pod has a
  stable DNS name (``<statefulset>-<n>.<name>-headless...``) that replication and the certificate use.
* :class:`RedisServices`: ``<name>-master`` and ``<name>-replicas`` select the pods by the role they have now
  (``redis-shared/role``, moved by a promotion), ``<name>-metrics`` every pod's exporter, and, with a
  :class:`LoadBalancer`, ``<name>-external`` for the LAN (the primary only; with TLS, the TLS port only).

They are two constructs because the headless Service is rendered before the StatefulSets (their governing
Service) and the others after them, the order dist/ has always had.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import constructs
from cdk8s_plus_28 import k8s

from ..core.rendering import int_or_string
from .lan_proxy import LAN_PROXY_METRICS_PORT
from .names import METRICS_PORT, REDIS_PORT, RedisNames
from .props import LoadBalancer
from .redis_conf import Role


def redis_ports(tls_port: int | None) -> list[k8s.ServicePort]:
    """The plaintext port and, with TLS, the TLS port."""
    ports = [k8s.ServicePort(name="redis", port=REDIS_PORT, target_port=int_or_string("redis"), protocol="TCP")]
    if tls_port is not None:
        ports.append(
            k8s.ServicePort(
                name="redis-tls",
                port=tls_port,
                target_port=int_or_string("redis-tls"),
                protocol="TCP",
            )
        )
    return ports


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisHeadlessServiceProps:
    """Props of :class:`RedisHeadlessService`, validated by RedisShared."""

    names: RedisNames
    #: Default: - no TLS port.
    tls_port: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisServicesProps:
    """Props of :class:`RedisServices`: what the Services need, validated by RedisShared."""

    names: RedisNames
    #: Default: - no TLS port.
    tls_port: int | None = None
    #: Default: - no LoadBalancer Service.
    load_balancer: LoadBalancer | None = None
    #: ``load_balancer.source_ranges`` as parsed networks (normalized spelling). Default: - none.
    lan_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: The pods run the LAN proxy sidecar: the LAN's Service targets it, the metrics Service publishes its
    #: exporter. Default: False.
    lan_proxy: bool = False


class RedisHeadlessService(constructs.Construct):
    """Service ``<name>-headless``: the StatefulSets' governing Service, publishing not-ready pods too.

    Example::

        RedisHeadlessService(chart, "HeadlessService", RedisHeadlessServiceProps(names=names))
    """

    def __init__(self, scope: constructs.Construct, id: str, props: RedisHeadlessServiceProps) -> None:
        super().__init__(scope, id)
        names = props.names
        self.service_name = names.headless_service_name
        #: The Service (``node.default_child``).
        self.resource = k8s.KubeService(
            self,
            "Resource",
            metadata=names.meta(self.service_name),
            spec=k8s.ServiceSpec(
                cluster_ip="None",
                # The replica reaches the primary by its pod DNS name even before the primary is Ready.
                publish_not_ready_addresses=True,
                selector=names.labels(),
                ports=redis_ports(props.tls_port),
            ),
        )


class RedisServices(constructs.Construct):
    """The role Services (master, replicas), the metrics Service and, with a LoadBalancer, the LAN's Service.

    Example::

        services = RedisServices(chart, "Services", RedisServicesProps(names=names, tls_port=6380))
        services.role_services[Role.PRIMARY]  # the KubeService redis-shared-master
    """

    def __init__(self, scope: constructs.Construct, id: str, props: RedisServicesProps) -> None:
        super().__init__(scope, id)
        names = props.names
        #: Service ``<name>-master`` and ``<name>-replicas`` by the role they select.
        self.role_services = {
            role: k8s.KubeService(
                self,
                "MasterService" if role is Role.PRIMARY else "ReplicasService",
                metadata=names.meta(
                    names.master_service_name if role is Role.PRIMARY else names.replicas_service_name, role=role
                ),
                spec=k8s.ServiceSpec(
                    type="ClusterIP", selector=names.role_selector(role), ports=redis_ports(props.tls_port)
                ),
            )
            for role in Role
        }
        self.metrics_service = k8s.KubeService(
            self,
            "MetricsService",
            metadata=k8s.ObjectMeta(
                name=names.metrics_service_name,
                namespace=names.namespace,
                labels={**names.object_labels(), **names.metrics_selector()},
            ),
            spec=k8s.ServiceSpec(
                type="ClusterIP",
                selector=names.labels(),
                ports=[
                    k8s.ServicePort(
                        name="metrics",
                        port=METRICS_PORT,
                        target_port=int_or_string("metrics"),
                        protocol="TCP",
                    ),
                    *(
                        [
                            k8s.ServicePort(
                                name="lan-metrics",
                                port=LAN_PROXY_METRICS_PORT,
                                target_port=int_or_string("lan-metrics"),
                                protocol="TCP",
                            )
                        ]
                        if props.lan_proxy
                        else []
                    ),
                ],
            ),
        )
        #: Service ``<name>-external``. Default: - None without a LoadBalancer.
        self.external_service = (
            self._external_service(props, props.load_balancer) if props.load_balancer is not None else None
        )

    def _external_service(self, props: RedisServicesProps, lb: LoadBalancer) -> k8s.KubeService:
        names = props.names
        port = redis_ports(props.tls_port)[-1]
        if props.lan_proxy:
            # The LAN reaches Redis only through the proxy's caps (lan_proxy.py); the port it dials is unchanged.
            port = k8s.ServicePort(name=port.name, port=port.port, target_port=int_or_string("lan"), protocol="TCP")
        annotations = {
            # Both spellings: metallb.io (>= 0.14.9) wins when both are present; the older one keeps
            # MetalLB 0.12-0.14.8 working. spec.loadBalancerIP is deprecated and conflicts with them.
            "metallb.universe.tf/loadBalancerIPs": lb.ip,
            "metallb.io/loadBalancerIPs": lb.ip,
        }
        if lb.address_pool is not None:
            annotations["metallb.io/address-pool"] = lb.address_pool
        return k8s.KubeService(
            self,
            "ExternalService",
            metadata=names.meta(names.external_service_name, role=Role.PRIMARY, annotations=annotations),
            spec=k8s.ServiceSpec(
                type="LoadBalancer",
                selector=names.role_selector(Role.PRIMARY),
                # With TLS the LAN gets the TLS port only: no password crosses the LAN in clear.
                ports=[port],
                load_balancer_source_ranges=[str(n) for n in props.lan_networks],
                # Local keeps the client's source address, so the NetworkPolicy's ipBlock can judge it.
                external_traffic_policy="Local",
                # MetalLB needs no node ports: don't open 6379 on a NodePort of every node.
                allocate_load_balancer_node_ports=False,
            ),
        )
