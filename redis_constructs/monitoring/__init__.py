"""Monitoring: :class:`RedisMonitoring` and its :class:`RedisMonitoringProps` — the ServiceMonitor, the alerts and the
Grafana dashboard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_exports

if TYPE_CHECKING:
    from .backup_alerts import BackupMonitoring as BackupMonitoring
    from .redis_monitoring import RedisMonitoring as RedisMonitoring
    from .redis_monitoring import RedisMonitoringProps as RedisMonitoringProps

_WHERE = {
    "BackupMonitoring": ".backup_alerts",
    "RedisMonitoring": ".redis_monitoring",
    "RedisMonitoringProps": ".redis_monitoring",
}

__all__ = [
    "BackupMonitoring",
    "RedisMonitoring",
    "RedisMonitoringProps",
]

__getattr__ = lazy_exports(__name__, _WHERE)
