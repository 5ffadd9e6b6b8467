"""Per-tenant metrics on real programs: the rendered pods' exporter (Debian's redis_exporter 1.45) with the
rendered exporter user and settings, scraped the way the rendered ServiceMonitor says.

* The key-count endpoint: ``/scrape`` with the ServiceMonitor's ``params`` (URL-encoded as Prometheus does), on
  the pods its relabelings keep, returns ``redis_keys_count`` for the confined tenant's prefix and the right count.
* ``--export-client-list``: the exporter's ``/metrics`` lists the connections (1.45's shape,
  ``redis_connected_clients_details``, without ``user``; v1.64+ adds ``redis_connected_client_info{user}``, covered
  by the v1.88 fixture in tests/unit/monitoring), with a client's name.
* The exporter user's rules are enough: no NOPERM in either exporter's log.

The site (beersystem, unconfined) renders no key-count endpoint, so the pods here are the site's with one more
confined tenant ``shop`` (a props change: the pods are the same, the ServiceMonitor gains the endpoint).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from podrunner import Cluster
from redis_pods import (
    CLIENT_PW,
    CLIENT_USER,
    PASSWORDS_BY_FILE,
    PRIMARY,
    REPLICA,
    connect,
    kept_pods,
    metrics,
    out_of_band_secrets,
    scrape,
    scrape_endpoint,
    start_primary_first,
    wait_for,
)

import main
from redis_constructs import SecretSource, Tenant
from redis_constructs.gitops.synth import chart_objects

pytestmark = pytest.mark.runtime

Obj = dict[str, Any]
SHOP = Tenant(namespace="shop", key_prefix="shop:")
SHOP_KEYS = 3


def render() -> list[Obj]:
    # The Secrets come out of band (the site's sealed values hold no password for the test tenant shop).
    props = dataclasses.replace(main.REDIS, tenants=(*main.REDIS.tenants, SHOP))
    return list(chart_objects(main.build_app(redis=props, source=SecretSource.existing()))["redis-shared"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Obj], Cluster]]:
    objects = render()
    secrets = out_of_band_secrets(objects, PASSWORDS_BY_FILE)
    with Cluster(objects, tmp_path_factory.mktemp("tenant-metrics"), secrets=secrets) as cluster:
        start_primary_first(cluster, timeout=60)
        yield objects, cluster


def key_count_endpoint(objects: list[Obj]) -> Obj:
    return scrape_endpoint(objects, "key-counts")


def test_key_count_scrape_counts_the_tenant_prefix_on_the_replica(world: tuple[list[Obj], Cluster]) -> None:
    objects, cluster = world
    endpoint = key_count_endpoint(objects)
    assert [p.name for p in kept_pods(endpoint, objects, cluster)] == [REPLICA]
    primary, replica = cluster.pod(PRIMARY), cluster.pod(REPLICA)
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        for i in range(SHOP_KEYS):
            c.set(f"shop:cart:{i}", "x")
        c.set("beer:session:1", "y")  # another tenant's key: not counted
        c.set("shopping:list", "z")  # not under "shop:" either
    with connect(replica, CLIENT_USER, CLIENT_PW) as r:
        wait_for("the replica to hold the keys", lambda: r.dbsize() >= SHOP_KEYS + 2, timeout=15)
    text = scrape(replica, endpoint)
    counts = re.findall(r'^redis_keys_count\{db="db0",key="([^"]*)"\} (\S+)$', text, re.M)
    assert counts == [("shop:*", str(SHOP_KEYS))], text[-2000:]


def test_exporter_lists_clients_with_their_names(world: tuple[list[Obj], Cluster]) -> None:
    _objects, cluster = world
    primary = cluster.pod(PRIMARY)
    with connect(primary, CLIENT_USER, CLIENT_PW, client_name="shop-web") as c:
        assert c.ping()
        names = [labels for labels, _ in metrics(primary).get("redis_connected_clients_details", [])]
    assert any('name="shop-web"' in labels for labels in names), names


def test_exporter_user_may_run_what_the_exporter_sends(world: tuple[list[Obj], Cluster]) -> None:
    objects, cluster = world
    scrape(cluster.pod(REPLICA), key_count_endpoint(objects))
    for name in (PRIMARY, REPLICA):
        metrics(cluster.pod(name))  # one more scrape each: CLIENT LIST, INFO, SLOWLOG, LATENCY ...
        log = cluster.pod(name).logs("metrics")
        assert "NOPERM" not in log, log[-2000:]
        assert "CLIENT LIST err" not in log and "couldn't get key count" not in log, log[-2000:]
