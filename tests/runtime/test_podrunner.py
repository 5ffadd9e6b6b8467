"""Self-tests of the pod runner (tests/support/podrunner) on a small hand-written StatefulSet.

They prove what the runtime tests rely on: volumes and their modes, read-only mounts and root filesystem,
env from Secrets (in the manifests and out of band), the UID, names between pods, probe timeouts, the
grace period, cgroup limits and that nothing (netns, veth, cgroup, mount, process, host dir) is left behind.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from podrunner import HOST_IP, PREFIX, Cluster, ManifestError, PodError, b64, memory_bytes, parse_quantity
from podrunner.host import SUBNET, decoy_dirs, host_lock, list_cgroups, list_links, list_netns
from podrunner.k8s import expand, selector_matches

# host_exclusive: the decoy dirs and the look at what is left on the host need no other runner meanwhile.
pytestmark = [pytest.mark.runtime, pytest.mark.host_exclusive]

NS = "rt"
PASSWORD = "s3cret-pw"
EXTRA_SECRETS = {(NS, "demo-extra"): {"token": "extra-token"}}
REDIS_CONF = 'port 6379\nbind 0.0.0.0\nprotected-mode no\ndir /data\nappendonly yes\nsave ""\n'
# The startup probe sleeps as long as /data/probe-sleep says (0 by default): a test makes it outlive its timeout.
PROBE_SH = 'sleep "$(cat /data/probe-sleep 2>/dev/null || echo 0)"\nexit 0\n'
Obj = dict[str, Any]


def demo_objects(*, init_command: str = "id -u > /scratch/init-uid", replicas: int = 2) -> list[Obj]:
    labels = {"app": "demo"}
    redis: Obj = {
        "name": "redis",
        "image": "redis:7.0",
        "command": ["sh", "-c", 'exec redis-server /etc/demo/redis.conf --requirepass "$REDIS_PASSWORD"'],
        "env": [
            {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "demo-secret", "key": "password"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "demo-extra", "key": "token"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "GREETING", "value": "hello-$(POD_NAME)-$$(POD_NAME)"},
        ],
        "ports": [{"name": "redis", "containerPort": 6379}],
        "securityContext": {
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/demo", "readOnly": True},
            {"name": "secrets", "mountPath": "/opt/demo/secrets", "readOnly": True},
            # Debian's /etc/redis is 0750 redis:redis: UID 10001 could not reach a file bound below it.
            {"name": "config", "mountPath": "/etc/redis/extra.conf", "subPath": "redis.conf", "readOnly": True},
            {"name": "data", "mountPath": "/data"},
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "readinessProbe": {
            "exec": {"command": ["sh", "-c", 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" ping | grep -q PONG']},
            "timeoutSeconds": 2,
        },
        "livenessProbe": {"tcpSocket": {"port": "redis"}, "timeoutSeconds": 1},
        "startupProbe": {"exec": {"command": ["sh", "/etc/demo/probe.sh"]}, "timeoutSeconds": 1},
    }
    sidecar: Obj = {  # ignores SIGTERM: only the grace period's SIGKILL ends it
        "name": "sidecar",
        "image": "busybox",
        "command": ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"],
    }
    init: Obj = {
        "name": "init",
        "image": "redis:7.0",
        "command": ["sh", "-c", init_command],
        "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "demo-config", "namespace": NS},
            "data": {"redis.conf": REDIS_CONF, "probe.sh": PROBE_SH},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "demo-secret", "namespace": NS},
            "data": {"password": b64(PASSWORD)},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "demo-headless", "namespace": NS},
            "spec": {"clusterIP": "None", "selector": labels, "ports": [{"name": "redis", "port": 6379}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "demo", "namespace": NS},
            "spec": {"selector": labels, "ports": [{"name": "redis", "port": 6379}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "demo", "namespace": NS},
            "spec": {
                "replicas": replicas,
                "serviceName": "demo-headless",
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "terminationGracePeriodSeconds": 2,
                        "securityContext": {
                            "runAsUser": 10001,
                            "runAsGroup": 10001,
                            "fsGroup": 10001,
                            "runAsNonRoot": True,
                        },
                        "initContainers": [init],
                        "containers": [redis, sidecar],
                        "volumes": [
                            {"name": "config", "configMap": {"name": "demo-config"}},
                            {
                                "name": "secrets",
                                "projected": {
                                    "defaultMode": 0o400,
                                    "sources": [
                                        {
                                            "secret": {
                                                "name": "demo-secret",
                                                "items": [{"key": "password", "path": "password"}],
                                            }
                                        },
                                        {"secret": {"name": "demo-extra"}},
                                    ],
                                },
                            },
                            {"name": "scratch", "emptyDir": {}},
                            {"name": "tmp", "emptyDir": {"medium": "Memory"}},
                        ],
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                    }
                ],
            },
        },
    ]


def leftovers() -> dict[str, list[str]]:
    mounts = [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if "rsh-" in line]
    return {
        "netns": [n for n in list_netns() if n.startswith(PREFIX)],
        "links": [n for n in list_links() if n.startswith(PREFIX)],
        "cgroups": [str(c) for c in list_cgroups()],
        "mounts": mounts,
    }


@pytest.fixture(scope="class")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(demo_objects(), tmp_path_factory.mktemp("podrunner"), secrets=EXTRA_SECRETS, cgroup_limits=True) as c:
        c.start(wait_ready=True, timeout=30)
        yield c


def run(cluster: Cluster, pod: str, *argv: str, container: str = "redis") -> tuple[int, str]:
    proc = cluster.pod(pod).exec(container, list(argv), timeout=10)
    return proc.returncode, proc.stdout + proc.stderr


# --- pure helpers -----------------------------------------------------------------------------------------


def test_quantities_parse_like_kubernetes() -> None:
    assert memory_bytes("128Mi") == 128 * 2**20
    assert memory_bytes("1G") == 10**9
    assert memory_bytes("1e3") == 1000
    assert float(parse_quantity("500m")) == 0.5
    with pytest.raises(ManifestError, match="quantity"):
        parse_quantity("12 apples")


def test_env_expansion_follows_kubelet_rules() -> None:
    env = {"A": "x"}
    assert expand("$(A)-$(B)-$$(A)-$", env.get) == "x-$(B)-$(A)-$"


def test_selectors() -> None:
    assert selector_matches({"app": "a"}, {"app": "a", "role": "p"})
    assert not selector_matches({"app": "a", "role": "r"}, {"app": "a", "role": "p"})
    expr = {"matchExpressions": [{"key": "role", "operator": "In", "values": ["p"]}]}
    assert selector_matches(expr, {"role": "p"})
    assert not selector_matches(expr, {"role": "r"})


# --- the running fixture ----------------------------------------------------------------------------------


class TestRunningPods:
    """One two-pod cluster for the whole class (torn down before the tests that make their own)."""

    def test_pods_run_in_their_own_netns_with_pod_ips(self, cluster: Cluster) -> None:
        ips = {name: p.ip for name, p in cluster.pods.items()}
        assert ips == {"demo-0": f"{SUBNET}.1", "demo-1": f"{SUBNET}.2"}
        code, out = run(cluster, "demo-0", "cat", "/proc/net/route")
        assert code == 0
        routes = [line.split() for line in out.splitlines()[1:] if line.strip()]
        # Only the pod subnet: no default route, so nothing can leave the test bridge (/proc/net/route shows the
        # destination as a number in host byte order).
        subnet = f"{struct.unpack('=I', socket.inet_aton(f'{SUBNET}.0'))[0]:08X}"
        assert [(r[0], r[1]) for r in routes] == [("eth0", subnet)]
        assert run(cluster, "demo-1", "hostname") == (0, "demo-1\n")

    def test_container_runs_as_the_rendered_uid_gid_and_fsgroup(self, cluster: Cluster) -> None:
        assert run(cluster, "demo-0", "id", "-u")[1].strip() == "10001"
        assert run(cluster, "demo-0", "id", "-g")[1].strip() == "10001"
        assert run(cluster, "demo-0", "id", "-G")[1].split() == ["10001"]
        redis_pid = cluster.pod("demo-0").container("redis").pid
        status = Path(f"/proc/{redis_pid}/status").read_text()
        assert "Uid:\t10001\t10001\t10001\t10001" in status
        assert "NoNewPrivs:\t1" in status
        assert "CapBnd:\t0000000000000000" in status
        # The init container ran first, as the same UID, and wrote into the shared emptyDir.
        assert run(cluster, "demo-0", "cat", "/scratch/init-uid") == (0, "10001\n")

    def test_env_comes_from_secrets_field_refs_and_nothing_else(self, cluster: Cluster) -> None:
        code, out = run(cluster, "demo-1", "env")
        assert code == 0
        env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        assert env["REDIS_PASSWORD"] == PASSWORD
        assert env["TOKEN"] == "extra-token"
        assert env["POD_NAME"] == "demo-1"
        assert env["POD_IP"] == f"{SUBNET}.2"
        assert env["GREETING"] == "hello-demo-1-$(POD_NAME)"
        assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
        assert "PYTEST_CURRENT_TEST" not in env
        assert os.environ.get("PYTEST_CURRENT_TEST")  # ...although the test process has it

    def test_projected_secret_files_follow_default_mode_and_fsgroup(self, cluster: Cluster) -> None:
        assert run(cluster, "demo-0", "cat", "/opt/demo/secrets/password") == (0, PASSWORD)
        assert run(cluster, "demo-0", "cat", "/opt/demo/secrets/token") == (0, "extra-token")
        # defaultMode 0400 + fsGroup -> 0440 root:10001, like the kubelet; behind the ..data symlink.
        assert run(cluster, "demo-0", "stat", "-L", "-c", "%a %u %g", "/opt/demo/secrets/password") == (
            0,
            "440 0 10001\n",
        )
        assert run(cluster, "demo-0", "readlink", "/opt/demo/secrets/password") == (0, "..data/password\n")

    def test_read_only_mounts_and_root_filesystem(self, cluster: Cluster) -> None:
        code, out = run(cluster, "demo-0", "touch", "/etc/demo/new")
        assert code != 0
        assert "Read-only file system" in out
        code, out = run(cluster, "demo-0", "touch", "/var/tmp/new")  # readOnlyRootFilesystem
        assert code != 0
        assert "Read-only file system" in out
        assert run(cluster, "demo-0", "touch", "/tmp/new")[0] == 0  # an emptyDir stays writable
        assert run(cluster, "demo-0", "touch", "/data/new")[0] == 0  # so does the PVC

    def test_subpath_below_a_dir_the_uid_cannot_enter(self, cluster: Cluster) -> None:
        assert Path("/etc/redis").exists()
        assert (Path("/etc/redis").stat().st_mode & 0o007) == 0  # host dir blocks "others"
        code, out = run(cluster, "demo-0", "cat", "/etc/redis/extra.conf")
        assert (code, out) == (0, REDIS_CONF)

    def test_pods_reach_each_other_by_dns_names(self, cluster: Cluster) -> None:
        for name in ("demo-1.demo-headless.rt.svc.cluster.local", "demo-1.demo-headless", "demo"):
            code, out = run(cluster, "demo-0", "redis-cli", "-h", name, "-a", PASSWORD, "--no-auth-warning", "PING")
            assert (code, out) == (0, "PONG\n"), name
        code, out = run(
            cluster, "demo-1", "redis-cli", "-h", "demo-0.demo-headless.rt.svc", "--no-auth-warning", "PING"
        )
        assert "NOAUTH" in out
        assert cluster.resolve("demo-1.demo-headless.rt.svc.cluster.local") == f"{SUBNET}.2"
        assert cluster.resolve("demo", NS) == f"{SUBNET}.1"
        with pytest.raises(KeyError):
            cluster.resolve("nonexistent.rt.svc.cluster.local")

    def test_probes_evaluate_the_rendered_checks(self, cluster: Cluster) -> None:
        pod = cluster.pod("demo-0")
        assert pod.probe("redis", "readiness")
        assert pod.probe("redis", "liveness")
        assert pod.probe("redis", "startup")
        with pytest.raises(PodError, match="no livenessProbe"):
            pod.probe("sidecar", "liveness")

    def test_exec_probe_outliving_its_timeout_fails(self, cluster: Cluster) -> None:
        pod = cluster.pod("demo-0")
        sleep_file = pod.pvc_path("data") / "probe-sleep"
        sleep_file.write_text("3")
        try:
            started = time.monotonic()
            assert not pod.probe("redis", "startup")
            elapsed = time.monotonic() - started
            assert 0.9 < elapsed < 2.5, elapsed  # killed at timeoutSeconds=1, not after the 3 s sleep
            sleep_file.write_text("0.2")
            assert pod.probe("redis", "startup")
        finally:
            sleep_file.unlink()

    def test_cgroup_limits_from_rendered_resources(self, cluster: Cluster) -> None:
        pod = cluster.pod("demo-0")
        assert pod.memory_limit("redis") == 128 * 2**20
        assert pod.cpu_limit("redis") == 0.5
        stats = pod.memory_stats("redis")
        assert stats.limit_bytes == 128 * 2**20
        assert stats.oom_kills == 0
        cg = pod.container("redis").cgroup
        assert cg is not None
        assert pod.container("redis").pid in cg.pids()
        quota = Path(f"/sys/fs/cgroup/cpu/{cg.name}/cpu.cfs_quota_us").read_text().strip()
        assert quota == "50000"

    def test_host_reaches_pods_over_the_bridge(self, cluster: Cluster) -> None:
        import redis  # the test process talks to pod IPs via the bridge address

        client = redis.Redis(host=cluster.pod("demo-1").ip, port=6379, password=PASSWORD, socket_timeout=5)
        try:
            assert client.ping()
            info = client.info("clients")
            assert int(info["connected_clients"]) >= 1
            assert client.client_list()[-1]["addr"].startswith(HOST_IP + ":")
        finally:
            client.close()

    def test_kill_and_restart_keeps_pvc_and_ip(self, cluster: Cluster) -> None:
        pod = cluster.pod("demo-1")
        assert run(cluster, "demo-1", "sh", "-c", "echo kept > /data/marker; echo gone > /scratch/marker")[0] == 0
        pod.kill(signal.SIGKILL)
        assert pod.wait_exit(5) == 137
        assert not pod.probe("redis", "liveness")
        assert pod.running("sidecar")  # other containers keep running, as in Kubernetes
        pod.restart()
        pod.wait_ready(15)
        assert pod.ip == f"{SUBNET}.2"
        assert run(cluster, "demo-1", "cat", "/data/marker") == (0, "kept\n")
        assert run(cluster, "demo-1", "cat", "/scratch/marker")[0] != 0  # a recreated pod gets fresh emptyDirs
        assert "Ready to accept connections" in pod.logs("redis", previous=True)

    def test_stop_sends_sigterm_then_sigkill_after_the_grace_period(self, cluster: Cluster) -> None:
        pod = cluster.pod("demo-1")
        started = time.monotonic()
        codes = pod.stop()
        elapsed = time.monotonic() - started
        assert codes == {"redis": 0, "sidecar": 137}  # redis exits on SIGTERM; the sidecar ignores it
        assert 1.8 < elapsed < 4.0, elapsed
        assert "Received SIGTERM" in pod.logs("redis")
        pod.start()
        pod.wait_ready(15)

    def test_apply_and_roll_recreate_a_changed_pod_from_its_new_template(self, cluster: Cluster) -> None:
        objects = demo_objects()
        sts = next(o for o in objects if o["kind"] == "StatefulSet")
        sts["spec"]["template"]["metadata"]["labels"] = {"app": "demo", "generation": "2"}
        old = cluster.pod("demo-0")
        assert run(cluster, "demo-0", "sh", "-c", "echo kept > /data/rolled")[0] == 0
        assert cluster.apply(objects) == ["demo-0", "demo-1"]
        assert cluster.pod("demo-0") is old and old.running("redis")  # untouched until the controller rolls it
        new = cluster.roll("demo-0")
        new.wait_ready(15)
        assert not old.running("redis")
        assert (new.labels["generation"], new.ip) == ("2", old.ip)
        assert run(cluster, "demo-0", "cat", "/data/rolled") == (0, "kept\n")
        assert cluster.apply(objects) == ["demo-1"]
        assert cluster.apply(demo_objects()) == ["demo-0"]  # demo-1 is current again; demo-0 now differs
        service = cluster.objects.get("Service", NS, "demo")
        assert service is not None
        cluster.lose_node("demo-1")
        assert [p.name for p in cluster.service_pods(service)] == ["demo-0"]
        cluster.roll("demo-0").wait_ready(15)  # back to the class's template for the tests after this one


# --- failures and cleanup ---------------------------------------------------------------------------------


def test_failing_init_container_raises_with_its_output(tmp_path: Path) -> None:
    objects = demo_objects(init_command="echo init-boom-marker >&2; exit 3", replicas=1)
    with Cluster(objects, tmp_path, secrets=EXTRA_SECRETS) as c, pytest.raises(PodError) as err:
        c.start(wait_ready=False)
    assert "init container init exited 3" in str(err.value)
    assert "init-boom-marker" in str(err.value)


def test_missing_secret_and_missing_command_are_errors(tmp_path: Path) -> None:
    with Cluster(demo_objects(replicas=1), tmp_path) as c, pytest.raises(ManifestError, match="demo-extra"):
        c.start(wait_ready=False)
    objects = demo_objects(replicas=1)
    del objects[-1]["spec"]["template"]["spec"]["containers"][1]["command"]
    with Cluster(objects, tmp_path, secrets=EXTRA_SECRETS) as c, pytest.raises(PodError, match="no command"):
        c.start(wait_ready=False)


def test_cleanup_leaves_nothing_behind_even_when_the_test_fails(tmp_path: Path) -> None:
    host_dirs = [Path("/data"), Path("/scratch"), Path("/.rsh-podrunner")]
    with host_lock():  # another test run's cluster may be up meanwhile: look only while none is
        before = {str(d): d.exists() for d in host_dirs}
    pids: list[int] = []
    objects = demo_objects(replicas=1)
    with (
        pytest.raises(RuntimeError, match="boom"),
        Cluster(objects, tmp_path, secrets=EXTRA_SECRETS, cgroup_limits=True) as c,
    ):
        c.start(wait_ready=True, timeout=30)
        pod = c.pod("demo-0")
        # A forked child (not a container's main process) must go too.
        pod.exec("redis", ["sh", "-c", "sleep 600 >/dev/null 2>&1 &"])
        pids = [pod.container(n).pid for n in ("redis", "sidecar")]
        assert leftovers()["netns"] and leftovers()["cgroups"]
        raise RuntimeError("boom")
    with host_lock():
        assert leftovers() == {"netns": [], "links": [], "cgroups": [], "mounts": []}
        assert {str(d): d.exists() for d in host_dirs} == before
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()
    sleepers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p) == "sleep 600"]
    assert sleepers == []


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def test_host_dirs_at_mount_paths_change_nothing(tmp_path: Path) -> None:
    """A host that happens to have dirs where the pod mounts volumes: no container sees the host's files.

    The sidecar mounts nothing, so ``/opt/demo/secrets`` and ``/etc/demo`` (mount paths of the redis container)
    must be absent for it, as in its image; the redis container sees its volumes only.
    """
    decoys = [Path("/opt/demo/secrets"), Path("/etc/demo")]
    with Cluster(demo_objects(replicas=1), tmp_path, secrets=EXTRA_SECRETS) as c, decoy_dirs(decoys):
        assert Path("/opt/demo/secrets/decoy").exists()
        c.start(wait_ready=True, timeout=30)
        for path in ("/opt/demo/secrets", "/etc/demo"):
            code, out = run(c, "demo-0", "ls", path, container="sidecar")
            assert code != 0, out
            assert "No such file" in out
        code, out = run(c, "demo-0", "ls", "/opt/demo/secrets")
        assert (code, sorted(out.split())) == (0, ["password", "token"])
        code, out = run(c, "demo-0", "ls", "/etc/demo")
        assert (code, sorted(out.split())) == (0, ["probe.sh", "redis.conf"])
        # The host's own files are untouched by the whiteouts.
        assert Path("/opt/demo/secrets/decoy").read_text() == "a host file no container may see\n"
    assert not Path("/opt/demo/secrets/decoy").exists()
