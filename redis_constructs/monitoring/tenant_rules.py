"""Per-tenant recording rules and alerts for a RedisShared (pure: plain data, like :mod:`.alerts`).

Metric names and labels, from oliver006/redis_exporter v1.88 (the image) ``exporter/clients.go``,
``exporter/keys.go``, ``exporter/exporter.go``:

* ``--export-client-list``: ``redis_connected_client_info{id,name,flags,db,host,[port],[user],[resp]}`` = 1 per
  connection (``user`` since v1.49, this shape since v1.64), and per-connection gauges labelled ``{id,name}``
  only, e.g. ``redis_connected_client_total_memory_consumed_bytes`` (CLIENT LIST ``tot-mem``). A gauge reaches a
  tenant by joining on ``id`` (and the target's ``pod``). The exporter user needs ``client|list``.
* ``count-keys=db0=<prefix>*`` (here a ``/scrape`` query parameter, so adding a tenant changes the
  ServiceMonitor, never the pod): ``redis_keys_count{db="db0",key="<prefix>*"}``, by SCAN on every scrape; with
  ``--skip-checkkeys-for-role-master`` (v1.71+) only replicas do it. The exporter user needs ``scan``.
* INFO stats (Redis 7.2+): ``redis_acl_access_denied_{auth,cmd,key,channel}_total``, global (no user label; the
  user is in ``ACL LOG``); ``redis_evicted_keys_total``; ``redis_evicted_clients_total`` (Redis 7.0+).

Not available, so not faked: per-tenant command rates or latencies (Redis 7.4 counts commands per command, not
per user or client), per-tenant memory of keys (no per-user accounting; ``MEMORY USAGE`` per key only) and
per-tenant evictions (``allkeys-lru`` picks keys of any tenant).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ..server.tenants import Tenant
from .alerts import KEY_COUNT_ENDPOINT, validate_selector

CONNECTIONS: Final = "redis_tenant:connections:count"
CLIENT_MEMORY: Final = "redis_tenant:client_memory:bytes"
KEYS: Final = "redis_tenant:keys:count"
#: An alert fires at this share of the tenant's own share (90 % of it).
NEAR: Final = 0.9
#: What the tenant rules and dashboard rows read beyond :data:`.alerts.EXPORTED_METRICS`. They need
#: redis_exporter v1.64+ (``connected_client_info`` with ``user``) and Redis 7.2+ (``acl_access_denied_*``), so
#: the tests check them against the v1.88 source (``tests/unit/monitoring/exporter_v1_88.py``), not a live 1.45.
TENANT_METRICS: Final[tuple[str, ...]] = (
    "redis_acl_access_denied_auth_total",
    "redis_acl_access_denied_channel_total",
    "redis_acl_access_denied_cmd_total",
    "redis_acl_access_denied_key_total",
    "redis_connected_client_info",
    "redis_connected_client_total_memory_consumed_bytes",
    "redis_db_keys",
    "redis_evicted_clients_total",
    "redis_evicted_keys_total",
    "redis_keys_count",
    "redis_up",
)
#: The recording rules' names: what dashboards and other rules may read per tenant.
RECORDS: Final[tuple[str, ...]] = (CONNECTIONS, CLIENT_MEMORY, KEYS)


def _zero(s: str) -> str:
    """One 0-valued series per Redis pod, so a tenant with no connections reads 0, not "no data"."""
    return f"0 * group by (pod, role) (redis_up{{{s}}})"


def render_tenant_groups(
    *,
    selector: str,
    tenants: Sequence[Tenant],
    maxclients: int,
    maxmemory_clients_bytes: int,
    for_long: str = "5m",
    rate_window: str = "5m",
) -> list[dict[str, Any]]:
    """PrometheusRule ``spec.groups``: ``redis.tenants.records`` (per-tenant series, label ``tenant``) and
    ``redis.tenants`` (alerts). ``maxclients``/``maxmemory_clients_bytes``: the server's, from
    ``derive_client_limits`` (the exporter's ``CONFIG`` is off, and INFO's ``maxclients`` needs v1.88)."""
    s = validate_selector(selector)
    records: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for t in sorted(tenants, key=lambda t: t.namespace):
        info = f'redis_connected_client_info{{{s},user="{t.user}"}}'
        labels = {"tenant": t.namespace, "tenant_user": t.user}
        records.append(
            {
                "record": CONNECTIONS,
                "expr": f"count by (pod, role) ({info}) or on (pod, role) {_zero(s)}",
                "labels": dict(labels),
            }
        )
        records.append(
            {
                "record": CLIENT_MEMORY,
                "expr": (
                    f"sum by (pod, role) (redis_connected_client_total_memory_consumed_bytes{{{s}}}"
                    f" * on (pod, id) group_left () {info}) or on (pod, role) {_zero(s)}"
                ),
                "labels": dict(labels),
            }
        )
        if t.key_prefix:
            records.append(
                {
                    "record": KEYS,
                    "expr": f'max by (pod, role) (redis_keys_count{{{s},db="db0",key="{t.key_pattern}"}})',
                    "labels": dict(labels),
                }
            )
        conn_limit = int(NEAR * t.connection_share * maxclients)
        mem_limit = int(NEAR * t.client_memory_share * maxmemory_clients_bytes)
        alerts.append(
            {
                "alert": "RedisTenantNearConnectionShare",
                "expr": f'{CONNECTIONS}{{tenant="{t.namespace}"}} > {conn_limit}',
                "for": for_long,
                "labels": {"severity": "warning", "tenant": t.namespace},
                "annotations": {
                    "summary": "A tenant holds most of its share of Redis connections",
                    "description": (
                        f"Tenant {t.namespace} (user {t.user}) holds {{{{ $value }}}} connections on {{{{ $labels.pod }}}}"
                        f" (alert above {conn_limit}: {NEAR:.0%} of its share {t.connection_share:g} of maxclients"
                        f" {maxclients}). Beyond maxclients Redis refuses every tenant's new connections."
                        + (" User default also counts unauthenticated connections." if t.password_only else "")
                    ),
                },
            }
        )
        alerts.append(
            {
                "alert": "RedisTenantNearClientMemoryShare",
                "expr": f'{CLIENT_MEMORY}{{tenant="{t.namespace}"}} > {mem_limit}',
                "for": for_long,
                "labels": {"severity": "warning", "tenant": t.namespace},
                "annotations": {
                    "summary": "A tenant's connections use most of their share of client memory",
                    "description": (
                        f"Tenant {t.namespace}'s connections use {{{{ $value | humanize1024 }}}}B on {{{{ $labels.pod }}}}"
                        f" (alert above {NEAR:.0%} of its share {t.client_memory_share:g} of maxmemory-clients"
                        f" {maxmemory_clients_bytes}). Above maxmemory-clients Redis evicts the biggest clients,"
                        " whoever they are."
                    ),
                },
            }
        )
    alerts += [
        {
            "alert": "RedisAclDenied",
            "expr": (
                f"sum by (pod, role) (increase(redis_acl_access_denied_cmd_total{{{s}}}[{rate_window}])"
                f" + increase(redis_acl_access_denied_key_total{{{s}}}[{rate_window}])"
                f" + increase(redis_acl_access_denied_channel_total{{{s}}}[{rate_window}])) > 0"
            ),
            "for": "0m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Redis refused a command, key or channel to a tenant",
                "description": (
                    "{{ $labels.pod }} refused {{ $value | humanize }} command(s) in " + rate_window + ": a tenant"
                    " touched another's keys or channels, or ran a denied command. Who and what: ACL LOG as admin"
                    " (docs/tenants.md)."
                ),
            },
        },
        {
            "alert": "RedisAuthFailures",
            "expr": f"increase(redis_acl_access_denied_auth_total{{{s}}}[{rate_window}]) > 0",
            "for": "0m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Redis refused a password",
                "description": (
                    "{{ $labels.pod }} refused {{ $value | humanize }} AUTH attempt(s) in " + rate_window + ": an"
                    " app with a stale password (a rotation's second commit came too early) or password guessing"
                    " from the LAN. ACL LOG as admin shows the user and client address."
                ),
            },
        },
        {
            "alert": "RedisEvictingTenantKeys",
            "expr": f'increase(redis_evicted_keys_total{{{s},role="master"}}[{rate_window}]) > 0',
            "for": "0m",
            "labels": {"severity": "info"},
            "annotations": {
                "summary": "Redis evicts keys, of any tenant",
                "description": (
                    "{{ $labels.pod }} evicted {{ $value | humanize }} key(s) in " + rate_window + ". There is no"
                    " per-tenant memory quota: allkeys-lru takes the least recently used keys of every tenant alike."
                    " See the Tenants row (keys per tenant) for who grows."
                ),
            },
        },
        {
            "alert": "RedisClientsEvicted",
            "expr": f"increase(redis_evicted_clients_total{{{s}}}[{rate_window}]) > 0",
            "for": "0m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Redis closed connections to stay under maxmemory-clients",
                "description": (
                    "{{ $labels.pod }} evicted {{ $value | humanize }} client connection(s) in " + rate_window + ";"
                    " see redis_tenant:client_memory:bytes for the tenant that holds the memory."
                ),
            },
        },
    ]
    if any(t.key_prefix for t in tenants):
        alerts.append(
            {
                "alert": "RedisTenantKeyCountsFailing",
                "expr": f'up{{{s},endpoint="{KEY_COUNT_ENDPOINT}"}} == 0',
                "for": "15m",
                "labels": {"severity": "info"},
                "annotations": {
                    "summary": "The tenants' key counts are not scraped",
                    "description": (
                        "The key-count scrape of {{ $labels.pod }} (exporter /scrape with count-keys, one SCAN per"
                        " tenant prefix) fails: redis_tenant:keys:count is missing. Usually the SCAN takes longer"
                        " than the endpoint's scrapeTimeout (many keys); Redis itself is not affected."
                    ),
                },
            }
        )
    groups = [{"name": "redis.tenants.records", "rules": records}, {"name": "redis.tenants", "rules": alerts}]
    return [g for g in groups if g["rules"]]
