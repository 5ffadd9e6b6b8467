"""redis_constructs.server.lan_proxy: the settings' rules and the rendered haproxy.cfg (checked by haproxy -c)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from redis_constructs import RedisShared, RedisSharedProps
from redis_constructs.core.errors import PropError
from redis_constructs.server.lan_proxy import (
    LanProxy,
    LanProxySettings,
    derive_lan_proxy_settings,
    render_haproxy_cfg,
)
from redis_constructs.server.props import LoadBalancer


def test_derived_caps_leave_three_quarters_of_maxclients_to_the_cluster() -> None:
    s = derive_lan_proxy_settings(4096, upstream_port=6380)
    assert (s.lan_max_connections, s.per_source_max_connections) == (1024, 64)
    assert derive_lan_proxy_settings(128, upstream_port=6380).lan_max_connections == 32


def test_rendered_caps_and_timeouts() -> None:
    cfg = render_haproxy_cfg(derive_lan_proxy_settings(4096, upstream_port=6380))
    assert "tcp-request connection reject if { fe_conn gt 1024 }" in cfg
    assert "tcp-request connection reject if { sc0_conn_cur gt 64 }" in cfg
    assert re.search(r"^\s+maxconn 1025$", cfg, re.M)
    assert "tcp-request inspect-delay 5s" in cfg and "tcp-request content accept if { req.ssl_hello_type 1 }" in cfg
    assert "server redis 127.0.0.1:6380" in cfg
    assert "use-service prometheus-exporter" in cfg


@pytest.mark.parametrize("tls", [True, False])
def test_haproxy_accepts_the_config(tmp_path: Path, tls: bool) -> None:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.fail("haproxy not found on PATH: install the Debian package 'haproxy'")
    f = tmp_path / "haproxy.cfg"
    f.write_text(render_haproxy_cfg(derive_lan_proxy_settings(4096, upstream_port=6380, tls=tls)))
    out = subprocess.run([haproxy, "-c", "-f", str(f)], capture_output=True, text=True, check=False, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr


def test_without_tls_any_first_bytes_are_accepted() -> None:
    cfg = render_haproxy_cfg(derive_lan_proxy_settings(4096, upstream_port=6379, tls=False))
    assert "tcp-request content accept if { req.len gt 0 }" in cfg and "ssl_hello" not in cfg


def test_fails_per_source_above_the_lan_cap() -> None:
    with pytest.raises(ValueError, match=r"per_source_max_connections: got 9; expected 1 to lan_max_connections \(8\)"):
        LanProxySettings(
            lan_max_connections=8,
            per_source_max_connections=9,
            hello_timeout_seconds=5,
            idle_timeout_seconds=60,
            upstream_port=6380,
        )


def test_fails_idle_timeout_below_hello_timeout() -> None:
    with pytest.raises(ValueError, match=r"idle_timeout_seconds: got 2; expected at least hello_timeout_seconds \(5\)"):
        LanProxySettings(
            lan_max_connections=8,
            per_source_max_connections=4,
            hello_timeout_seconds=5,
            idle_timeout_seconds=2,
            upstream_port=6380,
        )


def test_lan_proxy_overrides_are_bounded_by_maxclients() -> None:
    s = LanProxy(max_connections=200, per_source_max_connections=7).settings(
        maxclients=4096, upstream_port=6380, tls=True
    )
    assert (s.lan_max_connections, s.per_source_max_connections) == (200, 7)
    assert (
        LanProxy(max_connections=200).settings(maxclients=4096, upstream_port=6380, tls=True).per_source_max_connections
        == 12
    )


def test_fails_lan_max_connections_leaving_no_reserve() -> None:
    with pytest.raises(PropError, match=r"^lan_proxy\.max_connections: got 4070; expected an integer from 1 to 4064$"):
        LanProxy(max_connections=4070).settings(maxclients=4096, upstream_port=6380, tls=True)


def test_fails_per_source_above_the_lan_proxy_cap() -> None:
    with pytest.raises(
        PropError, match=r"^lan_proxy\.per_source_max_connections: got 300; expected an integer from 1 to 200$"
    ):
        LanProxy(max_connections=200, per_source_max_connections=300).settings(
            maxclients=4096, upstream_port=6380, tls=True
        )


def test_fails_lan_proxy_idle_below_hello() -> None:
    with pytest.raises(
        PropError, match=r"^lan_proxy\.idle_timeout_seconds: got 3; expected an integer from 10 to 86400$"
    ):
        LanProxy(hello_timeout_seconds=10, idle_timeout_seconds=3)


def test_fails_lan_proxy_unpinned_image() -> None:
    with pytest.raises(PropError, match=r"^lan_proxy\.image: got 'haproxy:latest'"):
        LanProxy(image="haproxy:latest")


def test_the_sidecar_is_rendered_only_with_a_load_balancer() -> None:
    import cdk8s

    def containers(props: RedisSharedProps) -> dict[str, list[str]]:
        chart = cdk8s.Chart(cdk8s.App(), "t", disable_resource_name_hashes=True)
        RedisShared(chart, "Redis", props)
        return {
            o["metadata"]["name"]: [c["name"] for c in o["spec"]["template"]["spec"]["containers"]]
            for o in chart.to_json()
            if o["kind"] == "StatefulSet"
        }

    lb = LoadBalancer(ip="192.168.4.203", source_ranges=("192.168.4.0/24",))
    assert containers(RedisSharedProps(load_balancer=lb)) == {
        "redis-shared-master": ["redis", "metrics", "acl-reload", "lan-proxy"],
        "redis-shared-replicas": ["redis", "metrics", "acl-reload", "lan-proxy"],  # the role moves: both have it
    }
    assert containers(RedisSharedProps()) == {
        "redis-shared-master": ["redis", "metrics", "acl-reload"],
        "redis-shared-replicas": ["redis", "metrics", "acl-reload"],
    }
