"""RedisNetworkPolicy: the sources admitted to each port, built at synth from the client namespaces as of then."""

from __future__ import annotations

import ipaddress
from typing import Any

import cdk8s
from conftest import find

from redis_constructs.server.names import RedisNames
from redis_constructs.server.network_policy import RedisNetworkPolicy, RedisNetworkPolicyProps

Obj = dict[str, Any]
NAMES = RedisNames(name="cache", namespace="shared")


def policy(clients: list[str], **overrides: Any) -> tuple[cdk8s.Chart, RedisNetworkPolicy]:
    chart = cdk8s.Chart(cdk8s.App(), "test", disable_resource_name_hashes=True)
    spec: dict[str, Any] = {
        "names": NAMES,
        "client_namespaces": lambda: tuple(clients),
        "monitoring_namespace": "monitoring",
        "dns_namespace": "kube-system",
        "dns_pod_labels": (("k8s-app", "kube-dns"),),
    }
    return chart, RedisNetworkPolicy(chart, "NetworkPolicy", RedisNetworkPolicyProps(**(spec | overrides)))


def namespace_peer(name: str) -> Obj:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def test_a_namespace_added_after_construction_reaches_the_policy_at_synth() -> None:
    clients = ["a"]
    chart, np = policy(clients)
    clients.append("b")
    spec = find(list(chart.to_json()), "NetworkPolicy", "cache", "shared")["spec"]
    assert spec["ingress"][0]["from"][1:] == [namespace_peer("a"), namespace_peer("b")]
    assert np.node.default_child is np.resource


def test_without_tls_the_lan_reaches_the_plaintext_port() -> None:
    lan = (ipaddress.ip_network("192.168.4.0/24"),)
    chart, _ = policy([], lan_networks=lan)
    spec = find(list(chart.to_json()), "NetworkPolicy", "cache")["spec"]
    redis_rule, metrics_rule = spec["ingress"]
    assert {"ipBlock": {"cidr": "192.168.4.0/24"}} in redis_rule["from"]
    assert metrics_rule["from"] == [namespace_peer("monitoring")]
    dns, peers = spec["egress"]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert peers["ports"] == [{"port": 6379, "protocol": "TCP"}]


def test_with_tls_the_lan_reaches_only_the_tls_port_and_peers_replicate_over_it() -> None:
    lan = (ipaddress.ip_network("192.168.4.0/24"),)
    chart, _ = policy(["a"], lan_networks=lan, tls_port=6380)
    spec = find(list(chart.to_json()), "NetworkPolicy", "cache")["spec"]
    redis_rule, _, tls_rule = spec["ingress"]
    assert {"ipBlock": {"cidr": "192.168.4.0/24"}} not in redis_rule["from"]
    assert tls_rule["from"] == [*redis_rule["from"], {"ipBlock": {"cidr": "192.168.4.0/24"}}]
    assert spec["egress"][1]["ports"] == [{"port": 6379, "protocol": "TCP"}, {"port": 6380, "protocol": "TCP"}]


def test_network_policy_admits_only_listed_sources(site_objects: list[Obj]) -> None:
    policy = find(site_objects, "NetworkPolicy", "redis-shared", "redis")["spec"]
    redis_rule, metrics_rule, tls_rule, lan_rule, lan_metrics_rule = policy["ingress"]
    assert redis_rule["ports"] == [{"port": 6379, "protocol": "TCP"}]
    peers = redis_rule["from"]
    assert {"ipBlock": {"cidr": "192.168.4.0/24"}} not in peers  # with TLS, the LAN gets the TLS port only
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "beersystem"}}} in peers
    assert len(peers) == 2
    assert tls_rule["ports"] == [{"port": 6380, "protocol": "TCP"}]
    # The LAN reaches Redis only through the LAN proxy's caps (docs/resilience.md): 6381, never 6380.
    assert tls_rule["from"] == peers
    assert lan_rule == {"from": [{"ipBlock": {"cidr": "192.168.4.0/24"}}], "ports": [{"port": 6381, "protocol": "TCP"}]}
    assert lan_metrics_rule == {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"port": 9101, "protocol": "TCP"}],
    }
    assert metrics_rule == {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"port": 9121, "protocol": "TCP"}],
    }
    assert policy["policyTypes"] == ["Ingress", "Egress"]
