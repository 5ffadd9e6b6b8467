"""RedisMonitoring: ServiceMonitor, alert rules and a Grafana dashboard for a RedisShared (SC-005)."""

from __future__ import annotations

from dataclasses import dataclass

import constructs
from cdk8s import ApiObjectMetadata
from cdk8s_plus_28 import k8s

from .._imports.com.coreos import monitoring as prom
from ..core import validation as v
from ..core.errors import PropError, names_construct
from ..server.redis_shared import RedisShared
from .alerts import render_alert_groups
from .dashboard import render_dashboard
from .resilience_alerts import render_resilience_group


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

    def __post_init__(self) -> None:
        v.instance("redis", self.redis, RedisShared, "the RedisShared to monitor")
        v.fraction("memory_threshold", self.memory_threshold, expected="a fraction of maxmemory in (0, 1]")
        v.int_in_range("max_clients", self.max_clients, 1, 1_000_000)
        interval = _seconds("interval", self.interval)
        if interval > 15:
            raise PropError("interval", self.interval, "at most '15s' (SC-005: metrics every 15 s or faster)")
        if _seconds("scrape_timeout", self.scrape_timeout) >= interval:
            raise PropError("scrape_timeout", self.scrape_timeout, f"less than interval {self.interval!r}")
        v.dns_label("release_label", self.release_label)
        v.dns_label("dashboard_namespace", _dashboard_namespace(self))


def _dashboard_namespace(p: RedisMonitoringProps) -> str:
    """Where the dashboard ConfigMap goes: ``dashboard_namespace``, or the RedisShared's monitoring namespace."""
    return p.dashboard_namespace or p.redis.monitoring_namespace


class RedisMonitoring(constructs.Construct):
    """Metrics for both Redis instances, alerting rules, and a dashboard with both side by side.

    Creates a ServiceMonitor on ``<name>-metrics`` (interval 15 s; target labels ``pod`` and ``role`` from
    the pod's ``redis-shared/role`` label, which a failover moves), a PrometheusRule with the alerts of
    :mod:`redis_constructs.monitoring.alerts`, and a ConfigMap ``<name>-dashboard`` in Grafana's namespace.

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

        self.service_monitor = prom.ServiceMonitor(
            self,
            "ServiceMonitor",
            metadata=ApiObjectMetadata(name=redis.name, namespace=redis.namespace, labels=labels),
            spec=prom.ServiceMonitorSpec(
                selector=prom.ServiceMonitorSpecSelector(match_labels=redis.metrics_service_labels),
                namespace_selector=prom.ServiceMonitorSpecNamespaceSelector(match_names=[redis.namespace]),
                endpoints=[
                    prom.ServiceMonitorSpecEndpoints(
                        port="metrics",
                        path="/metrics",
                        interval=p.interval,
                        scrape_timeout=p.scrape_timeout,
                        relabelings=[
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
                        ],
                    ),
                    *(
                        [
                            # The LAN proxy sidecar's own exporter (docs/resilience.md), same target labels.
                            prom.ServiceMonitorSpecEndpoints(
                                port="lan-metrics",
                                path="/metrics",
                                interval=p.interval,
                                scrape_timeout=p.scrape_timeout,
                                relabelings=[
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
                                ],
                            )
                        ]
                        if redis.lan_proxy_settings is not None
                        else []
                    ),
                ],
            ),
        )
        groups = render_alert_groups(
            selector=self.selector,
            instances_expected=1 + redis.replicas,
            memory_threshold=p.memory_threshold,
            max_clients=p.max_clients,
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
        self.prometheus_rule = prom.PrometheusRule(
            self,
            "PrometheusRule",
            metadata=ApiObjectMetadata(name=redis.name, namespace=redis.namespace, labels=labels),
            spec=prom.PrometheusRuleSpec(
                groups=[
                    prom.PrometheusRuleSpecGroups(
                        name=group["name"],
                        rules=[
                            prom.PrometheusRuleSpecGroupsRules(
                                alert=rule["alert"],
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
            ),
        )
        self.dashboard_config_map_name = f"{redis.name}-dashboard"
        k8s.KubeConfigMap(
            self,
            "Dashboard",
            metadata=k8s.ObjectMeta(
                name=self.dashboard_config_map_name,
                namespace=dashboard_ns,
                labels={"grafana_dashboard": "1", "app.kubernetes.io/instance": redis.name},
            ),
            data={f"{redis.name}.json": render_dashboard(selector=self.selector, refresh=p.interval)},
        )
