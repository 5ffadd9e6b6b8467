"""RedisMonitoring: ServiceMonitor, alert rules and a Grafana dashboard for a RedisShared (SC-005)."""

from __future__ import annotations

from dataclasses import dataclass

import constructs
from cdk8s import ApiObjectMetadata
from cdk8s_plus_28 import k8s

from .._imports.com.coreos import monitoring as prom
from ..core import validation as v
from ..core.errors import PropError, names_construct
from ..server.redis_conf import EXPORTER_USERNAME
from ..server.redis_shared import RedisShared
from ..server.tenants import count_keys_param
from ..server.workload import exporter_uri
from .alerts import BACKUP_REPORT_ENDPOINT, KEY_COUNT_ENDPOINT, render_alert_groups
from .backup_alerts import BackupMonitoring
from .check_alerts import render_check_alert_group
from .dashboard import render_dashboard
from .late_objects import LateConfigMap, LatePrometheusRule, LateServiceMonitor
from .resilience_alerts import render_resilience_group
from .tenant_rules import render_tenant_groups

#: The tenants' key counts: one SCAN per confined tenant's prefix on every scrape, so far less often than the
#: metrics, with room for a slow SCAN.
KEY_COUNT_INTERVAL = "60s"
KEY_COUNT_SCRAPE_TIMEOUT = "30s"
#: The backup's report changes once a night: a scrape a minute is plenty, and well inside Prometheus's 5 m staleness.
BACKUP_REPORT_INTERVAL = "60s"


def _seconds(prop: str, value: str) -> float:
    return v.duration_seconds(
        prop, value, units=("s", "m"), expected="a duration in whole seconds or minutes, e.g. '15s'"
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisMonitoringProps:
    """Props of :class:`RedisMonitoring`: which Redis, how often to scrape it, and the alert thresholds.

    Validates itself on construction.
    """

    #: The RedisShared to monitor: its metrics Service, replica count and monitoring namespace.
    redis: RedisShared
    #: Scrape interval; the plan asks for 15 s or faster. Default: ``"15s"``.
    interval: str = "15s"
    #: Scrape timeout, below the interval. Default: ``"10s"``.
    scrape_timeout: str = "10s"
    #: Value of the ``release`` label kube-prometheus-stack selects ServiceMonitors and rules by.
    #: Default: ``"kube-prometheus-stack"``.
    release_label: str = "kube-prometheus-stack"
    #: Namespace of Grafana, whose sidecar loads ConfigMaps labelled ``grafana_dashboard: "1"``.
    #: Default: - the RedisShared's monitoring namespace.
    dashboard_namespace: str | None = None
    #: RedisMemoryNearMax fires above this share of maxmemory. Default: 0.9.
    memory_threshold: float = 0.9
    #: RedisTooManyClients fires above this many connections per instance. Default: 1000.
    max_clients: int = 1000
    #: The backup CronJob to alert on (too old, last run failed) and show on the dashboard (age, size, keys; the
    #: size and keys through a ServiceMonitor endpoint that reads the backup's report keys on the replica).
    #: Default: - no backup alerts, endpoint or panels.
    backup: BackupMonitoring | None = None
    #: The scheduled check's CronJob (``RedisChecks.cronjob_name``): alerts ``RedisCheckFailed`` and
    #: ``RedisCheckStale`` watch it (docs/checks.md). Default: - no check alerts.
    checks_cronjob: str | None = None
    #: ``RedisLatencyHigh`` fires when the p95 command execution time stays above this many ms for 10 m (SC-006).
    #: Default: 10 (from 0.01 to 10,000).
    latency_p95_ms: float = 10.0

    def __post_init__(self) -> None:
        v.instance("redis", self.redis, RedisShared, "the RedisShared to monitor")
        v.fraction("memory_threshold", self.memory_threshold, expected="a fraction of maxmemory in (0, 1]")
        v.int_in_range("max_clients", self.max_clients, 1, 1_000_000)
        if self.checks_cronjob is not None:
            v.dns_subdomain("checks_cronjob", self.checks_cronjob, max_length=52)
        v.number_in_range("latency_p95_ms", self.latency_p95_ms, 0.01, 10_000)
        interval = _seconds("interval", self.interval)
        if interval > 15:
            raise PropError("interval", self.interval, "at most '15s' (SC-005: metrics every 15 s or faster)")
        if _seconds("scrape_timeout", self.scrape_timeout) >= interval:
            raise PropError("scrape_timeout", self.scrape_timeout, f"less than interval {self.interval!r}")
        v.dns_label("release_label", self.release_label)
        v.dns_label("dashboard_namespace", _dashboard_namespace(self))
        if self.backup is not None:
            v.instance("backup", self.backup, BackupMonitoring, "a BackupMonitoring")


def _dashboard_namespace(p: RedisMonitoringProps) -> str:
    """Where the dashboard ConfigMap goes: ``dashboard_namespace``, or the RedisShared's monitoring namespace."""
    # ``is None``, not ``or``: a wrong falsy value ("", 0.0, False) is refused, not read as "the default".
    return p.redis.monitoring_namespace if p.dashboard_namespace is None else p.dashboard_namespace


class RedisMonitoring(constructs.Construct):
    """Metrics for both Redis instances, alerting rules, and a dashboard with both side by side.

    Creates a ServiceMonitor on ``<name>-metrics`` (interval 15 s; target labels ``pod`` and ``role`` from
    the pod's ``redis-shared/role`` label, which a failover moves), a PrometheusRule with the alerts of
    :mod:`redis_constructs.monitoring.alerts`, and a ConfigMap ``<name>-dashboard`` in Grafana's namespace.

    Per tenant (``redis.tenants``, read at synth so a tenant added late reaches all three): a second
    ServiceMonitor endpoint counting the confined tenants' keys on the replicas, the recording rules and alerts
    of :mod:`redis_constructs.monitoring.tenant_rules`, and a dashboard row (docs/tenant-metrics.md).

    Example::

        RedisMonitoring(chart, "Monitoring", RedisMonitoringProps(redis=redis))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: RedisMonitoringProps) -> None:
        super().__init__(scope, id)
        p = v.instance("props", props, RedisMonitoringProps, "a RedisMonitoringProps")
        redis = p.redis
        dashboard_ns = _dashboard_namespace(p)
        self.selector = f'namespace="{redis.namespace}",service="{redis.metrics_service_name}"'
        labels = {"app.kubernetes.io/instance": redis.name, "release": p.release_label}

        self._props = p
        self.service_monitor = LateServiceMonitor(
            self,
            "ServiceMonitor",
            metadata=ApiObjectMetadata(name=redis.name, namespace=redis.namespace, labels=labels),
            spec=self._service_monitor_spec,
        )
        self.prometheus_rule = LatePrometheusRule(
            self,
            "PrometheusRule",
            metadata=ApiObjectMetadata(name=redis.name, namespace=redis.namespace, labels=labels),
            spec=self._prometheus_rule_spec,
        )
        self.dashboard_config_map_name = f"{redis.name}-dashboard"
        LateConfigMap(
            self,
            "Dashboard",
            metadata=k8s.ObjectMeta(
                name=self.dashboard_config_map_name,
                namespace=dashboard_ns,
                labels={"grafana_dashboard": "1", "app.kubernetes.io/instance": redis.name},
            ),
            data=lambda: {
                f"{redis.name}.json": render_dashboard(
                    selector=self.selector,
                    refresh=p.interval,
                    backup=p.backup,
                    tenants=redis.tenants,
                )
            },
        )

    def _relabelings(self) -> list[prom.ServiceMonitorSpecEndpointsRelabelings]:
        return [
            # `role` tells the primary from the replica even while Redis is down.
            prom.ServiceMonitorSpecEndpointsRelabelings(
                source_labels=["__meta_kubernetes_pod_label_redis_shared_role"],
                target_label="role",
                action=prom.ServiceMonitorSpecEndpointsRelabelingsAction.REPLACE,
            ),
            prom.ServiceMonitorSpecEndpointsRelabelings(
                source_labels=["__meta_kubernetes_pod_name"],
                target_label="pod",
                action=prom.ServiceMonitorSpecEndpointsRelabelingsAction.REPLACE,
            ),
        ]

    def _service_monitor_spec(self) -> prom.ServiceMonitorSpec:
        """The metrics endpoint, the LAN proxy's exporter (with a LoadBalancer), the tenants' key-count endpoint
        when a tenant is confined to a prefix, and the backup-report endpoint when backups are monitored."""
        p = self._props
        redis = p.redis
        endpoints = [
            prom.ServiceMonitorSpecEndpoints(
                port="metrics",
                path="/metrics",
                interval=p.interval,
                scrape_timeout=p.scrape_timeout,
                relabelings=self._relabelings(),
            )
        ]
        if redis.lan_proxy_settings is not None:
            # The LAN proxy sidecar's own exporter (docs/resilience.md), same target labels.
            endpoints.append(
                prom.ServiceMonitorSpecEndpoints(
                    port="lan-metrics",
                    path="/metrics",
                    interval=p.interval,
                    scrape_timeout=p.scrape_timeout,
                    relabelings=self._relabelings(),
                )
            )
        count_keys = count_keys_param(redis.tenants)
        if count_keys is not None:
            # One SCAN per confined tenant's prefix (redis_keys_count{db,key}), far less often than the metrics.
            endpoints.append(
                self._scrape_endpoint(
                    params={"count-keys": [count_keys]},
                    endpoint=KEY_COUNT_ENDPOINT,
                    keep="redis_keys_count",
                    interval=KEY_COUNT_INTERVAL,
                    scrape_timeout=KEY_COUNT_SCRAPE_TIMEOUT,
                )
            )
        if p.backup is not None:
            # The backup's report keys (redis_key_value{db,key}): a GET per key, no SCAN. check-single-keys puts string
            # values into labels (key_value_as_string), so never for session data: these keys hold the numbers
            # backup.sh writes, only the `backup` user may write them, and only key_value is kept.
            endpoints.append(
                self._scrape_endpoint(
                    params={"check-single-keys": [p.backup.check_single_keys()]},
                    endpoint=BACKUP_REPORT_ENDPOINT,
                    keep="redis_key_value",
                    interval=BACKUP_REPORT_INTERVAL,
                    scrape_timeout=p.scrape_timeout,
                )
            )
        return prom.ServiceMonitorSpec(
            selector=prom.ServiceMonitorSpecSelector(match_labels=redis.metrics_service_labels),
            namespace_selector=prom.ServiceMonitorSpecNamespaceSelector(match_names=[redis.namespace]),
            endpoints=endpoints,
        )

    def _scrape_endpoint(
        self,
        *,
        params: dict[str, list[str]],
        endpoint: str,
        keep: str,
        interval: str,
        scrape_timeout: str,
    ) -> prom.ServiceMonitorSpecEndpoints:
        """redis_exporter's ``/scrape`` with ``target`` (its own Redis, as its exporter user: the password comes
        from its password file) and ``params`` (``count-keys``, ``check-single-keys``; oliver006/redis_exporter
        exporter/http.go ``scrapeHandler`` reads both, 1.45 and v1.88).

        Query parameters, not the exporter's flags: adding a tenant or a backup changes this object, never the pod.
        On the replicas only (the `keep`; the exporter's REDIS_EXPORTER_SKIP_CHECKKEYS_FOR_ROLE_MASTER covers the
        moments a failover's new role and the pod label disagree), unless there is no replica. ``endpoint`` gets
        its own value, or this scrape's ``up`` would be the metrics scrape's series (same pod, port and job).
        Only the ``keep`` metric is kept: the rest of this scrape repeats the metrics endpoint's series.
        """
        redis = self._props.redis
        relabel = prom.ServiceMonitorSpecEndpointsRelabelings
        action = prom.ServiceMonitorSpecEndpointsRelabelingsAction
        replicas_only = (
            [
                relabel(
                    source_labels=["__meta_kubernetes_pod_label_redis_shared_role"],
                    regex="replica",
                    action=action.KEEP,
                )
            ]
            if redis.replicas >= 1
            else []
        )
        return prom.ServiceMonitorSpecEndpoints(
            port="metrics",
            path="/scrape",
            params={"target": [exporter_uri(redis.tls_port, user=EXPORTER_USERNAME)], **params},
            interval=interval,
            scrape_timeout=scrape_timeout,
            relabelings=[
                *replicas_only,
                *self._relabelings(),
                relabel(target_label="endpoint", replacement=endpoint, action=action.REPLACE),
            ],
            metric_relabelings=[
                prom.ServiceMonitorSpecEndpointsMetricRelabelings(
                    source_labels=["__name__"],
                    regex=keep,
                    action=prom.ServiceMonitorSpecEndpointsMetricRelabelingsAction.KEEP,
                )
            ],
        )

    def _prometheus_rule_spec(self) -> prom.PrometheusRuleSpec:
        """The alerts of :mod:`.alerts`, the tenants' recording rules and alerts (:mod:`.tenant_rules`), the
        resilience alerts (:mod:`.resilience_alerts`), the backup's
        (:mod:`.backup_alerts`), the checks' and the latency alert (:mod:`.check_alerts`)."""
        p = self._props
        redis = p.redis
        groups = render_alert_groups(
            selector=self.selector,
            instances_expected=1 + redis.replicas,
            memory_threshold=p.memory_threshold,
            max_clients=p.max_clients,
        ) + render_tenant_groups(
            selector=self.selector,
            tenants=redis.tenants,
            maxclients=redis.client_limits.maxclients,
            maxmemory_clients_bytes=redis.client_limits.maxmemory_clients_bytes,
        )
        groups.append(
            render_resilience_group(
                selector=self.selector,
                namespace=redis.namespace,
                pod_regex=f"{redis.name}-(master|replicas)-[0-9]+",
                lan_proxy=redis.lan_proxy_settings is not None,
                tls_certificate=redis.tls_certificate_name,
                tls_reload=redis.tls is not None,
            )
        )
        if p.backup is not None:
            groups += [p.backup.alert_group(), p.backup.report_group(self.selector)]
        # The scheduled check's and the latency alerts (kube-state-metrics series: not under the exporter selector).
        groups.append(
            render_check_alert_group(
                namespace=redis.namespace,
                cronjob=p.checks_cronjob,
                redis_selector=self.selector,
                latency_p95_ms=p.latency_p95_ms,
            )
        )
        return prom.PrometheusRuleSpec(
            groups=[
                prom.PrometheusRuleSpecGroups(
                    name=group["name"],
                    rules=[
                        prom.PrometheusRuleSpecGroupsRules(
                            alert=rule.get("alert"),
                            record=rule.get("record"),
                            expr=prom.PrometheusRuleSpecGroupsRulesExpr.from_string(rule["expr"]),
                            for_=rule.get("for"),
                            labels=rule.get("labels"),
                            annotations=rule.get("annotations"),
                        )
                        for rule in group["rules"]
                    ],
                )
                for group in groups
            ]
        )
