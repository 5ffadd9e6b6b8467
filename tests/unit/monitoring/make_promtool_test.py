"""Write the promtool unit test for the sample tenant rules (input series shaped like redis_exporter v1.88)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

T = 'namespace="redis",service="redis-shared-metrics",job="redis-shared-metrics"'
M = f'{T},pod="redis-shared-master-0",role="master",instance="10.42.0.5:9121"'
R = f'{T},pod="redis-shared-replicas-0",role="replica",instance="10.42.1.7:9121"'


def client(target: str, cid: int, user: str, name: str, mem: int) -> list[dict[str, str]]:
    return _client(target, cid, user=user, name=name, mem=mem)


def _client(target: str, cid: int, *, user: str, name: str, mem: int, values: str = "1x20") -> list[dict[str, str]]:
    info = f'redis_connected_client_info{{{target},id="{cid}",name="{name}",flags="N",db="0",host="10.42.2.{cid % 250}",user="{user}",resp="2"}}'
    memory = f'redis_connected_client_total_memory_consumed_bytes{{{target},id="{cid}",name="{name}"}}'
    return [{"series": info, "values": values}, {"series": memory, "values": f"{mem}x20"}]


def records_case() -> dict[str, object]:
    series = [
        {"series": f"redis_up{{{M}}}", "values": "1x20"},
        {"series": f"redis_up{{{R}}}", "values": "1x20"},
        *client(M, 11, "default", "", 20000),
        *client(M, 12, "default", "", 30000),
        *client(M, 21, "shop", "shop-web", 1000),
        *client(M, 22, "shop", "shop-web", 2000),
        *client(M, 23, "shop", "shop-worker", 3000),
        *client(M, 5, "exporter", "", 99999),  # the exporter's own connection counts for nobody
        {"series": f'redis_keys_count{{{R},db="db0",key="shop:*"}}', "values": "3x20"},
    ]
    master = {"pod": "redis-shared-master-0", "role": "master"}
    replica = {"pod": "redis-shared-replicas-0", "role": "replica"}
    return {
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": [
            {
                "expr": "redis_tenant:connections:count",
                "eval_time": "2m",
                "exp_samples": [
                    {
                        "labels": f"redis_tenant:connections:count{{{_l(master, lbl('beersystem', 'default'))}}}",
                        "value": 2,
                    },
                    {
                        "labels": f"redis_tenant:connections:count{{{_l(replica, lbl('beersystem', 'default'))}}}",
                        "value": 0,
                    },
                    {"labels": f"redis_tenant:connections:count{{{_l(master, lbl('shop', 'shop'))}}}", "value": 3},
                    {"labels": f"redis_tenant:connections:count{{{_l(replica, lbl('shop', 'shop'))}}}", "value": 0},
                ],
            },
            {
                "expr": 'redis_tenant:client_memory:bytes{role="master"}',
                "eval_time": "2m",
                "exp_samples": [
                    {
                        "labels": f"redis_tenant:client_memory:bytes{{{_l(master, lbl('beersystem', 'default'))}}}",
                        "value": 50000,
                    },
                    {"labels": f"redis_tenant:client_memory:bytes{{{_l(master, lbl('shop', 'shop'))}}}", "value": 6000},
                ],
            },
            {
                "expr": "redis_tenant:keys:count",
                "eval_time": "2m",
                "exp_samples": [
                    {"labels": f"redis_tenant:keys:count{{{_l(replica, lbl('shop', 'shop'))}}}", "value": 3},
                ],
            },
        ],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "RedisTenantNearConnectionShare", "exp_alerts": []},
            {"eval_time": "10m", "alertname": "RedisAclDenied", "exp_alerts": []},
        ],
    }


def lbl(tenant: str, user: str) -> dict[str, str]:
    return {"tenant": tenant, "tenant_user": user}


def _l(*maps: dict[str, str]) -> str:
    merged: dict[str, str] = {}
    for m in maps:
        merged |= m
    return ",".join(f'{k}="{v}"' for k, v in merged.items())


def alerts_case() -> dict[str, object]:
    # shop opens 46 connections (its alert threshold: 90 % of 0.5 x maxclients 100 = 45); one holds 61 MB.
    series = [{"series": f"redis_up{{{M}}}", "values": "1x30"}]
    for i in range(46):
        series += client(M, 100 + i, "shop", "shop-web", 61_000_000 if i == 0 else 1000)
    series += [
        {"series": f"redis_acl_access_denied_key_total{{{M}}}", "values": "0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"},
        {"series": f"redis_acl_access_denied_cmd_total{{{M}}}", "values": "0x20"},
        {"series": f"redis_acl_access_denied_channel_total{{{M}}}", "values": "0x20"},
        {"series": f"redis_acl_access_denied_auth_total{{{M}}}", "values": "0 0 0 0 0 0 0 0 5 9 9 9 9 9 9 9 9 9 9 9"},
        {"series": f"redis_evicted_keys_total{{{M}}}", "values": "0 0 0 0 0 0 0 0 0 0 0 0 40 80 80 80 80 80 80 80"},
        {"series": f"redis_evicted_keys_total{{{R}}}", "values": "0x20"},
        {"series": f"redis_evicted_clients_total{{{M}}}", "values": "0x14 2 2 2 2 2"},
    ]
    shop_m = {
        "pod": "redis-shared-master-0",
        "role": "master",
        "tenant": "shop",
        "tenant_user": "shop",
        "severity": "warning",
    }
    master = {"pod": "redis-shared-master-0", "role": "master"}
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": "4m", "alertname": "RedisTenantNearConnectionShare", "exp_alerts": []},
            {
                "eval_time": "6m",
                "alertname": "RedisTenantNearConnectionShare",
                "exp_alerts": [
                    {
                        "exp_labels": shop_m,
                        "exp_annotations": {
                            "summary": "A tenant holds most of its share of Redis connections",
                            "description": "Tenant shop (user shop) holds 46 connections on redis-shared-master-0 (alert above"
                            " 45: 90% of its share 0.5 of maxclients 100). Beyond maxclients Redis refuses every tenant's new"
                            " connections.",
                        },
                    }
                ],
            },
            {
                "eval_time": "6m",
                "alertname": "RedisTenantNearClientMemoryShare",
                "exp_alerts": [{"exp_labels": shop_m}],
            },
            {"eval_time": "2m", "alertname": "RedisAclDenied", "exp_alerts": []},
            {
                "eval_time": "4m",
                "alertname": "RedisAclDenied",
                "exp_alerts": [{"exp_labels": master | {"severity": "warning"}}],
            },
            {"eval_time": "7m", "alertname": "RedisAuthFailures", "exp_alerts": []},
            {
                "eval_time": "9m",
                "alertname": "RedisAuthFailures",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            **master,
                            "namespace": "redis",
                            "service": "redis-shared-metrics",
                            "job": "redis-shared-metrics",
                            "instance": "10.42.0.5:9121",
                            "severity": "warning",
                        }
                    }
                ],
            },
            {
                "eval_time": "13m",
                "alertname": "RedisEvictingTenantKeys",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            **master,
                            "namespace": "redis",
                            "service": "redis-shared-metrics",
                            "job": "redis-shared-metrics",
                            "instance": "10.42.0.5:9121",
                            "severity": "info",
                        }
                    }
                ],
            },
            {
                "eval_time": "15m",
                "alertname": "RedisClientsEvicted",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            **master,
                            "namespace": "redis",
                            "service": "redis-shared-metrics",
                            "job": "redis-shared-metrics",
                            "instance": "10.42.0.5:9121",
                            "severity": "warning",
                        }
                    }
                ],
            },
        ],
    }


def key_counts_case() -> dict[str, object]:
    # The replica's key-count scrape (endpoint="key-counts") fails from minute 2 on; the metrics scrape is fine.
    key_counts = f'{R},endpoint="key-counts"'
    series = [
        {"series": f"up{{{key_counts}}}", "values": "1 1 0x25"},
        {"series": f"up{{{R}}}", "values": "1x27"},
    ]
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": "16m", "alertname": "RedisTenantKeyCountsFailing", "exp_alerts": []},
            {
                "eval_time": "18m",
                "alertname": "RedisTenantKeyCountsFailing",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "namespace": "redis",
                            "service": "redis-shared-metrics",
                            "job": "redis-shared-metrics",
                            "pod": "redis-shared-replicas-0",
                            "role": "replica",
                            "instance": "10.42.1.7:9121",
                            "endpoint": "key-counts",
                            "severity": "info",
                        }
                    }
                ],
            },
        ],
    }


def strip_annotations(rules_file: Path, keep: str = "RedisTenantNearConnectionShare") -> None:
    """promtool compares annotations exactly: keep one alert's (checked above), drop the rest (their templates are
    still checked by `promtool check rules` on the full file)."""
    doc = yaml.safe_load(rules_file.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "alert" in rule and rule["alert"] != keep:
                rule.pop("annotations", None)
    rules_file.write_text(yaml.safe_dump(doc, sort_keys=False, width=400))


def main(out: Path, rules: str) -> None:
    doc = {
        "rule_files": [rules],
        "evaluation_interval": "1m",
        "tests": [records_case(), alerts_case(), key_counts_case()],
    }
    out.write_text(yaml.safe_dump(doc, sort_keys=False, width=400))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
