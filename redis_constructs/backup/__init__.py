"""Backup: verified nightly snapshots of redis-shared (:class:`RedisBackup`), kept away from the Redis nodes and
optionally copied off-site with restic, and :class:`RedisRestore`, one commit that puts a snapshot's keys (all, or a
tenant's patterns) back into the running Redis. docs/backups.md is the user's guide.

Every construct here takes ``(scope, id, props)`` with a ``…Props`` record that checks itself when built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_exports

if TYPE_CHECKING:
    from .backup import RedisBackup as RedisBackup
    from .props import BackupJobRun as BackupJobRun
    from .props import BackupVolume as BackupVolume
    from .props import OffsiteCopy as OffsiteCopy
    from .props import RedisBackupProps as RedisBackupProps
    from .restore import RedisRestore as RedisRestore
    from .restore import RedisRestoreProps as RedisRestoreProps
    from .restore import RestoreJobRun as RestoreJobRun
    from .restore import RestoreSource as RestoreSource

_WHERE = {
    "BackupJobRun": ".props",
    "BackupVolume": ".props",
    "OffsiteCopy": ".props",
    "RedisBackup": ".backup",
    "RedisBackupProps": ".props",
    "RedisRestore": ".restore",
    "RedisRestoreProps": ".restore",
    "RestoreJobRun": ".restore",
    "RestoreSource": ".restore",
}

__all__ = [
    "BackupJobRun",
    "BackupVolume",
    "OffsiteCopy",
    "RedisBackup",
    "RedisBackupProps",
    "RedisRestore",
    "RedisRestoreProps",
    "RestoreJobRun",
    "RestoreSource",
]

__getattr__ = lazy_exports(__name__, _WHERE)
