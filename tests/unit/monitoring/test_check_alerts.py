"""The check and latency alerts (monitoring/check_alerts.py): ``promtool test rules`` on the group as the site renders it.

check_rules_test.yml feeds kube-state-metrics and exporter series: a scheduled run failing after a success fires
RedisCheckFailed (another CronJob's failure does not), a first run failing fires it, no success for 3 h fires
RedisCheckStale, and a p95 above 10 ms for 10 m fires RedisLatencyHigh on that pod only.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import find

from redis_constructs.monitoring.alerts import EXPORTED_METRICS, EXPORTED_METRICS_V188, promql_metric_names
from redis_constructs.monitoring.check_alerts import CHECK_ALERT_NAMES, render_check_alert_group

Obj = dict[str, Any]
HERE = Path(__file__).resolve().parent
SELECTOR = 'namespace="redis",service="redis-shared-metrics"'
#: kube-state-metrics series (docs/metrics/workload/job-metrics.md and cronjob-metrics.md, all STABLE but
#: kube_cronjob_created) the rules read.
KSM_METRICS = {
    "kube_job_owner",
    "kube_job_status_start_time",
    "kube_job_failed",
    "kube_cronjob_status_last_successful_time",
    "kube_cronjob_created",
}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: install Debian's 'prometheus' package")
    return found


def promtool_test(tmp_path: Path, group: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "check_rules.yml").write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    shutil.copy(HERE / "check_rules_test.yml", tmp_path / "check_rules_test.yml")
    return subprocess.run(
        [promtool(), "test", "rules", "check_rules_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def site_group(site_objects: list[Obj]) -> dict[str, Any]:
    rule = find(site_objects, "PrometheusRule", "redis-shared", "redis")
    (group,) = [g for g in rule["spec"]["groups"] if g["name"] == "redis.checks"]
    return dict(group)


def test_promtool_passes_on_the_rendered_group(site_objects: list[Obj], tmp_path: Path) -> None:
    group = site_group(site_objects)
    assert [r["alert"] for r in group["rules"]] == list(CHECK_ALERT_NAMES)
    result = promtool_test(tmp_path, group)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_fails_with_another_latency_bound(tmp_path: Path) -> None:
    """The test can fail: at 20 ms the latency alert does not fire where the test expects it."""
    group = render_check_alert_group(
        namespace="redis", cronjob="redis-shared-check-scheduled", redis_selector=SELECTOR, latency_p95_ms=20
    )
    result = promtool_test(tmp_path, group)
    assert result.returncode != 0 and "RedisLatencyHigh" in result.stdout + result.stderr


def test_without_a_cronjob_only_the_latency_alert() -> None:
    group = render_check_alert_group(namespace="redis", cronjob=None, redis_selector=SELECTOR)
    assert [r["alert"] for r in group["rules"]] == ["RedisLatencyHigh"]


def test_every_metric_is_known() -> None:
    group = render_check_alert_group(namespace="redis", cronjob="c", redis_selector=SELECTOR)
    used = {n for r in group["rules"] for n in promql_metric_names(r["expr"])}
    assert used <= KSM_METRICS | set(EXPORTED_METRICS) | set(EXPORTED_METRICS_V188), used
    assert "redis_commands_latencies_usec_bucket" in used
