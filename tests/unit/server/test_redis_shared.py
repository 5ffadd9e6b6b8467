"""RedisShared: snapshots, the site's values, its children's order, its public names, one failing test per rule."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import cdk8s
import pytest
from conftest import containers, find
from syrupy.assertion import SnapshotAssertion

import main
from redis_constructs import (
    EvictionPolicy,
    LoadBalancer,
    PropError,
    RedisCredentials,
    RedisShared,
    RedisSharedProps,
    Resources,
    SecretKeyRef,
)
from redis_constructs.gitops.synth import ordered, to_yaml
from redis_constructs.server.redis_conf import TenantCommands
from redis_constructs.server.tenants import Tenant

Obj = dict[str, Any]


def render(props: RedisSharedProps | None = None) -> tuple[RedisShared, list[Obj]]:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "test", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", props)
    return redis, list(chart.to_json())


FULL = RedisSharedProps(
    name="cache",
    namespace="shared-cache",
    replicas=2,
    image="redis:7.2.7-bookworm",
    image_digest="sha256:" + "a" * 64,
    exporter_image="quay.io/oliver006/redis_exporter:v1.62.0",
    exporter_image_digest="sha256:" + "b" * 64,
    storage_class="longhorn",
    storage_size="20Gi",
    resources=Resources(memory_limit="2Gi", cpu_request="500m", cpu_limit="2"),
    eviction_policy=EvictionPolicy.VOLATILE_LFU,
    termination_grace_period_seconds=60,
    shutdown_timeout_seconds=20,
    load_balancer=LoadBalancer(ip="10.0.0.10", source_ranges=("10.0.0.0/24", "10.0.1.0/24"), address_pool="lan"),
    client_namespaces=("app-a", "app-b"),
    monitoring_namespace="observability",
    credentials=RedisCredentials(
        tenant_secret="cache-app",
        replication=SecretKeyRef(name="cache-internal", key="repl"),
        exporter=SecretKeyRef(name="cache-internal", key="exp"),
        admin=SecretKeyRef(name="cache-admin", key="pw"),
        version="2026-11-26",
    ),
    tenant_commands=TenantCommands(allow_scripting=True, allow_restore=True),
)


# -- snapshots ---------------------------------------------------------------------------------------------
def test_site_chart_snapshot(site_charts: dict[str, list[Obj]], yaml_snapshot: SnapshotAssertion) -> None:
    assert to_yaml(ordered(site_charts["redis-shared"])) == yaml_snapshot


def test_fully_overridden_snapshot(yaml_snapshot: SnapshotAssertion) -> None:
    _, objects = render(FULL)
    assert to_yaml(ordered(objects)) == yaml_snapshot


# -- the plan's fixed values -------------------------------------------------------------------------------
def test_site_values_are_the_plans(site_objects: list[Obj]) -> None:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "x", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", main.REDIS)
    assert redis.master_host == "redis-shared-master.redis.svc.cluster.local"
    assert redis.port == 6379
    assert redis.namespace == "redis"
    assert redis.client_secret_name == "redis-shared-client"
    assert redis.client_password_key == "password"
    assert redis.client_username == "default"
    external = find(site_objects, "Service", "redis-shared-external", "redis")
    assert external["spec"]["type"] == "LoadBalancer"
    assert external["metadata"]["annotations"]["metallb.universe.tf/loadBalancerIPs"] == "192.168.4.203"
    assert external["metadata"]["annotations"]["metallb.io/loadBalancerIPs"] == "192.168.4.203"
    assert "loadBalancerIP" not in external["spec"]
    assert external["spec"]["loadBalancerSourceRanges"] == ["192.168.4.0/24"]
    assert external["spec"]["externalTrafficPolicy"] == "Local"
    assert external["spec"]["allocateLoadBalancerNodePorts"] is False
    assert external["spec"]["selector"]["redis-shared/role"] == "master"
    for role, sts_name, replicas in (("master", "redis-shared-master", 1), ("replica", "redis-shared-replicas", 1)):
        sts = find(site_objects, "StatefulSet", sts_name, "redis")
        assert sts["spec"]["replicas"] == replicas
        assert sts["spec"]["serviceName"] == "redis-shared-headless"
        assert sts["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == role
        (claim,) = sts["spec"]["volumeClaimTemplates"]
        assert claim["spec"]["storageClassName"] == "local-path"
        assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
        assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        exporter = containers(sts)["metrics"]
        assert exporter["image"].startswith("oliver006/redis_exporter:v")
        assert exporter["ports"] == [{"containerPort": 9121, "name": "metrics", "protocol": "TCP"}]
        assert re.fullmatch(r"redis:7\.\d+\.\d+-bookworm", containers(sts)["redis"]["image"])
    headless = find(site_objects, "Service", "redis-shared-headless", "redis")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    master = find(site_objects, "Service", "redis-shared-master", "redis")
    assert master["spec"]["type"] == "ClusterIP"
    assert master["spec"]["ports"][0]["port"] == 6379
    assert master["spec"]["selector"]["redis-shared/role"] == "master"
    metrics = find(site_objects, "Service", "redis-shared-metrics", "redis")
    assert metrics["spec"]["ports"][0]["port"] == 9121
    assert "app.kubernetes.io/component" not in metrics["spec"]["selector"]
    assert "redis-shared/role" not in metrics["spec"]["selector"]
    ns = find(site_objects, "Namespace", "redis")
    for mode in ("enforce", "audit", "warn"):
        assert ns["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_children_render_in_the_order_dist_has_always_had() -> None:
    """cdk8s writes a chart's objects in construct-tree pre-order: the children are created in that order."""
    redis, objects = render(main.REDIS)
    assert [c.node.id for c in redis.node.children] == [
        "Namespace",
        "Configuration",
        "HeadlessService",
        "Primary",
        "Replicas",
        "Services",
        "DisruptionBudget",
        "NetworkPolicy",
        "Tls",
    ]
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", "redis"),
        ("ServiceAccount", "redis-shared"),
        ("ConfigMap", "redis-shared-configuration"),
        ("ConfigMap", "redis-shared-scripts"),
        ("ConfigMap", "redis-shared-tenants"),
        ("Service", "redis-shared-headless"),
        ("StatefulSet", "redis-shared-master"),
        ("StatefulSet", "redis-shared-replicas"),
        ("Service", "redis-shared-master"),
        ("Service", "redis-shared-replicas"),
        ("Service", "redis-shared-metrics"),
        ("Service", "redis-shared-external"),
        ("PodDisruptionBudget", "redis-shared"),
        ("NetworkPolicy", "redis-shared"),
        ("Issuer", "redis-shared-selfsigned"),
        ("Certificate", "redis-shared-ca"),
        ("Issuer", "redis-shared-ca"),
        ("Certificate", "redis-shared-tls"),
    ]
    assert redis.statefulsets == {role: w.statefulset for role, w in redis.workloads.items()}
    assert redis.config_map_name == redis.configuration.config_map_name == "redis-shared-configuration"


def test_add_client_namespace_refuses_a_namespace_added_already() -> None:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "t", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", RedisSharedProps(client_namespaces=("a",)))
    with pytest.raises(PropError, match=r"client_namespaces: got 'a'; expected a namespace not added yet"):
        redis.add_client_namespace("a")
    assert redis.client_namespaces == ("a",)
    assert redis.tenants == (Tenant(namespace="a"),)


# -- bad input: one failing test per rule ------------------------------------------------------------------
LB = LoadBalancer(ip="192.168.4.203", source_ranges=("192.168.4.0/24",))
# Thunks: RedisSharedProps validates itself, so building it is what raises.
BAD: list[tuple[str, Callable[[], RedisSharedProps], str]] = [
    (
        "invalid_cidr",
        partial(RedisSharedProps, load_balancer=replace(LB, source_ranges=("192.168.4.0/33",))),
        r"load_balancer\.source_ranges: got '192\.168\.4\.0/33'; expected a network in CIDR notation",
    ),
    (
        "cidr_with_host_bits",
        partial(RedisSharedProps, load_balancer=replace(LB, source_ranges=("192.168.4.7/24",))),
        r"did you mean 192\.168\.4\.0/24\?",
    ),
    (
        "cidr_without_prefix",
        partial(RedisSharedProps, load_balancer=replace(LB, ip="192.168.4.1", source_ranges=("192.168.4.1",))),
        r"load_balancer\.source_ranges: got '192\.168\.4\.1'; expected a network in CIDR notation with a prefix",
    ),
    (
        "lb_ip_outside_range",
        partial(RedisSharedProps, load_balancer=replace(LB, ip="192.168.5.203")),
        r"load_balancer\.ip: got '192\.168\.5\.203'; expected an address inside load_balancer\.source_ranges",
    ),
    (
        "lb_ip_not_an_address",
        partial(RedisSharedProps, load_balancer=replace(LB, ip="redis.lan")),
        r"load_balancer\.ip: got 'redis\.lan'; expected a single IPv4 or IPv6 address",
    ),
    (
        "open_to_the_world",
        partial(RedisSharedProps, load_balancer=replace(LB, source_ranges=("0.0.0.0/0",))),
        r"load_balancer\.source_ranges: got '0\.0\.0\.0/0'; expected LAN networks only; .*allow_any_source=True",
    ),
    (
        "no_source_ranges",
        partial(RedisSharedProps, load_balancer=replace(LB, source_ranges=())),
        r"load_balancer\.source_ranges: got \(\); expected at least one CIDR",
    ),
    (
        "duplicate_source_ranges",
        partial(RedisSharedProps, load_balancer=replace(LB, source_ranges=("192.168.4.0/24",) * 2)),
        r"load_balancer\.source_ranges: .*expected no duplicates",
    ),
    (
        "bad_namespace",
        partial(RedisSharedProps, namespace="Redis_NS"),
        r"namespace: got 'Redis_NS'; expected an RFC 1123 label.*; did you mean redis-ns\?",
    ),
    (
        "bad_name",
        partial(RedisSharedProps, name="redis.shared"),
        r"name: got 'redis\.shared'; expected an RFC 1123 label",
    ),
    ("name_too_long", partial(RedisSharedProps, name="r" * 41), r"name: got 'r{41}'; expected .*at most 40 characters"),
    ("negative_replicas", partial(RedisSharedProps, replicas=-1), r"replicas: got -1; expected an integer from 0 to 8"),
    ("bool_replicas", partial(RedisSharedProps, replicas=True), r"replicas: got True; expected an integer from 0 to 8"),
    (
        "memory_too_small",
        partial(RedisSharedProps, resources=Resources(memory_limit="32Mi")),
        r"resources\.memory_limit: got '32Mi'; expected at least 64Mi so that the derived maxmemory",
    ),
    (
        "memory_unit_kubernetes_refuses",
        partial(RedisSharedProps, resources=Resources(memory_limit="1GB")),
        r"resources\.memory_limit: got '1GB'; expected a Kubernetes memory quantity.*; did you mean 1G\?",
    ),
    (
        "cpu_garbage",
        partial(RedisSharedProps, resources=Resources(cpu_limit="fast")),
        r"resources\.cpu_limit: got 'fast'; expected a Kubernetes CPU quantity",
    ),
    (
        "cpu_request_above_limit",
        partial(RedisSharedProps, resources=Resources(cpu_request="2", cpu_limit="1")),
        r"resources\.cpu_request: got '2'; expected at most cpu_limit '1'",
    ),
    (
        "unknown_eviction_policy",
        partial(RedisSharedProps, eviction_policy="lru"),  # type: ignore[arg-type]
        r"eviction_policy: got 'lru'; expected one of allkeys-lru, allkeys-lfu",
    ),
    (
        "image_without_tag",
        partial(RedisSharedProps, image="redis"),
        r"image: got 'redis'; expected an image reference with an explicit version tag",
    ),
    (
        "image_latest",
        partial(RedisSharedProps, image="redis:latest"),
        r"image: got 'redis:latest'; expected .*tag not 'latest'",
    ),
    (
        "exporter_without_tag",
        partial(RedisSharedProps, exporter_image="oliver006/redis_exporter"),
        r"exporter_image: got 'oliver006/redis_exporter'; expected an image reference",
    ),
    (
        "bad_digest",
        partial(RedisSharedProps, image_digest="sha256:abc"),
        r"image_digest: got 'sha256:abc'; expected None or a digest",
    ),
    (
        "storage_size_gb",
        partial(RedisSharedProps, storage_size="10GB"),
        r"storage_size: got '10GB'; expected a storage size in Mi, Gi, Ti or decimal M, G, T.*; did you mean 10G\?",
    ),
    (
        "storage_too_small",
        partial(RedisSharedProps, storage_size="512Mi"),
        r"storage_size: got '512Mi'; expected at least 1024Mi",
    ),
    (
        "bad_storage_class",
        partial(RedisSharedProps, storage_class="Local Path"),
        r"storage_class: got 'Local Path'; expected an RFC 1123",
    ),
    (
        "grace_not_above_shutdown_timeout",
        partial(RedisSharedProps, termination_grace_period_seconds=15),
        r"termination_grace_period_seconds: got 15; expected an integer from 20 to 3600",
    ),
    (
        "duplicate_client_namespaces",
        partial(RedisSharedProps, client_namespaces=("beersystem", "beersystem")),
        r"client_namespaces: .*expected no duplicates \('beersystem' appears twice\)",
    ),
    (
        "client_namespace_is_redis_own",
        partial(RedisSharedProps, client_namespaces=("redis",)),
        r"client_namespaces: got 'redis'; expected a namespace other than Redis's own",
    ),
    (
        "bad_monitoring_namespace",
        partial(RedisSharedProps, monitoring_namespace="Monitoring"),
        r"monitoring_namespace: got 'Monitoring'; expected an RFC 1123 label",
    ),
    (
        "bad_secret_name",
        partial(RedisSharedProps, credentials=RedisCredentials(tenant_secret="Bad_Name")),
        r"credentials\.tenant_secret: got 'Bad_Name'; expected a Secret name: an RFC 1123 subdomain",
    ),
    (
        "bad_secret_key",
        partial(RedisSharedProps, credentials=RedisCredentials(admin=SecretKeyRef(name="x", key="a/b"))),
        r"credentials\.admin\.key: got 'a/b'; expected a Secret key",
    ),
    (
        "empty_credentials_version",
        partial(RedisSharedProps, credentials=RedisCredentials(version="")),
        r"credentials\.version: got ''; expected a non-empty string",
    ),
]


@pytest.mark.parametrize(("props", "message"), [(p, m) for _, p, m in BAD], ids=[i for i, _, _ in BAD])
def test_fails_bad_input_with_one_clear_error(props: Callable[[], RedisSharedProps], message: str) -> None:
    with pytest.raises(PropError, match=message) as info:
        render(props())
    assert str(info.value).startswith(info.value.prop + ": got ")


def grace_periods(objects: list[Obj]) -> set[tuple[int, str]]:
    """Each StatefulSet's ``terminationGracePeriodSeconds`` and the bound its redis preStop hook is given."""
    return {
        (
            sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
            containers(sts)["redis"]["lifecycle"]["preStop"]["exec"]["command"][-1],
        )
        for sts in objects
        if sts["kind"] == "StatefulSet"
    }


@pytest.mark.parametrize(
    ("props", "grace"),
    [
        (RedisSharedProps(), 36),  # maxmemory 512 MiB: 16 s of rewrite, 10 s shutdown timeout, 10 s fsync
        (RedisSharedProps(resources=Resources(memory_limit="4Gi")), 64 + 10 + 10),
        # Issue 23: the shutdown timeout raised alone was refused, naming the grace period the user never set.
        (RedisSharedProps(shutdown_timeout_seconds=300), 16 + 300 + 10),
        (RedisSharedProps(termination_grace_period_seconds=25), 25),  # set: as is (a shorter rewrite budget)
    ],
)
def test_an_unset_grace_period_follows_the_shutdown_timeout_and_maxmemory(props: RedisSharedProps, grace: int) -> None:
    redis, objects = render(props)
    assert redis.termination_grace_period_seconds == grace
    assert grace_periods(objects) == {(grace, str(grace))}


def test_allow_any_source_is_an_explicit_opt_out() -> None:
    props = RedisSharedProps(
        load_balancer=LoadBalancer(ip="10.1.2.3", source_ranges=("0.0.0.0/0",), allow_any_source=True)
    )
    _, objects = render(props)
    assert find(objects, "Service", "redis-shared-external")["spec"]["loadBalancerSourceRanges"] == ["0.0.0.0/0"]
    rules = find(objects, "NetworkPolicy", "redis-shared")["spec"]["ingress"]
    (lan,) = [r for r in rules if r["ports"] == [{"port": 6381, "protocol": "TCP"}]]
    assert lan["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]  # through the LAN proxy's caps only
