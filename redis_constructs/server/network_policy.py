"""RedisNetworkPolicy: who may reach the Redis pods, and whom they may reach, built at synth.

Ingress: the Redis port from the Redis pods, the client namespaces and (without TLS) the LAN; the TLS port
from all of them; the metrics port from the monitoring namespace only. Egress: cluster DNS and the other
Redis pods. The policy is a :class:`~redis_constructs.core.late.LateNetworkPolicy`: its spec is produced again at
synth from the client namespaces as of then, so a later ``RedisShared.add_client_namespace`` reaches it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import constructs
from cdk8s_plus_28 import k8s

from ..core.late import LateNetworkPolicy
from ..core.rendering import dns_egress_rule, namespace_peer, tcp_port
from .lan_proxy import LAN_PROXY_METRICS_PORT, LAN_PROXY_PORT
from .names import METRICS_PORT, REDIS_PORT, RedisNames


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisNetworkPolicyProps:
    """Props of :class:`RedisNetworkPolicy`: what the policy needs, validated by RedisShared."""

    names: RedisNames
    #: The client namespaces as of now; called again at synth.
    client_namespaces: Callable[[], tuple[str, ...]]
    #: The only namespace admitted to the metrics port.
    monitoring_namespace: str
    #: The cluster DNS pods the Redis pods may query.
    dns_namespace: str
    dns_pod_labels: tuple[tuple[str, str], ...]
    #: Default: - no TLS port; the LAN reaches the plaintext port.
    tls_port: int | None = None
    #: The LoadBalancer's source ranges. Default: - none, no LAN peer.
    lan_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: The pods run the LAN proxy: the LAN is admitted to its port only, never to Redis's. Default: False.
    lan_proxy: bool = False


def network_policy_spec(props: RedisNetworkPolicyProps) -> k8s.NetworkPolicySpec:
    """The policy as of now (the client namespaces ``props.client_namespaces()`` returns)."""
    names, tls_port = props.names, props.tls_port
    redis_pods = k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=names.labels()))
    redis_from: list[k8s.NetworkPolicyPeer] = [redis_pods]
    redis_from += [namespace_peer(ns) for ns in props.client_namespaces()]
    lan = [k8s.NetworkPolicyPeer(ip_block=k8s.IpBlock(cidr=str(n))) for n in props.lan_networks]
    proxied_lan, lan = (lan, []) if props.lan_proxy else ([], lan)
    # With TLS the LAN reaches only the TLS port; plaintext stays for the Redis pods and client namespaces.
    tls_from = [*redis_from, *lan]
    if tls_port is None:
        redis_from += lan
    redis_ports = [REDIS_PORT] if tls_port is None else [REDIS_PORT, tls_port]
    ingress = [
        k8s.NetworkPolicyIngressRule(from_=redis_from, ports=[tcp_port(REDIS_PORT)]),
        k8s.NetworkPolicyIngressRule(
            from_=[namespace_peer(props.monitoring_namespace)], ports=[tcp_port(METRICS_PORT)]
        ),
    ]
    if tls_port is not None:
        ingress.append(k8s.NetworkPolicyIngressRule(from_=tls_from, ports=[tcp_port(tls_port)]))
    if proxied_lan:
        ingress += [
            k8s.NetworkPolicyIngressRule(from_=proxied_lan, ports=[tcp_port(LAN_PROXY_PORT)]),
            k8s.NetworkPolicyIngressRule(
                from_=[namespace_peer(props.monitoring_namespace)], ports=[tcp_port(LAN_PROXY_METRICS_PORT)]
            ),
        ]
    return k8s.NetworkPolicySpec(
        pod_selector=k8s.LabelSelector(match_labels=names.labels()),
        policy_types=["Ingress", "Egress"],
        ingress=ingress,
        egress=[
            dns_egress_rule(props.dns_namespace, dict(props.dns_pod_labels)),
            k8s.NetworkPolicyEgressRule(to=[redis_pods], ports=[tcp_port(port) for port in redis_ports]),
        ],
    )


class RedisNetworkPolicy(constructs.Construct):
    """NetworkPolicy ``<name>`` over every Redis pod, Ingress and Egress (see the module docstring).

    Example::

        RedisNetworkPolicy(chart, "NetworkPolicy", props)  # props.client_namespaces is read again at synth
    """

    def __init__(self, scope: constructs.Construct, id: str, props: RedisNetworkPolicyProps) -> None:
        super().__init__(scope, id)
        #: The policy (``node.default_child``).
        self.resource = LateNetworkPolicy(
            self, "Resource", metadata=props.names.meta(props.names.name), spec=lambda: network_policy_spec(props)
        )
