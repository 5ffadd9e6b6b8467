"""RedisNames: every name and label RedisShared's children derive from, as clients and Services know them."""

from __future__ import annotations

import cdk8s

from redis_constructs import RedisShared, RedisSharedProps, Role
from redis_constructs.server.names import RedisNames
from redis_constructs.server.roles import ROLE_LABEL

NAMES = RedisNames(name="cache", namespace="shared")


def test_names_are_the_ones_clients_and_the_statefulsets_use() -> None:
    assert NAMES.master_host == "cache-master.shared.svc.cluster.local"
    assert NAMES.replicas_host == "cache-replicas.shared.svc.cluster.local"
    assert NAMES.statefulset_name(Role.PRIMARY) == "cache-master"
    assert NAMES.statefulset_name(Role.REPLICA) == "cache-replicas"
    assert NAMES.pod_host(Role.REPLICA, 2) == "cache-replicas-2.cache-headless.shared.svc.cluster.local"
    assert (NAMES.config_map_name, NAMES.scripts_config_map_name) == ("cache-configuration", "cache-scripts")


def test_labels_select_by_statefulset_and_by_current_role() -> None:
    assert NAMES.labels() == {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "cache"}
    assert NAMES.labels(Role.REPLICA)["app.kubernetes.io/component"] == "replica"
    assert NAMES.role_selector(Role.PRIMARY) == {**NAMES.labels(), ROLE_LABEL: "master"}
    assert "app.kubernetes.io/component" not in NAMES.role_selector(Role.PRIMARY)


def test_meta_renders_no_annotations_key_without_annotations() -> None:
    assert NAMES.meta("x").annotations is None
    meta = NAMES.meta("x", role=Role.PRIMARY, annotations={"a": "b"})
    assert meta.annotations == {"a": "b"}
    assert meta.labels == {
        **NAMES.labels(Role.PRIMARY),
        "app.kubernetes.io/managed-by": "cdk8s",
        "app.kubernetes.io/part-of": "cache",
    }


def test_redis_shared_exposes_the_same_names() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "t", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", RedisSharedProps(name="cache", namespace="shared"))
    assert redis.names == NAMES
    assert redis.master_host == NAMES.master_host
    assert redis.pod_host(Role.PRIMARY, 0) == NAMES.pod_host(Role.PRIMARY, 0)
    assert redis.statefulset_name(Role.REPLICA) == NAMES.statefulset_name(Role.REPLICA)
    assert redis.pod_labels == NAMES.labels()


def test_metrics_selector_avoids_the_label_argocd_rewrites_and_the_metrics_service_carries_it() -> None:
    assert NAMES.metrics_selector() == {
        "app.kubernetes.io/name": "redis",
        "app.kubernetes.io/part-of": "cache",
        "app.kubernetes.io/component": "metrics",
    }
    chart = cdk8s.Chart(cdk8s.App(), "c")
    redis = RedisShared(chart, "R", RedisSharedProps(name="cache", namespace="shared"))
    service = next(o for o in chart.to_json() if o["kind"] == "Service" and o["metadata"]["name"] == "cache-metrics")
    assert redis.metrics_service_labels == NAMES.metrics_selector()
    assert NAMES.metrics_selector().items() <= service["metadata"]["labels"].items()
