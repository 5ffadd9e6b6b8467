"""RedisRestore as rendered: the Job (sidecar, probe, command), its name and marker, and a failing test per rule."""

from __future__ import annotations

from typing import Any

import cdk8s
import pytest
from conftest import find, of_kind
from syrupy.assertion import SnapshotAssertion

from redis_constructs.backup import (
    OffsiteCopy,
    RedisBackup,
    RedisBackupProps,
    RedisRestore,
    RedisRestoreProps,
    RestoreSource,
)
from redis_constructs.core.errors import PropError
from redis_constructs.core.refs import SecretKeyRef
from redis_constructs.credentials.replicated_secret import SecretSource
from redis_constructs.gitops import k8s_schema
from redis_constructs.server.props import RedisCredentials, RedisSharedProps
from redis_constructs.server.redis_shared import RedisShared

Obj = dict[str, Any]
SNAPSHOT = "redis-20261206T031700Z"
OFFSITE = OffsiteCopy(
    repository="s3:https://s3.example.net/backups/redis",
    credentials=SecretSource.plaintext_for_tests({"restic-password": "r", "aws-credentials": "[default]\n"}),
    cidrs=("203.0.113.0/24",),
)


def world(chart: cdk8s.Chart, *, migration: bool = True, offsite: bool = False) -> tuple[RedisShared, RedisBackup]:
    redis = RedisShared(
        chart,
        "Redis",
        RedisSharedProps(
            credentials=RedisCredentials(
                backup=SecretKeyRef(name="redis-shared-system", key="backup-password"),
                migration=SecretKeyRef(name="redis-shared-system", key="migration-password") if migration else None,
            )
        ),
    )
    backup = RedisBackup(chart, "Backup", RedisBackupProps(redis=redis, offsite=OFFSITE if offsite else None))
    return redis, backup


def restore_objects(chart: cdk8s.Chart) -> list[Obj]:
    return [dict(o) for o in chart.to_json() if o["metadata"]["name"].startswith("redis-shared-restore")]


def the_job(chart: cdk8s.Chart) -> Obj:
    [job] = of_kind(restore_objects(chart), "Job")
    return job


def test_tenant_restore_snapshot(chart: cdk8s.Chart, yaml_snapshot: SnapshotAssertion) -> None:
    redis, backup = world(chart)
    RedisRestore(
        chart, "Restore", RedisRestoreProps(redis=redis, backup=backup, snapshot=SNAPSHOT, match=("beersystem:*",))
    )
    assert restore_objects(chart) == yaml_snapshot


def test_offsite_restore_snapshot(chart: cdk8s.Chart, yaml_snapshot: SnapshotAssertion) -> None:
    redis, backup = world(chart, offsite=True)
    RedisRestore(
        chart,
        "Restore",
        RedisRestoreProps(
            redis=redis, backup=backup, snapshot=SNAPSHOT, source=RestoreSource.OFFSITE, match=("a:*",), replace=True
        ),
    )
    assert restore_objects(chart) == yaml_snapshot


def test_sidecar_serves_the_snapshot_before_the_copy(chart: cdk8s.Chart) -> None:
    redis, backup = world(chart)
    r = RedisRestore(chart, "Restore", RedisRestoreProps(redis=redis, backup=backup, snapshot=SNAPSHOT))
    spec = the_job(chart)["spec"]["template"]["spec"]
    [sidecar] = spec["initContainers"]
    assert sidecar["name"] == "snapshot-server" and sidecar["restartPolicy"] == "Always"
    assert "redis-cli -p 6390 PING" in sidecar["startupProbe"]["exec"]["command"][2]
    assert f"sha256sum -c {SNAPSHOT}.rdb.sha256" in sidecar["command"][2]
    assert "--bind 127.0.0.1" in sidecar["command"][2]
    [copy] = spec["containers"]
    cmd = copy["command"]
    assert cmd[2:7] == ["restore", "--source-host", "127.0.0.1", "--source-port", "6390"]
    assert cmd[cmd.index("--target-user") + 1] == "migration"
    assert cmd[cmd.index("--marker") + 1] == r.marker and r.marker.startswith(f"redis-shared:restore:{SNAPSHOT}:")
    assert "--replace" not in cmd and cmd[cmd.index("--match") + 1] == "*"
    # The snapshot's own redis-shared:* keys (an older backup report, markers) stay out of the restore.
    assert cmd[cmd.index("--skip-prefix") + 1] == "redis-shared:"
    backups = next(v for v in spec["volumes"] if v["name"] == "backups")
    assert backups["persistentVolumeClaim"] == {"claimName": "redis-shared-backup", "readOnly": True}


def test_name_and_marker_follow_the_spec(chart: cdk8s.Chart) -> None:
    redis, backup = world(chart)
    a = RedisRestore(chart, "A", RedisRestoreProps(redis=redis, backup=backup, snapshot=SNAPSHOT, match=("a:*",)))
    b = RedisRestore(chart, "B", RedisRestoreProps(redis=redis, backup=backup, snapshot=SNAPSHOT, match=("b:*",)))
    assert a.job_name != b.job_name and a.marker != b.marker
    assert find(restore_objects(chart), "Job", a.job_name)["metadata"]["annotations"]["argocd.argoproj.io/hook"] == (
        "Sync"
    )


def test_fails_replace_with_every_key(chart: cdk8s.Chart) -> None:
    redis, backup = world(chart)
    with pytest.raises(PropError, match=r"replace: got True; expected False with match '\*'"):
        RedisRestoreProps(redis=redis, backup=backup, snapshot=SNAPSHOT, replace=True)


def test_fails_offsite_without_an_offsite_copy(chart: cdk8s.Chart) -> None:
    redis, backup = world(chart)
    with pytest.raises(PropError, match=r"source: got 'OFFSITE'; expected RestoreSource.VOLUME"):
        RedisRestoreProps(redis=redis, backup=backup, snapshot=SNAPSHOT, source=RestoreSource.OFFSITE)


def test_fails_without_the_migration_user(chart: cdk8s.Chart) -> None:
    redis, backup = world(chart, migration=False)
    with pytest.raises(PropError, match=r"redis.credentials.migration: got None"):
        RedisRestoreProps(redis=redis, backup=backup, snapshot=SNAPSHOT)


@pytest.mark.parametrize("name", ["redis-2026-12-06", "20261206T031700Z", "redis-20261206T031700Z.rdb"])
def test_fails_snapshot_name(chart: cdk8s.Chart, name: str) -> None:
    redis, backup = world(chart)
    with pytest.raises(PropError, match=r"snapshot: got .*; expected a snapshot name 'redis-YYYYmmddTHHMMSSZ'"):
        RedisRestoreProps(redis=redis, backup=backup, snapshot=name)


def test_fails_no_patterns(chart: cdk8s.Chart) -> None:
    redis, backup = world(chart)
    with pytest.raises(PropError, match=r"match: got \(\); expected at least one SCAN pattern"):
        RedisRestoreProps(redis=redis, backup=backup, snapshot=SNAPSHOT, match=())


@pytest.mark.parametrize("version", ["1.28.0", "1.36.0"])
def test_backup_offsite_and_restores_are_strictly_valid(chart: cdk8s.Chart, version: str) -> None:
    """The strict-schema gate over the objects the site does not render: off-site, both restore sources."""
    redis, backup = world(chart, offsite=True)
    RedisRestore(chart, "A", RedisRestoreProps(redis=redis, backup=backup, snapshot=SNAPSHOT, match=("a:*",)))
    RedisRestore(
        chart, "B", RedisRestoreProps(redis=redis, backup=backup, snapshot=SNAPSHOT, source=RestoreSource.OFFSITE)
    )
    mine = [
        dict(o)
        for o in chart.to_json()
        if o["metadata"]["name"].startswith(("redis-shared-backup", "redis-shared-restore"))
    ]
    assert {o["kind"] for o in mine} >= {"CronJob", "Job", "PersistentVolumeClaim", "NetworkPolicy", "Secret"}
    problems = [
        f"{o['kind']} {o['metadata']['name']}: {error.message}"
        for o in mine
        if (error := k8s_schema.first_error(o, version)) is not None
    ]
    assert problems == []
