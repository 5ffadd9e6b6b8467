"""The off-site copy: the backup Job's ``offsite`` container uploads the verified snapshot with restic (Debian's) to
an S3 server this test starts (moto_server, PyPI ``moto[server]``, on the runner's bridge), and a RedisRestore with
``RestoreSource.OFFSITE`` fetches it back and restores a deleted prefix.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import cdk8s
import pytest
from copy_data import keyspace, load
from podrunner import Cluster
from podrunner.host import HOST_IP
from redis_pods import (
    ADMIN_PW,
    ADMIN_USER,
    PASSWORDS_BY_FILE,
    PRIMARY,
    REPLICA,
    aof_settled,
    out_of_band_secrets,
    start_primary_first,
    wait_for,
)

from redis_constructs.backup import (
    OffsiteCopy,
    RedisBackup,
    RedisBackupProps,
    RedisRestore,
    RedisRestoreProps,
    RestoreSource,
)
from redis_constructs.core.refs import SecretKeyRef
from redis_constructs.credentials.replicated_secret import SecretSource
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration.copy_program import Connection
from redis_constructs.server.props import RedisCredentials, RedisSharedProps
from redis_constructs.server.redis_shared import RedisShared

pytestmark = pytest.mark.runtime

STAMP = "20261206T031700Z"
RESTIC_PASSWORD = "restic-Pw-test-0123"
AWS = "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
Obj = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chart(port: int) -> tuple[list[Obj], str]:
    app = cdk8s.App()
    c = cdk8s.Chart(app, "offsite", disable_resource_name_hashes=True)
    system = "redis-shared-system"
    redis = RedisShared(
        c,
        "Redis",
        RedisSharedProps(
            credentials=RedisCredentials(
                backup=SecretKeyRef(name=system, key="backup-password"),
                migration=SecretKeyRef(name=system, key="migration-password"),
            )
        ),
    )
    backup = RedisBackup(
        c,
        "Backup",
        RedisBackupProps(
            redis=redis,
            offsite=OffsiteCopy(
                repository=f"s3:http://{HOST_IP}:{port}/backups/redis",
                credentials=SecretSource.plaintext_for_tests(
                    {"restic-password": RESTIC_PASSWORD, "aws-credentials": AWS}
                ),
                cidrs=(f"{HOST_IP}/32",),
                ports=(port,),
            ),
        ),
    )
    restore = RedisRestore(
        c,
        "Restore",
        RedisRestoreProps(
            redis=redis,
            backup=backup,
            snapshot=f"redis-{STAMP}",
            source=RestoreSource.OFFSITE,
            match=("beer:*",),
        ),
    )
    return chart_objects(app)["offsite"], restore.job_name


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, list[Obj], str, dict[str, str]]]:
    moto = shutil.which("moto_server")
    assert moto, "moto_server is missing: pip install 'moto[server]' (the dev extra)"
    assert shutil.which("restic"), "restic is missing: apt-get install restic"
    port = free_port()
    objects, restore_job = chart(port)
    secrets = out_of_band_secrets(objects, PASSWORDS_BY_FILE)
    work = tmp_path_factory.mktemp("offsite")
    with Cluster(objects, work, secrets=secrets) as c:
        log = (work / "moto.log").open("wb")
        server = subprocess.Popen([moto, "-H", HOST_IP, "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for("moto_server", lambda: _listening(port), 30)
            start_primary_first(c, timeout=40)
            conn = Connection(c.pod(PRIMARY).ip, 6379)
            conn.call("AUTH", ADMIN_USER, ADMIN_PW)
            load(conn, list(keyspace(2_000)))
            conn.close()
            wait_for("the AOF rewrites", lambda: aof_settled(c.pod(PRIMARY)) and aof_settled(c.pod(REPLICA)), 60)
            env = {
                "RESTIC_REPOSITORY": f"s3:http://{HOST_IP}:{port}/backups/redis",
                "RESTIC_PASSWORD": RESTIC_PASSWORD,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "RESTIC_CACHE_DIR": str(work / "restic-cache"),
                "PATH": os.environ["PATH"],
            }
            yield c, objects, restore_job, env
        finally:
            server.terminate()
            server.wait(10)
            log.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST_IP, port), timeout=1):
            return True
    except OSError:
        return False


def test_upload_then_restore_from_offsite(world: tuple[Cluster, list[Obj], str, dict[str, str]]) -> None:
    c, objects, restore_job, env = world
    cron = next(o for o in objects if o["kind"] == "CronJob")
    init = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"][0]
    init["env"].append({"name": "BACKUP_NOW", "value": STAMP})
    pod, codes = c.run_job(cron, timeout=180)
    assert codes == {"snapshot": 0, "offsite": 0}, pod.logs("snapshot") + pod.logs("offsite")
    assert f"uploaded redis-{STAMP}" in pod.logs("offsite")
    listed = subprocess.run(["restic", "snapshots", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    snaps = json.loads(listed.stdout)
    assert len(snaps) == 1 and f"redis-{STAMP}" in snaps[0]["tags"] and snaps[0]["hostname"] == "redis-shared"
    # The repository is encrypted: the wrong password reads nothing.
    wrong = subprocess.run(
        ["restic", "snapshots"], env={**env, "RESTIC_PASSWORD": "wrong"}, capture_output=True, text=True, timeout=60
    )
    assert wrong.returncode != 0 and "wrong password" in wrong.stderr

    # A prefix deleted since: the off-site restore fetches the snapshot (sha256 checked) and puts it back.
    conn = Connection(c.pod(PRIMARY).ip, 6379)
    conn.call("AUTH", ADMIN_USER, ADMIN_PW)
    found = conn.call("KEYS", "beer:string:*")
    assert isinstance(found, list)
    names = [k for k in found if isinstance(k, bytes)]
    assert len(names) > 200
    before = conn.pipeline([["DUMP", k] for k in names])
    conn.pipeline([["UNLINK", k] for k in names])
    job = next(o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == restore_job)
    pod, codes = c.run_job(job, timeout=180)
    assert codes["fetch"] == 0 and codes["copy"] == 0, pod.logs("fetch") + pod.logs("copy")
    assert "OK" in pod.logs("snapshot-server")  # sha256sum -c of the fetched file
    assert conn.pipeline([["DUMP", k] for k in names]) == before
    conn.close()
