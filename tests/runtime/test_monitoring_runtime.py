"""SC-005 on real programs: Prometheus scrapes the running pods' exporters as the ServiceMonitor says.

The synthesized redis-shared pods run as local processes (tests/support/podrunner). A real `prometheus` (Debian
package) gets one scrape job built from the rendered ServiceMonitor — its interval, path and port, the
Service it selects, the pods that Service selects and the relabelings' `pod`/`role` labels — and
`redis_up` must be 1 for both instances through the HTTP API within two scrape intervals.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from podrunner import HOST_IP, Cluster, load_manifests
from podrunner.k8s import selector_matches
from redis_pods import out_of_band_secrets, start_primary_first

pytestmark = pytest.mark.runtime

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "dist" / "redis-shared" / "manifests.yaml"
PASSWORDS = {
    "client-password": "mon-Client_0123456789",
    "replication-password": "mon-Repl_0123456789",
    "exporter-password": "mon-Exporter_0123456",
    "admin-password": "mon-Admin_0123456789",
    "migration-password": "mon-Migration_0123456",
    "backup-password": "mon-Backup_0123456789",
    "check-password": "mon-Check_0123456789",
}
Obj = dict[str, Any]


def _one(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seconds(duration: str) -> int:
    assert duration.endswith("s"), duration
    return int(duration[:-1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    objects = load_manifests(MANIFESTS)
    with Cluster(objects, tmp_path_factory.mktemp("mon"), secrets=out_of_band_secrets(objects, PASSWORDS)) as c:
        start_primary_first(c, admin_password=PASSWORDS["admin-password"], timeout=60)
        yield c


def scrape_config(objects: list[Obj], cluster: Cluster, port_name: str = "metrics") -> tuple[dict[str, Any], int]:
    """The scrape job the Prometheus Operator would generate from the rendered ServiceMonitor's endpoint on
    ``port_name`` (``metrics``: redis_exporter; ``lan-metrics``: the LAN proxy's HAProxy exporter)."""
    monitor = _one(objects, "ServiceMonitor")
    (endpoint,) = [e for e in monitor["spec"]["endpoints"] if e["port"] == port_name and e["path"] == "/metrics"]
    services = [
        s
        for s in objects
        if s["kind"] == "Service"
        and s["metadata"]["namespace"] in monitor["spec"]["namespaceSelector"]["matchNames"]
        and selector_matches(monitor["spec"]["selector"], s["metadata"].get("labels", {}))
    ]
    assert [s["metadata"]["name"] for s in services] == ["redis-shared-metrics"]
    (service,) = services
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    targets = []
    for pod in cluster.service_pods(service):
        container_ports = {p["name"]: p["containerPort"] for c in pod.spec["containers"] for p in c.get("ports", [])}
        labels = {"pod": pod.name, "namespace": pod.namespace, "service": service["metadata"]["name"]}
        for relabel in endpoint["relabelings"]:
            (source,) = relabel["sourceLabels"]
            if source == "__meta_kubernetes_pod_label_redis_shared_role":
                labels[relabel["targetLabel"]] = pod.labels["redis-shared/role"]
        targets.append({"targets": [f"{pod.ip}:{container_ports[port['targetPort']]}"], "labels": labels})
    job = {
        "job_name": f"redis-shared-{port_name}",
        "scrape_interval": endpoint["interval"],
        "scrape_timeout": endpoint["scrapeTimeout"],
        "metrics_path": endpoint["path"],
        "static_configs": targets,
    }
    return job, _seconds(endpoint["interval"])


def test_prometheus_sees_both_instances_within_two_intervals(cluster: Cluster, tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is required (apt-get install prometheus; .ci/run installs it)"
    objects = load_manifests(MANIFESTS)
    job, interval = scrape_config(objects, cluster)
    lan_job, _ = scrape_config(objects, cluster, "lan-metrics")
    assert interval <= 15
    assert len(job["static_configs"]) == 2 == len(lan_job["static_configs"])
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({"scrape_configs": [job, lan_job]}))
    port = _free_port()
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    try:
        query = urllib.parse.urlencode({"query": "redis_up"})
        started = time.monotonic()
        seen: dict[str, str] = {}
        while time.monotonic() - started < 2 * interval + 10:  # +10 s for Prometheus's own start-up
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?{query}", timeout=2) as r:
                    result = json.load(r)["data"]["result"]
                seen = {s["metric"]["role"]: s["value"][1] for s in result}
                if seen == {"master": "1", "replica": "1"}:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert seen == {"master": "1", "replica": "1"}, (seen, (tmp_path / "prometheus.log").read_text()[-2000:])
        # The LAN proxy's series the RedisLan* alerts read, from both pods (the role moves with a failover).
        lan_query = urllib.parse.urlencode({"query": 'haproxy_frontend_limit_sessions{proxy="lan"}'})
        lan_seen: dict[str, str] = {}
        while time.monotonic() - started < 3 * interval + 10:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?{lan_query}", timeout=2) as r:
                lan_seen = {s["metric"]["role"]: s["value"][1] for s in json.load(r)["data"]["result"]}
            if len(lan_seen) == 2:
                break
            time.sleep(0.5)
        assert lan_seen == {"master": "1025", "replica": "1025"}  # the LAN cap + 1 (haproxy.cfg's maxconn)
        assert HOST_IP not in json.dumps(job)  # scraped at the pods' own addresses
    finally:
        proc.terminate()
        proc.wait(timeout=15)
