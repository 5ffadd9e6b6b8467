"""Grafana dashboard for the shared Redis, built with grafana-foundation-sdk (dashboards as code).

Pure module: no cdk8s import. :func:`render_dashboard` returns the dashboard JSON text that a
ConfigMap labelled ``grafana_dashboard: "1"`` hands to Grafana's dashboard sidecar.

Every panel shows the primary and the replicas side by side, one series per pod with the legend
``{{pod}} ({{role}})``, where ``role`` is the ServiceMonitor's target label (``master``/``replica``).
Queries use the caller's ``selector`` and only metric names from
:data:`redis_constructs.monitoring.alerts.EXPORTED_METRICS`.

Example::

    text = render_dashboard(selector='namespace="redis",service="redis-shared-metrics"')
    config_map_data = {"redis-shared.json": text}
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, DataSourceRef

from ..core import validation
from ..core.errors import PropError
from ..core.suggest import prometheus_label_name_fix
from ..server.tenants import Tenant
from .alerts import validate_selector
from .backup_alerts import BackupMonitoring
from .check_alerts import LATENCY_PANEL_QUERIES
from .panels import LEGEND, _build_panel, _Kind, _Mapping, _PanelSpec, _Query
from .tenant_dashboard import add_tenant_rows

__all__ = ["DATASOURCE_VARIABLE", "LEGEND", "dashboard_uid", "render_dashboard"]

DATASOURCE_VARIABLE: Final[str] = "datasource"

_UID_MAX = 40  # Grafana rejects longer dashboard uids


def dashboard_uid(title: str) -> str:
    """Return the stable dashboard uid for ``title``: lowercase words joined by ``-``, at most 40 characters."""
    uid = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:_UID_MAX].strip("-")
    if not uid:
        raise PropError("title", title, "at least one letter or digit (the dashboard uid is derived from it)")
    return uid


def _panel_specs(s: str, redis_role_label: str) -> tuple[_PanelSpec, ...]:

    def per_pod_rate(metric: str) -> str:
        return f"sum by (namespace, pod, role) (rate({metric}{{{s}}}[$__rate_interval]))"

    hits = per_pod_rate("redis_keyspace_hits_total")
    misses = per_pod_rate("redis_keyspace_misses_total")
    return (
        _PanelSpec(
            title="Redis up",
            description="redis_up per pod: the exporter sidecar reached its Redis at the last scrape.",
            kind=_Kind.STAT,
            queries=(_Query(expr=f"redis_up{{{s}}}"),),
            mapping=_Mapping.UP_DOWN,
        ),
        _PanelSpec(
            title="Role reported by Redis",
            description=(
                f"The role Redis itself reports ({redis_role_label} on redis_instance_info), next to the pod's"
                " role label. A pod labelled master reporting slave means the primary was demoted."
            ),
            kind=_Kind.STAT,
            queries=(_Query(expr=f"redis_instance_info{{{s}}}", legend=f"{LEGEND} is {{{{{redis_role_label}}}}}"),),
            text_mode=common.BigValueTextMode.NAME,
        ),
        _PanelSpec(
            title="Connected replicas",
            description="redis_connected_slaves: replicas attached to each instance (the primary should show all).",
            kind=_Kind.STAT,
            queries=(_Query(expr=f"redis_connected_slaves{{{s}}}"),),
        ),
        _PanelSpec(
            title="AOF status",
            description="Status of the last append-only-file write and of the last AOF rewrite.",
            kind=_Kind.STAT,
            queries=(
                _Query(expr=f"redis_aof_last_write_status{{{s}}}", legend=f"{LEGEND} write"),
                _Query(expr=f"redis_aof_last_bgrewrite_status{{{s}}}", legend=f"{LEGEND} rewrite"),
            ),
            mapping=_Mapping.OK_FAILED,
        ),
        _PanelSpec(
            title="Commands per second",
            description="rate(redis_commands_processed_total) per pod.",
            kind=_Kind.TIMESERIES,
            queries=(_Query(expr=per_pod_rate("redis_commands_processed_total")),),
            unit="ops",
        ),
        _PanelSpec(
            title="Keyspace hit ratio",
            description="Key lookups that found a key: hits / (hits + misses) per pod.",
            kind=_Kind.TIMESERIES,
            queries=(_Query(expr=f"{hits} / ({hits} + {misses})"),),
            unit="percentunit",
            min_value=0,
            max_value=1,
        ),
        _PanelSpec(
            title="Memory used vs maxmemory",
            description="redis_memory_used_bytes against redis_memory_max_bytes (hidden while maxmemory is 0).",
            kind=_Kind.TIMESERIES,
            queries=(
                _Query(expr=f"redis_memory_used_bytes{{{s}}}", legend=f"{LEGEND} used"),
                _Query(expr=f"redis_memory_max_bytes{{{s}}} > 0", legend=f"{LEGEND} maxmemory"),
            ),
            unit="bytes",
            min_value=0,
        ),
        _PanelSpec(
            title="Connected clients",
            description="redis_connected_clients per pod (includes the replication link and the exporter).",
            kind=_Kind.TIMESERIES,
            queries=(_Query(expr=f"redis_connected_clients{{{s}}}"),),
            min_value=0,
        ),
        _PanelSpec(
            title="Replication link",
            description="redis_master_link_up on each replica: 1 while it is connected to the primary.",
            kind=_Kind.TIMESERIES,
            queries=(_Query(expr=f"redis_master_link_up{{{s}}}"),),
            mapping=_Mapping.UP_DOWN,
            min_value=0,
            max_value=1,
        ),
        _PanelSpec(
            title="Replication lag (seconds)",
            description="Seconds since each replica last acknowledged the primary's stream, seen from the primary.",
            kind=_Kind.TIMESERIES,
            queries=(_Query(expr=f"redis_connected_slave_lag_seconds{{{s}}}", legend=f"{LEGEND} to {{{{slave_ip}}}}"),),
            unit="s",
            min_value=0,
        ),
        _PanelSpec(
            title="Replication lag (bytes)",
            description="Replication stream bytes each replica has not yet acknowledged, seen from the primary.",
            kind=_Kind.TIMESERIES,
            queries=(
                _Query(
                    expr=(
                        f"redis_master_repl_offset{{{s}}} - on (namespace, pod) group_right ()"
                        f" redis_connected_slave_offset_bytes{{{s}}}"
                    ),
                    legend=f"{LEGEND} to {{{{slave_ip}}}}",
                ),
            ),
            unit="bytes",
            min_value=0,
        ),
        _PanelSpec(
            title="Evicted keys per second",
            description="rate(redis_evicted_keys_total): keys dropped to stay under maxmemory.",
            kind=_Kind.TIMESERIES,
            queries=(_Query(expr=per_pod_rate("redis_evicted_keys_total")),),
            unit="ops",
            min_value=0,
        ),
        _PanelSpec(
            title="Rejected connections per second",
            description="rate(redis_rejected_connections_total): connections refused because maxclients was reached.",
            kind=_Kind.TIMESERIES,
            queries=(_Query(expr=per_pod_rate("redis_rejected_connections_total")),),
            unit="ops",
            min_value=0,
        ),
        _PanelSpec(
            title="Command latency (ms)",
            description=(
                "SC-001/SC-006, at most 10 ms: the p95 execution time over the interval (exporter v1.88's"
                ' LATENCY HISTOGRAM), the p95 Redis computes since its start (INFO latencystats, quantile "95")'
                " and the mean per command. Server-side time: the network is not in it (docs/checks.md)."
            ),
            kind=_Kind.TIMESERIES,
            queries=tuple(
                _Query(expr=expr.replace("{SEL", "{" + s), legend=legend) for legend, expr in LATENCY_PANEL_QUERIES
            ),
            unit="ms",
            min_value=0,
        ),
    )


def render_dashboard(
    *,
    selector: str,
    refresh: str = "15s",
    title: str = "Redis shared",
    redis_role_label: str = "exported_role",
    backup: BackupMonitoring | None = None,
    tenants: Sequence[Tenant] = (),
) -> str:
    """Return the dashboard as deterministic JSON text (sorted keys, 2-space indent, trailing newline).

    Four stat panels (Redis up, role reported by Redis, connected replicas, AOF status) followed by
    time series for commands/s, keyspace hit ratio, memory used vs maxmemory, connected clients,
    replication link, replication lag in seconds and bytes, evictions and rejected connections.
    Panel ids are 1..N in that order; the grid places stat panels four to a row and time series two
    to a row. Queries go to the Prometheus data source picked in the ``datasource`` variable.

    :param selector: PromQL label-matcher body (without braces) every query uses, e.g.
        ``namespace="redis",service="redis-shared-metrics"``. Required: only the caller knows which
        Service the ServiceMonitor scrapes.
    :param refresh: Default: ``"15s"`` — auto-refresh interval, matching the ServiceMonitor's scrape
        interval.
    :param title: Default: ``"Redis shared"`` — dashboard title; the uid is derived from it
        (:func:`dashboard_uid`), so a rename gives Grafana a new dashboard.
    :param redis_role_label: Default: ``"exported_role"`` — label carrying the role Redis reports on
        ``redis_instance_info`` (see :func:`redis_constructs.monitoring.alerts.render_alert_groups`).
    :param backup: Default: - no backup panels; else three last stat panels: "Last backup age" (kube-state-metrics,
        :meth:`~redis_constructs.monitoring.backup_alerts.BackupMonitoring.age_expr`), "Last backup size" and
        "Last backup keys" (the backup's report, :meth:`~.BackupMonitoring.report_group`'s recording rules).
    :param tenants: Default: - no tenant rows. With tenants: a "Tenants" row and one collapsed row per tenant
        after the panels above (:mod:`.tenant_dashboard`), ids going on from the last panel's.
    """
    s = validate_selector(selector)
    validation.duration_seconds(
        "refresh",
        refresh,
        units=("s", "m", "h", "d"),
        expected='a Grafana refresh interval such as "15s", "1m" or "1h"',
    )
    uid = dashboard_uid(title)
    validation.prometheus_label_name(
        "redis_role_label", redis_role_label, fix=prometheus_label_name_fix(redis_role_label)
    )

    datasource = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
    builder = (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .tags(["redis"])
        .refresh(refresh)
        .time("now-1h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dashboard_builders.DatasourceVariable(DATASOURCE_VARIABLE).label("Data source").type("prometheus")
        )
    )
    specs = _panel_specs(s, redis_role_label)
    if backup is not None:
        specs += (
            _PanelSpec(
                title="Last backup age",
                description="Time since the backup CronJob last succeeded (kube-state-metrics); alerts past its limit.",
                kind=_Kind.STAT,
                queries=(_Query(expr=backup.age_expr(), legend="{{cronjob}}"),),
                unit="s",
            ),
            _PanelSpec(
                title="Last backup size",
                description=(
                    "Size of the last verified snapshot (the RDB file), as the backup Job reported it to"
                    " redis-shared:backup:last-bytes; scraped once a minute on the replica."
                ),
                kind=_Kind.STAT,
                queries=(_Query(expr=backup.size_expr(s), legend=backup.cronjob),),
                unit="bytes",
            ),
            _PanelSpec(
                title="Last backup keys",
                description=(
                    "Keys in the last verified snapshot (redis-shared:backup:last-keys): a sudden drop means the"
                    " data shrank before the backup, and the older snapshots age out of retention."
                ),
                kind=_Kind.STAT,
                queries=(_Query(expr=backup.keys_expr(s), legend=backup.cronjob),),
            ),
        )
    for panel_id, spec in enumerate(specs, start=1):
        builder = builder.with_panel(_build_panel(spec, panel_id, datasource))
    if tenants:
        builder = add_tenant_rows(builder, selector=s, tenants=tenants, first_id=len(specs) + 1, datasource=datasource)
    return json.dumps(builder.build(), cls=JSONEncoder, sort_keys=True, indent=2) + "\n"
