"""RedisValidationJob and ValidationJobRun: the post-cutover check, its NetworkPolicy, its name, its script, its props."""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from binding_world import NS, PASSWORD, World, env_of, only_job
from conftest import find

from redis_constructs import PropError
from redis_constructs.core.images import REDIS_IMAGE
from redis_constructs.migration.validation_job import RedisValidationJob, RedisValidationJobProps, ValidationJobRun

Obj = dict[str, Any]
MASTER = "redis-shared-master.redis.svc.cluster.local"


@pytest.fixture
def world() -> Iterator[World]:
    yield World()


# -- the construct -----------------------------------------------------------------------------------------
def test_the_binding_adds_it_as_child_validate_with_the_job_as_default_child(world: World) -> None:
    binding = world.bind()
    check = binding.validation_job
    assert check is not None
    assert check.node.path == "beersystem/Binding1/Validate"
    # The NetworkPolicy first, so that it exists when the Job's pod starts (the objects' order in the chart).
    assert [c.node.id for c in check.node.children] == ["NetworkPolicy", "Resource"]
    default = check.node.default_child
    assert default is not None and default.node.path == check.job.node.path
    assert binding.validation_job_name == check.job_name == only_job(world.beersystem())["metadata"]["name"]
    assert check.job.name == check.job_name  # the Job is created with its final name, not renamed by a patch


def test_it_stands_alone_and_renders_what_the_binding_renders(world: World) -> None:
    check = RedisValidationJob(
        world.chart,
        "Check",
        RedisValidationJobProps(redis=world.redis, credentials=world.client, namespace=NS, app_name="beersystem"),
    )
    objects = world.beersystem()
    assert [(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] in {"Job", "NetworkPolicy"}][-2:] == [
        ("NetworkPolicy", "beersystem-redis-validate"),
        ("Job", check.job_name),
    ]
    assert check.job_name == World().bind().validation_job_name


def test_fails_props_that_are_not_its_props(world: World) -> None:
    with pytest.raises(
        PropError, match=r"^props: got 'x'; expected a RedisValidationJobProps \(construct beersystem/Check\)$"
    ):
        RedisValidationJob(world.chart, "Check", "x")  # type: ignore[arg-type]
    with pytest.raises(PropError, match=r"^job: got 'x'; expected a ValidationJobRun$"):
        RedisValidationJobProps(
            redis=world.redis,
            credentials=world.client,
            namespace=NS,
            app_name="beersystem",
            job="x",  # type: ignore[arg-type]
        )


def test_fails_a_namespace_the_credentials_are_not_replicated_into(world: World) -> None:
    with pytest.raises(
        PropError,
        match=r"^namespace: got 'other'; expected one of beersystem \(Secret redis-shared-client has no copy "
        r"there\) \(construct beersystem/Check\)$",
    ):
        RedisValidationJob(
            world.chart,
            "Check",
            RedisValidationJobProps(redis=world.redis, credentials=world.client, namespace="other", app_name="x"),
        )


# -- the name ----------------------------------------------------------------------------------------------
DIGEST = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    "change",
    [
        {"image": "redis:7.4.10-bookworm"},
        {"image_digest": DIGEST},
        {"active_deadline_seconds": 300},
        {"backoff_limit": 1},
        {"ttl_seconds_after_finished": 3600},
    ],
    ids=lambda c: next(iter(c)),
)
def test_any_change_of_the_job_spec_renames_the_job(change: dict[str, Any]) -> None:
    """Flux cannot update a Job's template in place: a changed spec must come under a new name."""

    before, after = rendered_job(ValidationJobRun()), rendered_job(ValidationJobRun(**change))
    assert before["spec"] != after["spec"]
    assert before["metadata"]["name"] != after["metadata"]["name"]
    assert after["metadata"]["name"].startswith("beersystem-redis-validate-")


@functools.cache
def rendered_job(validation: ValidationJobRun) -> Obj:
    world = World()
    world.bind(validation=validation)
    return only_job(world.beersystem())


def test_the_job_name_is_deterministic() -> None:
    first, second = World().bind().validation_job_name, World().bind().validation_job_name
    assert first is not None and first.startswith("beersystem-redis-validate-")
    assert first == second


def test_a_change_of_the_job_resources_renames_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not only the props: whatever ends up in the rendered spec (here the container's resources) is hashed."""
    from redis_constructs.core import pod_security
    from redis_constructs.migration import validation_job

    def job() -> Obj:
        world = World()
        world.bind()
        return only_job(world.beersystem())

    before = job()
    original = pod_security.resources
    monkeypatch.setattr(
        validation_job, "resources", lambda **kw: original(cpu=("20m", "200m"), memory=("16Mi", "64Mi"))
    )
    after = job()
    assert (
        before["spec"]["template"]["spec"]["containers"][0]["resources"]
        != after["spec"]["template"]["spec"]["containers"][0]["resources"]
    )
    assert before["metadata"]["name"] != after["metadata"]["name"]


# -- the Job and its NetworkPolicy ------------------------------------------------------------------------------------
def test_validation_job_is_a_post_sync_hook_under_pod_security_restricted(world: World) -> None:
    world.bind()
    job = only_job(world.beersystem())
    meta = job["metadata"]
    assert meta["namespace"] == NS
    assert meta["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
    assert meta["annotations"]["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    spec = job["spec"]
    assert spec["backoffLimit"] == 3
    assert spec["activeDeadlineSeconds"] == 120
    assert spec["ttlSecondsAfterFinished"] == 86400
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == REDIS_IMAGE
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] >= 10000
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["readOnlyRootFilesystem"] is True
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    # The credential is a mounted file from the client Secret in beersystem, read by the script.
    (volume,) = pod["volumes"]
    assert volume["secret"]["secretName"] == "redis-shared-client"
    assert volume["secret"]["items"] == [{"key": "password", "path": "password"}]
    (mount,) = container["volumeMounts"]
    assert mount["readOnly"] is True
    env = env_of(container)
    assert env["PASSWORD_FILE"]["value"] == f"{mount['mountPath']}/password"
    assert env["REDIS_HOST"]["value"] == MASTER
    assert "redis-cli" in container["command"][-1]


def test_validation_job_never_carries_the_password(world: World) -> None:
    world.bind()
    job = only_job(world.beersystem())
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert PASSWORD not in json.dumps(job)
    for e in container["env"]:
        assert "secretKeyRef" not in json.dumps(e), e
    assert "REDISCLI_AUTH" not in env_of(container)
    assert not any(a.startswith("-a") or "--pass" in a for a in container["command"] + container.get("args", []))
    # ... while the plaintext test Secret it reads does hold it: the check above can fail.
    assert PASSWORD in json.dumps(world.objects())


def test_validation_job_gets_its_own_network_policy(world: World) -> None:
    world.bind()
    objects = world.beersystem()
    job = only_job(objects)
    policy = find(objects, "NetworkPolicy", "beersystem-redis-validate", NS)["spec"]
    assert policy["podSelector"]["matchLabels"] == job["spec"]["template"]["metadata"]["labels"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy
    redis_rule = policy["egress"][1]
    # Only the Redis pods of Redis's namespace (both StatefulSets carry these labels), not every pod there.
    assert redis_rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "redis"}},
            "podSelector": {"matchLabels": world.redis.pod_labels},
        }
    ]
    sts = [o for o in world.objects() if o["kind"] == "StatefulSet"]
    assert len(sts) == 2
    for s in sts:
        assert world.redis.pod_labels.items() <= s["spec"]["template"]["metadata"]["labels"].items()
    assert redis_rule["ports"] == [{"port": 6379, "protocol": "TCP"}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_validation_script_passes_shellcheck_and_runs_against_a_real_redis(world: World, tmp_path: Path) -> None:
    """The Job's own command and env (host/port mapped to a local redis-server, the file to a temp file)."""
    world.bind()
    container = only_job(world.beersystem())["spec"]["template"]["spec"]["containers"][0]
    script = container["command"][-1]
    assert container["command"][:2] == ["sh", "-c"]
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is required"
    (tmp_path / "validate.sh").write_text(script)
    check = subprocess.run([shellcheck, "-s", "sh", str(tmp_path / "validate.sh")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout

    server = shutil.which("redis-server")
    assert server, "redis-server is required"
    port = _free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(f'port {port}\nbind 127.0.0.1\nsave ""\nappendonly no\nrequirepass "{PASSWORD}"\n')
    proc = subprocess.Popen([server, str(conf)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:

        def run(password: str) -> subprocess.CompletedProcess[str]:
            secret = tmp_path / "password"
            secret.write_text(password)
            env = {e["name"]: e.get("value", "") for e in container["env"]}
            env |= {
                "REDIS_HOST": "127.0.0.1",
                "REDIS_PORT": str(port),
                "PASSWORD_FILE": str(secret),
                "POD_NAME": "validate-x",
                "POD_NAMESPACE": NS,
                "PATH": os.environ["PATH"],
            }
            return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)

        for _ in range(50):
            if run(PASSWORD).returncode == 0:
                break
            time.sleep(0.1)
        good = run(PASSWORD)
        assert good.returncode == 0, good.stderr
        assert good.stdout.splitlines()[:4] == ["ok: PING", "ok: SET", "ok: GET", "ok: DEL"]
        bad = run("wrong-password")
        assert bad.returncode != 0
        assert "FAIL: PING" in bad.stderr
    finally:
        proc.kill()
        proc.wait(timeout=10)


# -- props ---------------------------------------------------------------------------------------------------
def test_validation_defaults_are_the_documented_ones() -> None:
    job = ValidationJobRun()
    assert (job.image, job.image_digest, job.active_deadline_seconds) == (REDIS_IMAGE, None, 120)
    assert (job.backoff_limit, job.ttl_seconds_after_finished) == (3, 86400)


def test_fails_validation_image_without_a_version(world: World) -> None:
    with pytest.raises(PropError, match=r"^validation.image: got 'redis:latest'; expected an image reference"):
        world.bind(validation=ValidationJobRun(image="redis:latest"))


@pytest.mark.parametrize("seconds", [9, 3601])
def test_fails_validation_deadline_outside_10_to_3600(seconds: int) -> None:
    with pytest.raises(
        PropError, match=rf"^validation\.active_deadline_seconds: got {seconds}; expected an integer from 10 to 3600$"
    ):
        ValidationJobRun(active_deadline_seconds=seconds)
    assert ValidationJobRun(active_deadline_seconds=10).active_deadline_seconds == 10
    assert ValidationJobRun(active_deadline_seconds=3600).active_deadline_seconds == 3600
