"""SC-009: after the cutover, beersystem's container reaches redis-shared with exactly what the binding renders.

The redis-shared pods are the site's CUTOVER render, run as local processes (tests/support/podrunner) with test
credentials supplied out of band (in the cluster the sealed-secrets controller decrypts them). The beersystem
Deployment is not run: its container's environment and files are resolved the way the kubelet would (the
runner's own ``container_env`` and ``volume_contents``), its Redis host through the runner's name table as seen
from namespace beersystem, and a redis-py client (and the validation Job's script) uses only those.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from binding_world import NS, PASSWORD, World
from podrunner import Cluster
from podrunner.k8s import Objects, PodIdentity, container_env, volume_contents
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis_pods import start_primary_first, tls_secrets

import main
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration.binding import MigrationPhase
from redis_constructs.migration.redis_env import RedisEnv

pytestmark = pytest.mark.runtime

Obj = dict[str, Any]
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
SYSTEM = {key: f"{key}-Runtime_0123456789" for key in main.SYSTEM_KEYS}
#: What the cluster would hold once the SealedSecrets are decrypted; the client password is the one the
#: test_binding worlds render into their plaintext Secrets, so their bindings can be checked here too.
SECRETS = {
    ("redis", "redis-shared-client"): {"beersystem.password": PASSWORD},
    ("redis", "redis-shared-system"): SYSTEM,
    (NS, "redis-shared-client"): {"password": PASSWORD},
}
ME = PodIdentity(name="beersystem-7d9c-x2k4p", namespace=NS, ip="198.18.0.250", labels={}, annotations={})


@pytest.fixture(scope="module")
def site_objects() -> list[Obj]:
    charts = chart_objects(main.build_app(phase=MigrationPhase.CUTOVER, cutover_time=T0, now=lambda: T0))
    return [o for objs in charts.values() for o in objs]


@pytest.fixture(scope="module")
def cluster(site_objects: list[Obj], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis_objects = [o for o in site_objects if o["metadata"].get("namespace") == "redis" or o["kind"] == "Namespace"]
    secrets = SECRETS | tls_secrets(redis_objects)
    with Cluster(redis_objects, tmp_path_factory.mktemp("redis-shared"), secrets=secrets) as c:
        start_primary_first(c, admin_password=SYSTEM["admin-password"])
        yield c


def pod_spec(objects: list[Obj], kind: str, name: str) -> Obj:
    owner = next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)
    return dict(owner["spec"]["template"]["spec"])


def resolve(objects: list[Obj], kind: str, name: str, container: str, tmp: Path) -> tuple[dict[str, str], Path]:
    """The container's env as the kubelet builds it, and a root dir holding its secret/configMap volumes."""
    index = Objects(objects, SECRETS)
    spec = pod_spec(objects, kind, name)
    c = next(x for x in spec["containers"] if x["name"] == container)
    env = container_env(index, spec, c, ME, {})
    root = tmp / "rootfs"
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for mount in c.get("volumeMounts") or []:
        contents = volume_contents(index, ME, volumes[mount["name"]], lambda _: c)
        for f in contents.files if contents else []:
            path = root / mount["mountPath"].lstrip("/") / f.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f.data)
    return env, root


def client(cluster: Cluster, host: str, port: str, **kw: Any) -> redis.Redis:
    return redis.Redis(
        host=cluster.resolve(host, NS),
        port=int(port),
        protocol=2,
        retry=Retry(NoBackoff(), 0),
        socket_timeout=5,
        socket_connect_timeout=2,
        decode_responses=True,
        **kw,
    )


def round_trip(r: redis.Redis, key: str) -> None:
    with r:
        assert r.ping()
        assert r.set(key, "cutover-ok", ex=60)
        assert r.get(key) == "cutover-ok"
        assert r.delete(key) == 1


def test_sc009_beersystem_container_reaches_redis_shared_with_its_rendered_env(
    cluster: Cluster, site_objects: list[Obj], tmp_path: Path
) -> None:
    env, _ = resolve(site_objects, "Deployment", "beersystem", "beersystem", tmp_path)
    assert env["REDIS_HOST"] == "redis-shared-master.redis.svc.cluster.local"
    assert cluster.resolve(env["REDIS_HOST"], NS) == cluster.pod("redis-shared-master-0").ip
    round_trip(client(cluster, env["REDIS_HOST"], env["REDIS_PORT"], password=env["REDIS_PASSWORD"]), "beer:sc009")
    # The credential is what makes it work: the same env with another password is refused.
    with pytest.raises(redis.AuthenticationError):
        client(cluster, env["REDIS_HOST"], env["REDIS_PORT"], password=env["REDIS_PASSWORD"] + "x").ping()


def run_validation_job(
    cluster: Cluster, site_objects: list[Obj], tmp_path: Path, *, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The rendered validation Job's command with its rendered env and credential (or ``password`` instead)."""
    job = next(o for o in site_objects if o["kind"] == "Job" and o["metadata"]["namespace"] == "beersystem")
    env, root = resolve(site_objects, "Job", job["metadata"]["name"], "validate", tmp_path)
    container = pod_spec(site_objects, "Job", job["metadata"]["name"])["containers"][0]
    password_file = root / env["PASSWORD_FILE"].lstrip("/")
    if password is not None:
        password_file.write_text(password)
    env |= {
        "REDIS_HOST": cluster.resolve(env["REDIS_HOST"], NS),
        "PASSWORD_FILE": str(password_file),
        "PATH": os.environ["PATH"],
    }
    return subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=30)


def test_sc009_validation_job_script_passes_against_redis_shared(
    cluster: Cluster, site_objects: list[Obj], tmp_path: Path
) -> None:
    result = run_validation_job(cluster, site_objects, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:4] == ["ok: PING", "ok: SET", "ok: GET", "ok: DEL"]


def test_sc009_validation_job_script_fails_with_a_credential_that_does_not_work(
    cluster: Cluster, site_objects: list[Obj], tmp_path: Path
) -> None:
    """The Job exists to fail the sync when the app's credential does not work: a script that always exits 0
    passed the test above."""
    result = run_validation_job(cluster, site_objects, tmp_path, password=PASSWORD + "-wrong")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL: PING" in result.stderr
    assert "ok:" not in result.stdout
    assert "works with this namespace's credential" not in result.stdout


def test_sc009_url_env_reaches_redis_shared(cluster: Cluster, tmp_path: Path) -> None:
    world = World()
    world.bind(env=RedisEnv.url(var="REDIS_URL"), remove_env=("REDIS_HOST", "REDIS_PORT"))
    env, _ = resolve(world.objects(), "Deployment", "beersystem", "beersystem", tmp_path)
    url = urlsplit(env["REDIS_URL"])
    assert url.password == PASSWORD
    assert url.hostname and url.port
    round_trip(
        client(cluster, url.hostname, str(url.port), username=url.username, password=url.password, db=0), "beer:url"
    )


def test_sc009_password_file_env_reaches_redis_shared(cluster: Cluster, tmp_path: Path) -> None:
    world = World()
    world.bind(env=RedisEnv.password_file(), remove_env=("REDIS_PASSWORD",))
    env, root = resolve(world.objects(), "Deployment", "beersystem", "beersystem", tmp_path)
    assert "REDIS_PASSWORD" not in env
    password = (root / env["REDIS_PASSWORD_FILE"].lstrip("/")).read_text()
    round_trip(client(cluster, env["REDIS_HOST"], env["REDIS_PORT"], password=password), "beer:file")
