"""The dashboard's tenant rows: a "Tenants" overview row, then one collapsed row per tenant.

Pure module (no cdk8s import), called by :func:`.dashboard.render_dashboard`; its panels are :mod:`.panels`' with the tenants as of synth. The
panels read the recording rules of :mod:`.tenant_rules` (per tenant) and, for ACL denials and client evictions,
the exporter's series (:data:`.tenant_rules.TENANT_METRICS`: exporter v1.64+, Redis 7.2+).

Per-tenant command rates, latencies and key memory are not shown: Redis 7.4 counts commands per command, not
per user or connection, and has no per-user memory accounting. Each tenant row says so in a text panel.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import text
from grafana_foundation_sdk.models.dashboard import DataSourceRef
from grafana_foundation_sdk.models.text import TextMode

from ..server.tenants import Tenant
from .panels import LEGEND, _build_panel, _Kind, _PanelSpec, _Query
from .tenant_rules import CLIENT_MEMORY, CONNECTIONS, KEYS

#: The text panel of every tenant row: what it cannot show, and why.
NOT_AVAILABLE = (
    "Per-tenant command rates, latencies and key memory are not available from Redis 7.4: it counts commands "
    "per command name, not per user or connection, and has no per-user memory accounting. See "
    "docs/tenant-metrics.md."
)
ACL_DENIAL_KINDS = ("auth", "cmd", "key", "channel")


def tenant_row_title(t: Tenant) -> str:
    """``Tenant shop (user shop, keys shop:*)``."""
    return f"Tenant {t.namespace} (user {t.user}, keys {t.key_pattern})"


def _overview_specs(s: str, tenants: Sequence[Tenant]) -> list[_PanelSpec]:
    def rate(metric: str) -> str:
        return f"sum by (pod, role) (rate({metric}{{{s}}}[$__rate_interval]))"

    specs = [
        _PanelSpec(
            title="Connections per tenant",
            description=f"{CONNECTIONS}: connections of each tenant's ACL user (CLIENT LIST), per pod. User "
            "default also counts connections that have not authenticated yet.",
            kind=_Kind.TIMESERIES,
            queries=(_Query(expr=CONNECTIONS, legend="{{tenant}} {{pod}}"),),
        ),
        _PanelSpec(
            title="Client memory per tenant",
            description=f"{CLIENT_MEMORY}: query and output buffers of each tenant's connections (CLIENT LIST "
            "tot-mem), per pod. Above maxmemory-clients Redis evicts the biggest clients, whoever they are.",
            kind=_Kind.TIMESERIES,
            unit="bytes",
            queries=(_Query(expr=CLIENT_MEMORY, legend="{{tenant}} {{pod}}"),),
        ),
        _PanelSpec(
            title="ACL denials per second",
            description="Commands, keys and channels refused by the ACL, and refused passwords (INFO stats "
            "acl_access_denied_*, Redis 7.2+; no user label: ACL LOG as admin says who).",
            kind=_Kind.TIMESERIES,
            queries=tuple(
                _Query(expr=rate(f"redis_acl_access_denied_{kind}_total"), legend=f"{kind} {LEGEND}")
                for kind in ACL_DENIAL_KINDS
            ),
        ),
        _PanelSpec(
            title="Evicted clients per second",
            description="Connections closed to stay under maxmemory-clients (INFO stats evicted_clients).",
            kind=_Kind.TIMESERIES,
            queries=(_Query(expr=rate("redis_evicted_clients_total")),),
        ),
    ]
    if any(t.key_prefix for t in tenants):
        specs += [
            _PanelSpec(
                title="Keys per tenant",
                description=f"{KEYS}: keys under each confined tenant's prefix (SCAN on the replica, every 60 s).",
                kind=_Kind.TIMESERIES,
                queries=(_Query(expr=KEYS, legend="{{tenant}} {{pod}}"),),
            ),
            _PanelSpec(
                title="Keys under no tenant prefix",
                description="All keys of db0 on the replica minus the confined tenants' keys: the keys of "
                "unconfined tenants (and any stray keys).",
                kind=_Kind.TIMESERIES,
                queries=(
                    _Query(
                        expr=f'sum by (pod, role) (redis_db_keys{{{s},db="db0",role="replica"}})'
                        f' - sum by (pod, role) ({KEYS}{{role="replica"}})',
                    ),
                ),
            ),
        ]
    return specs


def _tenant_specs(t: Tenant) -> list[_PanelSpec]:
    sel = f'{{tenant="{t.namespace}"}}'
    specs = [
        _PanelSpec(
            title=f"{t.namespace}: connections",
            description=f"Connections of user {t.user} per pod."
            + (" User default also counts unauthenticated connections." if t.password_only else ""),
            kind=_Kind.TIMESERIES,
            queries=(_Query(expr=CONNECTIONS + sel),),
        ),
        _PanelSpec(
            title=f"{t.namespace}: client memory",
            description=f"Memory of user {t.user}'s connections (query and output buffers) per pod.",
            kind=_Kind.TIMESERIES,
            unit="bytes",
            queries=(_Query(expr=CLIENT_MEMORY + sel),),
        ),
    ]
    if t.key_prefix:
        specs.append(
            _PanelSpec(
                title=f"{t.namespace}: keys",
                description=f"Keys matching {t.key_pattern} (SCAN on the replica, every 60 s).",
                kind=_Kind.TIMESERIES,
                queries=(_Query(expr=KEYS + sel),),
            )
        )
    return specs


def _text(t: Tenant, panel_id: int) -> text.Panel:
    reach = (
        f"keys and channels `{t.key_pattern}` only"
        if t.key_prefix
        else "**every key and channel** (it can read and delete every other tenant's keys)"
    )
    content = (
        f"**{t.namespace}** authenticates as ACL user `{t.user}` and reaches {reach}.\n\n"
        f"ACL rules: `{t.rules()}`\n\n{NOT_AVAILABLE}"
    )
    return (
        text.Panel().id(panel_id).title(f"{t.namespace}: what is (not) shown").height(8).span(12)
        .mode(TextMode.MARKDOWN).content(content)
    )  # fmt: skip


def add_tenant_rows(
    builder: dashboard_builders.Dashboard,
    *,
    selector: str,
    tenants: Sequence[Tenant],
    first_id: int,
    datasource: DataSourceRef,
) -> dashboard_builders.Dashboard:
    """``builder`` with the "Tenants" row (open) and one collapsed row per tenant, in namespace order; panel ids
    from ``first_id`` on. ``selector`` is already validated."""
    panel_id = first_id
    builder = builder.with_row(dashboard_builders.Row("Tenants").id(panel_id))
    panel_id += 1
    for spec in _overview_specs(selector, tenants):
        builder = builder.with_panel(_build_panel(spec, panel_id, datasource))
        panel_id += 1
    for t in sorted(tenants, key=lambda t: t.namespace):
        row = dashboard_builders.Row(tenant_row_title(t)).id(panel_id).collapsed(True)
        panel_id += 1
        for spec in _tenant_specs(t):
            row = row.with_panel(_build_panel(spec, panel_id, datasource))
            panel_id += 1
        row = row.with_panel(_text(t, panel_id))
        panel_id += 1
        builder = builder.with_row(row)
    return builder
