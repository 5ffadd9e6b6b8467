"""RedisDisruptionBudget: one budget over both StatefulSets' pods, so a drain never takes both copies."""

from __future__ import annotations

from typing import Any

import cdk8s
from conftest import find

from redis_constructs import RedisShared, RedisSharedProps
from redis_constructs.server.disruption_budget import RedisDisruptionBudget, RedisDisruptionBudgetProps
from redis_constructs.server.names import RedisNames

Obj = dict[str, Any]


def test_one_budget_selects_every_redis_pod_of_both_roles(chart: cdk8s.Chart) -> None:
    names = RedisNames(name="cache", namespace="shared")
    budget = RedisDisruptionBudget(chart, "DisruptionBudget", RedisDisruptionBudgetProps(names=names))
    (pdb,) = chart.to_json()
    assert pdb["kind"] == "PodDisruptionBudget"
    assert pdb["metadata"]["namespace"] == "shared"
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": names.labels()}}
    assert budget.node.default_child is budget.resource


def test_the_budget_covers_the_pods_of_both_statefulsets(chart: cdk8s.Chart) -> None:
    RedisShared(chart, "Redis", RedisSharedProps(replicas=2))
    objects = list(chart.to_json())
    selector = find(objects, "PodDisruptionBudget", "redis-shared")["spec"]["selector"]["matchLabels"]
    for name in ("redis-shared-master", "redis-shared-replicas"):
        labels = find(objects, "StatefulSet", name)["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name


def test_site_budget_allows_one_pod_at_a_time(site_objects: list[Obj]) -> None:
    pdb = find(site_objects, "PodDisruptionBudget", "redis-shared")
    assert pdb["spec"]["maxUnavailable"] == 1
