"""What the runtime tests and the benchmark share about running the synthesized redis-shared pods.

The manifests, the pods' names, the test passwords, clients without retries, the exporter's metrics, the out of
band Secrets and a test CA. Test modules import these from here, never from each other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import re
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from podrunner import Cluster, Pod
from podrunner.k8s import selector_matches
from redis.backoff import NoBackoff
from redis.retry import Retry

ROOT = Path(__file__).resolve().parents[2]
#: dist/redis-shared as committed (kept fresh by test_synth). Override only to check that the runtime tests catch
#: a broken rendering (mutation checks).
MANIFESTS = Path(os.environ.get("REDIS_SHARED_MANIFESTS", ROOT / "dist" / "redis-shared" / "manifests.yaml"))
NS = "redis"
PRIMARY = "redis-shared-master-0"
REPLICA = "redis-shared-replicas-0"
PORT = 6379
TLS_PORT = 6380
METRICS_PORT = 9121
#: Credential file (as mounted at /opt/redis-shared/secrets) -> (ACL user, password used in the tests).
CREDENTIALS = {
    "client-password": ("default", "client-Pw-7f3a9c"),
    "replication-password": ("replication", "repl-Pw-52be01"),
    "exporter-password": ("exporter", "exp-Pw-c0ffee"),
    "admin-password": ("admin", "admin-Pw-9d8e7f"),
    "migration-password": ("migration", "migration-Pw-1a2b3c"),
    "backup-password": ("backup", "backup-Pw-4d5e6f"),
    "check-password": ("check", "check-Pw-4d5e6f"),
}
CLIENT_USER, CLIENT_PW = CREDENTIALS["client-password"]
ADMIN_USER, ADMIN_PW = CREDENTIALS["admin-password"]
REPL_USER, REPL_PW = CREDENTIALS["replication-password"]
EXPORTER_USER, EXPORTER_PW = CREDENTIALS["exporter-password"]
#: The passwords by mounted file name, as :func:`out_of_band_secrets` takes them.
PASSWORDS_BY_FILE = {f: pw for f, (_, pw) in CREDENTIALS.items()}


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Poll ``check`` until true (bounded by ``timeout``); seconds it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - start


def connect(pod: Pod, user: str | None, password: str | None, **kw: Any) -> redis.Redis:
    """A client without retries (redis-py 8 retries auth errors with backoff by default).

    ``kw``: further ``redis.Redis`` options, overriding the defaults here (5 s socket timeout, decoded replies).
    """
    options: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 2, "decode_responses": True}
    return redis.Redis(
        host=pod.ip,
        port=PORT,
        username=user,
        password=password,
        protocol=2,
        retry=Retry(NoBackoff(), 0),
        **(options | kw),
    )


def info(pod: Pod, section: str) -> dict[str, Any]:
    """``INFO section`` as the admin user."""
    with connect(pod, ADMIN_USER, ADMIN_PW) as admin:
        return dict(admin.info(section))


def link_up(replica: Pod) -> bool:
    """The replica's link to its primary is up (False while it does not answer)."""
    try:
        return bool(info(replica, "replication").get("master_link_status") == "up")
    except redis.ConnectionError:
        return False


def metrics(pod: Pod) -> dict[str, list[tuple[str, float]]]:
    """The exporter's /metrics, fetched with curl inside the pod's network namespace."""
    url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
    proc = pod.netns_exec(["curl", "-sS", "--noproxy", "*", "--max-time", "5", url], timeout=10)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, list[tuple[str, float]]] = {}
    for line in proc.stdout.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, labels = series.partition("{")
        out.setdefault(name, []).append(("{" + labels if labels else "", float(value)))
    return out


def scrape_endpoint(objects: Sequence[Mapping[str, Any]], endpoint: str) -> dict[str, Any]:
    """The rendered ServiceMonitor's ``/scrape`` endpoint whose targets get ``endpoint=<endpoint>``."""
    (monitor,) = [o for o in objects if o["kind"] == "ServiceMonitor"]
    (found,) = [
        e
        for e in monitor["spec"]["endpoints"]
        if any(r.get("targetLabel") == "endpoint" and r.get("replacement") == endpoint for r in e["relabelings"])
    ]
    return dict(found)


def kept_pods(endpoint: Mapping[str, Any], objects: Sequence[Mapping[str, Any]], cluster: Cluster) -> list[Pod]:
    """The pods of the metrics Service that the endpoint's ``keep`` relabelings leave (Prometheus semantics:
    the regex is anchored and matched against the source label's value; a pod label missing reads as "")."""
    (service,) = [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "redis-shared-metrics"]
    (monitor,) = [o for o in objects if o["kind"] == "ServiceMonitor"]
    assert selector_matches(monitor["spec"]["selector"], service["metadata"].get("labels", {}))
    kept = []
    for pod in cluster.service_pods(dict(service)):
        meta = {f"__meta_kubernetes_pod_label_{re.sub(r'[^a-zA-Z0-9_]', '_', k)}": v for k, v in pod.labels.items()}
        keeps = [r for r in endpoint["relabelings"] if r.get("action") == "keep"]
        if all(re.fullmatch(r["regex"], ";".join(meta.get(s, "") for s in r["sourceLabels"])) for r in keeps):
            kept.append(pod)
    return kept


def scrape(pod: Pod, endpoint: Mapping[str, Any]) -> str:
    """GET the endpoint's path with its params, as Prometheus sends them (url.Values.Encode: sorted, escaped)."""
    query = urllib.parse.urlencode(sorted(endpoint["params"].items()), doseq=True)
    url = f"http://127.0.0.1:{METRICS_PORT}{endpoint['path']}?{query}"
    proc = pod.netns_exec(["curl", "-sS", "--noproxy", "*", "--max-time", "10", url], timeout=15)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def kept_series(text: str, endpoint: Mapping[str, Any]) -> dict[str, float]:
    """The series of a scrape's text that the endpoint's metricRelabelings keep, by name and labels."""
    keeps = [r for r in endpoint.get("metricRelabelings", []) if r.get("action") == "keep"]
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name = series.partition("{")[0]
        if all(r["sourceLabels"] == ["__name__"] and re.fullmatch(r["regex"], name) for r in keeps):
            out[series] = float(value)
    return out


def resp(*args: str) -> bytes:
    """One command in RESP, for clients that speak the protocol by hand."""
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        data = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def raw_replies(ip: str, payload: bytes, replies: int, timeout: float = 2.0) -> list[bytes]:
    """Send ``payload`` on a fresh connection and read ``replies`` single-line replies."""
    with socket.create_connection((ip, PORT), timeout=timeout) as sock:
        sock.sendall(payload)
        buf = b""
        deadline = time.monotonic() + timeout
        while buf.count(b"\r\n") < replies and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf.split(b"\r\n")[:replies]


def aof_settled(pod: Pod) -> bool:
    """No AOF rewrite runs or waits on ``pod``.

    A replica rewrites its AOF right after each full sync, and a SIGTERM meanwhile is refused ("Writing initial AOF,
    can't exit"): the pod then lives until the grace period ends. A test that stops a pod to set up its scenario
    waits for this first.
    """
    persistence = info(pod, "persistence")
    return not (persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"])


#: The rendered config leaves ``repl-diskless-sync-delay`` at Redis's default: a primary waits this long before
#: it streams a full sync, for more replicas to share the transfer.
REDIS_DEFAULT_SYNC_DELAY_SECONDS = 5


def set_sync_delay(primary: Pod, seconds: int, *, admin_password: str = ADMIN_PW) -> None:
    """``CONFIG SET repl-diskless-sync-delay`` on the running ``primary`` (as the admin user, as an operator would).

    Redis re-reads the delay on every check, so a full sync already waiting starts at once at 0. A restart of the
    primary reads the rendered config again.
    """
    with connect(primary, ADMIN_USER, admin_password) as admin:
        assert admin.config_set("repl-diskless-sync-delay", str(seconds)) is True


def sync_at_once(primary: Pod, *, admin_password: str = ADMIN_PW) -> None:
    """Let ``primary`` stream a replica's full sync without the 5 s delay.

    With one replica the delay only postpones the sync (there is nothing to batch), and the scenarios wait for a
    dozen full syncs; what they assert does not depend on it. The test that needs the window sets the delay back
    (test_a_new_replica_is_not_ready_until_its_first_sync).
    """
    set_sync_delay(primary, 0, admin_password=admin_password)


def start_primary_first(
    cluster: Cluster, others: Sequence[str] = (REPLICA,), *, admin_password: str = ADMIN_PW, timeout: float = 30
) -> None:
    """Start the primary, let it sync at once (:func:`sync_at_once`), then ``others``: each must become Ready."""
    cluster.start([PRIMARY], timeout=timeout)
    sync_at_once(cluster.pod(PRIMARY), admin_password=admin_password)
    cluster.start(list(others), timeout=timeout)


@contextlib.contextmanager
def synced_pair(objects: list[dict[str, Any]], path: Path, **cluster: Any) -> Iterator[Cluster]:
    """A Cluster of ``objects`` (dist/redis-shared or a variant of it) with its Secrets given out of band, the
    primary started first and the replica's first sync done; ``cluster``: more Cluster arguments."""
    with Cluster(objects, path, secrets=out_of_band_secrets(objects, PASSWORDS_BY_FILE), **cluster) as c:
        start_primary_first(c)
        wait_for("the replica's first sync", lambda: link_up(c.pod(REPLICA)), timeout=20)
        yield c


def write_keys(pod: Pod, prefix: str, n: int) -> list[str]:
    """N acknowledged writes (each pipeline reply checked)."""
    keys = [f"{prefix}:{i}" for i in range(n)]
    with connect(pod, CLIENT_USER, CLIENT_PW) as c:
        for start in range(0, n, 500):
            pipe = c.pipeline(transaction=False)
            for k in keys[start : start + 500]:
                pipe.set(k, k)
            assert all(r is True for r in pipe.execute())
    return keys


def missing_keys(pod: Pod, keys: list[str]) -> list[str]:
    """The keys of :func:`write_keys` that ``pod`` does not hold with their value."""
    with connect(pod, CLIENT_USER, CLIENT_PW) as c:
        values: list[str | None] = []
        for start in range(0, len(keys), 1000):
            values += c.mget(keys[start : start + 1000])
    return [k for k, v in zip(keys, values, strict=True) if v != k]


#: What the test certificates name (cert-manager's Certificate names these and more in the cluster).
TLS_NAMES = [
    "redis-shared-master.redis.svc.cluster.local",
    "redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local",
    "redis-shared-replicas-0.redis-shared-headless.redis.svc.cluster.local",
    "localhost",
]


class Ca:
    """A throwaway CA and the server certificates it signs."""

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, ips: list[str]) -> tuple[bytes, bytes, int]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in TLS_NAMES]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ["127.0.0.1", *ips]]
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TLS_NAMES[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=2))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem, serial


def out_of_band_secrets(
    objects: Sequence[Mapping[str, Any]],
    by_file: Mapping[str, str],
    *,
    namespace: str = "redis",
    ca: Ca | None = None,
    tenants: Mapping[str, str] | None = None,
) -> dict[tuple[str, str], dict[str, str]]:
    """Secret data for every Secret the primary's ``credentials`` volume projects, by mounted file name, and
    the tenants' Secret (its ``tenant-secrets`` volume).

    In the cluster these Secrets come from the sealed-secrets controller (or are created by hand); here the
    test supplies ``by_file`` (``client-password`` … ``admin-password`` → password), whatever the Secrets'
    names and keys are in the manifests. The tenants' Secret holds ``<tenant>.password`` for ``tenants``
    (tenant → password); by default the tenant on ``default`` in the tenants ConfigMap gets ``client-password``.
    """
    sts = next(o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"].endswith("-master"))
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    volume = volumes["credentials"]
    secrets: dict[tuple[str, str], dict[str, str]] = {}
    for source in volume["projected"]["sources"]:
        ref = source["secret"]
        for item in ref["items"]:
            secrets.setdefault((namespace, ref["name"]), {})[item["key"]] = by_file[item["path"]]
    # Every password supplied is mounted, except the optional migration, backup and check users' (rendered only
    # with their keys) and the client's (a tenant's, in the tenants' Secret).
    mounted = {item["path"] for source in volume["projected"]["sources"] for item in source["secret"]["items"]}
    optional = {"migration-password", "backup-password", "check-password", "client-password"}
    assert set(by_file) - optional <= mounted, sorted(set(by_file) - mounted)
    if tenants is None:
        tenants = {t: by_file["client-password"] for t in default_tenants(objects)}
    tenant_secret = volumes["tenant-secrets"]["secret"]["secretName"]
    secrets[(namespace, tenant_secret)] = {f"{t}.password": pw for t, pw in tenants.items()}
    return secrets | tls_secrets(objects, namespace=namespace, ca=ca)


def default_tenants(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """The tenant (at most one) holding ``default`` in the tenants ConfigMap."""
    cm = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-tenants"))
    lines = [line.split() for line in cm["data"]["tenants.conf"].splitlines()]
    return [words[0] for words in lines if words[1] == "default" and words[0] != "-"]


def tls_secrets(
    objects: Sequence[Mapping[str, Any]], *, namespace: str = "redis", ca: Ca | None = None
) -> dict[tuple[str, str], dict[str, str]]:
    """With TLS the pods mount a kubernetes.io/tls Secret (cert-manager's in the cluster): one issued by ``ca``
    (a fresh test CA unless given) for the StatefulSets' ``tls`` volume; nothing without TLS."""
    sts = next(o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"].endswith("-master"))
    tls = next((v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls"), None)
    if tls is None:
        return {}
    ca = ca or Ca("redis-shared test CA")
    crt, key, _ = ca.issue([])
    return {
        (namespace, tls["secret"]["secretName"]): {
            "tls.crt": crt.decode(),
            "tls.key": key.decode(),
            "ca.crt": ca.pem.decode(),
        }
    }


@pytest.fixture(scope="module")
def mounts() -> Iterator[list[Path]]:
    """Host mounts a module's scenario makes (:func:`volume_on_tmpfs`); unmounted after its cluster is gone."""
    made: list[Path] = []
    yield made
    for path in reversed(made):
        subprocess.run(["umount", "-l", str(path)], check=False, timeout=20)


def volume_on_tmpfs(pod: Pod, scratch: Path, spare_kib: int, mounts: list[Path]) -> Path:
    """Put the stopped ``pod``'s data volume on a tmpfs with ``spare_kib`` free beyond what it holds (a volume that
    fills up), its files and their owner kept; the mount joins ``mounts``. The volume's path."""
    data = pod.pvc_path("data")
    subprocess.run(["cp", "-a", str(data), str(scratch / "data")], check=True)  # keeps the owner (UID 10001)
    used_kib = sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) // 1024
    size = f"size={used_kib + spare_kib}k,mode=0777"
    subprocess.run(["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(data)], check=True)
    mounts.append(data)
    subprocess.run(["cp", "-a", f"{scratch / 'data'}/.", str(data)], check=True)
    return data
