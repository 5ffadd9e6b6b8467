"""Per-tenant monitoring as RedisMonitoring renders it: the exporter's settings and ACL, the key-count endpoint of
the ServiceMonitor, the tenant rules in the PrometheusRule and the dashboard rows — all built at synth."""

from __future__ import annotations

import json
import re
from typing import Any

import cdk8s
import exporter_v1_88 as x
import pytest
from conftest import containers, find

from redis_constructs import CertManagerSelfSignedCa, RedisShared, RedisSharedProps, Tls
from redis_constructs.gitops.manifest_checks import load_crd_schemas, schema_errors
from redis_constructs.monitoring.alerts import (
    EXPORTED_METRICS,
    EXPORTED_METRICS_V188,
    SCRAPE_METRICS,
    promql_metric_names,
)
from redis_constructs.monitoring.dashboard import render_dashboard
from redis_constructs.monitoring.redis_monitoring import RedisMonitoring, RedisMonitoringProps
from redis_constructs.monitoring.tenant_dashboard import NOT_AVAILABLE
from redis_constructs.monitoring.tenant_rules import RECORDS, TENANT_METRICS
from redis_constructs.server.redis_conf import EXPORTER_USERNAME, render_acl_template
from redis_constructs.server.tenants import Tenant

Obj = dict[str, Any]
BEER = Tenant(namespace="beersystem", password_only=True)
SHOP = Tenant(namespace="shop", key_prefix="shop:")
BLOG = Tenant(namespace="blog", key_prefix="blog:")
SELECTOR = 'namespace="redis",service="redis-shared-metrics"'


def build(tenants: tuple[Tenant, ...] = (BEER, SHOP), **props: Any) -> tuple[cdk8s.Chart, RedisShared]:
    chart = cdk8s.Chart(cdk8s.App(), "t", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", RedisSharedProps(tenants=tenants, **props))
    RedisMonitoring(chart, "Monitoring", RedisMonitoringProps(redis=redis))
    return chart, redis


def objects(tenants: tuple[Tenant, ...] = (BEER, SHOP), **props: Any) -> list[Obj]:
    return list(build(tenants, **props)[0].to_json())


def endpoints(objs: list[Obj]) -> list[Obj]:
    return list(find(objs, "ServiceMonitor", "redis-shared")["spec"]["endpoints"])


def exporter_env(objs: list[Obj], sts: str = "redis-shared-master") -> dict[str, str]:
    env = containers(find(objs, "StatefulSet", sts))["metrics"]["env"]
    return {e["name"]: e.get("value", "") for e in env}


# -- exporter ---------------------------------------------------------------------------------------------------
def test_exporter_exports_the_client_list_and_counts_keys_on_replicas_only() -> None:
    objs = objects()
    for sts in ("redis-shared-master", "redis-shared-replicas"):
        env = exporter_env(objs, sts)
        assert env["REDIS_EXPORTER_EXPORT_CLIENT_LIST"] == "true"
        assert env["REDIS_EXPORTER_SKIP_CHECKKEYS_FOR_ROLE_MASTER"] == "true"
    assert "REDIS_EXPORTER_SKIP_CHECKKEYS_FOR_ROLE_MASTER" not in exporter_env(objects(replicas=0))


def test_exporter_never_exports_key_values_or_runs_lua() -> None:
    """No tenant's key values (the backup's report keys are the one check-single-keys: test_backup_alerts.py)."""
    text = json.dumps(objects())
    for flag in ("CHECK_KEYS", "CHECK_SINGLE_KEYS", "CHECK_KEY_GROUPS", "check-keys", "check-single-keys"):
        assert flag not in text.replace("SKIP_CHECKKEYS", ""), flag


def test_exporter_user_may_list_clients_and_scan_and_read_only_the_backup_report() -> None:
    (line,) = [u for u in render_acl_template().splitlines() if u.startswith(f"user {EXPORTER_USERNAME} ")]
    rules = line.split()
    assert "+client|list" in rules and "+scan" in rules
    assert "resetchannels" in rules and "-@all" in rules
    # One key pattern, read-only: the backup's report keys. SCAN lists names; GET reads those keys and no other.
    assert [r for r in rules if "~" in r] == ["%R~redis-shared:backup:*"]
    assert not [r for r in rules if r.startswith("+@") or r == "+set"]


# -- key counts: the ServiceMonitor's second endpoint --------------------------------------------------------------
def test_key_count_endpoint_scrapes_the_confined_prefixes_on_the_replica() -> None:
    objs = objects((BEER, SHOP, BLOG))
    metrics, keys = endpoints(objs)
    assert metrics["path"] == "/metrics"
    assert keys["port"] == "metrics" and keys["path"] == "/scrape"
    assert keys["params"] == {"target": ["redis://exporter@localhost:6379"], "count-keys": ["db0=blog:*,db0=shop:*"]}
    assert (keys["interval"], keys["scrapeTimeout"]) == ("60s", "30s")
    keep, role, pod, endpoint = keys["relabelings"]
    assert keep == {
        "action": "keep",
        "regex": "replica",
        "sourceLabels": ["__meta_kubernetes_pod_label_redis_shared_role"],
    }
    assert (role, pod) == tuple(metrics["relabelings"])
    assert endpoint == {"action": "replace", "replacement": "key-counts", "targetLabel": "endpoint"}
    assert keys["metricRelabelings"] == [{"action": "keep", "regex": "redis_keys_count", "sourceLabels": ["__name__"]}]


def test_key_count_endpoint_uses_the_tls_uri_the_exporter_dials() -> None:
    objs = objects(tls=Tls(certificates=CertManagerSelfSignedCa()))
    (keys,) = endpoints(objs)[1:]
    assert keys["params"]["target"] == ["rediss://exporter@localhost:6380"]
    assert exporter_env(objs)["REDIS_ADDR"] == "rediss://localhost:6380"


def test_key_count_endpoint_scrapes_the_primary_when_there_is_no_replica() -> None:
    (keys,) = endpoints(objects(replicas=0))[1:]
    assert [r.get("action") for r in keys["relabelings"]] == ["replace", "replace", "replace"]


def test_no_key_count_endpoint_without_a_confined_tenant() -> None:
    assert [e["path"] for e in endpoints(objects((BEER,)))] == ["/metrics"]


def test_service_monitor_passes_the_strict_crd_schema() -> None:
    schemas = load_crd_schemas()
    for obj in objects((BEER, SHOP, BLOG)):
        if obj["kind"] in ("ServiceMonitor", "PrometheusRule"):
            assert schema_errors(obj, schemas) == []


def test_a_tenant_added_late_reaches_monitoring_and_no_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    chart, _redis = build((BEER,))
    before = list(chart.to_json())
    # However the tenant is added (add_client_namespace), RedisShared.tenants is what monitoring reads at synth.
    monkeypatch.setattr(RedisShared, "tenants", property(lambda self: (BEER, SHOP)))
    after = list(chart.to_json())
    assert [e["path"] for e in endpoints(before)] == ["/metrics"]
    assert endpoints(after)[1]["params"]["count-keys"] == ["db0=shop:*"]
    records = [r for g in find(after, "PrometheusRule", "redis-shared")["spec"]["groups"] for r in g["rules"]]
    assert {r["labels"]["tenant"] for r in records if "record" in r} == {"beersystem", "shop"}
    dashboard = json.loads(find(after, "ConfigMap", "redis-shared-dashboard")["data"]["redis-shared.json"])
    assert "Tenant shop (user shop, keys shop:*)" in [p["title"] for p in dashboard["panels"]]
    # The dashboard and the tenants' ACL lines (the reload sidecar's file) change; no pod, Service or other
    # ConfigMap does.
    changes = {"redis-shared-dashboard", "redis-shared-tenants"}
    for kind in ("StatefulSet", "Service", "ConfigMap"):
        same = [o for o in before if o["kind"] == kind and o["metadata"]["name"] not in changes]
        assert same == [o for o in after if o["kind"] == kind and o["metadata"]["name"] not in changes]


# -- PrometheusRule ----------------------------------------------------------------------------------------------
def test_tenant_rules_follow_the_server_limits() -> None:
    chart, redis = build()
    rules = {
        (r.get("alert") or r["record"], r["labels"].get("tenant")): r
        for g in find(list(chart.to_json()), "PrometheusRule", "redis-shared")["spec"]["groups"]
        for r in g["rules"]
    }
    share = int(0.9 * 0.5 * redis.client_limits.maxclients)
    assert rules[("RedisTenantNearConnectionShare", "shop")]["expr"].endswith(f"> {share}")
    assert ("redis_tenant:keys:count", "shop") in rules and ("redis_tenant:keys:count", "beersystem") not in rules
    assert {"RedisAclDenied", "RedisAuthFailures", "RedisEvictingTenantKeys", "RedisClientsEvicted"} <= {
        a for a, _ in rules
    }
    assert "RedisTenantKeyCountsFailing" in {a for a, _ in rules}


def test_redis_down_ignores_the_key_count_scrape() -> None:
    groups = find(objects(), "PrometheusRule", "redis-shared")["spec"]["groups"]
    (down,) = [r for g in groups for r in g["rules"] if r.get("alert") == "RedisDown"]
    assert down["expr"].count('endpoint!~"key-counts|backup-report"') == 2


# -- dashboard --------------------------------------------------------------------------------------------------
def dashboard(tenants: tuple[Tenant, ...]) -> Obj:
    return dict(json.loads(render_dashboard(selector=SELECTOR, tenants=tenants)))


def test_dashboard_has_a_tenants_row_and_a_collapsed_row_per_tenant() -> None:
    d = dashboard((SHOP, BEER))
    rows = [p for p in d["panels"] if p["type"] == "row"]
    assert [r["title"] for r in rows] == [
        "Tenants",
        "Tenant beersystem (user default, keys *)",
        "Tenant shop (user shop, keys shop:*)",
    ]
    assert not rows[0].get("collapsed") and all(r["collapsed"] for r in rows[1:])
    beer, shop = ({p["title"]: p for p in r["panels"]} for r in rows[1:])
    assert sorted(shop) == ["shop: client memory", "shop: connections", "shop: keys", "shop: what is (not) shown"]
    assert "beersystem: keys" not in beer
    assert shop["shop: keys"]["targets"][0]["expr"] == 'redis_tenant:keys:count{tenant="shop"}'
    for text in (beer["beersystem: what is (not) shown"], shop["shop: what is (not) shown"]):
        assert NOT_AVAILABLE in text["options"]["content"]
    assert "command rates" in NOT_AVAILABLE and "Redis 7.4" in NOT_AVAILABLE
    assert SHOP.rules() in shop["shop: what is (not) shown"]["options"]["content"]
    ids = [p["id"] for p in d["panels"]] + [q["id"] for r in rows for q in r.get("panels", [])]
    assert len(ids) == len(set(ids))


def test_dashboard_without_tenants_is_unchanged() -> None:
    assert render_dashboard(selector=SELECTOR, tenants=()) == render_dashboard(selector=SELECTOR)


def _exprs(d: Obj) -> list[str]:
    panels = [*d["panels"], *(q for p in d["panels"] for q in p.get("panels", []))]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def test_tenant_panels_read_only_records_and_v1_88_metrics() -> None:
    exprs = _exprs(dashboard((BEER, SHOP)))
    used = set().union(*(promql_metric_names(e) for e in exprs))
    known = set(EXPORTED_METRICS) | set(EXPORTED_METRICS_V188) | set(SCRAPE_METRICS) | set(RECORDS)
    assert used - known <= set(TENANT_METRICS)
    assert set(RECORDS) <= used
    for e in exprs:  # the exporter's series by the selector; the records are per tenant already
        for name, matchers in re.findall(r"\b(redis_[a-z_]+)\{([^}]*)\}", e):
            assert name in RECORDS or 'service="redis-shared-metrics"' in matchers, e


def test_tenant_metrics_exist_in_exporter_v1_88() -> None:
    assert set(TENANT_METRICS) <= set(x.METRICS), x.EXPORTER_COMMIT
