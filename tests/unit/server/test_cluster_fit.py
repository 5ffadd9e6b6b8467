"""What the docs warn about is refused: a LAN range overlapping the cluster's pod or Service network, and more
Redis pods than nodes under the required anti-affinity."""

from __future__ import annotations

import pytest

from redis_constructs import LoadBalancer, PropError, RedisSharedProps


def _lan(*ranges: str, ip: str = "10.0.0.10", **props: object) -> RedisSharedProps:
    return RedisSharedProps(load_balancer=LoadBalancer(ip=ip, source_ranges=ranges), **props)  # type: ignore[arg-type]


def test_a_lan_range_over_k3s_pod_network_is_refused() -> None:
    with pytest.raises(PropError) as error:
        _lan("10.0.0.0/8")
    assert str(error.value) == (
        "load_balancer.source_ranges: got '10.0.0.0/8'; expected a range that does not overlap the cluster's pod "
        "network 10.42.0.0/16 (pods would match it; set cluster_pod_cidr if yours differs)"
    )


def test_a_lan_range_inside_k3s_service_network_is_refused() -> None:
    with pytest.raises(PropError, match=r"^load_balancer.source_ranges: got '10.43.8.0/24'; .* Service network "):
        _lan("10.43.8.0/24", ip="10.43.8.1")


def test_the_cluster_cidrs_are_props() -> None:
    props = _lan("10.0.0.0/8", cluster_pod_cidr="172.16.0.0/16", cluster_service_cidr="172.17.0.0/16")
    assert [str(n) for n in props.lan_networks()] == ["10.0.0.0/8"]
    with pytest.raises(PropError, match=r"^cluster_pod_cidr: got '10.42.0.1/16'; .*did you mean 10.42.0.0/16\?$"):
        RedisSharedProps(cluster_pod_cidr="10.42.0.1/16")


def test_a_lan_beside_the_cluster_networks_is_accepted() -> None:
    assert [str(n) for n in _lan("192.168.4.0/24", ip="192.168.4.203").lan_networks()] == ["192.168.4.0/24"]


def test_more_redis_pods_than_nodes_is_refused() -> None:
    with pytest.raises(PropError) as error:
        RedisSharedProps(replicas=4, nodes=4)
    assert str(error.value) == (
        "replicas: got 4; expected at most 3 with nodes=4: every Redis pod needs a node of its own "
        "(required anti-affinity)"
    )
    assert RedisSharedProps(replicas=3, nodes=4).nodes == 4
    assert RedisSharedProps(replicas=8).nodes is None  # not checked unless set


def test_nodes_must_be_a_positive_count() -> None:
    with pytest.raises(PropError, match=r"^nodes: got 0; expected an integer from 1 to 10000"):
        RedisSharedProps(nodes=0)
