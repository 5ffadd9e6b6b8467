"""The LAN proxy sidecar (docs/resilience.md) against a real haproxy and redis-server with TLS, on the pod runner.

A chart with a LoadBalancer, TLS and small caps (the LAN 24, one address 8, hello timeout 2 s) is synthesized
here; the pod runner runs the primary with its ``lan-proxy`` container. A "LAN" network namespace on the
runner's bridge, with five addresses, floods the proxy's port without a password: silent sockets, TLS
handshakes past one address's cap, then past the LAN's cap from four more addresses. Meanwhile a tenant
(another namespace: the host side of the bridge) connects straight to Redis and works, Redis's process stays
the same, its probes pass, and HAProxy's exporter counts the refusals the RedisLanConnectionsRejected alert
reads (promtool evaluates it on the scraped value).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml
from podrunner import Cluster, Pod, host
from redis_pods import CLIENT_PW, CLIENT_USER, PASSWORDS_BY_FILE, PRIMARY, Ca, connect, out_of_band_secrets

from redis_constructs import RedisShared, RedisSharedProps, Tenant
from redis_constructs.monitoring.resilience_alerts import render_resilience_group
from redis_constructs.server.lan_proxy import LanProxy
from redis_constructs.server.props import LoadBalancer
from redis_constructs.server.tls import ExistingTlsSecret, Tls

pytestmark = pytest.mark.runtime

LAN_CAP, PER_SOURCE, HELLO_SECONDS = 24, 8, 2
#: Named like the runner's own (its slot's prefix): removed with them after a crash, no clash with another slot.
LAN_NETNS = f"{host.PREFIX}lan"
LAN_ADDRESSES = [f"{host.SUBNET}.{n}" for n in range(100, 106)]
PROXY_PORT, PROXY_METRICS_PORT = 6381, 9101

#: Runs inside the LAN namespace: the flood, one JSON line of results, then holds its connections until stdin
#: closes. argv: target ip, port, hello seconds, per-source tries as JSON {source: tries}.
FLOOD = r"""
import json, socket, ssl, sys, time
target, port, hello, plan = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
held, out = [], {"silent_closed": 0, "ok": {}, "refused": {}}
silent = []
for _ in range(plan.pop("silent", 0)):
    s = socket.create_connection((target, port), timeout=5); silent.append(s)
deadline = time.monotonic() + hello + 3
for s in silent:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        closed = s.recv(1) == b""
    except ConnectionResetError:
        closed = True
    except TimeoutError:
        closed = False
    out["silent_closed"] += closed
out["silent_seconds"] = round(time.monotonic() - (deadline - hello - 3), 1)
for source, tries in plan.items():
    ok = refused = 0
    for _ in range(tries):
        raw = socket.socket(); raw.settimeout(5); raw.bind((source, 0))
        try:
            raw.connect((target, port)); tls = ctx.wrap_socket(raw); held.append(tls); ok += 1
        except (ConnectionResetError, ssl.SSLError, OSError):
            refused += 1; raw.close()
    out["ok"][source], out["refused"][source] = ok, refused
print(json.dumps(out), flush=True)
sys.stdin.read()
"""


def lan_objects() -> list[dict[str, object]]:
    chart = cdk8s.Chart(cdk8s.App(), "lan", disable_resource_name_hashes=True)
    RedisShared(
        chart,
        "Redis",
        RedisSharedProps(
            replicas=0,
            # The tenant sends a password only (Redis's default user), as beersystem does.
            tenants=(Tenant(namespace="beersystem", password_only=True),),
            load_balancer=LoadBalancer(ip=f"{host.SUBNET}.200", source_ranges=(f"{host.SUBNET}.0/24",)),
            lan_proxy=LanProxy(
                max_connections=LAN_CAP, per_source_max_connections=PER_SOURCE, hello_timeout_seconds=HELLO_SECONDS
            ),
            tls=Tls(certificates=ExistingTlsSecret(secret_name="redis-lan-tls"), reload_interval_seconds=1),
        ),
    )
    return list(chart.to_json())


@pytest.fixture(scope="module")
def primary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    objects = lan_objects()
    secrets = out_of_band_secrets(objects, PASSWORDS_BY_FILE, ca=Ca("redis-shared LAN test CA"))
    with Cluster(objects, tmp_path_factory.mktemp("redis-lan"), secrets=secrets) as c:
        c.start([PRIMARY], timeout=40)
        host.add_pod_netns(LAN_NETNS, LAN_ADDRESSES[0])
        try:
            for address in LAN_ADDRESSES[1:]:
                host.run(["ip", "-n", LAN_NETNS, "addr", "add", f"{address}/24", "dev", "eth0"])
            yield c.pod(PRIMARY)
        finally:
            host.delete_pod_netns(LAN_NETNS)


def flood(pod: Pod, plan: dict[str, int]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start the flood in the LAN namespace; its results once every connection was tried (still held)."""
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            LAN_NETNS,
            sys.executable,
            "-c",
            FLOOD,
            pod.ip,
            str(PROXY_PORT),
            str(HELLO_SECONDS),
            json.dumps(plan),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    return proc, json.loads(line)


def proxy_metric(pod: Pod, name: str) -> float:
    url = f"http://127.0.0.1:{PROXY_METRICS_PORT}/metrics"
    out = pod.netns_exec(["curl", "-sS", "--noproxy", "*", "--max-time", "5", url], timeout=10).stdout
    (value,) = [line.rpartition(" ")[2] for line in out.splitlines() if line.startswith(f'{name}{{proxy="lan"}}')]
    return float(value)


def redis_info(pod: Pod) -> dict[str, str]:
    with connect(pod, CLIENT_USER, CLIENT_PW) as c:
        return {k: str(v) for k, v in c.info().items()}


def test_a_lan_flood_without_a_password_cannot_lock_the_tenants_out(primary: Pod, tmp_path: Path) -> None:
    pid = primary.container("redis").pid
    process_id = redis_info(primary)["process_id"]
    first, others, late = LAN_ADDRESSES[0], LAN_ADDRESSES[1:5], LAN_ADDRESSES[5]
    plan: dict[str, int] = {"silent": 3, first: 20, **{a: 8 for a in others}, late: 1}
    proc, seen = flood(primary, plan)
    try:
        # Silent sockets are closed after the hello timeout, before Redis ever sees them.
        assert seen["silent_closed"] == 3, seen
        # In order: one address reaches its cap, two more fill the LAN's share (3 x 8 = 24), the rest find it full.
        assert seen["ok"] == {first: PER_SOURCE, **dict(zip(others, [8, 8, 0, 0], strict=True)), late: 0}, seen
        assert sum(seen["refused"].values()) == 12 + 8 + 8 + 1, seen
        assert seen["silent_seconds"] <= HELLO_SECONDS + 1, seen
        # The tenant, from another namespace, connects and works while the LAN holds its whole share.
        with connect(primary, CLIENT_USER, CLIENT_PW) as tenant:
            assert tenant.set("tenant:key", "still-here") is True
            assert tenant.get("tenant:key") == "still-here"
        info = redis_info(primary)
        assert int(info["connected_clients"]) <= LAN_CAP + 4  # the LAN's share, the exporter, this client
        assert info["rejected_connections"] == "0"  # Redis itself never had to refuse anyone
        assert (primary.container("redis").pid, info["process_id"]) == (pid, process_id)
        assert primary.probe("redis", "liveness") and primary.probe("redis", "readiness")
        assert primary.probe("lan-proxy", "liveness")
        assert proxy_metric(primary, "haproxy_frontend_current_sessions") == LAN_CAP
        denied = proxy_metric(primary, "haproxy_frontend_denied_connections_total")
        assert denied >= 29
    finally:
        proc.communicate(input="", timeout=20)
    # The flood gone, a LAN client gets in again.
    proc, seen = flood(primary, {late: 1})
    proc.communicate(input="", timeout=20)
    assert seen["ok"] == {late: 1}, seen
    assert_alert_fires(denied, tmp_path)


def assert_alert_fires(denied: float, tmp_path: Path) -> None:
    """RedisLanConnectionsRejected on the counter value this flood produced (a scrape before, two after)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found on PATH: install the Debian package 'prometheus'")
    selector = 'namespace="redis",service="redis-shared-metrics"'
    group = render_resilience_group(
        selector=selector,
        namespace="redis",
        pod_regex="redis-shared-.*",
        lan_proxy=True,
        tls_certificate=None,
        tls_reload=False,
    )
    group["rules"] = [{k: v for k, v in r.items() if k != "annotations"} for r in group["rules"]]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [group]}))
    series = f'haproxy_frontend_denied_connections_total{{{selector},pod="{PRIMARY}",proxy="lan"}}'
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": f"0 0 {denied:g} {denied:g}"}],
                "alert_rule_test": [
                    {
                        "eval_time": "3m",
                        "alertname": "RedisLanConnectionsRejected",
                        "exp_alerts": [{"exp_labels": {"pod": PRIMARY, "severity": "warning"}}],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    run = subprocess.run(
        [promtool, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
