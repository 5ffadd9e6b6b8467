"""The backup alert group: real ``promtool check rules`` and ``promtool test rules`` (backup_rules_test.yaml: a
success, a failed run, a later success; a Job whose first pod failed but that succeeded never alerts), the wiring
into RedisMonitoring and the dashboard panel."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cdk8s
import pytest
import yaml
from conftest import find

from redis_constructs.core.errors import PropError
from redis_constructs.monitoring import BackupMonitoring, RedisMonitoring, RedisMonitoringProps
from redis_constructs.monitoring.backup_alerts import render_backup_alert_group
from redis_constructs.server.props import RedisSharedProps
from redis_constructs.server.redis_shared import RedisShared

HERE = Path(__file__).resolve().parent
MONITORING = BackupMonitoring(namespace="redis", cronjob="redis-shared-backup", max_age_seconds=26 * 3600)


def promtool() -> str:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: apt-get install prometheus"
    return tool


def write_rules(tmp_path: Path, group: dict[str, object]) -> None:
    (tmp_path / "backup_rules.yaml").write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    shutil.copy(HERE / "backup_rules_test.yaml", tmp_path / "backup_rules_test.yaml")


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
    test = subprocess.run(
        [promtool(), "test", "rules", "backup_rules_test.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert test.returncode != 0, test.stdout


def test_monitoring_renders_the_group_and_the_panel() -> None:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "t", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", RedisSharedProps())
    RedisMonitoring(chart, "Monitoring", RedisMonitoringProps(redis=redis, backup=MONITORING))
    objs = [dict(o) for o in chart.to_json()]
    rule = find(objs, "PrometheusRule", "redis-shared")
    backup = next(g for g in rule["spec"]["groups"] if g["name"] == "redis-shared-backup")
    assert [r["alert"] for r in backup["rules"]] == ["RedisBackupTooOld", "RedisBackupLastRunFailed"]
    dashboard = json.loads(next(iter(find(objs, "ConfigMap", "redis-shared-dashboard")["data"].values())))
    panel = dashboard["panels"][-1]
    assert panel["title"] == "Last backup age" and panel["targets"][0]["expr"] == MONITORING.age_expr()


def test_fails_max_age() -> None:
    with pytest.raises(PropError, match=r"backup.max_age_seconds: got 60; expected an integer from 3600"):
        BackupMonitoring(namespace="redis", cronjob="c", max_age_seconds=60)
