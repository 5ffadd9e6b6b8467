"""The LAN's door to Redis: an HAProxy sidecar in TCP mode (TLS passed through) with connection caps.

A LAN host reaches the TLS port without a password (the handshake precedes ``AUTH``), so without a cap it can
open ``maxclients`` connections and lock every tenant out. The LoadBalancer therefore targets this proxy, not
Redis: the proxy admits at most ``lan_max_connections`` LAN connections in all (well below ``maxclients``,
so the in-cluster tenants, the replica, the exporter and the probes keep the rest), at most
``per_source_max_connections`` from one address (a stick table tracks each source), closes a connection
that has not sent a TLS ClientHello within ``hello_timeout_seconds`` and any LAN connection idle for
``idle_timeout_seconds``. Every refusal is counted (``haproxy_frontend_denied_connections_total`` from the
built-in Prometheus exporter) and logged to stdout.

TLS is passed through, not terminated: Redis keeps its one certificate (and its reload sidecar) for every
listener. The cost: Redis sees every LAN client as ``127.0.0.1`` (Redis 7 has no PROXY protocol); the proxy's
log line has the real address.

Pure rendering, standard library only: tested without a Chart (``tests/unit/server/test_lan_proxy.py``) and
run against a real haproxy and redis-server (``tests/runtime/test_lan_proxy_runtime.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdk8s_plus_28 import k8s

from ..core import validation as v
from ..core.errors import PropError
from ..core.images import HAPROXY_IMAGE
from ..core.pod_security import resources, restricted_container
from ..core.rendering import int_or_string
from .redis_conf import CONF_DIR

#: The container port the LoadBalancer's ``targetPort`` names; the NetworkPolicy admits the LAN here only.
LAN_PROXY_PORT = 6381
#: The proxy's Prometheus exporter (built into haproxy since 2.4 with USE_PROMEX; Debian's and the official
#: image's builds have it).
LAN_PROXY_METRICS_PORT = 9101
#: Connections reserved beside the LAN's share whatever the split: the replica(s), the exporter, the probes,
#: the reload sidecar, an admin's redis-cli.
RESERVED_CONNECTIONS = 32
#: The sidecar's user, set explicitly: the official image's ``haproxy`` user is uid 99 (docker-library/haproxy
#: ``2.8/Dockerfile``), below checkov's CKV_K8S_40 high-UID bound. HAProxy needs no passwd entry and writes
#: nothing (no pidfile, no socket, stick tables in memory); it reads its cfg through the pod's fsGroup.
HAPROXY_UID = 10099
#: The image's binary (``make install-bin`` with the default PREFIX /usr/local); set explicitly so no
#: ENTRYPOINT (the image's docker-entrypoint.sh) or PATH is assumed.
HAPROXY_BINARY = "/usr/local/sbin/haproxy"
#: The ConfigMap key (``<name>-configuration``) holding the rendered haproxy.cfg.
CONFIG_KEY = "haproxy.cfg"
#: Container name of the sidecar.
CONTAINER_NAME = "lan-proxy"


@dataclass(frozen=True, kw_only=True, slots=True)
class LanProxySettings:
    """What the proxy enforces; :func:`derive_lan_proxy_settings` computes the defaults from ``maxclients``."""

    #: All LAN connections together (the frontend's reject threshold).
    lan_max_connections: int
    #: Concurrent connections from one source address.
    per_source_max_connections: int
    #: A connection that has not sent a complete TLS ClientHello by then is closed (slow-loris / silent sockets).
    hello_timeout_seconds: int
    #: A LAN connection idle this long in both directions is closed (pools reconnect; SUBSCRIBE clients must
    #: PING within it).
    idle_timeout_seconds: int
    #: The Redis listener the proxy forwards to (in the same pod): the TLS port when TLS is on.
    upstream_port: int
    #: The LAN speaks TLS: a connection must open with a ClientHello. Without TLS, any first bytes.
    tls: bool = True
    listen_port: int = LAN_PROXY_PORT
    metrics_port: int = LAN_PROXY_METRICS_PORT
    #: Addresses per stick table (one entry ~ 100 bytes): more sources than this are not tracked (and so
    #: not capped) until entries expire; the total cap still holds.
    table_size: int = 65536

    def __post_init__(self) -> None:
        if self.lan_max_connections < 1:
            raise PropError("lan_max_connections", self.lan_max_connections, "at least 1")
        if not 1 <= self.per_source_max_connections <= self.lan_max_connections:
            raise PropError(
                "per_source_max_connections",
                self.per_source_max_connections,
                f"1 to lan_max_connections ({self.lan_max_connections})",
            )
        if not 1 <= self.hello_timeout_seconds <= 60:
            raise PropError("hello_timeout_seconds", self.hello_timeout_seconds, "1 to 60")
        if self.idle_timeout_seconds < self.hello_timeout_seconds:
            raise PropError(
                "idle_timeout_seconds",
                self.idle_timeout_seconds,
                f"at least hello_timeout_seconds ({self.hello_timeout_seconds})",
            )


def derive_lan_proxy_settings(maxclients: int, *, upstream_port: int, tls: bool = True) -> LanProxySettings:
    """Defaults for a Redis with ``maxclients`` (4096 at 1 GiB -> LAN 1024, 64 per source).

    The LAN gets a quarter of ``maxclients`` (at most ``maxclients - RESERVED_CONNECTIONS``): a LAN flood
    leaves three quarters to the tenants; one source gets a sixteenth of the LAN share (at least 4), so a
    single compromised device cannot even fill the LAN's share alone.
    """
    lan = max(1, min(maxclients // 4, maxclients - RESERVED_CONNECTIONS))
    return LanProxySettings(
        lan_max_connections=lan,
        per_source_max_connections=max(4, lan // 16) if lan >= 4 else lan,
        hello_timeout_seconds=5,
        idle_timeout_seconds=3600,
        upstream_port=upstream_port,
        tls=tls,
    )


def render_haproxy_cfg(s: LanProxySettings) -> str:
    """haproxy.cfg for the sidecar (HAProxy 2.6+; every directive in the 2.6 and 2.8 configuration manuals)."""
    # The frontend's own maxconn sits one above the reject threshold so that the connection over the cap is
    # accepted, counted as denied and closed at once (a client sees a reset), instead of waiting unseen in
    # the kernel's accept queue as connections over a frontend's maxconn do.
    first_bytes = "req.ssl_hello_type 1" if s.tls else "req.len gt 0"
    return f"""\
# Rendered by redis_constructs.server.lan_proxy: the LAN's connection caps in front of Redis's TLS port.
global
    maxconn {s.lan_max_connections + 64}
    log stdout format raw local0 info
    # No runtime API socket, no master-worker: the container's one process.

defaults
    mode tcp
    log global
    option tcplog
    # Log only refusals and errors, not every LAN session (a flood would flood the log too).
    option dontlog-normal
    timeout connect 5s
    timeout client {s.idle_timeout_seconds}s
    timeout server {s.idle_timeout_seconds}s
    timeout client-fin 10s
    timeout server-fin 10s

frontend lan
    bind :{s.listen_port}
    maxconn {s.lan_max_connections + 1}
    stick-table type ipv6 size {s.table_size} expire 60s store conn_cur
    tcp-request connection reject if {{ fe_conn gt {s.lan_max_connections} }}
    tcp-request connection track-sc0 src
    tcp-request connection reject if {{ sc0_conn_cur gt {s.per_source_max_connections} }}
    # A ClientHello (with TLS; any first bytes without) within the delay, or the connection is closed before
    # it reaches Redis.
    tcp-request inspect-delay {s.hello_timeout_seconds}s
    tcp-request content accept if {{ {first_bytes} }}
    tcp-request content reject
    default_backend redis_tls

backend redis_tls
    server redis 127.0.0.1:{s.upstream_port}

frontend metrics
    mode http
    bind :{s.metrics_port}
    timeout client 10s
    option dontlog-normal
    http-request use-service prometheus-exporter if {{ path /metrics }}
    http-request return status 200 content-type text/plain string "ok\\n" if {{ path /healthz }}
    http-request deny
"""


@dataclass(frozen=True, kw_only=True, slots=True)
class LanProxy:
    """The LAN proxy's limits (``RedisSharedProps.lan_proxy``); rendered only with a ``load_balancer``.

    Example::

        RedisSharedProps(load_balancer=lb, lan_proxy=LanProxy(per_source_max_connections=128))
    """

    #: All LAN connections together. Default: - a quarter of ``maxclients`` (1024 at a 1 GiB memory limit), at
    #: most ``maxclients`` - 32.
    max_connections: int | None = None
    #: Connections from one LAN address. Default: - a sixteenth of ``max_connections``, at least 4 (64 at 1 GiB).
    per_source_max_connections: int | None = None
    #: A LAN connection that has not sent a TLS ClientHello by then is closed before it reaches Redis.
    #: Default: 5.
    hello_timeout_seconds: int = 5
    #: A LAN connection idle this long (both directions) is closed. Default: 3600.
    idle_timeout_seconds: int = 3600
    #: The haproxy image (2.6+, built with the Prometheus exporter). Default: :data:`images.HAPROXY_IMAGE`.
    image: str = HAPROXY_IMAGE
    #: Default: - the tag alone is used.
    image_digest: str | None = None

    def __post_init__(self) -> None:
        v.pinned_image("lan_proxy.image", self.image)
        v.image_digest("lan_proxy.image_digest", self.image_digest)
        if self.max_connections is not None:
            v.int_in_range("lan_proxy.max_connections", self.max_connections, 1, 1_000_000)
        if self.per_source_max_connections is not None:
            v.int_in_range("lan_proxy.per_source_max_connections", self.per_source_max_connections, 1, 1_000_000)
        v.int_in_range("lan_proxy.hello_timeout_seconds", self.hello_timeout_seconds, 1, 60)
        v.int_in_range("lan_proxy.idle_timeout_seconds", self.idle_timeout_seconds, self.hello_timeout_seconds, 86400)

    def settings(self, *, maxclients: int, upstream_port: int, tls: bool) -> LanProxySettings:
        """What the proxy enforces in front of a Redis with ``maxclients``; the bounds name this record's fields."""
        derived = derive_lan_proxy_settings(maxclients, upstream_port=upstream_port)
        highest = max(1, maxclients - RESERVED_CONNECTIONS)
        lan = derived.lan_max_connections
        if self.max_connections is not None:
            lan = v.int_in_range("lan_proxy.max_connections", self.max_connections, 1, highest)
        per_source = max(4, lan // 16) if lan >= 4 else lan
        if self.per_source_max_connections is not None:
            per_source = v.int_in_range("lan_proxy.per_source_max_connections", self.per_source_max_connections, 1, lan)
        return LanProxySettings(
            lan_max_connections=lan,
            per_source_max_connections=per_source,
            hello_timeout_seconds=self.hello_timeout_seconds,
            idle_timeout_seconds=self.idle_timeout_seconds,
            upstream_port=upstream_port,
            tls=tls,
        )


def lan_proxy_container(settings: LanProxySettings, *, image: str) -> k8s.Container:
    """The ``lan-proxy`` sidecar: haproxy in the foreground on the rendered cfg, as the image's uid 99.

    It needs the pod's ``configuration`` volume (the cfg is key :data:`CONFIG_KEY` there). Its probes ask its
    own ``/healthz``: a dead proxy is restarted by its liveness. It has no readiness probe on purpose: a pod
    is Ready only when every container is, and a proxy failure must never take Redis out of the in-cluster
    Services.
    """
    health = k8s.HttpGetAction(path="/healthz", port=int_or_string("lan-metrics"))
    # About 33 kB per proxied connection (two buffers and the session, HAProxy's management guide) on top of
    # the process itself.
    memory = f"{64 + settings.lan_max_connections * 34 // 1024}Mi"
    return k8s.Container(
        name=CONTAINER_NAME,
        image=image,
        image_pull_policy="IfNotPresent",
        # -db: foreground, one process, logs to stdout; no master-worker, no pidfile (read-only root).
        command=[HAPROXY_BINARY, "-db", "-f", f"{CONF_DIR}/{CONFIG_KEY}"],
        ports=[
            k8s.ContainerPort(name="lan", container_port=settings.listen_port, protocol="TCP"),
            k8s.ContainerPort(name="lan-metrics", container_port=settings.metrics_port, protocol="TCP"),
        ],
        volume_mounts=[k8s.VolumeMount(name="configuration", mount_path=CONF_DIR, read_only=True)],
        resources=resources(cpu=("10m", "200m"), memory=(memory, memory)),
        security_context=restricted_container(HAPROXY_UID),
        liveness_probe=k8s.Probe(http_get=health, period_seconds=10, timeout_seconds=3, failure_threshold=3),
    )
