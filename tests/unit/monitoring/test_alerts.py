"""Alert rules: structure, real ``promtool check``/``test rules``, and a live exporter + Prometheus run.

The promtool unit tests feed synthetic series carrying the labels the ServiceMonitor produces
(``namespace``, ``service``, ``pod``, ``role``, ``instance``, ``job``, ``container``, ``endpoint``;
``exported_role`` on ``redis_instance_info``) for a healthy primary + replica pair, inject one fault
per scenario at minute 10 and check, per alert, the exact labels and rendered annotations.

The live tests start a real redis-server primary + replica, one redis_exporter per instance and a real
Prometheus on loopback ports chosen at random; a module fixture stops them all.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from redis_constructs.core.errors import PropError
from redis_constructs.monitoring.alerts import (
    EXPORTED_METRICS,
    EXPORTED_METRICS_V188,
    SCRAPE_METRICS,
    promql_metric_names,
    promql_vector_selectors,
    render_alert_groups,
)
from redis_constructs.monitoring.dashboard import render_dashboard

SELECTOR = 'namespace="redis",service="redis-shared-metrics"'
ALERT_NAMES = (
    "RedisDown",
    "RedisMissingPrimary",
    "RedisReplicaLinkDown",
    "RedisReplicaMissing",
    "RedisReplicationLag",
    "RedisMemoryNearMax",
    "RedisEvictionsSpiking",
    "RedisRejectedConnections",
    "RedisTooManyClients",
    "RedisAofWriteFailing",
    "RedisAofRewriteFailing",
)
PROMTOOL_TIMEOUT_S = 30


def _groups(**overrides: Any) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {"selector": SELECTOR, "instances_expected": 2}
    kwargs.update(overrides)
    return render_alert_groups(**kwargs)


def _rules(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"]]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found on PATH: install the Debian package that ships it "
            "(promtool/prometheus: 'prometheus'; redis-server/redis-cli: 'redis-server'; "
            "prometheus-redis-exporter: 'prometheus-redis-exporter')"
        )
    return path


def _run(cmd: list[str], *, cwd: Path, timeout: float = PROMTOOL_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def _write_rules(directory: Path, groups: list[dict[str, Any]]) -> Path:
    path = directory / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000))
    return path


# --- structure -------------------------------------------------------------------------------------


def test_alert_names_and_group_order_are_fixed() -> None:
    groups = _groups()
    assert [g["name"] for g in groups] == [
        "redis.availability",
        "redis.replication",
        "redis.saturation",
        "redis.persistence",
    ]
    assert [r["alert"] for r in _rules(groups)] == list(ALERT_NAMES)


def test_render_is_deterministic() -> None:
    first = yaml.safe_dump({"groups": _groups()}, sort_keys=False)
    second = yaml.safe_dump({"groups": _groups()}, sort_keys=False)
    assert first == second


def test_every_alert_has_severity_for_and_annotations() -> None:
    for rule in _rules(_groups()):
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["for"] in ("1m", "5m"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        description = rule["annotations"]["description"]
        assert "{{ $value" in description, rule["alert"]
        if rule["alert"] != "RedisMissingPrimary":  # absent() has no pod to name
            assert "$labels.pod" in description, rule["alert"]


def test_every_expression_uses_the_selector_and_known_metrics() -> None:
    allowed = set(EXPORTED_METRICS) | set(SCRAPE_METRICS)
    for rule in _rules(_groups()):
        selectors = promql_vector_selectors(rule["expr"])
        assert selectors, rule["alert"]
        for name, body in selectors:
            assert name in allowed, f"{rule['alert']}: {name!r} is not a verified exporter metric"
            assert body.startswith(SELECTOR), f"{rule['alert']}: {name}{{{body}}} lacks the selector"


def test_selector_is_applied_verbatim() -> None:
    other = 'namespace="cache",service="redis-other-metrics"'
    for rule in _rules(_groups(selector=other)):
        assert SELECTOR not in rule["expr"]
        assert all(body.startswith(other) for _, body in promql_vector_selectors(rule["expr"]))


def test_role_label_is_configurable() -> None:
    rules = {r["alert"]: r for r in _rules(_groups(redis_role_label="role"))}
    assert (
        'redis_instance_info{namespace="redis",service="redis-shared-metrics",role="master"}'
        in (rules["RedisMissingPrimary"]["expr"])
    )


def test_thresholds_reach_the_expressions() -> None:
    rules = {
        r["alert"]: r
        for r in _rules(
            _groups(
                instances_expected=3,
                memory_threshold=0.75,
                max_clients=250,
                replication_lag_seconds=12,
                evicted_keys_per_second=2.5,
                rate_window="10m",
                for_short="2m",
                for_long="15m",
            )
        )
    }
    assert rules["RedisReplicaMissing"]["expr"].startswith('(redis_connected_slaves{namespace="redis"')
    assert "< 2) and on (namespace, pod)" in rules["RedisReplicaMissing"]["expr"]
    assert rules["RedisMemoryNearMax"]["expr"].endswith("> 0.75")
    assert rules["RedisTooManyClients"]["expr"].endswith("> 250")
    assert rules["RedisReplicationLag"]["expr"].endswith("> 12")
    assert rules["RedisEvictionsSpiking"]["expr"].endswith("[10m]) > 2.5")
    assert rules["RedisDown"]["for"] == "2m"
    assert rules["RedisMemoryNearMax"]["for"] == "15m"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('rate(foo{a="b"}[5m]) > bar', (("foo", 'a="b"'), ("bar", ""))),
        (
            'sum by (pod, role) (x{a="1"}) / on (pod) group_left (role) y{a="2"}',
            (("x", 'a="1"'), ("y", 'a="2"')),
        ),
        ('label_replace(absent(up{a="{b}"}), "pod", "x", "", "")', (("up", 'a="{b}"'),)),
        ('{__name__=~"redis_.*"} offset 5m', (("", '__name__=~"redis_.*"'),)),
        ("count(z[$__rate_interval]) without (instance) and bool 1", (("z", ""),)),
    ],
)
def test_promql_selector_scanner(expr: str, expected: tuple[tuple[str, str], ...]) -> None:
    assert promql_vector_selectors(expr) == expected


def test_promql_scanner_rejects_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="cannot tokenize at offset 4"):
        promql_metric_names("foo ; bar")


# --- validation --------------------------------------------------------------------------------------


def test_fails_selector_with_braces() -> None:
    with pytest.raises(PropError, match=r"^selector: got '\{namespace=\"redis\"\}'; expected one or more"):
        _groups(selector='{namespace="redis"}')


def test_fails_empty_selector() -> None:
    with pytest.raises(PropError, match=r"^selector: got ''; expected"):
        _groups(selector="")


def test_fails_instances_expected_below_one() -> None:
    with pytest.raises(PropError, match=r"^instances_expected: got 0; expected an int >= 1"):
        _groups(instances_expected=0)


@pytest.mark.parametrize("prop", ["for_short", "for_long", "rate_window"])
def test_fails_bad_duration(prop: str) -> None:
    with pytest.raises(PropError, match=rf"^{prop}: got '5 minutes'; expected a Prometheus duration"):
        _groups(**{prop: "5 minutes"})


@pytest.mark.parametrize("value", [0.0, 1.01])
def test_fails_memory_threshold_outside_unit_interval(value: float) -> None:
    with pytest.raises(PropError, match=r"^memory_threshold: got .*; expected a fraction of maxmemory in \(0, 1\]"):
        _groups(memory_threshold=value)


def test_fails_max_clients_below_one() -> None:
    with pytest.raises(PropError, match=r"^max_clients: got 0; expected an int >= 1"):
        _groups(max_clients=0)


def test_fails_replication_lag_below_one() -> None:
    with pytest.raises(PropError, match=r"^replication_lag_seconds: got 0; expected an int >= 1"):
        _groups(replication_lag_seconds=0)


def test_fails_evictions_rate_not_positive() -> None:
    with pytest.raises(PropError, match=r"^evicted_keys_per_second: got 0; expected a rate > 0"):
        _groups(evicted_keys_per_second=0)


def test_fails_role_label_not_a_label_name() -> None:
    with pytest.raises(PropError, match=r"^redis_role_label: got 'exported-role'; .*did you mean exported_role\?"):
        _groups(redis_role_label="exported-role")


@pytest.mark.parametrize(
    ("typed", "fix"), [("my.role", "; did you mean my_role?"), ("9role", "; did you mean _9role?")]
)
def test_a_bad_role_label_suggests_the_typed_name_made_valid(typed: str, fix: str) -> None:
    """Computed from what was typed: `my.role` is not told to use exported_role."""
    with pytest.raises(PropError) as error:
        _groups(redis_role_label=typed)
    assert str(error.value) == f"redis_role_label: got {typed!r}; expected a Prometheus label name{fix}"


# --- promtool check rules -----------------------------------------------------------------------------


def test_promtool_check_rules_succeeds(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    rules = _write_rules(tmp_path, _groups())
    result = _run([promtool, "check", "rules", str(rules)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout


def test_promtool_check_rules_catches_a_broken_expression(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    groups = _groups()
    groups[0]["rules"][0]["expr"] += " or ("
    rules = _write_rules(tmp_path, groups)
    result = _run([promtool, "check", "rules", str(rules)], cwd=tmp_path)
    assert result.returncode != 0
    assert "SUCCESS" not in result.stdout


# --- promtool test rules: synthetic primary + replica -------------------------------------------------

FAULT_AT = 10  # minute the fault starts in every scenario
HORIZON = 30  # minutes of input series
TARGET = {
    "namespace": "redis",
    "service": "redis-shared-metrics",
    "job": "redis-shared-metrics",
    "container": "metrics",
    "endpoint": "metrics",
}
MASTER = {**TARGET, "pod": "redis-shared-master-0", "role": "master", "instance": "198.18.0.10:9121"}
REPLICA = {**TARGET, "pod": "redis-shared-replicas-0", "role": "replica", "instance": "198.18.0.11:9121"}
# A broken Redis elsewhere: the selector must keep it out of every alert.
NOISE = {
    **TARGET,
    "namespace": "other",
    "pod": "redis-other-0",
    "role": "master",
    "instance": "198.18.0.99:9121",
}
SLAVE_LABELS = {"slave_ip": "198.18.0.11", "slave_port": "6379", "slave_state": "online"}
LINK_LABELS = {
    "master_host": "redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local",
    "master_port": "6379",
}
MAX_BYTES = 1_000_000_000

SeriesMap = dict[str, tuple[str, dict[str, str], str]]
"""``<who>:<metric>`` -> (metric name, labels, promtool values notation)."""
Mutation = Callable[[SeriesMap], None]


def constant(value: float | str) -> str:
    return f"{value}x{HORIZON}"


def step(before: float | str, after: float | str) -> str:
    """``before`` until the fault, ``after`` from minute FAULT_AT on (``stale`` ends the series)."""
    if after == "stale":
        return f"{before}x{FAULT_AT - 1} stale"
    return f"{before}x{FAULT_AT - 1} {after}x{HORIZON - FAULT_AT}"


def counter_from_fault(per_minute: int) -> str:
    """A counter flat at 0 that grows by ``per_minute`` from minute FAULT_AT on."""
    return f"0x{FAULT_AT - 1} {per_minute}+{per_minute}x{HORIZON - FAULT_AT}"


def appears_at_fault(value: float) -> str:
    return f"_x{FAULT_AT} {value}x{HORIZON - FAULT_AT}"


def _series_name(metric: str, labels: dict[str, str]) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{body}}}"


def healthy_pair() -> SeriesMap:
    """Series of a healthy primary + attached replica, keyed ``<who>:<metric>``; value = (metric, labels, values)."""
    series: SeriesMap = {}

    def add(key: str, metric: str, labels: dict[str, str], values: str) -> None:
        series[key] = (metric, labels, values)

    for who, target, clients, redis_role in (("m", MASTER, 20, "master"), ("r", REPLICA, 5, "slave")):
        add(f"{who}:up", "up", target, constant(1))
        add(f"{who}:redis_up", "redis_up", target, constant(1))
        info = {**target, "exported_role": redis_role, "redis_version": "7.0.15"}
        add(f"{who}:redis_instance_info", "redis_instance_info", info, constant(1))
        add(
            f"{who}:redis_connected_slaves",
            "redis_connected_slaves",
            target,
            constant(1 if who == "m" else 0),
        )
        add(f"{who}:redis_memory_used_bytes", "redis_memory_used_bytes", target, constant(MAX_BYTES // 2))
        add(f"{who}:redis_evicted_keys_total", "redis_evicted_keys_total", target, constant(0))
        add(f"{who}:redis_rejected_connections_total", "redis_rejected_connections_total", target, constant(0))
        add(f"{who}:redis_connected_clients", "redis_connected_clients", target, constant(clients))
        add(f"{who}:redis_aof_last_write_status", "redis_aof_last_write_status", target, constant(1))
        add(f"{who}:redis_aof_last_bgrewrite_status", "redis_aof_last_bgrewrite_status", target, constant(1))
    # maxmemory on the primary; the replica runs without one (0), which must never count as "near max".
    add("m:redis_memory_max_bytes", "redis_memory_max_bytes", MASTER, constant(MAX_BYTES))
    add("r:redis_memory_max_bytes", "redis_memory_max_bytes", REPLICA, constant(0))
    add("m:lag", "redis_connected_slave_lag_seconds", {**MASTER, **SLAVE_LABELS}, constant(0))
    add("r:redis_master_link_up", "redis_master_link_up", {**REPLICA, **LINK_LABELS}, constant(1))
    # Everything is wrong in another namespace, at all times.
    for metric, value in (
        ("up", 0),
        ("redis_up", 0),
        ("redis_master_link_up", 0),
        ("redis_connected_slaves", 0),
        ("redis_connected_slave_lag_seconds", 999),
        ("redis_memory_used_bytes", MAX_BYTES),
        ("redis_memory_max_bytes", MAX_BYTES),
        ("redis_connected_clients", 99_999),
        ("redis_aof_last_write_status", 0),
        ("redis_aof_last_bgrewrite_status", 0),
    ):
        add(f"noise:{metric}", metric, NOISE, constant(value))
    add("noise:evicted", "redis_evicted_keys_total", NOISE, "0+9999x30")
    add("noise:rejected", "redis_rejected_connections_total", NOISE, "0+9999x30")
    return series


@dataclass(frozen=True)
class Expected:
    labels: dict[str, str]
    description: str


@dataclass(frozen=True)
class Scenario:
    name: str
    mutate: Mutation
    fires: dict[str, list[Expected]] = field(default_factory=dict)


def _set(key: str, values: str) -> Mutation:
    def apply(series: SeriesMap) -> None:
        metric, labels, _ = series[key]
        series[key] = (metric, labels, values)

    return apply


def _all(
    *steps: Mutation,
) -> Mutation:
    def apply(series: SeriesMap) -> None:
        for s in steps:
            s(series)

    return apply


def _end_all(prefix: str) -> Mutation:
    def apply(series: SeriesMap) -> None:
        for key, (metric, labels, values) in list(series.items()):
            if key.startswith(prefix):
                series[key] = (metric, labels, f"{values.split('x')[0]}x{FAULT_AT - 1} stale")

    return apply


def _add(key: str, metric: str, labels: dict[str, str], values: str) -> Mutation:
    def apply(series: SeriesMap) -> None:
        series[key] = (metric, labels, values)

    return apply


def _sev(alert: str) -> str:
    return str(next(r["labels"]["severity"] for r in _rules(_groups()) if r["alert"] == alert))


SCENARIOS = (
    Scenario("healthy", lambda series: None),
    Scenario(
        "at_thresholds_nothing_fires",
        _all(
            _set("m:redis_memory_used_bytes", constant(MAX_BYTES * 9 // 10)),
            _set("m:redis_connected_clients", constant(1000)),
            _set("m:lag", constant(30)),
        ),
    ),
    Scenario(
        "primary_redis_unreachable",
        _all(
            _end_all("m:redis_"),
            _end_all("m:lag"),
            _set("m:redis_up", step(1, 0)),
            _set("r:redis_master_link_up", step(1, 0)),
        ),
        {
            "RedisDown": [
                Expected(
                    MASTER,
                    "Redis pod redis-shared-master-0 in namespace redis is down or cannot be scraped (value 0).",
                )
            ],
            "RedisMissingPrimary": [
                Expected(
                    {"namespace": "redis", "service": "redis-shared-metrics", "exported_role": "master"},
                    "No Redis instance in namespace redis reports role master (value 1):"
                    " writes fail and replicas cannot sync.",
                )
            ],
            "RedisReplicaLinkDown": [
                Expected(
                    {**REPLICA, **LINK_LABELS},
                    "Redis replica redis-shared-replicas-0 has no replication link to "
                    f"{LINK_LABELS['master_host']} (value 0): it serves stale reads and no longer protects the data.",
                )
            ],
        },
    ),
    Scenario(
        "replica_target_down",
        _all(
            _end_all("r:redis_"),
            _end_all("m:lag"),
            _set("r:up", step(1, 0)),
            _set("m:redis_connected_slaves", step(1, 0)),
        ),
        {
            "RedisDown": [
                Expected(
                    REPLICA,
                    "Redis pod redis-shared-replicas-0 in namespace redis is down or cannot be scraped (value 0).",
                )
            ],
            "RedisReplicaMissing": [
                Expected(MASTER, "Redis primary redis-shared-master-0 has 0 connected replica(s); expected 1.")
            ],
        },
    ),
    Scenario(
        # The ServiceMonitor's tenant key-count scrape of the same pod (endpoint="key-counts") fails, e.g. a SCAN
        # slower than its timeout: Redis is not down (tenant_rules' RedisTenantKeyCountsFailing says it).
        "key_count_scrape_down_is_not_redis_down",
        _add("r:up_key_counts", "up", {**REPLICA, "endpoint": "key-counts"}, step(1, 0)),
    ),
    Scenario(
        "no_target_discovered",
        _all(_end_all("m:"), _end_all("r:")),
        {
            "RedisDown": [
                Expected(
                    {"namespace": "redis", "service": "redis-shared-metrics"},
                    "No Redis metrics target in namespace redis is down or cannot be scraped (value 1).",
                )
            ],
            "RedisMissingPrimary": [
                Expected(
                    {"namespace": "redis", "service": "redis-shared-metrics", "exported_role": "master"},
                    "No Redis instance in namespace redis reports role master (value 1):"
                    " writes fail and replicas cannot sync.",
                )
            ],
        },
    ),
    Scenario(
        "replica_pod_gone_entirely",
        _all(_end_all("r:"), _end_all("m:lag"), _set("m:redis_connected_slaves", step(1, 0))),
        {
            "RedisReplicaMissing": [
                Expected(MASTER, "Redis primary redis-shared-master-0 has 0 connected replica(s); expected 1.")
            ],
        },
    ),
    Scenario(
        "primary_demoted_to_replica",
        _all(
            _end_all("m:redis_instance_info"),
            _add(
                "m:info_slave",
                "redis_instance_info",
                {**MASTER, "exported_role": "slave", "redis_version": "7.0.15"},
                appears_at_fault(1),
            ),
        ),
        {
            "RedisMissingPrimary": [
                Expected(
                    {"namespace": "redis", "service": "redis-shared-metrics", "exported_role": "master"},
                    "No Redis instance in namespace redis reports role master (value 1):"
                    " writes fail and replicas cannot sync.",
                )
            ],
        },
    ),
    Scenario(
        "replica_link_down",
        _all(
            _set("r:redis_master_link_up", step(1, 0)),
            _set("m:redis_connected_slaves", step(1, 0)),
            _end_all("m:lag"),
        ),
        {
            "RedisReplicaLinkDown": [
                Expected(
                    {**REPLICA, **LINK_LABELS},
                    "Redis replica redis-shared-replicas-0 has no replication link to "
                    f"{LINK_LABELS['master_host']} (value 0): it serves stale reads and no longer protects the data.",
                )
            ],
            "RedisReplicaMissing": [
                Expected(MASTER, "Redis primary redis-shared-master-0 has 0 connected replica(s); expected 1.")
            ],
        },
    ),
    Scenario(
        "replication_lag",
        _set("m:lag", step(0, 45)),
        {
            "RedisReplicationLag": [
                Expected(
                    {**MASTER, **SLAVE_LABELS},
                    "Replica 198.18.0.11 of Redis primary redis-shared-master-0 last acknowledged replication"
                    " 45s ago (threshold 30s).",
                )
            ],
        },
    ),
    Scenario(
        "memory_near_max",
        _set("m:redis_memory_used_bytes", step(MAX_BYTES // 2, MAX_BYTES * 95 // 100)),
        {
            "RedisMemoryNearMax": [
                Expected(MASTER, "Redis redis-shared-master-0 (master) uses 95% of maxmemory (threshold 90%).")
            ],
        },
    ),
    Scenario(
        "evictions_spiking",
        _set("m:redis_evicted_keys_total", counter_from_fault(600)),
        {
            "RedisEvictionsSpiking": [
                Expected(
                    MASTER,
                    "Redis redis-shared-master-0 (master) evicts 10 keys/s over 5m (threshold 1/s):"
                    " maxmemory is too small for the data set.",
                )
            ],
        },
    ),
    Scenario(
        "rejected_connections",
        _set("m:redis_rejected_connections_total", counter_from_fault(3)),
        {
            "RedisRejectedConnections": [
                Expected(
                    MASTER,
                    "Redis redis-shared-master-0 (master) rejected 15 connection(s) in the last 5m:"
                    " maxclients is reached.",
                )
            ],
        },
    ),
    Scenario(
        "too_many_clients",
        _set("m:redis_connected_clients", step(20, 1500)),
        {
            "RedisTooManyClients": [
                Expected(
                    MASTER,
                    "Redis redis-shared-master-0 (master) has 1500 client connections (threshold 1000).",
                )
            ],
        },
    ),
    Scenario(
        "aof_write_failing",
        _set("m:redis_aof_last_write_status", step(1, 0)),
        {
            "RedisAofWriteFailing": [
                Expected(
                    MASTER,
                    "Redis redis-shared-master-0 (master) failed its last AOF write (value 0):"
                    " it refuses writes (MISCONF) until the disk recovers, and stays alive and unready meanwhile."
                    " Is its data volume full? Make room (README 'Full disk'): writes resume within a second.",
                )
            ],
        },
    ),
    Scenario(
        "aof_rewrite_failing_on_replica",
        _set("r:redis_aof_last_bgrewrite_status", step(1, 0)),
        {
            "RedisAofRewriteFailing": [
                Expected(
                    REPLICA,
                    "Redis redis-shared-replicas-0 (replica) failed its last AOF rewrite (value 0):"
                    " the AOF keeps growing.",
                )
            ],
        },
    ),
)


def _for_minutes(alert: str) -> int:
    value = next(r["for"] for r in _rules(_groups()) if r["alert"] == alert)
    assert value.endswith("m"), value
    return int(value[:-1])


def _summary(alert: str) -> str:
    return str(next(r["annotations"]["summary"] for r in _rules(_groups()) if r["alert"] == alert))


def promtool_test_document(scenario: Scenario) -> dict[str, Any]:
    """One ``promtool test rules`` test: quiet before the fault, each expected alert pending until its
    ``for`` has passed, then exactly the expected alerts (and no other) firing."""
    series = healthy_pair()
    scenario.mutate(series)
    checks: list[dict[str, Any]] = []
    longest_for = max(_for_minutes(a) for a in ALERT_NAMES)
    firing_at = FAULT_AT + longest_for + 2
    eval_times = (5, FAULT_AT - 1, firing_at, HORIZON) if not scenario.fires else (FAULT_AT - 1, firing_at)
    for minute in eval_times:
        for alert in ALERT_NAMES:
            expected = scenario.fires.get(alert, []) if minute == firing_at else []
            checks.append(
                {
                    "eval_time": f"{minute}m",
                    "alertname": alert,
                    "exp_alerts": [
                        {
                            "exp_labels": {**e.labels, "severity": _sev(alert)},
                            "exp_annotations": {"summary": _summary(alert), "description": e.description},
                        }
                        for e in expected
                    ],
                }
            )
    for alert in scenario.fires:
        # Condition true since FAULT_AT, but `for` has not elapsed one evaluation before it does.
        checks.append({"eval_time": f"{FAULT_AT + _for_minutes(alert) - 1}m", "alertname": alert, "exp_alerts": []})
    return {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": scenario.name,
                "interval": "1m",
                "input_series": [
                    {"series": _series_name(metric, labels), "values": values}
                    for metric, labels, values in series.values()
                ],
                "alert_rule_test": checks,
            }
        ],
    }


def _promtool_test(tmp_path: Path, document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    promtool = _tool("promtool")
    _write_rules(tmp_path, _groups())
    test_file = tmp_path / "test.yml"
    test_file.write_text(yaml.safe_dump(document, sort_keys=False, width=1000))
    return _run([promtool, "test", "rules", str(test_file)], cwd=tmp_path)


def test_every_alert_has_a_firing_scenario() -> None:
    assert {alert for s in SCENARIOS for alert in s.fires} == set(ALERT_NAMES)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_promtool_unit_test(tmp_path: Path, scenario: Scenario) -> None:
    result = _promtool_test(tmp_path, promtool_test_document(scenario))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_test_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "memory_near_max")
    wrong = Scenario(
        scenario.name,
        scenario.mutate,
        {"RedisMemoryNearMax": [Expected(MASTER, "Redis redis-shared-master-0 (master) uses 94% of maxmemory.")]},
    )
    result = _promtool_test(tmp_path, promtool_test_document(wrong))
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr
    assert "95%" in result.stdout + result.stderr


def test_promtool_unit_test_fails_when_an_unexpected_alert_fires(tmp_path: Path) -> None:
    healthy = next(s for s in SCENARIOS if s.name == "healthy")
    broken = Scenario("healthy_but_memory_full", _set("m:redis_memory_used_bytes", constant(MAX_BYTES)))
    assert healthy.fires == broken.fires == {}
    result = _promtool_test(tmp_path, promtool_test_document(broken))
    assert result.returncode != 0
    assert "RedisMemoryNearMax" in result.stdout + result.stderr


# --- live: real redis-server + redis_exporter (+ Prometheus) on loopback ------------------------------

LIVE_DEADLINE_S = 15.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http_get(url: str, timeout: float = 2.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
    return body.decode()


def _wait_for(what: str, check: Callable[[], bool], deadline_s: float = LIVE_DEADLINE_S) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, ValueError, subprocess.SubprocessError):  # not up yet
            pass
        time.sleep(0.1)
    pytest.fail(f"timed out after {deadline_s}s waiting for {what}")


@dataclass
class LiveStack:
    directory: Path
    primary_port: int
    replica_port: int
    primary_exporter: str
    replica_exporter: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = (self.directory / f"{name}.log").open("wb")
        process = subprocess.Popen(cmd, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def redis_cli(self, port: int, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [_tool("redis-cli"), "-h", "127.0.0.1", "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=check,
        )
        return result.stdout


def _metric_families(text: str) -> dict[str, list[str]]:
    families: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            families.setdefault(name, []).append(line)
    return families


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    redis_server = _tool("redis-server")
    exporter = _tool("prometheus-redis-exporter")
    _tool("redis-cli")
    directory = tmp_path_factory.mktemp("live")
    stack = LiveStack(
        directory=directory,
        primary_port=_free_port(),
        replica_port=_free_port(),
        primary_exporter=f"127.0.0.1:{_free_port()}",
        replica_exporter=f"127.0.0.1:{_free_port()}",
    )
    try:
        for name, port, extra in (
            ("primary", stack.primary_port, ["--repl-diskless-sync-delay", "0"]),
            ("replica", stack.replica_port, ["--replicaof", "127.0.0.1", str(stack.primary_port)]),
        ):
            data = directory / name
            data.mkdir()
            stack.start(
                name,
                [
                    redis_server,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--dir",
                    str(data),
                    "--maxmemory",
                    "100mb",
                    # As redis_conf renders it: p95 in INFO latencystats (the latency panel's "since start").
                    "--latency-tracking-info-percentiles",
                    "50 95 99 99.9",
                    *extra,
                ],
            )
        for name, port, address in (
            ("primary-exporter", stack.primary_port, stack.primary_exporter),
            ("replica-exporter", stack.replica_port, stack.replica_exporter),
        ):
            stack.start(name, [exporter, "--redis.addr", f"redis://127.0.0.1:{port}", "--web.listen-address", address])
        _wait_for(
            "the replica to finish its first sync",
            lambda: "master_link_status:up" in stack.redis_cli(stack.replica_port, "INFO", "replication"),
        )
        stack.redis_cli(stack.primary_port, "SET", "k", "v")
        stack.redis_cli(stack.primary_port, "GET", "k")
        stack.redis_cli(stack.primary_port, "GET", "missing")
        _wait_for(
            "both exporters to answer",
            lambda: all(
                "redis_up 1" in _http_get(f"http://{a}/metrics")
                for a in (stack.primary_exporter, stack.replica_exporter)
            ),
        )
        yield stack
    finally:
        stack.stop()


def test_exported_metrics_match_a_live_exporter(live: LiveStack) -> None:
    primary = _metric_families(_http_get(f"http://{live.primary_exporter}/metrics"))
    replica = _metric_families(_http_get(f"http://{live.replica_exporter}/metrics"))
    assert any('version="1.45' in line for line in primary["redis_exporter_build_info"])
    missing = set(EXPORTED_METRICS) - set(primary) - set(replica)
    assert not missing, f"not exported by redis_exporter: {sorted(missing)}"
    # Which side exports what, as the rules assume.
    assert "redis_master_link_up" in replica and "redis_master_link_up" not in primary
    assert "redis_connected_slave_lag_seconds" in primary
    assert "redis_connected_slave_offset_bytes" in primary
    assert primary["redis_connected_slaves"] == ["redis_connected_slaves 1"]
    assert primary["redis_memory_max_bytes"] == ["redis_memory_max_bytes 1.048576e+08"]
    # The exporter's own role label says "slave", never "replica"; it collides with the target label.
    assert any('role="master"' in line for line in primary["redis_instance_info"])
    assert any('role="slave"' in line for line in replica["redis_instance_info"])
    assert set(SCRAPE_METRICS).isdisjoint(set(primary) | set(replica))


def _prometheus_config(live: LiveStack) -> dict[str, Any]:
    """Scrape both exporters with the target labels the ServiceMonitor produces."""
    targets = []
    for address, pod, role in (
        (live.primary_exporter, "redis-shared-master-0", "master"),
        (live.replica_exporter, "redis-shared-replicas-0", "replica"),
    ):
        labels = {"namespace": "redis", "service": "redis-shared-metrics", "pod": pod, "role": role}
        targets.append({"targets": [address], "labels": {**labels, "container": "metrics", "endpoint": "metrics"}})
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [{"job_name": "redis-shared-metrics", "static_configs": targets}],
    }


def _firing(prometheus: str) -> set[tuple[str, str]]:
    payload = json.loads(_http_get(f"http://{prometheus}/api/v1/alerts"))
    return {
        (a["labels"]["alertname"], a["labels"].get("pod", ""))
        for a in payload["data"]["alerts"]
        if a["state"] == "firing"
    }


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    url = f"http://{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    result: list[dict[str, Any]] = json.loads(_http_get(url))["data"]["result"]
    return result


def _all_groups_evaluated_after(prometheus: str, moment: float) -> bool:
    groups = json.loads(_http_get(f"http://{prometheus}/api/v1/rules"))["data"]["groups"]
    evaluated = [
        datetime.fromisoformat(g["lastEvaluation"][:26].rstrip("Z")).replace(tzinfo=UTC).timestamp() for g in groups
    ]
    return len(evaluated) == 4 and all(t > moment for t in evaluated)


@pytest.fixture(scope="module")
def prometheus(live: LiveStack) -> str:
    """A real Prometheus scraping both exporters every second and evaluating the rules (``for`` 0s)."""
    prometheus_bin = _tool("prometheus")
    directory = live.directory / "prometheus"
    directory.mkdir()
    _write_rules(directory, _groups(for_short="0s", for_long="0s", rate_window="30s"))
    (directory / "prometheus.yml").write_text(yaml.safe_dump(_prometheus_config(live), sort_keys=False))
    address = f"127.0.0.1:{_free_port()}"
    live.start(  # stopped with the rest of the live stack
        "prometheus",
        [
            prometheus_bin,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={address}",
        ],
    )
    # Two scrapes of each target, so that every rate() over the test windows has data for both pods.
    _wait_for(
        "Prometheus to scrape both exporters twice",
        lambda: len(_query(address, 'count_over_time(redis_up{namespace="redis"}[30s]) >= 2')) == 2,
    )
    scraped_at = time.time()
    _wait_for(
        "every rule group to be evaluated after that",
        lambda: _all_groups_evaluated_after(address, scraped_at),
    )
    return address


def test_role_target_label_displaces_the_exporters_role_label(prometheus: str) -> None:
    roles = {
        (s["metric"]["pod"], s["metric"]["role"], s["metric"]["exported_role"])
        for s in _query(prometheus, "redis_instance_info")
    }
    assert roles == {
        ("redis-shared-master-0", "master", "master"),
        ("redis-shared-replicas-0", "replica", "slave"),
    }


# Roles each dashboard panel shows for a healthy primary + replica.
DASHBOARD_ROLES = {
    "Redis up": {"master", "replica"},
    "Role reported by Redis": {"master", "replica"},
    "Connected replicas": {"master", "replica"},
    "AOF status": {"master", "replica"},
    "Commands per second": {"master", "replica"},
    "Keyspace hit ratio": {"master", "replica"},
    "Memory used vs maxmemory": {"master", "replica"},
    "Connected clients": {"master", "replica"},
    "Replication link": {"replica"},
    "Replication lag (seconds)": {"master"},
    "Replication lag (bytes)": {"master"},
    "Evicted keys per second": {"master", "replica"},
    "Rejected connections per second": {"master", "replica"},
    "Command latency (ms)": {"master", "replica"},
}


def test_dashboard_queries_return_per_pod_series_on_real_prometheus(prometheus: str) -> None:
    panels = json.loads(render_dashboard(selector=SELECTOR))["panels"]
    assert {p["title"] for p in panels} == set(DASHBOARD_ROLES)
    for panel in panels:
        for target in panel["targets"]:
            if promql_metric_names(target["expr"]) & set(EXPORTED_METRICS_V188):
                continue  # exporter v1.88 only (the image's); the tests' 1.45 has no LATENCY HISTOGRAM series
            expr = target["expr"].replace("$__rate_interval", "30s")
            result = _query(prometheus, expr)
            roles = {s["metric"].get("role") for s in result}
            assert roles == DASHBOARD_ROLES[panel["title"]], (panel["title"], target["refId"], result)
            assert all(s["metric"].get("pod") for s in result), (panel["title"], result)


def test_alerts_on_a_real_prometheus_scraping_live_redis(live: LiveStack, prometheus: str) -> None:
    """Healthy pair: nothing fires. Break the replica's link, then stop the primary: the right alerts fire.

    Runs last in this module: it breaks the live stack. `for` is 0s here so the test needs no waiting.
    """
    for _ in range(3):  # several evaluations of a healthy pair: nothing fires
        assert _firing(prometheus) == set()
        time.sleep(0.5)

    live.redis_cli(live.replica_port, "REPLICAOF", "127.0.0.1", str(_free_port()))
    _wait_for(
        "RedisReplicaLinkDown and RedisReplicaMissing",
        lambda: (
            _firing(prometheus)
            == {
                ("RedisReplicaLinkDown", "redis-shared-replicas-0"),
                ("RedisReplicaMissing", "redis-shared-master-0"),
            }
        ),
    )

    live.redis_cli(live.primary_port, "SHUTDOWN", "NOSAVE", check=False)  # the reply is the closed socket
    _wait_for(
        "RedisDown and RedisMissingPrimary",
        lambda: {("RedisDown", "redis-shared-master-0"), ("RedisMissingPrimary", "")} <= _firing(prometheus),
    )
