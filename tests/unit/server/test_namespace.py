"""RedisNamespace: the Pod Security ``restricted`` namespace and the tokenless ServiceAccount, first in the chart."""

from __future__ import annotations

from typing import Any

import cdk8s
from conftest import find, of_kind

from redis_constructs import RedisShared, RedisSharedProps
from redis_constructs.server.names import RedisNames
from redis_constructs.server.namespace import RedisNamespace, RedisNamespaceProps

Obj = dict[str, Any]


def test_the_namespace_enforces_restricted_and_the_service_account_mounts_no_token(chart: cdk8s.Chart) -> None:
    ns = RedisNamespace(chart, "Namespace", RedisNamespaceProps(names=RedisNames(name="cache", namespace="shared")))
    objects = list(chart.to_json())
    assert [o["kind"] for o in objects] == ["Namespace", "ServiceAccount"]
    labels = find(objects, "Namespace", "shared")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.28"
    sa = find(objects, "ServiceAccount", "cache", "shared")
    assert sa["automountServiceAccountToken"] is False
    assert ns.service_account_name == "cache"
    assert ns.node.default_child is ns.resource


def test_redis_shared_renders_the_namespace_first_and_its_pods_use_the_service_account(chart: cdk8s.Chart) -> None:
    redis = RedisShared(chart, "Redis", RedisSharedProps())
    objects = list(chart.to_json())
    assert objects[0]["kind"] == "Namespace"
    assert objects[0]["metadata"]["name"] == redis.namespace
    for sts in of_kind(objects, "StatefulSet"):
        assert sts["spec"]["template"]["spec"]["serviceAccountName"] == redis.service_account_name
