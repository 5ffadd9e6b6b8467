"""Tenants in the synthesized pods (tests/support/podrunner): two tenants + beersystem on ``default``.

The objects are the site's redis-shared chart with ``shop`` (prefix ``shop:``) and ``blog`` (prefix ``blog:``)
declared next to beersystem, rendered by ``main.build_app`` (Secrets out of band). A tenant added to the running
pods is a re-render (``cluster.apply``: the StatefulSets do not change, so no pod rolls) plus the new Secret key;
the pod runner refreshes the mounted ConfigMap and Secret like the kubelet, and the ``acl-reload`` sidecar
(running as in the pod) applies it. Redis's pid and uptime show it never restarted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from podrunner import Cluster
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError
from redis_pods import (
    ADMIN_PW,
    ADMIN_USER,
    CLIENT_PW,
    PASSWORDS_BY_FILE,
    PRIMARY,
    connect,
    info,
    out_of_band_secrets,
    start_primary_first,
    wait_for,
)

import main
from redis_constructs import SecretSource, Tenant
from redis_constructs.gitops.synth import chart_objects

pytestmark = pytest.mark.runtime

SHOP = Tenant(namespace="shop", key_prefix="shop:")
BLOG = Tenant(namespace="blog", key_prefix="blog:")
LATE = Tenant(namespace="late", key_prefix="late:")
PW = {"beersystem": CLIENT_PW, "shop": "shop-Pw_0123456789abc", "blog": "blog-Pw_0123456789abc"}
SHOP_NEW = "shop-NEW-Pw_0123456789"
LATE_PW = "late-Pw_0123456789abc"
TENANT_SECRET = ("redis", "redis-shared-client")
#: The sidecar's round here: the rendered 10 s (acl_reload.RELOAD_INTERVAL_SECONDS, its unit tests) would make this
#: module wait three rounds (~30 s) for nothing but the sleep. The script's own variable sets it, the only change to
#: the rendered pod (tests/runtime/test_acl_reload.py runs the script with its variables the same way).
RELOAD_SECONDS = 1
#: A new tenant logs in within two reload rounds of the refresh, plus the rounds' own work on a loaded machine (the
#: kubelet's delay is not emulated).
WITHIN = 2 * RELOAD_SECONDS + 5


def objects(*extra: Tenant) -> list[dict[str, Any]]:
    redis_props = dataclasses.replace(main.REDIS, tenants=(*main.REDIS.tenants, SHOP, BLOG, *extra), replicas=0)
    charts = chart_objects(main.build_app(redis_props, SecretSource.existing()))
    objs = list(charts["redis-shared"])
    for sts in (o for o in objs if o["kind"] == "StatefulSet"):
        (sidecar,) = (c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "acl-reload")
        sidecar["env"] = [
            *sidecar.get("env", []),
            {"name": "ACL_RELOAD_INTERVAL_SECONDS", "value": str(RELOAD_SECONDS)},
        ]
    return objs


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    objs = objects()
    secrets = out_of_band_secrets(objs, PASSWORDS_BY_FILE, tenants=PW)
    with Cluster(objs, tmp_path_factory.mktemp("tenants"), secrets=secrets) as c:
        start_primary_first(c, others=())
        yield c


def set_tenant_passwords(cluster: Cluster, passwords: dict[str, str]) -> None:
    """The controller updates Redis's tenants Secret; the kubelet refreshes the mounted files."""
    cluster.set_secret(*TENANT_SECRET, passwords)
    for pod in cluster.pods.values():
        pod.refresh_volumes()


def logs_in(cluster: Cluster, user: str | None, password: str) -> bool:
    try:
        with connect(cluster.pod(PRIMARY), user, password) as c:
            return bool(c.ping())
    except (AuthenticationError, ResponseError):
        return False


def server_state(cluster: Cluster) -> tuple[int, int]:
    server = info(cluster.pod(PRIMARY), "server")
    return int(server["process_id"]), int(server["uptime_in_seconds"])


def test_each_tenant_reaches_its_own_keys_only(cluster: Cluster) -> None:
    pod = cluster.pod(PRIMARY)
    with (
        connect(pod, None, PW["beersystem"]) as beer,
        connect(pod, "shop", PW["shop"]) as shop,
        connect(pod, "blog", PW["blog"]) as blog,
    ):
        assert beer.set("session:1", "b") and shop.set("shop:cart:1", "s") and blog.set("blog:post:1", "p")
        assert beer.get("shop:cart:1") == "s"  # beersystem on `default` reaches every key (docs/tenants.md)
        for denied in (
            lambda: shop.get("blog:post:1"),
            lambda: shop.get("session:1"),
            lambda: shop.set("blog:post:1", "x"),
            lambda: shop.delete("session:1"),
            lambda: shop.publish("blog:events", "x"),
            lambda: shop.keys("*"),
            shop.randomkey,
            shop.flushall,
            shop.flushdb,
            lambda: shop.swapdb(0, 1),
            lambda: shop.execute_command("SELECT", "1"),
            lambda: shop.execute_command("MOVE", "shop:cart:1", "1"),
            lambda: blog.get("shop:cart:1"),
        ):
            with pytest.raises(NoPermissionError):
                denied()
        assert shop.publish("shop:events", "x") == 0
        # What confinement does not hide: SCAN lists every tenant's key names (values stay out of reach).
        assert {"blog:post:1", "session:1"} <= set(shop.scan_iter(count=1000))
    assert not logs_in(cluster, "shop", PW["blog"])  # another tenant's password
    assert not logs_in(cluster, "shop", "wrong-Pw_0123456789")
    assert not logs_in(cluster, None, PW["shop"])  # a tenant's password is not `default`'s


def test_a_tenant_added_to_running_pods_logs_in_without_a_restart(cluster: Cluster) -> None:
    before = server_state(cluster)
    pod = cluster.pod(PRIMARY)
    with connect(pod, "shop", PW["shop"]) as shop_conn:
        shop_conn.set("shop:alive", "1")
        assert not logs_in(cluster, "late", LATE_PW)
        set_tenant_passwords(cluster, {**{f"{t}.password": p for t, p in PW.items()}, "late.password": LATE_PW})
        changed = cluster.apply(objects(LATE))
        assert changed == []  # the StatefulSets are the same: no pod rolls
        took = wait_for("the late tenant's login", lambda: logs_in(cluster, "late", LATE_PW), timeout=WITHIN)
        with connect(pod, "late", LATE_PW) as late:
            assert late.set("late:k", "v")
            with pytest.raises(NoPermissionError):
                late.get("shop:alive")
        # The unchanged tenant's connection survived the reload.
        assert shop_conn.get("shop:alive") == "1"
    pid, uptime = server_state(cluster)
    assert pid == before[0] and uptime >= before[1]
    assert "user late updated" in pod.logs("acl-reload")
    print(f"late tenant logged in {took:.1f} s after the refresh")


def test_rotation_accepts_both_passwords_then_only_the_new(cluster: Cluster) -> None:
    before = server_state(cluster)
    base = {f"{t}.password": p for t, p in PW.items()} | {"late.password": LATE_PW}
    with connect(cluster.pod(PRIMARY), "shop", PW["shop"]) as old_conn:
        assert old_conn.ping()  # connected (and authenticated) before the rotation
        # First commit: the old password moves to shop.previous-password, the new one is shop.password.
        set_tenant_passwords(cluster, base | {"shop.password": SHOP_NEW, "shop.previous-password": PW["shop"]})
        wait_for("the new password", lambda: logs_in(cluster, "shop", SHOP_NEW), timeout=WITHIN)
        assert logs_in(cluster, "shop", PW["shop"])
        # Second commit: only the new one.
        set_tenant_passwords(cluster, base | {"shop.password": SHOP_NEW})
        wait_for("the old password refused", lambda: not logs_in(cluster, "shop", PW["shop"]), timeout=WITHIN)
        assert logs_in(cluster, "shop", SHOP_NEW)
        # A connection authenticated with the old password stays until it reconnects.
        assert old_conn.get("shop:alive") == "1"
    pid, uptime = server_state(cluster)
    assert pid == before[0] and uptime >= before[1]


def test_admin_sees_the_tenants_as_rendered(cluster: Cluster) -> None:
    with connect(cluster.pod(PRIMARY), ADMIN_USER, ADMIN_PW) as admin:
        users = set(admin.acl_users())
    assert {"default", "shop", "blog", "late", "admin", "replication", "exporter"} <= users


def test_users_acl_in_the_pod_is_what_runs(cluster: Cluster) -> None:
    """The sidecar rewrote users.acl after each change: a restarted Redis would load the running users."""
    runtime = cluster.pod(PRIMARY).volume_dir("runtime")
    text = (runtime / "users.acl").read_text()
    assert "user late reset on #" in text
    shop_line = next(line for line in text.splitlines() if line.startswith("user shop "))
    assert shop_line.count(" #") == 1  # the rotation ended: one password
