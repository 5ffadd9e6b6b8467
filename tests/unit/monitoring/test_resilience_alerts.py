"""redis_constructs.monitoring.resilience_alerts: the rules of docs/resilience.md, evaluated by a real promtool.

The LAN series carry the values the LAN proxy's runtime proof scraped (29 denied, 24 sessions of a 25 limit).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from redis_constructs.core.errors import PropError
from redis_constructs.monitoring.resilience_alerts import render_resilience_group

SELECTOR = 'namespace="redis",service="redis-shared-metrics"'
TARGET = 'namespace="redis",service="redis-shared-metrics",pod="redis-shared-master-0",role="master"'
REPLICA = 'namespace="redis",service="redis-shared-metrics",pod="redis-shared-replicas-0",role="replica"'


def group(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "selector": SELECTOR,
        "namespace": "redis",
        "pod_regex": "redis-shared-(master|replicas)-[0-9]+",
        "lan_proxy": True,
        "tls_certificate": "redis-shared-tls",
        "tls_reload": True,
    }
    return render_resilience_group(**(args | kw))


def promtool_test(
    tmp_path: Path, series: list[dict[str, str]], eval_time: str, expected: dict[str, list[dict[str, str]]]
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found on PATH: install the Debian package 'prometheus'")
    # Annotations are templated prose (checked by `promtool check rules` below); the firing is what's tested.
    bare = group()
    bare["rules"] = [{k: v for k, v in r.items() if k != "annotations"} for r in bare["rules"]]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [bare]}))
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": eval_time,
                        "alertname": name,
                        "exp_alerts": [{"exp_labels": labels} for labels in alerts],
                    }
                    for name, alerts in expected.items()
                ],
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(tests))
    run = subprocess.run(
        [promtool, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_rules_pass_promtool_check(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found on PATH: install the Debian package 'prometheus'")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [group()]}))
    run = subprocess.run(
        [promtool, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_rejected_lan_connections_and_a_full_lan_share_fire(tmp_path: Path) -> None:
    promtool_test(
        tmp_path,
        [
            {"series": f'haproxy_frontend_denied_connections_total{{{TARGET},proxy="lan"}}', "values": "0 0 29 29"},
            {"series": f'haproxy_frontend_current_sessions{{{TARGET},proxy="lan"}}', "values": "24x10"},
            {"series": f'haproxy_frontend_limit_sessions{{{TARGET},proxy="lan"}}', "values": "25x10"},
        ],
        "6m",
        {
            "RedisLanConnectionsRejected": [{"pod": "redis-shared-master-0", "severity": "warning"}],
            "RedisLanShareFull": [
                {
                    **dict(kv.split("=") for kv in TARGET.replace('"', "").split(",")),
                    "proxy": "lan",
                    "severity": "warning",
                }
            ],
        },
    )


def test_no_refusal_no_alert(tmp_path: Path) -> None:
    promtool_test(
        tmp_path,
        [{"series": f'haproxy_frontend_denied_connections_total{{{TARGET},proxy="lan"}}', "values": "3x10"}],
        "6m",
        {"RedisLanConnectionsRejected": []},
    )


def test_a_replica_that_cannot_persist_is_named_with_its_volume(tmp_path: Path) -> None:
    promtool_test(
        tmp_path,
        [
            {"series": f"redis_aof_last_write_status{{{REPLICA}}}", "values": "1 0 0 0 0"},
            {"series": f"redis_aof_last_write_status{{{TARGET}}}", "values": "1 1 1 1 1"},
        ],
        "4m",
        {
            "RedisReplicaCannotPersist": [
                {**dict(kv.split("=") for kv in REPLICA.replace('"', "").split(",")), "severity": "warning"}
            ]
        },
    )
    rule = next(r for r in group()["rules"] if r["alert"] == "RedisReplicaCannotPersist")
    assert "PVC data-{{ $labels.pod }}" in rule["annotations"]["description"]


def test_a_restarted_reload_sidecar_and_a_certificate_near_expiry_fire(tmp_path: Path) -> None:
    # 6 days left at eval time (t = 10m): 600 + 6 * 86400 seconds after the epoch promtool starts at.
    expiry = 600 + 6 * 86400
    promtool_test(
        tmp_path,
        [
            {
                "series": 'kube_pod_container_status_restarts_total{namespace="redis",pod="redis-shared-master-0",'
                'container="tls-reload"}',
                "values": "0 0 0 1 1 1 1 1 1 1 1",
            },
            {
                "series": 'certmanager_certificate_expiration_timestamp_seconds{namespace="redis",name="redis-shared-tls"}',
                "values": f"{expiry}x10",
            },
        ],
        "10m",
        {
            "RedisTlsReloadFailing": [
                {"namespace": "redis", "pod": "redis-shared-master-0", "container": "tls-reload", "severity": "warning"}
            ],
            "RedisTlsCertificateExpiresSoon": [
                {"namespace": "redis", "name": "redis-shared-tls", "severity": "critical"}
            ],
        },
    )


def test_a_certificate_with_weeks_left_does_not_fire(tmp_path: Path) -> None:
    promtool_test(
        tmp_path,
        [
            {
                "series": 'certmanager_certificate_expiration_timestamp_seconds{namespace="redis",name="redis-shared-tls"}',
                "values": f"{600 + 8 * 86400}x10",
            }
        ],
        "10m",
        {"RedisTlsCertificateExpiresSoon": []},
    )


def test_only_what_exists_is_watched() -> None:
    names = [r["alert"] for r in group(lan_proxy=False, tls_certificate=None, tls_reload=False)["rules"]]
    assert names == ["RedisReplicaCannotPersist"]


def test_fails_certificate_days_out_of_range() -> None:
    with pytest.raises(PropError, match=r"^certificate_days: got 0; expected an integer from 1 to 60$"):
        group(certificate_days=0)
