"""Checks: proving the success criteria on the live cluster — :class:`RedisChecks` (the check program's Job after
every sync and, on a schedule, its CronJob), :class:`CheckJobRun` (how it runs, its bounds) and the LAN command
(:mod:`redis_constructs.checks.cli`, ``redis-shared check``). docs/checks.md explains each line the checks print.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_exports

if TYPE_CHECKING:
    from .check_job import DEFAULT_CHECK_RUN as DEFAULT_CHECK_RUN
    from .check_job import CheckJobRun as CheckJobRun
    from .check_job import RedisChecks as RedisChecks
    from .check_job import RedisChecksProps as RedisChecksProps

_WHERE = {
    "CheckJobRun": ".check_job",
    "DEFAULT_CHECK_RUN": ".check_job",
    "RedisChecks": ".check_job",
    "RedisChecksProps": ".check_job",
}

__all__ = ["DEFAULT_CHECK_RUN", "CheckJobRun", "RedisChecks", "RedisChecksProps"]

__getattr__ = lazy_exports(__name__, _WHERE)
