"""Alerts on the scheduled checks and on command latency (issue #20), as plain data like :mod:`.alerts`.

* ``RedisCheckFailed``: the scheduled check's newest failed run started after its last success (kube-state-metrics:
  ``kube_job_status_start_time``, ``kube_job_failed{condition="true"}``, ``kube_job_owner``,
  ``kube_cronjob_status_last_successful_time``; all STABLE in kube-state-metrics' docs/metrics/workload/).
* ``RedisCheckStale``: no successful scheduled run for ``stale_after`` (since the CronJob was created if none ever
  succeeded: ``kube_cronjob_created``).
* ``RedisLatencyHigh``: the p95 of command execution time over 5 m, from redis_exporter's per-command histogram
  ``redis_commands_latencies_usec`` (LATENCY HISTOGRAM; v1.88, not in 1.45), above ``latency_p95_ms``.

These go into the same PrometheusRule as :func:`.alerts.render_alert_groups` (the group ``redis.checks``), so the
decommission gate's alert list (:data:`CHECK_ALERT_NAMES` plus the others) names them too.
"""

from __future__ import annotations

from typing import Any, Final

CHECK_ALERT_NAMES: Final = ("RedisCheckFailed", "RedisCheckStale", "RedisLatencyHigh")


def render_check_alert_group(
    *,
    namespace: str,
    cronjob: str | None,
    redis_selector: str,
    stale_after_seconds: int = 3 * 3600,
    latency_p95_ms: float = 10.0,
    for_latency: str = "10m",
) -> dict[str, Any]:
    """The ``redis.checks`` rule group. ``cronjob``: the scheduled check's name (its Jobs are owned by it);
    ``None``: no scheduled check, so only ``RedisLatencyHigh``.

    ``redis_selector``: the exporter series' matchers, as for the other alerts.
    """
    ksm = f'namespace="{namespace}"'
    cj = f'{ksm},cronjob="{cronjob}"'
    owned = f'kube_job_owner{{{ksm},owner_kind="CronJob",owner_name="{cronjob}"}}'
    failed_runs = (
        f"kube_job_status_start_time{{{ksm}}}"
        f' * on (namespace, job_name) group_left () (kube_job_failed{{{ksm},condition="true"}} == 1)'
        f" * on (namespace, job_name) group_left () {owned}"
    )
    last_ok = f"max by (namespace) (kube_cronjob_status_last_successful_time{{{cj}}})"
    check_rules: list[dict[str, Any]] = [
        {
            "alert": "RedisCheckFailed",
            "expr": (
                f"(max by (namespace) ({failed_runs}) > on (namespace) {last_ok})"
                f" or (max by (namespace) ({failed_runs}) unless on (namespace) {last_ok})"
            ),
            "for": "0m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "redis-shared's scheduled check failed",
                "description": (
                    f"The newest run of CronJob {cronjob}" + " in {{ $labels.namespace }} failed after its last"
                    " success: `kubectl -n {{ $labels.namespace }} logs job/<the failed Job>` names the check"
                    " that failed and its figure."
                ),
            },
        },
        {
            "alert": "RedisCheckStale",
            "expr": (
                f"time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{{{cj}}}"
                f" or kube_cronjob_created{{{cj}}}) > {stale_after_seconds}"
            ),
            "for": "0m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "redis-shared's scheduled check has not succeeded lately",
                "description": (
                    "CronJob {{ $labels.cronjob }} in {{ $labels.namespace }} last succeeded"
                    " {{ $value | humanizeDuration }} ago (threshold " + f"{stale_after_seconds}s" + ")."
                ),
            },
        },
    ]
    latency_rule: dict[str, Any] = {
        "alert": "RedisLatencyHigh",
        "expr": (
            "histogram_quantile(0.95, sum by (namespace, pod, le)"
            f" (rate(redis_commands_latencies_usec_bucket{{{redis_selector}}}[5m]))) / 1000"
            f" > {latency_p95_ms:g}"
        ),
        "for": for_latency,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "Redis commands are slow",
            "description": (
                "The p95 execution time of commands on {{ $labels.pod }} was {{ $value }} ms over 5 m"
                f" (SC-006: at most {latency_p95_ms:g} ms)."
            ),
        },
    }
    return {"name": "redis.checks", "rules": [*(check_rules if cronjob else []), latency_rule]}


#: Dashboard panel queries (Grafana, ``$__rate_interval``; ``SEL``: the selector): p95 over the interval from the
#: histogram (exporter v1.88), the p95 Redis itself computes since its start (``INFO latencystats`` with
#: ``latency-tracking-info-percentiles 50 95 99 99.9`` in redis.conf; the exporter labels it ``quantile="95"``,
#: not ``"0.95"``, in 1.45 and 1.88 alike), and the mean per command.
LATENCY_PANEL_QUERIES: Final = (
    (
        "{{pod}} ({{role}}) p95",
        "histogram_quantile(0.95, sum by (namespace, pod, role, le)"
        " (rate(redis_commands_latencies_usec_bucket{SEL}[$__rate_interval]))) / 1000",
    ),
    (
        "{{pod}} ({{role}}) {{cmd}} p95 since start",
        'max by (namespace, pod, role, cmd) (redis_latency_percentiles_usec{SEL,quantile="95"}) / 1000',
    ),
    (
        "{{pod}} ({{role}}) {{cmd}} mean",
        "sum by (namespace, pod, role, cmd) (rate(redis_commands_duration_seconds_total{SEL}[$__rate_interval]))"
        " * 1000 / sum by (namespace, pod, role, cmd) (rate(redis_commands_total{SEL}[$__rate_interval]))",
    ),
)
