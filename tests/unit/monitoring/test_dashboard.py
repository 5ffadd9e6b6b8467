"""Dashboard JSON: shape, determinism, stable ids/uid, and queries limited to verified exporter metrics.

The queries are also run against a real Prometheus scraping a live primary + replica in
``tests/unit/monitoring/test_alerts.py::test_dashboard_queries_return_per_pod_series_on_real_prometheus``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from redis_constructs.core.errors import PropError
from redis_constructs.monitoring.alerts import (
    EXPORTED_METRICS,
    EXPORTED_METRICS_V188,
    promql_metric_names,
    promql_vector_selectors,
    render_alert_groups,
)
from redis_constructs.monitoring.dashboard import LEGEND, dashboard_uid, render_dashboard

SELECTOR = 'namespace="redis",service="redis-shared-metrics"'
PANELS = (
    (1, "stat", "Redis up"),
    (2, "stat", "Role reported by Redis"),
    (3, "stat", "Connected replicas"),
    (4, "stat", "AOF status"),
    (5, "timeseries", "Commands per second"),
    (6, "timeseries", "Keyspace hit ratio"),
    (7, "timeseries", "Memory used vs maxmemory"),
    (8, "timeseries", "Connected clients"),
    (9, "timeseries", "Replication link"),
    (10, "timeseries", "Replication lag (seconds)"),
    (11, "timeseries", "Replication lag (bytes)"),
    (12, "timeseries", "Evicted keys per second"),
    (13, "timeseries", "Rejected connections per second"),
    (14, "timeseries", "Command latency (ms)"),
)


@pytest.fixture(scope="module")
def text() -> str:
    return render_dashboard(selector=SELECTOR)


@pytest.fixture(scope="module")
def board(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def _targets(board: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(panel, target) for panel in board["panels"] for target in panel["targets"]]


def test_json_parses_with_sorted_keys_and_is_deterministic(text: str) -> None:
    assert text.endswith("}\n")
    assert json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n" == text
    assert render_dashboard(selector=SELECTOR) == text


def test_refresh_defaults_to_15s(board: dict[str, Any]) -> None:
    assert board["refresh"] == "15s"
    assert json.loads(render_dashboard(selector=SELECTOR, refresh="1m"))["refresh"] == "1m"


def test_uid_and_title_are_stable(board: dict[str, Any]) -> None:
    assert board["uid"] == "redis-shared"
    assert board["title"] == "Redis shared"
    other_selector = json.loads(render_dashboard(selector='namespace="cache"'))
    assert other_selector["uid"] == "redis-shared"
    renamed = json.loads(render_dashboard(selector=SELECTOR, title="Redis: Cache (prod)"))
    assert (renamed["uid"], renamed["title"]) == ("redis-cache-prod", "Redis: Cache (prod)")
    assert len(dashboard_uid("x" * 100)) == 40


def test_panel_ids_types_and_titles_are_stable(board: dict[str, Any]) -> None:
    assert [(p["id"], p["type"], p["title"]) for p in board["panels"]] == list(PANELS)


def test_panels_do_not_overlap_on_the_grid(board: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & area, panel["title"]
        cells |= area


def test_every_panel_has_targets_on_the_datasource_variable(board: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        assert all(t["expr"] for t in panel["targets"]), panel["title"]


def test_every_metric_is_a_verified_exporter_metric(board: dict[str, Any]) -> None:
    for panel, target in _targets(board):
        names = promql_metric_names(target["expr"])
        assert names, panel["title"]
        unknown = names - set(EXPORTED_METRICS) - set(EXPORTED_METRICS_V188)
        assert not unknown, f"{panel['title']}: {sorted(unknown)} not verified against redis_exporter"


def test_every_query_uses_the_selector(board: dict[str, Any]) -> None:
    for panel, target in _targets(board):
        for name, body in promql_vector_selectors(target["expr"]):
            # The selector, then at most a narrowing of the series (quantile="95" on the latency panel).
            assert body == SELECTOR or body.startswith(SELECTOR + ","), f"{panel['title']}: {name}{{{body}}}"


def test_exported_metrics_are_all_used_by_rules_or_dashboard(board: dict[str, Any]) -> None:
    rules = render_alert_groups(selector=SELECTOR, instances_expected=2)
    used = {n for _, t in _targets(board) for n in promql_metric_names(t["expr"])}
    used |= {n for g in rules for r in g["rules"] for n in promql_metric_names(r["expr"])}
    assert set(EXPORTED_METRICS) <= used


def test_both_roles_appear_per_pod(board: dict[str, Any]) -> None:
    """No query narrows to one pod or role, and every legend names the pod and its role."""
    for panel, target in _targets(board):
        assert target["legendFormat"].startswith(LEGEND), panel["title"]
        for _, body in promql_vector_selectors(target["expr"]):
            assert "role" not in body and "pod" not in body, panel["title"]
        grouping = target["expr"].split("sum by (")[1:]
        # Per pod and role, perhaps per command or bucket too (the latency panel).
        assert all(g.startswith(("namespace, pod, role)", "namespace, pod, role, ")) for g in grouping), panel["title"]
    assert LEGEND == "{{pod}} ({{role}})"


def test_dashboard_queries_parse_with_promtool(board: dict[str, Any], tmp_path: Path) -> None:
    """Every query goes through Prometheus's own parser (as recording rules, Grafana's macro replaced)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found on PATH: install the Debian package 'prometheus'")
    rules = [
        {
            "record": f"dashboard:panel{panel['id']}:{target['refId']}",
            "expr": target["expr"].replace("$__rate_interval", "1m"),
        }
        for panel, target in _targets(board)
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_role_label_is_configurable() -> None:
    board = json.loads(render_dashboard(selector=SELECTOR, redis_role_label="role"))
    role_panel = next(p for p in board["panels"] if p["title"] == "Role reported by Redis")
    assert role_panel["targets"][0]["legendFormat"] == "{{pod}} ({{role}}) is {{role}}"


def test_fails_bad_selector() -> None:
    with pytest.raises(PropError, match=r"^selector: got 'redis'; expected one or more PromQL label matchers"):
        render_dashboard(selector="redis")


def test_fails_bad_refresh() -> None:
    with pytest.raises(PropError, match=r"^refresh: got '15'; expected a Grafana refresh interval"):
        render_dashboard(selector=SELECTOR, refresh="15")


def test_fails_title_without_letters_or_digits() -> None:
    with pytest.raises(PropError, match=r"^title: got '--'; expected at least one letter or digit"):
        render_dashboard(selector=SELECTOR, title="--")


def test_fails_role_label_not_a_label_name() -> None:
    with pytest.raises(PropError, match=r"^redis_role_label: got 'exported-role'; .*did you mean exported_role\?"):
        render_dashboard(selector=SELECTOR, redis_role_label="exported-role")
