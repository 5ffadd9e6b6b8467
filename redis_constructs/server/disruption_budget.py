"""RedisDisruptionBudget: one PodDisruptionBudget over both StatefulSets' pods."""

from __future__ import annotations

from dataclasses import dataclass

import constructs
from cdk8s_plus_28 import k8s

from ..core.rendering import int_or_string
from .names import RedisNames

#: Voluntary disruptions (a drain, an eviction) take at most this many Redis pods at a time.
MAX_UNAVAILABLE = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisDisruptionBudgetProps:
    """Props of :class:`RedisDisruptionBudget`."""

    #: The budget's name and the labels of every Redis pod it selects.
    names: RedisNames


class RedisDisruptionBudget(constructs.Construct):
    """PodDisruptionBudget ``<name>``: a drain may take the primary or a replica, never both at once.

    One budget across both roles, selecting every Redis pod: two budgets (one per StatefulSet) would each allow
    one eviction, so a node drain could take the primary and its replica together.

    Example::

        names = RedisNames(name="redis-shared", namespace="redis")
        RedisDisruptionBudget(chart, "DisruptionBudget", RedisDisruptionBudgetProps(names=names))
    """

    def __init__(self, scope: constructs.Construct, id: str, props: RedisDisruptionBudgetProps) -> None:
        super().__init__(scope, id)
        names = props.names
        #: The budget (``node.default_child``).
        self.resource = k8s.KubePodDisruptionBudget(
            self,
            "Resource",
            metadata=names.meta(names.name),
            spec=k8s.PodDisruptionBudgetSpec(
                max_unavailable=int_or_string(MAX_UNAVAILABLE),
                selector=k8s.LabelSelector(match_labels=names.labels()),
            ),
        )
