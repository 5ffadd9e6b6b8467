"""Prometheus alerting rules for the shared Redis (primary + replicas), as plain data.

Pure module: no cdk8s import. :func:`render_alert_groups` returns the ``spec.groups`` of a
``monitoring.coreos.com/v1`` PrometheusRule; the construct that owns the PrometheusRule wraps it.

Every expression selects series with the caller's ``selector`` (for example
``namespace="redis",service="redis-shared-metrics"``) and uses only metric names listed in
:data:`EXPORTED_METRICS` (checked against a live ``redis_exporter`` 1.45 by the tests) plus the
scrape-generated :data:`SCRAPE_METRICS`.

Labels the expressions rely on, as the ServiceMonitor delivers them: ``namespace``, ``service``,
``pod``, ``instance``, ``job`` and the target label ``role`` (``master``/``replica``, from the pod
label ``redis-shared/role``, which a failover moves). ``redis_instance_info`` carries its own ``role`` label
(``master``/``slave``, what Redis itself reports); because the target label has the same name,
Prometheus keeps the target's value in ``role`` and renames the exporter's to ``exported_role``
(verified with a real Prometheus 2.42 scraping redis_exporter 1.45). Rules that need the role Redis
really has therefore match ``exported_role`` — see ``redis_role_label``.

Example::

    groups = render_alert_groups(
        selector='namespace="redis",service="redis-shared-metrics"',
        instances_expected=2,
    )
    rule_spec = {"groups": groups}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..core import validation
from ..core.errors import PropError
from ..core.suggest import prometheus_label_name_fix

EXPORTED_METRICS: Final[tuple[str, ...]] = (
    "redis_aof_last_bgrewrite_status",
    "redis_aof_last_write_status",
    "redis_commands_duration_seconds_total",
    "redis_commands_processed_total",
    "redis_commands_total",
    "redis_connected_clients",
    "redis_connected_slave_lag_seconds",
    "redis_connected_slave_offset_bytes",
    "redis_connected_slaves",
    "redis_evicted_keys_total",
    "redis_instance_info",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
    "redis_latency_percentiles_usec",
    "redis_master_link_up",
    "redis_master_repl_offset",
    "redis_memory_max_bytes",
    "redis_memory_used_bytes",
    "redis_rejected_connections_total",
    "redis_up",
)
"""Metric names the rules and the dashboard use, each one exported by redis_exporter 1.45 against Redis 7.

``redis_master_link_up`` appears only on a replica; ``redis_connected_slave_lag_seconds`` and
``redis_connected_slave_offset_bytes`` only on a primary with at least one replica attached.
"""

EXPORTED_METRICS_V188: Final[tuple[str, ...]] = ("redis_commands_latencies_usec_bucket",)
"""Metric names of the image's exporter (v1.88) that Debian's 1.45 in the tests lacks: the per-command histogram
from ``LATENCY HISTOGRAM`` (oliver006/redis_exporter v1.88.0 ``exporter/latency.go``,
``extractLatencyHistogramMetrics``; on unless ``--exclude-latency-histogram-metrics``). Used by the latency panel
and ``RedisLatencyHigh`` (:mod:`.check_alerts`), proven there by ``promtool test rules``."""

SCRAPE_METRICS: Final[tuple[str, ...]] = ("up",)
"""Series Prometheus itself writes for every scrape target (not exported by redis_exporter)."""
KEY_COUNT_ENDPOINT: Final[str] = "key-counts"
"""``endpoint`` label of the ServiceMonitor's tenant key-count scrape (``/scrape`` with ``count-keys``). It scrapes
the same pods and port, so without its own ``endpoint`` its ``up`` would be the same series as the metrics
scrape's; the availability rules leave it out (a slow SCAN is not Redis down)."""
BACKUP_REPORT_ENDPOINT: Final[str] = "backup-report"
"""``endpoint`` label of the ServiceMonitor's backup-report scrape (``/scrape`` with ``check-single-keys`` on the
backup's report keys; :mod:`.backup_alerts`). Left out of the availability rules like :data:`KEY_COUNT_ENDPOINT`."""
SIDE_ENDPOINTS: Final[tuple[str, ...]] = (KEY_COUNT_ENDPOINT, BACKUP_REPORT_ENDPOINT)
"""The ``/scrape`` endpoints beside the metrics scrape: their ``up`` never means Redis is down."""

PRIMARY_ROLE: Final[str] = "master"
"""Value of the Redis-reported role label on ``redis_instance_info`` for a primary."""

_LABEL_MATCHER = r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*'
_SELECTOR = re.compile(rf"^{_LABEL_MATCHER}(?:,{_LABEL_MATCHER})*,?\s*$")


@dataclass(frozen=True, kw_only=True, slots=True)
class _Alert:
    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str

    def to_rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "description": self.description},
        }


def _check_duration(prop: str, value: str) -> None:
    validation.duration_seconds(
        prop,
        value,
        units=("ms", "s", "m", "h", "d", "w", "y"),
        compound=True,
        allow_zero=True,
        expected='a Prometheus duration such as "30s", "1m" or "1h30m"',
    )


def _format_number(value: float) -> str:
    """Render a threshold for PromQL and prose: ``0.9`` stays ``0.9``, ``100.0`` becomes ``100``."""
    return f"{value:g}"


def validate_selector(selector: str) -> str:
    """Return ``selector`` without surrounding blanks or a trailing comma; raise :class:`PropError` if it
    is not a list of PromQL label matchers (``name="value"``, ``!=``, ``=~``, ``!~``) without braces."""
    if not _SELECTOR.fullmatch(selector):
        raise PropError(
            "selector",
            selector,
            'one or more PromQL label matchers without braces, e.g. namespace="redis",service="redis-shared-metrics"',
        )
    return selector.strip().rstrip(",").strip()


def render_alert_groups(
    *,
    selector: str,
    instances_expected: int,
    for_short: str = "1m",
    for_long: str = "5m",
    rate_window: str = "5m",
    memory_threshold: float = 0.9,
    max_clients: int = 1000,
    replication_lag_seconds: int = 30,
    evicted_keys_per_second: float = 1.0,
    redis_role_label: str = "exported_role",
) -> list[dict[str, Any]]:
    """Return PrometheusRule ``spec.groups`` for one Redis primary and its replicas.

    Four groups, in this order: ``redis.availability`` (RedisDown, RedisMissingPrimary),
    ``redis.replication`` (RedisReplicaLinkDown, RedisReplicaMissing, RedisReplicationLag),
    ``redis.saturation`` (RedisMemoryNearMax, RedisEvictionsSpiking, RedisRejectedConnections,
    RedisTooManyClients) and ``redis.persistence`` (RedisAofWriteFailing, RedisAofRewriteFailing).
    Each alert has ``labels.severity`` (``critical`` or ``warning``), ``annotations.summary`` and
    ``annotations.description``, and a ``for`` duration. The result is built fresh on every call and
    is deterministic.

    :param selector: PromQL label-matcher body (without braces) every expression uses, e.g.
        ``namespace="redis",service="redis-shared-metrics"``. Required: only the caller knows which
        Service the ServiceMonitor scrapes.
    :param instances_expected: Redis pods (primary + replicas) the ServiceMonitor scrapes; the primary
        must report ``instances_expected - 1`` connected replicas. Required: it is the topology.
    :param for_short: Default: ``"1m"`` — how long an outage-type condition (down, no primary, link
        down, AOF write failure, rejected connections) must hold before it fires.
    :param for_long: Default: ``"5m"`` — how long a degradation (lag, memory, clients, evictions, missing
        replica, AOF rewrite failure) must hold before it fires.
    :param rate_window: Default: ``"5m"`` — range used by ``rate``/``increase``; at least four scrape
        intervals.
    :param memory_threshold: Default: ``0.9`` — RedisMemoryNearMax fires above this fraction of
        ``maxmemory``; instances without ``maxmemory`` (``redis_memory_max_bytes`` 0) never fire.
    :param max_clients: Default: ``1000`` — RedisTooManyClients fires above this many client
        connections on one instance, well before Redis's own ``maxclients`` (10000) rejects them.
    :param replication_lag_seconds: Default: ``30`` — RedisReplicationLag fires when a replica's last
        acknowledgement to the primary is older than this (replicas acknowledge every second).
    :param evicted_keys_per_second: Default: ``1.0`` — RedisEvictionsSpiking fires above this eviction
        rate on one instance.
    :param redis_role_label: Default: ``"exported_role"`` — label on ``redis_instance_info`` that
        carries the role Redis reports (``master``/``slave``); the ServiceMonitor's ``role`` target
        label displaces the exporter's own ``role`` to ``exported_role``. Use ``"role"`` only for a
        ServiceMonitor with ``honorLabels: true`` or without a ``role`` target label.
    """
    settings = _AlertSettings(
        selector=selector,
        instances_expected=instances_expected,
        for_short=for_short,
        for_long=for_long,
        rate_window=rate_window,
        memory_threshold=memory_threshold,
        max_clients=max_clients,
        replication_lag_seconds=replication_lag_seconds,
        evicted_keys_per_second=evicted_keys_per_second,
        redis_role_label=redis_role_label,
    )
    return [{"name": name, "rules": [a.to_rule() for a in alerts(settings)]} for name, alerts in _GROUPS]


@dataclass(frozen=True, kw_only=True, slots=True)
class _AlertSettings:
    """The arguments of :func:`render_alert_groups`, checked (in the order they are documented there)."""

    selector: str
    instances_expected: int
    for_short: str
    for_long: str
    rate_window: str
    memory_threshold: float
    max_clients: int
    replication_lag_seconds: int
    evicted_keys_per_second: float
    redis_role_label: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "selector", validate_selector(self.selector))
        n = self.instances_expected
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise PropError("instances_expected", n, "an int >= 1 (primary + replicas)")
        for prop in ("for_short", "for_long", "rate_window"):
            _check_duration(prop, getattr(self, prop))
        if not 0 < self.memory_threshold <= 1:
            raise PropError("memory_threshold", self.memory_threshold, "a fraction of maxmemory in (0, 1]")
        for prop in ("max_clients", "replication_lag_seconds"):
            value = getattr(self, prop)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PropError(prop, value, "an int >= 1")
        if not self.evicted_keys_per_second > 0:
            raise PropError("evicted_keys_per_second", self.evicted_keys_per_second, "a rate > 0")
        validation.prometheus_label_name(
            "redis_role_label", self.redis_role_label, fix=prometheus_label_name_fix(self.redis_role_label)
        )

    @property
    def primary(self) -> str:
        """The series of the instance that Redis itself reports as primary."""
        return f'redis_instance_info{{{self.selector},{self.redis_role_label}="{PRIMARY_ROLE}"}}'


def _availability_alerts(c: _AlertSettings) -> tuple[_Alert, ...]:
    """RedisDown, RedisMissingPrimary: is there a Redis to talk to at all."""
    s = c.selector
    up = f'{s},endpoint!~"{"|".join(SIDE_ENDPOINTS)}"'
    return (
        _Alert(
            name="RedisDown",
            # redis_up == 0: the sidecar cannot reach Redis; up == 0: the pod's target cannot be scraped;
            # absent(up): no target is discovered at all (Service without endpoints, broken selector).
            expr=f"(redis_up{{{s}}} == 0) or (up{{{up}}} == 0) or absent(up{{{up}}})",
            for_=c.for_short,
            severity="critical",
            summary="Redis instance is down",
            description=(
                "{{ with $labels.pod }}Redis pod {{ . }}{{ else }}No Redis metrics target{{ end }}"
                " in namespace {{ $labels.namespace }} is down or cannot be scraped (value {{ $value }})."
            ),
        ),
        _Alert(
            name="RedisMissingPrimary",
            expr=f"absent({c.primary})",
            for_=c.for_short,
            severity="critical",
            summary="No Redis primary",
            description=(
                "No Redis instance in namespace {{ $labels.namespace }} reports role master"
                " (value {{ $value }}): writes fail and replicas cannot sync."
            ),
        ),
    )


def _replication_alerts(c: _AlertSettings) -> tuple[_Alert, ...]:
    """RedisReplicaLinkDown, RedisReplicaMissing, RedisReplicationLag: is every replica attached and current."""
    s = c.selector
    replicas_expected = c.instances_expected - 1
    return (
        _Alert(
            name="RedisReplicaLinkDown",
            expr=f"redis_master_link_up{{{s}}} == 0",
            for_=c.for_short,
            severity="critical",
            summary="Redis replica lost its link to the primary",
            description=(
                "Redis replica {{ $labels.pod }} has no replication link to {{ $labels.master_host }}"
                " (value {{ $value }}): it serves stale reads and no longer protects the data."
            ),
        ),
        _Alert(
            name="RedisReplicaMissing",
            expr=f"(redis_connected_slaves{{{s}}} < {replicas_expected}) and on (namespace, pod) {c.primary}",
            for_=c.for_long,
            severity="warning",
            summary="Redis primary has fewer replicas than expected",
            description=(
                "Redis primary {{ $labels.pod }} has {{ $value }} connected replica(s);"
                f" expected {replicas_expected}."
            ),
        ),
        _Alert(
            name="RedisReplicationLag",
            expr=f"redis_connected_slave_lag_seconds{{{s}}} > {c.replication_lag_seconds}",
            for_=c.for_long,
            severity="warning",
            summary="Redis replica is lagging",
            description=(
                "Replica {{ $labels.slave_ip }} of Redis primary {{ $labels.pod }} last acknowledged"
                f" replication {{{{ $value }}}}s ago (threshold {c.replication_lag_seconds}s)."
            ),
        ),
    )


def _saturation_alerts(c: _AlertSettings) -> tuple[_Alert, ...]:
    """RedisMemoryNearMax, RedisEvictionsSpiking, RedisRejectedConnections, RedisTooManyClients: is it full."""
    s = c.selector
    memory_pct = _format_number(c.memory_threshold * 100)
    evictions = _format_number(c.evicted_keys_per_second)
    return (
        _Alert(
            name="RedisMemoryNearMax",
            expr=(
                f"redis_memory_used_bytes{{{s}}} / (redis_memory_max_bytes{{{s}}} > 0)"
                f" > {_format_number(c.memory_threshold)}"
            ),
            for_=c.for_long,
            severity="warning",
            summary="Redis memory is close to maxmemory",
            description=(
                "Redis {{ $labels.pod }} ({{ $labels.role }}) uses {{ $value | humanizePercentage }}"
                f" of maxmemory (threshold {memory_pct}%)."
            ),
        ),
        _Alert(
            name="RedisEvictionsSpiking",
            expr=f"rate(redis_evicted_keys_total{{{s}}}[{c.rate_window}]) > {evictions}",
            for_=c.for_long,
            severity="warning",
            summary="Redis is evicting keys",
            description=(
                "Redis {{ $labels.pod }} ({{ $labels.role }}) evicts {{ $value | humanize }} keys/s"
                f" over {c.rate_window} (threshold {evictions}/s): maxmemory is too small for the data set."
            ),
        ),
        _Alert(
            name="RedisRejectedConnections",
            expr=f"increase(redis_rejected_connections_total{{{s}}}[{c.rate_window}]) > 0",
            for_=c.for_short,
            severity="critical",
            summary="Redis rejects client connections",
            description=(
                "Redis {{ $labels.pod }} ({{ $labels.role }}) rejected {{ $value | humanize }} connection(s)"
                f" in the last {c.rate_window}: maxclients is reached."
            ),
        ),
        _Alert(
            name="RedisTooManyClients",
            expr=f"redis_connected_clients{{{s}}} > {c.max_clients}",
            for_=c.for_long,
            severity="warning",
            summary="Redis has too many client connections",
            description=(
                "Redis {{ $labels.pod }} ({{ $labels.role }}) has {{ $value }} client connections"
                f" (threshold {c.max_clients})."
            ),
        ),
    )


def _persistence_alerts(c: _AlertSettings) -> tuple[_Alert, ...]:
    """RedisAofWriteFailing, RedisAofRewriteFailing: does the append-only file keep up."""
    s = c.selector
    return (
        _Alert(
            name="RedisAofWriteFailing",
            expr=f"redis_aof_last_write_status{{{s}}} == 0",
            for_=c.for_short,
            severity="critical",
            summary="Redis cannot write its append-only file",
            description=(
                "Redis {{ $labels.pod }} ({{ $labels.role }}) failed its last AOF write (value {{ $value }}):"
                " it refuses writes (MISCONF) until the disk recovers, and stays alive and unready meanwhile."
                " Is its data volume full? Make room (README 'Full disk'): writes resume within a second."
            ),
        ),
        _Alert(
            name="RedisAofRewriteFailing",
            expr=f"redis_aof_last_bgrewrite_status{{{s}}} == 0",
            for_=c.for_long,
            severity="warning",
            summary="Redis AOF rewrite is failing",
            description=(
                "Redis {{ $labels.pod }} ({{ $labels.role }}) failed its last AOF rewrite"
                " (value {{ $value }}): the AOF keeps growing."
            ),
        ),
    )


#: The groups of the PrometheusRule, in the order they render.
_GROUPS: Final[tuple[tuple[str, Callable[[_AlertSettings], tuple[_Alert, ...]]], ...]] = (
    ("redis.availability", _availability_alerts),
    ("redis.replication", _replication_alerts),
    ("redis.saturation", _saturation_alerts),
    ("redis.persistence", _persistence_alerts),
)


# --- PromQL inspection ------------------------------------------------------------------------------

_PROMQL_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
    |(?P<braces>\{(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^{}"'])*\})
    |(?P<range>\[[^\]]*\])
    |(?P<number>(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(?:ms|s|m|h|d|w|y)?)
    |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<op>==|!=|<=|>=|[-+*/%^<>(),@])
    """,
    re.VERBOSE,
)
_LABEL_LIST_KEYWORDS: Final = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS: Final = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2", "start", "end"})


def promql_vector_selectors(expr: str) -> tuple[tuple[str, str], ...]:
    """Return ``(metric_name, matcher_body)`` for every vector selector in a PromQL expression.

    A bare metric gives an empty body; a selector without a name (``{__name__=~"..."}``) gives an
    empty name. Function names, aggregation modifiers and label lists are skipped. Grafana macros
    inside ranges (``[$__rate_interval]``) are accepted. Raises ``PropError`` on text it cannot
    tokenize, so an unexpected construct is never silently ignored.
    """
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        match = _PROMQL_TOKEN.match(expr, pos)
        if match is None:
            raise PropError("expr", expr, f"PromQL (cannot tokenize at offset {pos})")
        kind = match.lastgroup or ""
        if kind not in ("ws", "string"):
            tokens.append((kind, match.group()))
        pos = match.end()

    found: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if kind == "braces":
            found.append(("", text[1:-1]))
        elif kind == "ident":
            if text in _LABEL_LIST_KEYWORDS and following == ("op", "("):
                depth = 0
                while i < len(tokens):
                    if tokens[i] == ("op", "("):
                        depth += 1
                    elif tokens[i] == ("op", ")"):
                        depth -= 1
                        if depth == 0:
                            break
                    i += 1
            elif text in _LABEL_LIST_KEYWORDS or text in _KEYWORDS:
                pass
            elif following == ("op", "(") or (following[0] == "ident" and following[1] in ("by", "without")):
                pass  # a function call or an aggregation with a leading modifier
            elif following[0] == "braces":
                found.append((text, following[1][1:-1]))
                i += 1
            else:
                found.append((text, ""))
        i += 1
    return tuple(found)


def promql_metric_names(expr: str) -> frozenset[str]:
    """Return the metric names a PromQL expression selects (see :func:`promql_vector_selectors`)."""
    return frozenset(name for name, _ in promql_vector_selectors(expr))
