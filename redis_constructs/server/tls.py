"""Redis native TLS for RedisShared: props, redis.conf lines, the certificate and the reload sidecar.

With ``RedisSharedProps.tls`` set, Redis listens with TLS on ``Tls.port`` (6380) beside the plaintext 6379; the
LoadBalancer publishes only the TLS port and the NetworkPolicy admits the plaintext port from the Redis pods
and the client namespaces only, never from the LAN. Replication (``tls-replication yes``) and the exporter
use TLS; the probes keep asking the plaintext port on 127.0.0.1. A renewed certificate is picked up without a
restart: the ``tls-reload`` sidecar watches the mounted Secret (the kubelet updates it in place) and runs
``CONFIG SET tls-cert-file ...`` as ``admin``, which makes Redis 7 re-read the files (``tls-*-file`` are
volatile configs: setting the same path reloads them).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import cdk8s
import constructs
from cdk8s_plus_28 import k8s

from .._imports.io import cert_manager
from ..core import validation as v
from ..core.errors import PropError
from ..core.pod_security import resources, restricted_container
from ..core.rendering import quantity
from .redis_conf import ADMIN_USERNAME, SCRIPTS_DIR, SECRETS_DIR

#: Where the TLS Secret is mounted in the Redis and reload containers (tls.crt, tls.key, ca.crt).
TLS_DIR = "/opt/redis-shared/tls"
#: Where the exporter gets the CA alone (never the private key).
TLS_CA_DIR = "/opt/redis-shared/tls-ca"
#: The reload sidecar's heartbeat (memory-backed emptyDir), read by its liveness probe.
RELOAD_RUN_DIR = "/run/tls-reload"
#: The projected volume holding only ``admin-password``, the one credential the reload sidecar needs.
RELOAD_CREDENTIALS_VOLUME = "admin-credentials"
#: The keys of a ``kubernetes.io/tls`` Secret as cert-manager writes them.
TLS_KEYS = ("tls.crt", "tls.key", "ca.crt")


class IssuerKind(enum.Enum):
    """The kind of cert-manager issuer a Certificate refers to."""

    ISSUER = "Issuer"
    CLUSTER_ISSUER = "ClusterIssuer"


@dataclass(frozen=True, kw_only=True, slots=True)
class CertManagerCertificate:
    """A cert-manager ``Certificate`` rendered in the Redis namespace; cert-manager writes Secret ``<name>-tls``.

    The issuer must fill ``ca.crt`` (a CA, self-signed or Vault issuer; ACME issuers don't): Redis verifies
    the primary's certificate with it when replicating, the exporter when scraping.

    Warning: the replica checks the chain only, not the name (Redis's ``src/tls.c`` sets no host name), so on a
    shared ClusterIssuer any certificate that issuer signs, for any namespace, is accepted as the primary's.
    :class:`CertManagerSelfSignedCa` (a CA of Redis's own) avoids that.
    """

    #: Name of an existing Issuer (in the Redis namespace) or ClusterIssuer.
    issuer_name: str
    #: Default: ``IssuerKind.CLUSTER_ISSUER``.
    issuer_kind: IssuerKind = IssuerKind.CLUSTER_ISSUER
    #: Certificate lifetime. Default: ``"2160h"`` (90 days).
    duration: str = "2160h"
    #: Renewal this long before expiry. Default: ``"720h"`` (30 days).
    renew_before: str = "720h"

    def validate(self, prop: str) -> None:
        v.dns_subdomain(prop + ".issuer_name", self.issuer_name)
        if not isinstance(self.issuer_kind, IssuerKind):
            raise PropError(prop + ".issuer_kind", self.issuer_kind, "IssuerKind.ISSUER or IssuerKind.CLUSTER_ISSUER")
        _check_lifetime(prop, self.duration, self.renew_before)


@dataclass(frozen=True, kw_only=True, slots=True)
class CertManagerSelfSignedCa:
    """cert-manager with a CA of Redis's own, needing no issuer in the cluster beyond cert-manager itself.

    Renders Issuer ``<name>-selfsigned``, a CA Certificate ``<name>-ca`` (Secret ``<name>-ca``, its key never
    rotated so clients keep trusting it across renewals), Issuer ``<name>-ca`` and the server Certificate it
    signs. LAN clients trust ``ca.crt`` of Secret ``<name>-tls`` (docs/tls.md).
    """

    #: Server certificate lifetime. Default: ``"2160h"`` (90 days).
    duration: str = "2160h"
    #: Default: ``"720h"`` (30 days before expiry).
    renew_before: str = "720h"
    #: CA certificate lifetime. Default: ``"87600h"`` (10 years).
    ca_duration: str = "87600h"

    def validate(self, prop: str) -> None:
        _check_lifetime(prop, self.duration, self.renew_before)
        _hours(prop + ".ca_duration", self.ca_duration)


def _hours(prop: str, value: str) -> int:
    # The one duration grammar (validation.py): ASCII digits only, at most 9 (cert-manager parses it with Go).
    return int(v.duration_seconds(prop, value, units=("h",), expected="a whole number of hours, e.g. '2160h'")) // 3600


def _check_lifetime(prop: str, duration: str, renew_before: str) -> None:
    if _hours(prop + ".renew_before", renew_before) >= _hours(prop + ".duration", duration):
        raise PropError(prop + ".renew_before", renew_before, f"less than duration {duration!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class ExistingTlsSecret:
    """A ``kubernetes.io/tls`` Secret in the Redis namespace created out of band (by hand, a SealedSecret, an
    ExternalSecret), with keys ``tls.crt``, ``tls.key`` and ``ca.crt``.

    Its certificate must name what clients dial: the master Service names, the pod names under the headless
    Service, the LoadBalancer IP, and ``localhost`` (the exporter dials it and checks the name).
    """

    secret_name: str

    def validate(self, prop: str) -> None:
        v.secret_name(prop + ".secret_name", self.secret_name)


#: Where the certificate comes from: one class per variant.
TlsCertificateSource = CertManagerCertificate | CertManagerSelfSignedCa | ExistingTlsSecret


@dataclass(frozen=True, kw_only=True, slots=True)
class Tls:
    """Redis native TLS beside the plaintext port (see the module docstring for what it changes)."""

    certificates: TlsCertificateSource
    #: Default: 6380.
    port: int = 6380
    #: How often the reload sidecar compares the mounted certificate with what Redis loaded. Default: 60.
    reload_interval_seconds: int = 60
    #: How long the mounted certificate may differ from the one Redis loaded before the sidecar's liveness
    #: fails and the kubelet restarts it (RedisTlsReloadFailing counts the restarts): at least three rounds
    #: plus the kubelet's Secret sync (90 s). Default: 600.
    reload_max_pending_seconds: int = 600

    def validate(self, plaintext_port: int) -> None:
        if not isinstance(self.certificates, CertManagerCertificate | CertManagerSelfSignedCa | ExistingTlsSecret):
            raise PropError(
                "tls.certificates",
                self.certificates,
                "a CertManagerCertificate(...), CertManagerSelfSignedCa() or ExistingTlsSecret(...)",
            )
        self.certificates.validate("tls.certificates")
        v.int_in_range("tls.port", self.port, 1024, 65535)
        if self.port == plaintext_port:
            raise PropError("tls.port", self.port, f"a port other than the plaintext {plaintext_port}")
        v.int_in_range("tls.reload_interval_seconds", self.reload_interval_seconds, 1, 3600)
        lowest = 3 * self.reload_interval_seconds + 90
        if not (
            isinstance(self.reload_max_pending_seconds, int) and lowest <= self.reload_max_pending_seconds <= 86400
        ):
            raise PropError(
                "tls.reload_max_pending_seconds",
                self.reload_max_pending_seconds,
                f"an integer from 3 * tls.reload_interval_seconds + 90 ({lowest}) to 86400",
            )


def secret_name(tls: Tls, redis_name: str) -> str:
    """The Secret the pods mount: cert-manager's ``<name>-tls`` or the existing one."""
    if isinstance(tls.certificates, ExistingTlsSecret):
        return tls.certificates.secret_name
    return f"{redis_name}-tls"


def render_tls_conf(tls: Tls) -> str:
    """redis.conf lines both roles add: the TLS listener, and TLS for replication."""
    lines = [
        "# TLS beside the plaintext port (redis_constructs.tls)",
        f"tls-port {tls.port}",
        f"tls-cert-file {TLS_DIR}/tls.crt",
        f"tls-key-file {TLS_DIR}/tls.key",
        f"tls-ca-cert-file {TLS_DIR}/ca.crt",
        # Clients authenticate with their password; TLS only protects it (and the data) on the wire.
        "tls-auth-clients no",
        "tls-replication yes",
        'tls-protocols "TLSv1.2 TLSv1.3"',
    ]
    return "\n".join(lines) + "\n"


def render_reload_script() -> str:
    """tls-reload.sh [check]: the watcher loop, or its liveness check (docs/resilience.md "TLS reload").

    Each round writes ``<now> <loaded sha256> <pending since>`` to the heartbeat *after* its work (a round
    that hangs leaves it old); ``check`` fails when the loop stalled (three intervals + 10 s) or when the
    mounted files have differed from what Redis loaded for longer than ``TLS_RELOAD_MAX_PENDING_SECONDS``.
    Every load is logged, the first one included.
    """
    files = " ".join(f'"{TLS_DIR}/{k}"' for k in TLS_KEYS)
    return f"""\
#!/bin/sh
# Reloads Redis's TLS certificate when the mounted Secret changes (cert-manager renewed it; the kubelet
# updates the volume in place). CONFIG SET of the same tls-*-file paths makes Redis re-read them; a pair
# that does not match (a read during the update) is refused by Redis and retried on the next round. Once
# Redis answers OK it serves the pair it loaded.
set -u
beat="{RELOAD_RUN_DIR}/heartbeat"
max_pending=${{TLS_RELOAD_MAX_PENDING_SECONDS:-600}}
if [ "${{1:-}}" = check ]; then
  [ -r "$beat" ] || {{ echo "tls-reload check: no heartbeat yet"; exit 1; }}
  read -r at _loaded since < "$beat" || {{ echo "tls-reload check: unreadable heartbeat"; exit 1; }}
  now=$(date +%s)
  if [ $((now - at)) -gt $((3 * TLS_RELOAD_INTERVAL_SECONDS + 10)) ]; then
    echo "tls-reload check: loop stalled (last round $((now - at)) s ago)"; exit 1
  fi
  if [ "$since" != 0 ] && [ $((now - since)) -gt "$max_pending" ]; then
    echo "tls-reload check: mounted certificate not loaded for $((now - since)) s (bound $max_pending s)"; exit 1
  fi
  exit 0
fi
loaded=none
since=0
while :; do
  mounted=$(cat {files} 2>/dev/null | sha256sum | cut -d" " -f1)
  if [ "$mounted" != "$loaded" ]; then
    [ "$since" = 0 ] && since=$(date +%s)
    if reply=$(REDISCLI_AUTH=$(cat "{SECRETS_DIR}/admin-password") timeout 5 redis-cli -h 127.0.0.1 \\
      -p "$REDIS_PORT" --user {ADMIN_USERNAME} --no-auth-warning CONFIG SET \\
      tls-cert-file "{TLS_DIR}/tls.crt" tls-key-file "{TLS_DIR}/tls.key" tls-ca-cert-file "{TLS_DIR}/ca.crt" 2>&1) \\
      && [ "$reply" = OK ]; then
      echo "tls-reload: Redis loaded the certificate files (sha256 $(printf %.12s "$mounted"), was" \\
        "$(printf %.12s "$loaded")) after $(($(date +%s) - since)) s pending"
      loaded=$mounted
      since=0
    else
      echo "tls-reload: CONFIG SET tls-cert-file failed (will retry): $reply" >&2
    fi
  fi
  # After the round's work, atomically: a round that hangs leaves the heartbeat old.
  echo "$(date +%s) $loaded $since" > "$beat.tmp" && mv "$beat.tmp" "$beat"
  sleep "$TLS_RELOAD_INTERVAL_SECONDS"
done
"""


def volumes(tls: Tls, redis_name: str) -> list[k8s.Volume]:
    """The TLS Secret twice (everything for Redis, the CA alone for the exporter) and the heartbeat dir."""
    name = secret_name(tls, redis_name)
    return [
        k8s.Volume(
            name="tls",
            secret=k8s.SecretVolumeSource(
                secret_name=name, default_mode=0o440, items=[k8s.KeyToPath(key=k, path=k) for k in TLS_KEYS]
            ),
        ),
        k8s.Volume(
            name="tls-ca",
            secret=k8s.SecretVolumeSource(
                secret_name=name, default_mode=0o444, items=[k8s.KeyToPath(key="ca.crt", path="ca.crt")]
            ),
        ),
        k8s.Volume(
            name="tls-reload",
            empty_dir=k8s.EmptyDirVolumeSource(medium="Memory", size_limit=quantity("1Mi")),
        ),
    ]


def reload_container(tls: Tls, *, image: str, uid: int, env: list[k8s.EnvVar]) -> k8s.Container:
    """The sidecar that makes Redis reload a renewed certificate."""
    check = k8s.Probe(
        exec=k8s.ExecAction(command=["sh", f"{SCRIPTS_DIR}/tls-reload.sh", "check"]),
        initial_delay_seconds=5,
        period_seconds=30,
        timeout_seconds=5,
        failure_threshold=3,
    )
    return k8s.Container(
        name="tls-reload",
        image=image,
        image_pull_policy="IfNotPresent",
        command=["sh", f"{SCRIPTS_DIR}/tls-reload.sh"],
        env=[
            *env,
            k8s.EnvVar(name="TLS_RELOAD_INTERVAL_SECONDS", value=str(tls.reload_interval_seconds)),
            k8s.EnvVar(name="TLS_RELOAD_MAX_PENDING_SECONDS", value=str(tls.reload_max_pending_seconds)),
        ],
        volume_mounts=[
            k8s.VolumeMount(name="scripts", mount_path=SCRIPTS_DIR, read_only=True),
            # admin-password alone (RELOAD_CREDENTIALS_VOLUME), not the whole credentials volume.
            k8s.VolumeMount(name=RELOAD_CREDENTIALS_VOLUME, mount_path=SECRETS_DIR, read_only=True),
            k8s.VolumeMount(name="tls", mount_path=TLS_DIR, read_only=True),
            k8s.VolumeMount(name="tls-reload", mount_path=RELOAD_RUN_DIR),
        ],
        resources=resources(cpu=("5m", "50m"), memory=("16Mi", "32Mi")),
        security_context=restricted_container(uid),
        # Liveness only: a pod is Ready when its Redis is, so a stalled reload loop restarts this sidecar but
        # never takes Redis out of its Services.
        liveness_probe=check,
    )


def certificate_spec(
    tls: Tls, *, redis_name: str, dns_names: list[str], ip_addresses: list[str]
) -> cert_manager.CertificateSpec:
    """The cert-manager Certificate's spec (only for :class:`CertManagerCertificate`)."""
    source = tls.certificates
    assert not isinstance(source, ExistingTlsSecret)
    if isinstance(source, CertManagerCertificate):
        issuer = cert_manager.CertificateSpecIssuerRef(
            name=source.issuer_name, kind=source.issuer_kind.value, group="cert-manager.io"
        )
    else:
        issuer = cert_manager.CertificateSpecIssuerRef(
            name=f"{redis_name}-ca", kind=IssuerKind.ISSUER.value, group="cert-manager.io"
        )
    usages = cert_manager.CertificateSpecUsages
    return cert_manager.CertificateSpec(
        secret_name=secret_name(tls, redis_name),
        issuer_ref=issuer,
        duration=source.duration,
        renew_before=source.renew_before,
        # No commonName: RFC 5280 caps it at 64 bytes, which the master's full DNS name can exceed (a 40-character
        # name and a 63-character namespace); clients check the SANs (RFC 6125), which name everything.
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        # A fresh key at every renewal; the reload sidecar makes Redis load it.
        private_key=cert_manager.CertificateSpecPrivateKey(
            algorithm=cert_manager.CertificateSpecPrivateKeyAlgorithm.ECDSA,
            size=256,
            rotation_policy=cert_manager.CertificateSpecPrivateKeyRotationPolicy.ALWAYS,
        ),
        # client auth: a replica presents the same certificate when it dials the primary.
        usages=[usages.SERVER_AUTH, usages.CLIENT_AUTH, usages.DIGITAL_SIGNATURE, usages.KEY_ENCIPHERMENT],
    )


def add_self_signed_ca(
    scope: constructs.Construct,
    source: CertManagerSelfSignedCa,
    *,
    redis_name: str,
    namespace: str,
    labels: dict[str, str],
) -> None:
    """Issuer ``<name>-selfsigned`` → CA Certificate ``<name>-ca`` → Issuer ``<name>-ca`` (signs the server's)."""

    def meta(name: str) -> cdk8s.ApiObjectMetadata:
        return cdk8s.ApiObjectMetadata(name=name, namespace=namespace, labels=labels)

    cert_manager.Issuer(
        scope,
        "SelfSignedIssuer",
        metadata=meta(f"{redis_name}-selfsigned"),
        spec=cert_manager.IssuerSpec(self_signed=cert_manager.IssuerSpecSelfSigned()),
    )
    cert_manager.Certificate(
        scope,
        "CaCertificate",
        metadata=meta(f"{redis_name}-ca"),
        spec=cert_manager.CertificateSpec(
            is_ca=True,
            common_name=f"{redis_name} CA",
            secret_name=f"{redis_name}-ca",
            duration=source.ca_duration,
            issuer_ref=cert_manager.CertificateSpecIssuerRef(
                name=f"{redis_name}-selfsigned", kind=IssuerKind.ISSUER.value, group="cert-manager.io"
            ),
            # The same key across CA renewals: clients that trust the CA keep trusting its renewed certificate.
            private_key=cert_manager.CertificateSpecPrivateKey(
                algorithm=cert_manager.CertificateSpecPrivateKeyAlgorithm.ECDSA,
                size=256,
                rotation_policy=cert_manager.CertificateSpecPrivateKeyRotationPolicy.NEVER,
            ),
        ),
    )
    cert_manager.Issuer(
        scope,
        "CaIssuer",
        metadata=meta(f"{redis_name}-ca"),
        spec=cert_manager.IssuerSpec(ca=cert_manager.IssuerSpecCa(secret_name=f"{redis_name}-ca")),
    )
