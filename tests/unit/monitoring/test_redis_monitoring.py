"""RedisMonitoring: ServiceMonitor, PrometheusRule and dashboard as rendered for the site."""

from __future__ import annotations

import json
from typing import Any

import cdk8s
import pytest
from conftest import find

import main
from redis_constructs import PropError, RedisShared, RedisSharedProps
from redis_constructs.gitops.manifest_checks import _matches
from redis_constructs.monitoring.alerts import render_alert_groups
from redis_constructs.monitoring.backup_alerts import BackupMonitoring, render_backup_alert_group
from redis_constructs.monitoring.check_alerts import render_check_alert_group
from redis_constructs.monitoring.redis_monitoring import RedisMonitoring, RedisMonitoringProps
from redis_constructs.monitoring.tenant_rules import render_tenant_groups
from redis_constructs.server.redis_conf import derive_client_limits

Obj = dict[str, Any]


def test_service_monitor_scrapes_both_instances_every_15s(site_objects: list[Obj]) -> None:
    monitor = find(site_objects, "ServiceMonitor", "redis-shared", "redis")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    endpoint, lan_endpoint, backup_report = monitor["spec"]["endpoints"]
    # The LAN proxy's exporter (docs/resilience.md), with the same target labels.
    assert (lan_endpoint["port"], lan_endpoint["relabelings"]) == ("lan-metrics", endpoint["relabelings"])
    # The site backs up: its report keys, read on the replica (tests/unit/monitoring/test_backup_alerts.py).
    assert backup_report["path"] == "/scrape" and "check-single-keys" in backup_report["params"]
    assert endpoint["interval"] == "15s"
    assert int(endpoint["scrapeTimeout"].removesuffix("s")) < 15
    assert endpoint["port"] == "metrics"
    assert endpoint["path"] == "/metrics"
    targets = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
    assert targets == {
        "role": ["__meta_kubernetes_pod_label_redis_shared_role"],
        "pod": ["__meta_kubernetes_pod_name"],
    }
    service = find(site_objects, "Service", "redis-shared-metrics", "redis")
    assert _matches(monitor["spec"]["selector"], service["metadata"]["labels"])
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["redis"]}
    assert [p["name"] for p in service["spec"]["ports"]] == ["metrics", "lan-metrics"]
    # The Service's selector takes both roles' pods, so both exporters are targets.
    for sts in ("redis-shared-master", "redis-shared-replicas"):
        labels = find(site_objects, "StatefulSet", sts)["spec"]["template"]["metadata"]["labels"]
        assert _matches({"matchLabels": service["spec"]["selector"]}, labels)


def test_prometheus_rule_holds_the_tested_alerts(site_objects: list[Obj]) -> None:
    rule = find(site_objects, "PrometheusRule", "redis-shared", "redis")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = 'namespace="redis",service="redis-shared-metrics"'
    expected = render_alert_groups(selector=selector, instances_expected=2)
    limits = derive_client_limits(main.REDIS.memory_limit_bytes())
    tenant_groups = render_tenant_groups(
        selector=selector,
        tenants=main.REDIS.tenants,
        maxclients=limits.maxclients,
        maxmemory_clients_bytes=limits.maxmemory_clients_bytes,
    )
    assert [g["name"] for g in tenant_groups] == ["redis.tenants.records", "redis.tenants"]
    # The site backs up and runs scheduled checks (main.py): the backup CronJob's group and the records of its
    # report, then the checks' and the latency alert.
    backup = render_backup_alert_group(namespace="redis", cronjob="redis-shared-backup", max_age_seconds=26 * 3600)
    report = BackupMonitoring(namespace="redis", cronjob="redis-shared-backup").report_group(selector)
    checks = render_check_alert_group(
        namespace="redis", cronjob="redis-shared-check-scheduled", redis_selector=selector
    )
    groups = rule["spec"]["groups"]
    assert groups[: len(expected) + 2] == [*expected, *tenant_groups]
    assert [g["name"] for g in groups[len(expected) + 2 :]] == [
        "redis.resilience",
        backup["name"],
        report["name"],
        checks["name"],
    ]
    assert groups[-3:] == [backup, report, checks]
    alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    assert {"RedisDown", "RedisMissingPrimary", "RedisReplicaLinkDown", "RedisMemoryNearMax"} <= alerts
    # The site has a LoadBalancer and cert-manager TLS: every resilience alert is there.
    assert {
        "RedisLanConnectionsRejected",
        "RedisLanShareFull",
        "RedisReplicaCannotPersist",
        "RedisTlsReloadFailing",
        "RedisTlsCertificateExpiresSoon",
    } <= alerts
    for group in expected:
        for r in group["rules"]:
            assert r["labels"]["severity"] in {"critical", "warning"}
            assert r["annotations"]["summary"] and r["annotations"]["description"] and r["for"]


def test_without_lan_or_tls_only_the_replica_volume_alert_is_added() -> None:
    groups = {g["name"]: g for g in find(render(), "PrometheusRule", "redis-shared")["spec"]["groups"]}
    assert [r["alert"] for r in groups["redis.resilience"]["rules"]] == ["RedisReplicaCannotPersist"]
    monitor = find(render(), "ServiceMonitor", "redis-shared")
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]


def test_dashboard_config_map_is_picked_up_by_the_grafana_sidecar(site_objects: list[Obj]) -> None:
    cm = find(site_objects, "ConfigMap", "redis-shared-dashboard", "monitoring")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["redis-shared.json"])
    assert dashboard["refresh"] == "15s"
    titles = [panel["title"] for panel in dashboard["panels"]]
    first_row = titles.index("Tenants")  # the site's tenant beersystem: rows after the Redis panels
    redis_panels = [p for p in dashboard["panels"][:first_row] if p["title"] != "Last backup age"]
    exprs = [t["expr"] for panel in redis_panels for t in panel.get("targets", [])]
    assert exprs
    assert all('service="redis-shared-metrics"' in e for e in exprs)
    [backup] = [p for p in dashboard["panels"] if p["title"] == "Last backup age"]
    assert 'cronjob="redis-shared-backup"' in backup["targets"][0]["expr"]
    assert titles[-1] == "Tenant beersystem (user default, keys *)"


def render(replicas: int = 1, **props: Any) -> list[Obj]:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "t", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", RedisSharedProps(replicas=replicas))
    RedisMonitoring(chart, "Monitoring", RedisMonitoringProps(redis=redis, **props))
    return list(chart.to_json())


def test_expected_instances_follow_the_replica_count() -> None:
    objects = render(replicas=2)
    rules = find(objects, "PrometheusRule", "redis-shared")["spec"]["groups"]
    expected = render_alert_groups(selector='namespace="redis",service="redis-shared-metrics"', instances_expected=3)
    # Without a scheduled check: the latency alert alone in redis.checks; before it, the tenants' global alerts.
    (latency,) = rules[-1]["rules"]
    assert latency["alert"] == "RedisLatencyHigh"
    assert rules[: len(expected)] == expected
    assert [g["name"] for g in rules[len(expected) : -1]] == ["redis.tenants", "redis.resilience"]


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"interval": "30s"}, r"interval: got '30s'; expected at most '15s'"),
        ({"interval": "15"}, r"interval: got '15'; expected a duration in whole seconds or minutes"),
        ({"interval": "15s\n"}, r"interval: got '15s\\n'; expected a duration in whole seconds"),
        ({"scrape_timeout": "15s"}, r"scrape_timeout: got '15s'; expected less than interval '15s'"),
        ({"release_label": "Kube Prom"}, r"release_label: got 'Kube Prom'; expected an RFC 1123 label"),
        ({"dashboard_namespace": "Mon"}, r"dashboard_namespace: got 'Mon'; expected an RFC 1123 label"),
    ],
    ids=[
        "interval_too_long",
        "interval_no_unit",
        "interval_trailing_newline",
        "timeout_not_below_interval",
        "bad_release_label",
        "bad_dashboard_ns",
    ],
)
def test_fails_bad_monitoring_props(props: dict[str, Any], message: str) -> None:
    with pytest.raises(PropError, match=message):
        render(**props)


def test_props_validate_themselves_before_the_construct() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "t", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", RedisSharedProps())
    with pytest.raises(PropError, match=r"^interval: got '30s'; expected at most '15s'"):
        RedisMonitoringProps(redis=redis, interval="30s")
    assert chart.node.try_find_child("Monitoring") is None


def test_fails_props_that_are_not_monitoring_props() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "t")
    with pytest.raises(PropError, match=r"^props: got 'dict'; expected a RedisMonitoringProps \(construct t/M\)$"):
        RedisMonitoring(chart, "M", {"interval": "15s"})  # type: ignore[arg-type]
