"""The rendered check Job against the rendered redis-shared pods (pod runner, the site's TLS, real exporters).

The site's redis-shared chart is rendered; its check Job's pod template runs as one-pod StatefulSets (the pod
runner emulates StatefulSet pods only): its rendered command, volumes (the program ConfigMap, the check user's
password, ``ca.crt`` alone) and user. The TLS certificate carries the LoadBalancer IP the check verifies (as
cert-manager's does); nothing dials it. Each scenario is a check pod of its own, run once; the scenarios share
one Redis pair and run in file order, the destructive one last. The load runs 1 s instead of 3 (bounded tests).
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from copy_data import as_statefulset
from podrunner import Cluster
from redis_pods import PRIMARY, REPLICA, Ca, start_primary_first, wait_for

import main
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration.copy_program import Connection

pytestmark = pytest.mark.runtime

Obj = dict[str, Any]
SYSTEM = {key: f"{key}-Check_0123456789" for key in main.SYSTEM_KEYS}
CLIENT_PW = "client-Check_0123456789ab"
LB_IP = "192.168.4.203"  # only written into the certificate: nothing connects to it
OTHER_CA_SECRET = "other-ca"
CA = Ca("redis-shared checks test CA")
SCENARIOS = ("healthy", "exporter-stopped", "other-ca", "link-down", "replica-stopped")


def check_pod(job: Obj, scenario: str) -> Obj:
    """The Job as a one-pod StatefulSet ``check-<scenario>``; ``other-ca`` mounts another CA's ``ca.crt``."""
    job = copy.deepcopy(job)
    spec = job["spec"]["template"]["spec"]
    args = spec["containers"][0]["command"]
    args[args.index("--load-seconds") + 1] = "1"
    if scenario == "other-ca":
        tls_ca = next(v for v in spec["volumes"] if v["name"] == "tls-ca")
        tls_ca["secret"]["secretName"] = OTHER_CA_SECRET
    return as_statefulset(job, f"check-{scenario}")


@pytest.fixture(scope="module")
def site() -> list[Obj]:
    return chart_objects(main.build_app())["redis-shared"]


@pytest.fixture(scope="module")
def job(site: list[Obj]) -> Obj:
    (found,) = [o for o in site if o["kind"] == "Job"]
    assert found["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
    return found


@pytest.fixture(scope="module")
def cluster(site: list[Obj], job: Obj, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    ca = CA
    crt, key, _ = ca.issue([LB_IP])
    objects = [o for o in site if o["kind"] not in ("Job", "CronJob")]
    objects += [check_pod(job, s) for s in SCENARIOS]
    secrets = {
        ("redis", "redis-shared-client"): {"password": CLIENT_PW},
        ("redis", "redis-shared-system"): SYSTEM,
        ("redis", "redis-shared-tls"): {"tls.crt": crt.decode(), "tls.key": key.decode(), "ca.crt": ca.pem.decode()},
        ("redis", OTHER_CA_SECRET): {"ca.crt": Ca("another CA").pem.decode()},
    }
    with Cluster(objects, tmp_path_factory.mktemp("checks"), secrets=secrets) as c:
        start_primary_first(c, [REPLICA], admin_password=SYSTEM["admin-password"], timeout=60)
        wait_for("the replica's link", lambda: b"master_link_status:up" in info(c, REPLICA, "replication"), 30)
        yield c


def admin(cluster: Cluster, pod: str, *args: str) -> object:
    conn = Connection(cluster.pod(pod).ip, 6379)
    try:
        conn.call("AUTH", "admin", SYSTEM["admin-password"])
        return conn.call(*args)
    finally:
        conn.close()


def info(cluster: Cluster, pod: str, section: str) -> bytes:
    reply = admin(cluster, pod, "INFO", section)
    assert isinstance(reply, bytes)
    return reply


def run_check(cluster: Cluster, scenario: str) -> tuple[int, str]:
    pod = cluster.pod(f"check-{scenario}-0")
    pod.start()
    code = pod.wait_exit(60)
    return code, pod.logs()


def failed(out: str) -> set[str]:
    return {line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("FAIL ")}


def test_healthy_pair_passes_every_check_with_its_figure(cluster: Cluster) -> None:
    code, out = run_check(cluster, "healthy")
    assert code == 0, out
    for name in ("noauth", "wrongpass", "plain", "tls", "primary", "replication", "replica-link", "replica-lag"):
        assert f"ok   {name}: " in out, out
    assert out.count("ok   exporter: ") == 2, out
    assert "ok   persistence: " in out and "ok   load: " in out
    assert "NOAUTH" in out and "WRONGPASS" in out
    assert f"certificate verified for {LB_IP}" in out
    assert "FAIL" not in out
    # The check user leaves nothing behind.
    assert admin(cluster, PRIMARY, "DBSIZE") == 0


# -- the LAN command (redis-shared check), from the host against the primary pod's address -------------------
@pytest.fixture(scope="module")
def lan_files(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("lan")
    files = {"ca": d / "ca.crt", "other-ca": d / "other.crt", "password": d / "pw", "wrong": d / "wrong"}
    files["ca"].write_bytes(CA.pem)
    files["other-ca"].write_bytes(Ca("a CA the LAN host should not trust").pem)
    files["password"].write_text(SYSTEM["check-password"] + "\n")
    files["wrong"].write_text("not-the-check-password\n")
    return files


def lan(*args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "redis_constructs.checks", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def lan_args(cluster: Cluster, files: dict[str, Path], ca: str = "ca", password: str = "password") -> list[str]:
    return [
        "--host", cluster.pod(PRIMARY).ip, "--port", "6380", "--tls-name", LB_IP,
        "--ca", str(files[ca]), "--user", "check", "--password-file", str(files[password]),
    ]  # fmt: skip


def test_lan_command_passes_with_tls_auth_and_round_trips(cluster: Cluster, lan_files: dict[str, Path]) -> None:
    code, out = lan(*lan_args(cluster, lan_files))
    assert code == 0, out
    for name in ("tls", "noauth", "wrongpass", "round-trips"):
        assert f"ok   {name}: " in out, out
    assert f"certificate verified for {LB_IP}" in out and "p95" in out


def test_lan_command_fails_with_another_ca(cluster: Cluster, lan_files: dict[str, Path]) -> None:
    code, out = lan(*lan_args(cluster, lan_files, ca="other-ca"))
    assert code == 1 and "FAIL tls: certificate not trusted" in out, out


def test_lan_command_fails_with_a_wrong_password(cluster: Cluster, lan_files: dict[str, Path]) -> None:
    code, out = lan(*lan_args(cluster, lan_files, password="wrong"))
    assert code == 1 and "FAIL tls" in out and "WRONGPASS" in out, out


def test_expect_refused_fails_against_the_open_port_and_passes_against_a_closed_one(cluster: Cluster) -> None:
    ip = cluster.pod(PRIMARY).ip
    code, out = lan("--host", ip, "--port", "6380", "--expect-refused", "--timeout", "2")
    assert code == 1 and "FAIL refused" in out, out
    code, out = lan("--host", ip, "--port", "6390", "--expect-refused", "--timeout", "2")
    assert code == 0 and "ok   refused" in out, out


def test_lan_command_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    code, out = lan("--host", "127.0.0.1")
    assert code == 2 and "--ca, --user and --password-file" in out, out
    code, out = lan("--host", "127.0.0.1", "--ca", str(tmp_path / "missing.crt"), "--user", "u", "--password-file", "x")
    assert code == 2 and "No such file" in out, out


# -- failures, the destructive ones last ------------------------------------------------------------------
def test_fails_naming_the_exporter_when_one_is_stopped(cluster: Cluster) -> None:
    replica = cluster.pod(REPLICA)
    replica.kill(container="metrics")
    replica.wait_exit(10, container="metrics")
    code, out = run_check(cluster, "exporter-stopped")
    assert code == 1, out
    assert failed(out) == {"exporter"}, out
    assert "redis-shared-replicas-0.redis-shared-headless" in next(
        line for line in out.splitlines() if line.startswith("FAIL exporter")
    )


def test_fails_the_tls_check_with_a_certificate_from_another_ca(cluster: Cluster) -> None:
    code, out = run_check(cluster, "other-ca")
    assert code == 1, out
    assert "tls" in failed(out), out
    assert "ok   plain: " in out
    assert "certificate" in next(line for line in out.splitlines() if line.startswith("FAIL tls")).lower()


def test_fails_replica_link_when_the_replicas_link_is_down(cluster: Cluster) -> None:
    admin(cluster, REPLICA, "CONFIG", "SET", "masterauth", "not-the-password")
    admin(cluster, REPLICA, "CLIENT", "KILL", "TYPE", "master")
    code, out = run_check(cluster, "link-down")
    assert code == 1, out
    assert "replica-link" in failed(out), out
    assert "master_link_status" in next(line for line in out.splitlines() if line.startswith("FAIL replica-link"))


def test_fails_naming_the_replication_checks_when_the_replica_is_stopped(cluster: Cluster) -> None:
    cluster.pod(REPLICA).stop(grace=5)
    code, out = run_check(cluster, "replica-stopped")
    assert code == 1, out
    assert {"replication", "replica-link", "replica-lag", "persistence"} <= failed(out), out
    assert "ok   plain: " in out  # the primary itself still answers
