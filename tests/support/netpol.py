"""A small NetworkPolicy evaluator over synthesized objects (plain dicts), for exposure tests.

It answers "would a connection from this peer to this pod on this port be admitted?" the way the
Kubernetes NetworkPolicy API defines it (``networking.k8s.io/v1``):

* a pod selected by no policy with ``Ingress`` in its ``policyTypes`` admits everything;
* otherwise a connection is admitted when any rule of any selecting policy admits it: the port matches
  (no ``ports`` = every port) and a peer matches (no ``from`` = every source);
* a peer with ``namespaceSelector`` and ``podSelector`` needs both; a ``podSelector`` alone means the
  policy's own namespace; an empty selector ``{}`` matches everything;
* ``ipBlock`` is judged against the peer's address. Pods get an address too (K3s's pod CIDR): the API
  says ipBlock is meant for cluster-external addresses, but CNIs such as K3s's kube-router match pod
  addresses that fall in the range, so the evaluator assumes the wider reading.

Peers and addresses are data only: nothing is sent anywhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = Mapping[str, Any]

#: K3s's default pod CIDR; sample pods get addresses from it.
POD_CIDR = "10.42.0.0/16"


@dataclass(frozen=True, kw_only=True)
class Peer:
    """The source of a connection: a pod (``namespace`` set) or an address outside the cluster."""

    description: str
    ip: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Labels of the pod's namespace; Kubernetes always sets ``kubernetes.io/metadata.name``.
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def pod(cls, namespace: str, labels: Mapping[str, str] | None = None, *, ip: str = "10.42.0.17") -> Peer:
        return cls(
            description=f"a pod in {namespace}",
            ip=ip,
            namespace=namespace,
            labels=dict(labels or {"app": "client"}),
            namespace_labels={"kubernetes.io/metadata.name": namespace},
        )

    @classmethod
    def address(cls, ip: str) -> Peer:
        return cls(description=f"address {ip}", ip=ip)


@dataclass(frozen=True, kw_only=True)
class Target:
    """The pod receiving the connection; ``port_names`` resolves named ports in policies."""

    namespace: str
    labels: Mapping[str, str]
    port_names: Mapping[str, int] = field(default_factory=dict)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """LabelSelector semantics: ``{}`` matches everything; ``matchLabels`` and ``matchExpressions`` AND."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _ip_block_matches(block: Mapping[str, Any], ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    network = ipaddress.ip_network(block["cidr"], strict=False)
    if address.version != network.version or address not in network:
        return False
    return not any(
        address in ipaddress.ip_network(e, strict=False)
        for e in block.get("except") or []
        if ipaddress.ip_network(e, strict=False).version == address.version
    )


def peer_matches(rule_peer: Mapping[str, Any], peer: Peer, policy_namespace: str) -> bool:
    """One entry of a rule's ``from`` list against one peer."""
    if "ipBlock" in rule_peer:
        return _ip_block_matches(rule_peer["ipBlock"], peer.ip)
    if peer.namespace is None:
        return False  # selectors only ever match pods
    ns_selector = rule_peer.get("namespaceSelector")
    pod_selector = rule_peer.get("podSelector")
    if ns_selector is None and pod_selector is None:
        return False
    if ns_selector is None:
        ns_ok = peer.namespace == policy_namespace
    else:
        ns_ok = selector_matches(ns_selector, peer.namespace_labels)
    pod_ok = pod_selector is None or selector_matches(pod_selector, peer.labels)
    return ns_ok and pod_ok


def _port_matches(rule_port: Mapping[str, Any], target: Target, port: int, protocol: str) -> bool:
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    if "port" not in rule_port:
        return True
    wanted = rule_port["port"]
    if isinstance(wanted, str):
        return target.port_names.get(wanted) == port
    end = rule_port.get("endPort", wanted)
    return bool(wanted <= port <= end)


def _policy_types(spec: Mapping[str, Any]) -> list[str]:
    if "policyTypes" in spec:
        return list(spec["policyTypes"])
    return ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def ingress_policies(objects: Sequence[Obj], target: Target) -> list[Obj]:
    """The NetworkPolicies that isolate ``target`` for ingress."""
    return [
        o
        for o in objects
        if o.get("kind") == "NetworkPolicy"
        and (o["metadata"].get("namespace") or "default") == target.namespace
        and selector_matches(o["spec"].get("podSelector", {}), target.labels)
        and "Ingress" in _policy_types(o["spec"])
    ]


def admits(objects: Sequence[Obj], target: Target, peer: Peer, port: int, protocol: str = "TCP") -> bool:
    """Whether the objects' NetworkPolicies admit ``peer`` → ``target`` on ``port``/``protocol``."""
    policies = ingress_policies(objects, target)
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports and not any(_port_matches(p, target, port, protocol) for p in ports):
                continue
            sources = rule.get("from")
            if not sources or any(peer_matches(s, peer, target.namespace) for s in sources):
                return True
    return False
