"""Suggestions come from the typed value: the nearest valid one, or none."""

from __future__ import annotations

import pytest

from redis_constructs.core.suggest import nearest, prometheus_label_name_fix

PODS = ("redis-shared-master-0", "redis-shared-replicas-0")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("redis-shared-replica-0", "redis-shared-replicas-0"),  # the failover typo: never the dead master
        ("redis-shared-replicas0", "redis-shared-replicas-0"),
        ("Redis-Shared-Replicas-0", "redis-shared-replicas-0"),
        ("redis-shared-master0", "redis-shared-master-0"),
        ("redis-shared-primary-0", "redis-shared-master-0"),
        ("postgres", None),
        ("redis-shared-master-0", None),  # valid: nothing to suggest
        (None, None),
    ],
)
def test_nearest_pod(typed: object, meant: str | None) -> None:
    assert nearest(typed, PODS) == meant


@pytest.mark.parametrize(
    ("typed", "fixed"),
    [("exported-role", "exported_role"), ("my.role", "my_role"), ("1role", "_1role"), ("role", None), ("", None)],
)
def test_label_name_fix_is_the_typed_name_made_valid(typed: str, fixed: str | None) -> None:
    assert prometheus_label_name_fix(typed) == fixed
