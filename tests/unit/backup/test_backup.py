"""RedisBackup as rendered: the CronJob, its pod (anti-affinity, secrets as files, TLS, off-site), the volume and
the policies, and a failing test per prop rule."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from typing import Any

import cdk8s
import pytest
from conftest import find, of_kind
from syrupy.assertion import SnapshotAssertion

from redis_constructs.backup import BackupJobRun, BackupVolume, OffsiteCopy, RedisBackup, RedisBackupProps
from redis_constructs.backup.backup import BACKUP_PROGRAM, OFFSITE_PROGRAM
from redis_constructs.core.errors import PropError
from redis_constructs.core.refs import SecretKeyRef
from redis_constructs.credentials.replicated_secret import SecretSource
from redis_constructs.server.props import RedisCredentials, RedisSharedProps
from redis_constructs.server.redis_shared import RedisShared
from redis_constructs.server.tls import ExistingTlsSecret, Tls

Obj = dict[str, Any]
BACKUP_REF = SecretKeyRef(name="redis-shared-system", key="backup-password")
REDIS_POD = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis-shared"}
OFFSITE = OffsiteCopy(
    repository="s3:https://s3.example.net/backups/redis",
    credentials=SecretSource.plaintext_for_tests({"restic-password": "r", "aws-credentials": "[default]\n"}),
    cidrs=("203.0.113.0/24",),
)


def redis(chart: cdk8s.Chart, *, tls: bool = False, backup: bool = True) -> RedisShared:
    return RedisShared(
        chart,
        "Redis",
        RedisSharedProps(
            credentials=RedisCredentials(backup=BACKUP_REF if backup else None),
            tls=Tls(certificates=ExistingTlsSecret(secret_name="lan-tls")) if tls else None,
        ),
    )


def objects(chart: cdk8s.Chart) -> list[Obj]:
    return [dict(o) for o in chart.to_json()]


def pod_spec(objs: list[Obj]) -> Obj:
    spec: Obj = find(objs, "CronJob", "redis-shared-backup")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def env(container: Obj) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_defaults_snapshot(chart: cdk8s.Chart, yaml_snapshot: SnapshotAssertion) -> None:
    RedisBackup(chart, "Backup", RedisBackupProps(redis=redis(chart)))
    assert [o for o in objects(chart) if o["metadata"]["name"].startswith("redis-shared-backup")] == yaml_snapshot


def test_fully_overridden_snapshot(chart: cdk8s.Chart, yaml_snapshot: SnapshotAssertion) -> None:
    RedisBackup(
        chart,
        "Backup",
        RedisBackupProps(
            redis=redis(chart, tls=True),
            schedule="30 1 * * 1-5",
            time_zone="Europe/Oslo",
            keep_daily=3,
            keep_weekly=2,
            fallback_to_primary=False,
            key_count_tolerance_percent=5,
            alert_max_age_hours=80,
            storage=BackupVolume(size="20Gi", storage_class="fast"),
            offsite=OFFSITE,
            job=BackupJobRun(active_deadline_seconds=7200, memory=("1Gi", "2Gi")),
        ),
    )
    assert [o for o in objects(chart) if o["metadata"]["name"].startswith("redis-shared-backup")] == yaml_snapshot


def test_cronjob_schedule_and_job_policy(chart: cdk8s.Chart) -> None:
    RedisBackup(chart, "Backup", RedisBackupProps(redis=redis(chart)))
    cron = find(objects(chart), "CronJob", "redis-shared-backup", "redis")
    spec = cron["spec"]
    assert spec["schedule"] == "17 3 * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 1 and job["activeDeadlineSeconds"] == 3600
    [rule] = job["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailJob"
    assert rule["onExitCodes"] == {"containerName": "snapshot", "operator": "In", "values": [3, 4, 5]}


def test_pod_keeps_off_the_redis_nodes(chart: cdk8s.Chart) -> None:
    r = redis(chart)
    RedisBackup(chart, "Backup", RedisBackupProps(redis=r))
    [term] = pod_spec(objects(chart))["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term == {"labelSelector": {"matchLabels": REDIS_POD}, "topologyKey": "kubernetes.io/hostname"}
    assert dict(r.pod_labels) == REDIS_POD


def test_password_only_as_a_mounted_file(chart: cdk8s.Chart) -> None:
    RedisBackup(chart, "Backup", RedisBackupProps(redis=redis(chart)))
    spec = pod_spec(objects(chart))
    [snapshot] = spec["containers"]
    assert all("valueFrom" not in e for e in snapshot["env"])
    assert snapshot["command"] == ["sh", "/opt/redis-shared-backup/backup.sh"]
    creds = next(v for v in spec["volumes"] if v["name"] == "credentials")
    assert creds["projected"]["sources"] == [
        {"secret": {"name": "redis-shared-system", "items": [{"key": "backup-password", "path": "backup-password"}]}}
    ]
    e = env(snapshot)
    assert e["BACKUP_PASSWORD_FILE"] == "/var/run/secrets/redis-shared-backup/backup-password"
    assert e["BACKUP_USER"] == "backup" and e["BACKUP_TLS"] == "0" and e["BACKUP_PORT"] == "6379"
    assert e["BACKUP_HOST"].startswith("redis-shared-replicas.") and e["BACKUP_FALLBACK_HOST"].startswith(
        "redis-shared-master."
    )
    claim = next(v for v in spec["volumes"] if v["name"] == "backups")
    assert claim["persistentVolumeClaim"] == {"claimName": "redis-shared-backup"}


def test_tls_dials_the_tls_port_with_the_ca_only(chart: cdk8s.Chart) -> None:
    RedisBackup(chart, "Backup", RedisBackupProps(redis=redis(chart, tls=True)))
    objs = objects(chart)
    spec = pod_spec(objs)
    e = env(spec["containers"][0])
    assert (e["BACKUP_TLS"], e["BACKUP_PORT"], e["BACKUP_CA_FILE"]) == ("1", "6380", "/opt/redis-shared/tls-ca/ca.crt")
    ca = next(v for v in spec["volumes"] if v["name"] == "tls-ca")
    assert ca["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]  # never tls.key
    ingress = find(objs, "NetworkPolicy", "redis-shared-backup-ingress", "redis")
    assert ingress["spec"]["ingress"][0]["ports"] == [{"port": 6380, "protocol": "TCP"}]


def test_offsite_runs_restic_after_the_snapshot(chart: cdk8s.Chart) -> None:
    RedisBackup(chart, "Backup", RedisBackupProps(redis=redis(chart), offsite=OFFSITE))
    objs = objects(chart)
    spec = pod_spec(objs)
    assert [c["name"] for c in spec["initContainers"]] == ["snapshot"]
    [offsite] = spec["containers"]
    assert offsite["name"] == "offsite" and offsite["image"].startswith("restic/restic:")
    e = env(offsite)
    assert e["RESTIC_PASSWORD_FILE"] == "/var/run/secrets/redis-shared-offsite/restic-password"
    assert e["AWS_SHARED_CREDENTIALS_FILE"] == "/var/run/secrets/redis-shared-offsite/aws-credentials"
    assert e["RESTIC_REPOSITORY"] == OFFSITE.repository
    assert all("valueFrom" not in x for x in offsite["env"])
    assert find(objs, "Secret", "redis-shared-backup-offsite", "redis")
    policy = find(objs, "NetworkPolicy", "redis-shared-backup", "redis")
    assert {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"port": 443, "protocol": "TCP"}]} in policy[
        "spec"
    ]["egress"]


def test_volume_is_protected_and_sized_from_maxmemory(chart: cdk8s.Chart) -> None:
    r = redis(chart)
    b = RedisBackup(chart, "Backup", RedisBackupProps(redis=r))
    pvc = find(objects(chart), "PersistentVolumeClaim", "redis-shared-backup", "redis")
    assert pvc["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
    assert "Prune=false" in pvc["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
    assert pvc["spec"]["storageClassName"] == "local-path"
    expected_mib = max(1024, (7 + 4 + 1) * r.maxmemory_bytes // 2 // 1024**2)
    assert pvc["spec"]["resources"]["requests"]["storage"] == f"{expected_mib}Mi" == b.storage_size()


def test_program_configmap_ships_both_scripts(chart: cdk8s.Chart) -> None:
    RedisBackup(chart, "Backup", RedisBackupProps(redis=redis(chart)))
    cm = find(objects(chart), "ConfigMap", "redis-shared-backup-program", "redis")
    assert cm["data"] == {"backup.sh": BACKUP_PROGRAM, "offsite.sh": OFFSITE_PROGRAM}


def test_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: apt-get install shellcheck"
    from redis_constructs.backup import backup as module

    here = module.HERE
    proc = subprocess.run(
        [shellcheck, "-s", "sh", str(here / "backup.sh"), str(here / "offsite.sh")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


# -- a failing test per rule ------------------------------------------------------------------------------
def props(chart: cdk8s.Chart, **kw: Any) -> RedisBackupProps:
    return RedisBackupProps(redis=redis(chart), **kw)


def test_fails_without_the_backup_user(chart: cdk8s.Chart) -> None:
    with pytest.raises(PropError, match=r"redis.credentials.backup: got None; expected a SecretKeyRef"):
        RedisBackupProps(redis=redis(chart, backup=False))


@pytest.mark.parametrize("schedule", ["17 3 * *", "TZ=UTC 17 3 * * *", "every night", "17  3 * * *", ""])
def test_fails_schedule(chart: cdk8s.Chart, schedule: str) -> None:
    with pytest.raises(PropError, match=r"schedule: got .*; expected a cron schedule of five fields"):
        props(chart, schedule=schedule)


def test_fails_time_zone(chart: cdk8s.Chart) -> None:
    with pytest.raises(PropError, match=r"time_zone: got 'UTC\+1 hour'; expected an IANA time zone name"):
        props(chart, time_zone="UTC+1 hour")


@pytest.mark.parametrize(("field", "value"), [("keep_daily", -1), ("keep_daily", 367), ("keep_weekly", 367)])
def test_fails_keep_bounds(chart: cdk8s.Chart, field: str, value: int) -> None:
    with pytest.raises(PropError, match=rf"{field}: got {value}; expected an integer from 0 to 366"):
        props(chart, **{field: value})


def test_fails_keeping_nothing(chart: cdk8s.Chart) -> None:
    with pytest.raises(PropError, match=r"keep_weekly: got 0; expected at least 1 when keep_daily is 0"):
        props(chart, keep_daily=0, keep_weekly=0)


@pytest.mark.parametrize("value", [-1, 101])
def test_fails_tolerance(chart: cdk8s.Chart, value: int) -> None:
    with pytest.raises(
        PropError, match=rf"key_count_tolerance_percent: got {value}; expected an integer from 0 to 100"
    ):
        props(chart, key_count_tolerance_percent=value)


def test_fails_repository_prefix(chart: cdk8s.Chart) -> None:
    with pytest.raises(PropError, match=r"offsite.repository: got 'https://s3.example.net/b'; expected an S3 restic"):
        props(chart, offsite=dataclasses.replace(OFFSITE, repository="https://s3.example.net/b"))


def test_fails_offsite_without_cidrs(chart: cdk8s.Chart) -> None:
    with pytest.raises(PropError, match=r"offsite.cidrs: got \(\); expected at least one network"):
        props(chart, offsite=dataclasses.replace(OFFSITE, cidrs=()))


def test_fails_job_deadline(chart: cdk8s.Chart) -> None:
    with pytest.raises(PropError, match=r"job.active_deadline_seconds: got 10; expected an integer from 300 to 86400"):
        props(chart, job=BackupJobRun(active_deadline_seconds=10))


def test_fails_storage_size(chart: cdk8s.Chart) -> None:
    with pytest.raises(PropError, match=r"storage.size: got 'lots'"):
        props(chart, storage=BackupVolume(size="lots"))


def test_objects_per_chart_stay_in_redis_namespace(chart: cdk8s.Chart) -> None:
    RedisBackup(chart, "Backup", RedisBackupProps(redis=redis(chart), offsite=OFFSITE))
    mine = [o for o in objects(chart) if o["metadata"]["name"].startswith("redis-shared-backup")]
    assert {o["metadata"]["namespace"] for o in mine} == {"redis"}
    assert len(of_kind(mine, "CronJob")) == 1
