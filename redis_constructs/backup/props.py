"""The props of :class:`~redis_constructs.backup.backup.RedisBackup`: what a site writes to get nightly backups.

``RedisBackupProps`` and the records it holds (:class:`BackupVolume`, :class:`OffsiteCopy`, :class:`BackupJobRun`)
validate themselves when built, with the :mod:`redis_constructs.core.validation` rules. Nothing here renders an
object.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core import validation as v
from ..core.errors import PropError
from ..core.images import REDIS_IMAGE, RESTIC_IMAGE
from ..core.job_run import JobRun
from ..credentials.replicated_secret import SecretSource
from ..server.redis_shared import RedisShared

#: How many snapshots a retention rule may keep per kind (a year of daily ones).
KEEP_RANGE = (0, 366)


@dataclass(frozen=True, kw_only=True, slots=True)
class BackupVolume:
    """Where the snapshots are kept: one ReadWriteOnce volume, on a node without a Redis pod."""

    #: Default: - ``(keep_daily + keep_weekly + 1) x maxmemory / 2`` (every kept snapshot and one in progress; an
    #: RDB file is usually well under the memory its keys use), at least 1Gi.
    size: str | None = None
    #: Default: ``"local-path"`` (K3s's provisioner: the volume is a directory on the node the first run lands on).
    storage_class: str = "local-path"

    def validate(self, prop: str) -> None:
        """Check every field, naming each ``<prop>.<field>``."""
        if self.size is not None:
            v.storage_size(prop + ".size", self.size, minimum_bytes=64 * 1024**2)
        v.dns_subdomain(prop + ".storage_class", self.storage_class)


@dataclass(frozen=True, kw_only=True, slots=True)
class OffsiteCopy:
    """A copy of every verified snapshot in S3-compatible storage, encrypted by restic (docs/backups.md).

    The credentials are one Secret ``<name>-offsite`` with keys ``restic-password`` (the repository's password:
    lose it and the copies are unreadable) and ``aws-credentials`` (the body of an AWS credentials file,
    ``[default]`` with ``aws_access_key_id`` and ``aws_secret_access_key``); both are mounted as files.
    """

    #: The restic repository, ``s3:https://<host>/<bucket>/<prefix>`` (or ``s3:<host>/<bucket>`` for AWS).
    repository: str
    #: Where the Secret's two keys come from: sealed, external or existing (never plaintext outside tests).
    credentials: SecretSource
    #: Where the storage is: the backup Job may reach only these networks (on ``ports``).
    cidrs: tuple[str, ...]
    #: Default: ``(443,)``.
    ports: tuple[int, ...] = (443,)
    #: Default: ``"us-east-1"`` (``AWS_DEFAULT_REGION``; MinIO and most others ignore it).
    region: str = "us-east-1"
    #: Default: :data:`images.RESTIC_IMAGE`.
    image: str = RESTIC_IMAGE

    def validate(self, prop: str) -> None:
        """Check every field, naming each ``<prop>.<field>``."""
        if not isinstance(self.repository, str) or not self.repository.startswith("s3:") or len(self.repository) < 6:
            raise PropError(prop + ".repository", self.repository, "an S3 restic repository 's3:https://host/bucket'")
        v.text(prop + ".repository", self.repository, max_length=500)
        v.instance(prop + ".credentials", self.credentials, SecretSource, "a SecretSource (sealed, external, ...)")
        if not self.cidrs:
            raise PropError(prop + ".cidrs", tuple(self.cidrs), "at least one network of the storage (egress)")
        for c in self.cidrs:
            v.cidr(prop + ".cidrs", c)
        if not self.ports:
            raise PropError(prop + ".ports", tuple(self.ports), "at least one TCP port")
        for p in self.ports:
            v.int_in_range(prop + ".ports", p, 1, 65535)
        v.text(prop + ".region", self.region, max_length=64)
        v.pinned_image(prop + ".image", self.image)


@dataclass(frozen=True, kw_only=True, slots=True)
class BackupJobRun(JobRun):
    """How each backup Job runs; every field has a default."""

    #: Default: :data:`images.REDIS_IMAGE` (the server's own redis-cli, redis-check-rdb and redis-server).
    image: str = REDIS_IMAGE
    #: Default: 3600 (from 300 to 86400).
    active_deadline_seconds: int = 3600
    #: Default: 1 retry (a source or network failure); a snapshot that does not verify fails at once.
    backoff_limit: int = 1
    #: Default: 600; how long the throwaway redis-server may take to load the snapshot.
    load_timeout_seconds: int = 600
    #: Default: ``("100m", "1")``.
    cpu: tuple[str, str] = ("100m", "1")
    #: Default: - request 256Mi, limit ``maxmemory x 1.5 + 256Mi`` (the throwaway server holds the whole dataset).
    memory: tuple[str, str] | None = None

    def validate(self, prop: str) -> None:
        """Check every field, naming each ``<prop>.<field>``."""
        self.check_run(prop, deadline=(300, 86400))
        v.int_in_range(prop + ".load_timeout_seconds", self.load_timeout_seconds, 10, 86400)
        v.cpu_millis(prop + ".cpu", self.cpu[0])
        v.cpu_millis(prop + ".cpu", self.cpu[1])
        if self.memory is not None:
            v.memory_bytes(prop + ".memory", self.memory[0])
            v.memory_bytes(prop + ".memory", self.memory[1])


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisBackupProps:
    """The props of :class:`RedisBackup`, checked when built."""

    #: The RedisShared to back up; it needs its ``backup`` ACL user (``credentials.backup``).
    redis: RedisShared
    #: When to run (cron, five fields). Default: ``"17 3 * * *"`` (03:17 every night).
    schedule: str = "17 3 * * *"
    #: Default: ``"Etc/UTC"``.
    time_zone: str = "Etc/UTC"
    #: Keep the newest snapshot of each of the last N days. Default: 7.
    keep_daily: int = 7
    #: Keep the newest snapshot of each of the last N ISO weeks. Default: 4.
    keep_weekly: int = 4
    #: When the replica cannot serve the snapshot (down, or cut off from its primary), take it from the primary (a
    #: fork there, once). Default: True; False fails the run instead (exit 1).
    fallback_to_primary: bool = True
    #: The snapshot's key count may differ from what the source reported just before by this percentage (writes
    #: between the two). Default: 1.
    key_count_tolerance_percent: int = 1
    #: ``RedisBackupTooOld`` fires when the last success is older than this. Default: 26 (a nightly schedule,
    #: its deadline and an hour); set it for another schedule.
    alert_max_age_hours: int = 26
    #: Default: - a :class:`BackupVolume` with its defaults.
    storage: BackupVolume = BackupVolume()
    #: Default: - no off-site copy (the snapshots live on one node only).
    offsite: OffsiteCopy | None = None
    #: Default: - a :class:`BackupJobRun` with its defaults.
    job: BackupJobRun = BackupJobRun()

    def __post_init__(self) -> None:
        redis = v.instance("redis", self.redis, RedisShared, "a RedisShared construct")
        v.cron_schedule("schedule", self.schedule)
        v.time_zone("time_zone", self.time_zone)
        v.int_in_range("keep_daily", self.keep_daily, *KEEP_RANGE)
        v.int_in_range("keep_weekly", self.keep_weekly, *KEEP_RANGE)
        if self.keep_daily == 0 and self.keep_weekly == 0:
            raise PropError("keep_weekly", self.keep_weekly, "at least 1 when keep_daily is 0 (nothing would be kept)")
        v.boolean("fallback_to_primary", self.fallback_to_primary)
        v.int_in_range("key_count_tolerance_percent", self.key_count_tolerance_percent, 0, 100)
        v.int_in_range("alert_max_age_hours", self.alert_max_age_hours, 1, 24 * 40)
        v.instance("storage", self.storage, BackupVolume, "a BackupVolume").validate("storage")
        if self.offsite is not None:
            v.instance("offsite", self.offsite, OffsiteCopy, "an OffsiteCopy").validate("offsite")
        v.instance("job", self.job, BackupJobRun, "a BackupJobRun").validate("job")
        if redis.credentials.backup is None:
            raise PropError(
                "redis.credentials.backup",
                None,
                "a SecretKeyRef to the backup user's password (key backup-password of the system credentials)",
            )
