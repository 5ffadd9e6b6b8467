"""The backup alert group and report records: real ``promtool check rules`` and ``promtool test rules``
(backup_rules_test.yaml: a success, a failed run, a later success; a Job whose first pod failed but that succeeded
never alerts; the report's size and key count, not the exporter's key_size), the wiring into RedisMonitoring (the
ServiceMonitor's backup-report endpoint) and the dashboard panels."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml
from conftest import find

from redis_constructs.core.errors import PropError
from redis_constructs.monitoring import BackupMonitoring, RedisMonitoring, RedisMonitoringProps
from redis_constructs.monitoring.backup_alerts import REPORT_RECORDS, render_backup_alert_group
from redis_constructs.server.props import RedisSharedProps
from redis_constructs.server.redis_conf import REPORT_KEYS
from redis_constructs.server.redis_shared import RedisShared

HERE = Path(__file__).resolve().parent
MONITORING = BackupMonitoring(namespace="redis", cronjob="redis-shared-backup", max_age_seconds=26 * 3600)
SELECTOR = 'namespace="redis",service="redis-shared-metrics"'
Obj = dict[str, Any]


def promtool() -> str:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: apt-get install prometheus"
    return tool


def write_rules(tmp_path: Path, alerts: Obj, records: Obj | None = None) -> None:
    groups = [alerts, records or MONITORING.report_group(SELECTOR)]
    (tmp_path / "backup_rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    shutil.copy(HERE / "backup_rules_test.yaml", tmp_path / "backup_rules_test.yaml")


def promtool_test(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "test", "rules", "backup_rules_test.yaml"], cwd=tmp_path, capture_output=True, text=True
    )


def test_promtool_check_and_test_rules(tmp_path: Path) -> None:
    write_rules(tmp_path, MONITORING.alert_group())
    check = subprocess.run(
        [promtool(), "check", "rules", "backup_rules.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [promtool(), "test", "rules", "backup_rules_test.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert test.returncode == 0 and "SUCCESS" in test.stdout, test.stdout + test.stderr


def test_promtool_tests_catch_the_pod_count_mistake(tmp_path: Path) -> None:
    """kube_job_status_failed counts failed pods: a rule on it alerts for Job "c", which succeeded on retry."""
    group = render_backup_alert_group(namespace="redis", cronjob="redis-shared-backup", max_age_seconds=93600)
    for rule in group["rules"]:
        rule["expr"] = rule["expr"].replace(
            'kube_job_failed{namespace="redis",condition="true"} == 1', 'kube_job_status_failed{namespace="redis"} >= 1'
        )
    write_rules(tmp_path, group)
    test = promtool_test(tmp_path)
    assert test.returncode != 0 and "RedisBackupLastRunFailed" in test.stdout + test.stderr, test.stdout


def test_promtool_tests_catch_the_key_size_mistake(tmp_path: Path) -> None:
    """redis_key_size is STRLEN (the number of digits of the report), not the snapshot's size."""
    records = MONITORING.report_group(SELECTOR)
    for rule in records["rules"]:
        rule["expr"] = rule["expr"].replace("redis_key_value", "redis_key_size")
    write_rules(tmp_path, MONITORING.alert_group(), records)
    test = promtool_test(tmp_path)
    assert test.returncode != 0 and "redis_backup:last_size:bytes" in test.stdout + test.stderr, test.stdout


def test_the_records_read_the_report_keys_backup_sh_sets() -> None:
    """backup.sh SETs ``<prefix>last-bytes`` and ``<prefix>last-keys`` (its report line); the records read those."""
    script = (HERE.parents[2] / "redis_constructs" / "backup" / "backup.sh").read_text()
    (report,) = re.findall(r"printf '(SET %slast-[^']*)'", script)
    prefix = "redis-shared:backup:"
    assert [prefix + name for name in re.findall(r"SET %s(\S+) %s", report)] == list(REPORT_KEYS)
    assert [key for key, _ in REPORT_RECORDS] == list(REPORT_KEYS[:2])
    assert MONITORING.check_single_keys() == "db0=redis-shared:backup:last-bytes,db0=redis-shared:backup:last-keys"


def test_the_records_read_only_series_and_labels_v1_88_exports() -> None:
    import exporter_v1_88 as x

    for rule in MONITORING.report_group(SELECTOR)["rules"]:
        for name, matchers in re.findall(r"\b(redis_[a-z_]+)\{([^}]*)\}", rule["expr"]):
            assert name in x.METRICS, f"{name} is not exported by redis_exporter {x.EXPORTER_COMMIT}"
            for label in re.findall(r"([a-z_]+)=", matchers):
                assert label in x.METRICS[name] + x.TARGET_LABELS, f"{name} has no label {label}"


def render(**props: Any) -> list[Obj]:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "t", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", RedisSharedProps(**props))
    RedisMonitoring(chart, "Monitoring", RedisMonitoringProps(redis=redis, backup=MONITORING))
    return [dict(o) for o in chart.to_json()]


def test_monitoring_renders_the_groups_and_the_panels() -> None:
    objs = render()
    rule = find(objs, "PrometheusRule", "redis-shared")
    groups = {g["name"]: g for g in rule["spec"]["groups"]}
    backup = groups["redis-shared-backup"]
    assert [r["alert"] for r in backup["rules"]] == ["RedisBackupTooOld", "RedisBackupLastRunFailed"]
    assert groups["redis-shared-backup.records"] == MONITORING.report_group(SELECTOR)
    dashboard = json.loads(next(iter(find(objs, "ConfigMap", "redis-shared-dashboard")["data"].values())))
    age, size, keys = dashboard["panels"][-3:]
    assert age["title"] == "Last backup age" and age["targets"][0]["expr"] == MONITORING.age_expr()
    assert (size["title"], size["fieldConfig"]["defaults"]["unit"]) == ("Last backup size", "bytes")
    assert size["targets"][0]["expr"] == f"redis_backup:last_size:bytes{{{SELECTOR}}}"
    assert keys["title"] == "Last backup keys"
    assert keys["targets"][0]["expr"] == f"redis_backup:last_keys:count{{{SELECTOR}}}"
    # Next to each other on one row of stat panels.
    assert {p["gridPos"]["y"] for p in (age, size, keys)} == {age["gridPos"]["y"]}


def test_the_backup_report_endpoint_reads_the_report_keys_on_the_replica() -> None:
    monitor = find(render(), "ServiceMonitor", "redis-shared")
    metrics, report = monitor["spec"]["endpoints"]
    assert (report["port"], report["path"]) == ("metrics", "/scrape")
    assert report["params"] == {
        "target": ["redis://exporter@localhost:6379"],
        "check-single-keys": ["db0=redis-shared:backup:last-bytes,db0=redis-shared:backup:last-keys"],
    }
    assert (report["interval"], report["scrapeTimeout"]) == ("60s", metrics["scrapeTimeout"])
    keep, role, pod, endpoint = report["relabelings"]
    assert keep == {
        "action": "keep",
        "regex": "replica",
        "sourceLabels": ["__meta_kubernetes_pod_label_redis_shared_role"],
    }
    assert (role, pod) == tuple(metrics["relabelings"])
    assert endpoint == {"action": "replace", "replacement": "backup-report", "targetLabel": "endpoint"}
    # Only the numbers: key_value_as_string (a value that is no number, as a label) and the rest are dropped.
    assert report["metricRelabelings"] == [{"action": "keep", "regex": "redis_key_value", "sourceLabels": ["__name__"]}]
    (without_replica,) = find(render(replicas=0), "ServiceMonitor", "redis-shared")["spec"]["endpoints"][1:]
    assert [r.get("action") for r in without_replica["relabelings"]] == ["replace", "replace", "replace"]


def test_redis_down_ignores_the_backup_report_scrape() -> None:
    groups = find(render(), "PrometheusRule", "redis-shared")["spec"]["groups"]
    (down,) = [r for g in groups for r in g["rules"] if r.get("alert") == "RedisDown"]
    assert down["expr"].count('endpoint!~"key-counts|backup-report"') == 2


def test_fails_max_age() -> None:
    with pytest.raises(PropError, match=r"backup.max_age_seconds: got 60; expected an integer from 3600"):
        BackupMonitoring(namespace="redis", cronjob="c", max_age_seconds=60)
