"""RedisShared with TLS, run as local processes (tests/support/podrunner) with a CA this test makes.

A chart with ``tls=Tls(certificates=ExistingTlsSecret(...))`` is synthesized here (dist/ has TLS off); the test
plays cert-manager: it issues the server certificate from its own CA, supplies the Secret, and later renews
it in place the way the kubelet updates a mounted Secret (a new ``..data`` directory swapped in atomically).
Every client is the real redis-cli 7.0 (``--tls``) or Python's ssl module, on the runner's private bridge.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import cdk8s
import pytest
from cryptography import x509
from podrunner import Cluster, Pod
from redis_pods import (
    CLIENT_PW,
    CLIENT_USER,
    PASSWORDS_BY_FILE,
    PRIMARY,
    REPLICA,
    TLS_PORT,
    Ca,
    metrics,
    out_of_band_secrets,
    start_primary_first,
    wait_for,
)
from redis_pods import TLS_NAMES as NAMES

from redis_constructs import RedisShared, RedisSharedProps, Tenant
from redis_constructs.server.tls import ExistingTlsSecret, Tls

pytestmark = pytest.mark.runtime

SECRET = "redis-lan-tls"


def tls_objects() -> list[dict[str, object]]:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "tls", disable_resource_name_hashes=True)
    RedisShared(
        chart,
        "Redis",
        RedisSharedProps(
            # The app sends only a password: its tenant holds `default` (as on the site).
            tenants=(Tenant(namespace="beersystem", password_only=True),),
            tls=Tls(certificates=ExistingTlsSecret(secret_name=SECRET), reload_interval_seconds=1),
        ),
    )
    return list(chart.to_json())


@pytest.fixture(scope="module")
def ca() -> Ca:
    return Ca("redis-shared test CA")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, ca: Ca) -> Iterator[Cluster]:
    objects = tls_objects()
    secrets = out_of_band_secrets(objects, PASSWORDS_BY_FILE, ca=ca)
    with Cluster(objects, tmp_path_factory.mktemp("redis-tls"), secrets=secrets) as c:
        start_primary_first(c, timeout=40)
        yield c


@pytest.fixture
def primary(cluster: Cluster) -> Pod:
    return cluster.pod(PRIMARY)


def cli(pod: Pod, *args: str, port: int = TLS_PORT, tls: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    redis_cli = shutil.which("redis-cli")
    assert redis_cli, "redis-cli is required (apt-get install redis-tools)"
    argv = [redis_cli, "-h", pod.ip, "-p", str(port), *(tls or []), "--user", CLIENT_USER, "--no-auth-warning"]
    env = {**os.environ, "REDISCLI_AUTH": CLIENT_PW}
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=10, env=env)


def ca_file(tmp_path: Path, pem: bytes, name: str = "ca.pem") -> str:
    path = tmp_path / name
    path.write_bytes(pem)
    return str(path)


def served_serial(pod: Pod, ca_pem: bytes) -> int:
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    ctx.check_hostname = False
    with (
        socket.create_connection((pod.ip, TLS_PORT), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=NAMES[0]) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return int(x509.load_der_x509_certificate(der).serial_number)


def test_a_tls_client_trusting_the_ca_works(primary: Pod, ca: Ca, tmp_path: Path) -> None:
    tls = ["--tls", "--cacert", ca_file(tmp_path, ca.pem)]
    assert cli(primary, "SET", "tls:k", "v", tls=tls).stdout.strip() == "OK"
    assert cli(primary, "GET", "tls:k", tls=tls).stdout.strip() == "v"
    # The plaintext port stays for in-cluster clients that can't speak TLS.
    assert cli(primary, "GET", "tls:k", port=6379).stdout.strip() == "v"


def test_a_plaintext_client_on_the_tls_port_fails(primary: Pod) -> None:
    result = cli(primary, "PING")
    assert "PONG" not in result.stdout
    assert result.returncode != 0 or "error" in (result.stdout + result.stderr).lower()


def test_a_client_trusting_another_ca_fails(primary: Pod, tmp_path: Path) -> None:
    other = Ca("some other CA")
    result = cli(primary, "PING", tls=["--tls", "--cacert", ca_file(tmp_path, other.pem, "other.pem")])
    assert "PONG" not in result.stdout
    assert "certificate verify failed" in (result.stdout + result.stderr), result


def test_replication_runs_over_tls(cluster: Cluster, primary: Pod, ca: Ca, tmp_path: Path) -> None:
    replica = cluster.pod(REPLICA)
    tls = ["--tls", "--cacert", ca_file(tmp_path, ca.pem)]
    deadline = time.monotonic() + 20
    while "master_link_status:up" not in cli(replica, "INFO", "replication", port=6379).stdout:
        assert time.monotonic() < deadline, "the replica never linked up over TLS"
        time.sleep(0.2)
    info = cli(replica, "INFO", "replication", port=6379).stdout
    assert "master_port:6380" in info  # the primary's TLS port: plaintext would fail the handshake
    assert cli(primary, "SET", "tls:repl", "over-tls", tls=tls).stdout.strip() == "OK"
    deadline = time.monotonic() + 5
    while cli(replica, "GET", "tls:repl", tls=tls).stdout.strip() != "over-tls":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_the_exporter_scrapes_over_tls(cluster: Cluster) -> None:
    for name in (PRIMARY, REPLICA):
        m = metrics(cluster.pod(name))
        assert m["redis_up"] == [("", 1.0)], name


def reload_rounds(pod: Pod) -> int:
    """When the reload sidecar's loop last went round (its heartbeat: ``<epoch> <loaded> <pending since>``,
    written as a round ends)."""
    beat = pod.exec("tls-reload", ["cat", "/run/tls-reload/heartbeat"]).stdout.split()
    return int(beat[0]) if beat else 0


def test_a_renewed_certificate_is_loaded_without_a_restart(primary: Pod, ca: Ca) -> None:
    # The sidecar's first CONFIG SET may come before Redis listens (it retries next round, silently when that
    # works): wait until a round began and ended after Redis was up, so what follows is a renewal to it.
    wait_for("the reload loop's first round", lambda: reload_rounds(primary) > 0, timeout=10)
    began = reload_rounds(primary)
    wait_for("a whole round of the reload loop", lambda: reload_rounds(primary) >= began + 2, timeout=10)
    pid = primary.container("redis").pid
    before = served_serial(primary, ca.pem)
    crt, key, serial = ca.issue([])
    assert serial != before
    renew_secret_volume(primary.volume_dir("tls"), {"tls.crt": crt, "tls.key": key, "ca.crt": ca.pem})
    deadline = time.monotonic() + 10
    while served_serial(primary, ca.pem) != serial:
        assert time.monotonic() < deadline, "Redis still serves the old certificate after 10 s"
        time.sleep(0.2)
    assert primary.container("redis").pid == pid  # the same process: reloaded, not restarted
    # Every load is logged, the first one and this renewal: two lines, the second naming the first's hash.
    loads = [line for line in primary.logs("tls-reload").splitlines() if "Redis loaded the certificate files" in line]
    assert len(loads) == 2, loads
    assert "was none" in loads[0] and loads[0].split("sha256 ")[1][:12] in loads[1]
    assert primary.probe("tls-reload", "liveness")
    assert primary.probe("redis", "readiness")
    # The sidecar holds the one credential it uses (CONFIG SET as admin), not the others.
    assert primary.exec("tls-reload", ["ls", "/opt/redis-shared/secrets"]).stdout.split() == ["admin-password"]


def test_a_stalled_reload_loop_fails_its_liveness_and_a_restarted_one_loads_again(primary: Pod) -> None:
    """SIGSTOP the sidecar (its loop and its sleep): with a 1 s interval, its liveness fails after 3 * 1 + 10 s;
    the kubelet's restart (here: kill and launch, as the pod runner does not restart by itself) loads again."""
    sidecar = primary.container("tls-reload")
    wait_for("the reload loop's first round", lambda: reload_rounds(primary) > 0, timeout=10)
    assert primary.probe("tls-reload", "liveness")
    os.killpg(sidecar.pid, signal.SIGSTOP)
    try:
        took = wait_for(
            "the liveness probe to fail", lambda: not primary.probe("tls-reload", "liveness"), timeout=20, interval=1
        )
        assert took >= 10  # not before the bound: a slow round is no stall
        check = primary.exec("tls-reload", ["sh", "/opt/redis-shared/scripts/tls-reload.sh", "check"])
        assert "loop stalled" in check.stdout
    finally:
        os.killpg(sidecar.pid, signal.SIGCONT)
    sidecar.hard_kill()
    sidecar.launch()
    wait_for(
        "the restarted loop to load the certificate",
        lambda: "Redis loaded the certificate files" in sidecar.logs(),
        timeout=10,
    )
    assert primary.probe("tls-reload", "liveness")


def renew_secret_volume(path: Path, files: dict[str, bytes]) -> None:
    """What the kubelet does on a Secret update: a new timestamped dir, then an atomic ``..data`` swap."""
    old = (path / "..data").resolve()
    new = path / "..2026_02_01_00_00_00.000000000"
    new.mkdir()
    for name, data in files.items():
        (new / name).write_bytes(data)
        st = (old / name).stat()
        os.chown(new / name, st.st_uid, st.st_gid)
        (new / name).chmod(st.st_mode & 0o7777)
    st = old.stat()
    os.chown(new, st.st_uid, st.st_gid)
    new.chmod(st.st_mode & 0o7777)
    (path / "..data_tmp").symlink_to(new.name)
    os.rename(path / "..data_tmp", path / "..data")
    shutil.rmtree(old)
