"""Alerts of docs/resilience.md: the LAN proxy's refusals, a replica that cannot persist, the TLS reload watch.

Pure module (no cdk8s import), like :mod:`.alerts`: :func:`render_resilience_group` returns one
``spec.groups`` entry of a PrometheusRule, which :class:`~redis_constructs.monitoring.RedisMonitoring` appends.

- ``RedisLanConnectionsRejected``: the LAN proxy sidecar (server/lan_proxy.py) refused connections over the
  LAN's cap or one address's cap (``haproxy_frontend_denied_connections_total``, HAProxy's built-in exporter;
  ``tcp-request connection reject`` is counted there and not logged).
- ``RedisLanShareFull``: the LAN holds 90 % of its share for 5 minutes (legitimate growth or a slow flood).
- ``RedisReplicaCannotPersist``: a replica's AOF write failed (``redis_aof_last_write_status`` 0, the target
  label ``role`` from the pod label): it keeps serving current reads, its volume ``data-<pod>`` is named.
- ``RedisTlsReloadFailing``: kube-state-metrics saw the ``tls-reload`` sidecar restarted: its liveness (a
  stalled loop, or a mounted certificate not loaded within the bound) failed.
- ``RedisTlsCertificateExpiresSoon``: cert-manager's ``certmanager_certificate_expiration_timestamp_seconds``
  of the server Certificate: with the reload bound, the served certificate is at most that bound behind it.
"""

from __future__ import annotations

from typing import Any

from ..core import validation as v
from .alerts import validate_selector

#: The series the rules read, beside redis_exporter's: HAProxy's exporter, kube-state-metrics, cert-manager.
LAN_PROXY_METRICS = (
    "haproxy_frontend_denied_connections_total",
    "haproxy_frontend_current_sessions",
    "haproxy_frontend_limit_sessions",
)


def render_resilience_group(
    *,
    selector: str,
    namespace: str,
    pod_regex: str,
    lan_proxy: bool,
    tls_certificate: str | None,
    tls_reload: bool,
    certificate_days: int = 7,
) -> dict[str, Any]:
    """The ``redis.resilience`` rule group.

    :param selector: the label matchers of the metrics Service (as :func:`.alerts.render_alert_groups`).
    :param namespace: Redis's namespace (kube-state-metrics and cert-manager label their series with it).
    :param pod_regex: a regex matching the Redis pods' names (kube-state-metrics' ``pod`` label).
    :param lan_proxy: the pods run the LAN proxy (a LoadBalancer): render its two alerts.
    :param tls_certificate: the cert-manager Certificate Redis serves. Default: - none (no TLS, or an existing
        Secret whose expiry is the user's to watch).
    :param tls_reload: the tls-reload sidecar exists (TLS on).
    :param certificate_days: RedisTlsCertificateExpiresSoon fires below this many days. Default: 7.
    """
    s = validate_selector(selector)
    v.int_in_range("certificate_days", certificate_days, 1, 60)
    rules: list[dict[str, Any]] = []
    if lan_proxy:
        rules += [
            {
                "alert": "RedisLanConnectionsRejected",
                "expr": f'sum by (pod) (increase(haproxy_frontend_denied_connections_total{{{s},proxy="lan"}}[5m])) > 0',
                "for": "0m",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": "The LAN proxy in {{ $labels.pod }} refused LAN connections (LAN or per-address cap)",
                    "description": (
                        "{{ $value }} LAN connections refused in 5 minutes by the proxy's caps; the tenants in the"
                        " cluster are unaffected. Which hosts: kubectl -n " + namespace + " logs {{ $labels.pod }}"
                        " -c lan-proxy (docs/resilience.md)."
                    ),
                },
            },
            {
                "alert": "RedisLanShareFull",
                "expr": (
                    f'haproxy_frontend_current_sessions{{{s},proxy="lan"}}'
                    f' >= 0.9 * (haproxy_frontend_limit_sessions{{{s},proxy="lan"}} - 1)'
                ),
                "for": "5m",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": "The LAN holds {{ $value }} connections, 90 % of its share, in {{ $labels.pod }}",
                    "description": (
                        "New LAN clients will be refused soon. Raise lan_proxy=LanProxy(max_connections=...) if the"
                        " load is legitimate (docs/resilience.md)."
                    ),
                },
            },
        ]
    rules.append(
        {
            "alert": "RedisReplicaCannotPersist",
            "expr": f'redis_aof_last_write_status{{{s},role="replica"}} == 0',
            "for": "1m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Replica {{ $labels.pod }} cannot write its AOF: is volume data-{{ $labels.pod }} full?",
                "description": (
                    "Replica {{ $labels.pod }} keeps applying its stream in memory and serves current reads, but"
                    " its volume (PVC data-{{ $labels.pod }} in " + namespace + ") holds only what it wrote before"
                    " the failure: a restart now resyncs from the primary, a promotion now gives a primary that"
                    " refuses writes. Make room; probe.sh then rewrites the AOF (docs/resilience.md)."
                ),
            },
        }
    )
    if tls_reload:
        rules.append(
            {
                "alert": "RedisTlsReloadFailing",
                "expr": (
                    f'increase(kube_pod_container_status_restarts_total{{namespace="{namespace}",'
                    f'pod=~"{pod_regex}",container="tls-reload"}}[30m]) > 0'
                ),
                "for": "0m",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": "The TLS reload sidecar of {{ $labels.pod }} was restarted by its liveness probe",
                    "description": (
                        "Its loop stalled, or a mounted certificate stayed unloaded past the bound (Redis refused"
                        " the pair, or the admin password is wrong): kubectl -n " + namespace + " logs"
                        " {{ $labels.pod }} -c tls-reload --previous (docs/resilience.md)."
                    ),
                },
            }
        )
    if tls_certificate is not None:
        rules.append(
            {
                "alert": "RedisTlsCertificateExpiresSoon",
                "expr": (
                    f'certmanager_certificate_expiration_timestamp_seconds{{namespace="{namespace}",'
                    f'name="{tls_certificate}"}} - time() < {certificate_days} * 86400'
                ),
                "for": "0m",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": "The certificate Redis serves expires in {{ $value | humanizeDuration }}",
                    "description": (
                        f"cert-manager has not renewed Certificate {tls_certificate} and it expires within"
                        f" {certificate_days} days; every TLS client (the LAN, replication, the exporter) fails"
                        " then. kubectl -n " + namespace + " describe certificate " + tls_certificate + "."
                    ),
                },
            }
        )
    return {"name": "redis.resilience", "rules": rules}
