"""RedisShared's Services: the headless governing Service, the role Services, metrics, and the LAN's Service."""

from __future__ import annotations

import ipaddress
from typing import Any

import cdk8s
from conftest import find

from redis_constructs import LoadBalancer, Role
from redis_constructs.server.names import RedisNames
from redis_constructs.server.roles import ROLE_LABEL
from redis_constructs.server.services import (
    RedisHeadlessService,
    RedisHeadlessServiceProps,
    RedisServices,
    RedisServicesProps,
)

Obj = dict[str, Any]
NAMES = RedisNames(name="cache", namespace="shared")
LB = LoadBalancer(ip="192.168.4.203", source_ranges=("192.168.4.0/24",), address_pool="lan")
LAN = (ipaddress.ip_network("192.168.4.0/24"),)


def services(spec: RedisServicesProps) -> tuple[RedisServices, list[Obj]]:
    chart = cdk8s.Chart(cdk8s.App(), "test", disable_resource_name_hashes=True)
    built = RedisServices(chart, "Services", spec)
    return built, list(chart.to_json())


def test_the_headless_service_publishes_every_pod_also_while_not_ready(chart: cdk8s.Chart) -> None:
    headless = RedisHeadlessService(chart, "HeadlessService", RedisHeadlessServiceProps(names=NAMES, tls_port=6380))
    (svc,) = chart.to_json()
    assert svc["metadata"]["name"] == headless.service_name == "cache-headless"
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["publishNotReadyAddresses"] is True
    assert svc["spec"]["selector"] == NAMES.labels()
    assert [p["port"] for p in svc["spec"]["ports"]] == [6379, 6380]
    assert headless.node.default_child is headless.resource


def test_role_services_select_the_current_role_and_metrics_every_pod() -> None:
    built, objects = services(RedisServicesProps(names=NAMES))
    assert built.external_service is None
    assert [o["metadata"]["name"] for o in objects] == ["cache-master", "cache-replicas", "cache-metrics"]
    for role, name in ((Role.PRIMARY, "cache-master"), (Role.REPLICA, "cache-replicas")):
        svc = find(objects, "Service", name, "shared")
        assert svc["spec"]["selector"] == {**NAMES.labels(), ROLE_LABEL: role.value}
        assert svc["spec"]["type"] == "ClusterIP"
        assert [p["port"] for p in svc["spec"]["ports"]] == [6379]
    metrics = find(objects, "Service", "cache-metrics")
    assert metrics["spec"]["selector"] == NAMES.labels()
    assert metrics["metadata"]["labels"]["app.kubernetes.io/component"] == "metrics"
    assert metrics["spec"]["ports"] == [{"name": "metrics", "port": 9121, "protocol": "TCP", "targetPort": "metrics"}]


def test_the_lan_service_selects_the_primary_and_publishes_the_tls_port_only() -> None:
    built, objects = services(RedisServicesProps(names=NAMES, tls_port=6380, load_balancer=LB, lan_networks=LAN))
    assert built.external_service is not None
    external = find(objects, "Service", "cache-external", "shared")
    assert external["spec"]["selector"] == NAMES.role_selector(Role.PRIMARY)
    assert [p["port"] for p in external["spec"]["ports"]] == [6380]
    assert external["spec"]["loadBalancerSourceRanges"] == ["192.168.4.0/24"]
    assert external["metadata"]["annotations"]["metallb.io/address-pool"] == "lan"
    assert [p["port"] for p in find(objects, "Service", "cache-master")["spec"]["ports"]] == [6379, 6380]


def test_without_tls_the_lan_service_publishes_the_plaintext_port() -> None:
    _, objects = services(RedisServicesProps(names=NAMES, load_balancer=LB, lan_networks=LAN))
    external = find(objects, "Service", "cache-external")
    assert [p["port"] for p in external["spec"]["ports"]] == [6379]
    assert "metallb.universe.tf/loadBalancerIPs" in external["metadata"]["annotations"]
