"""Migration: moving an app onto RedisShared — :class:`RedisClientBinding` and
:class:`BeersystemRedisBinding` (the phases), the app's Redis env variants, the verified data copy and its program,
and the validation Job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_exports

if TYPE_CHECKING:
    from .binding import BEERSYSTEM_DATA_COPY as BEERSYSTEM_DATA_COPY
    from .binding import BeersystemRedisBinding as BeersystemRedisBinding
    from .binding import MigrationPhase as MigrationPhase
    from .binding import RedisClientBinding as RedisClientBinding
    from .binding import utc_now as utc_now
    from .data_copy import DataCopy as DataCopy
    from .data_copy import RedisDataCopy as RedisDataCopy
    from .redis_env import HostPortPasswordRedisEnv as HostPortPasswordRedisEnv
    from .redis_env import PasswordFileRedisEnv as PasswordFileRedisEnv
    from .redis_env import RedisEnv as RedisEnv
    from .redis_env import UrlRedisEnv as UrlRedisEnv
    from .validation_job import RedisValidationJob as RedisValidationJob
    from .validation_job import ValidationJob as ValidationJob

_WHERE = {
    "BEERSYSTEM_DATA_COPY": ".binding",
    "BeersystemRedisBinding": ".binding",
    "DataCopy": ".data_copy",
    "HostPortPasswordRedisEnv": ".redis_env",
    "MigrationPhase": ".binding",
    "PasswordFileRedisEnv": ".redis_env",
    "RedisClientBinding": ".binding",
    "RedisDataCopy": ".data_copy",
    "RedisEnv": ".redis_env",
    "RedisValidationJob": ".validation_job",
    "UrlRedisEnv": ".redis_env",
    "ValidationJob": ".validation_job",
    "utc_now": ".binding",
}

__all__ = [
    "BEERSYSTEM_DATA_COPY",
    "BeersystemRedisBinding",
    "DataCopy",
    "HostPortPasswordRedisEnv",
    "MigrationPhase",
    "PasswordFileRedisEnv",
    "RedisClientBinding",
    "RedisDataCopy",
    "RedisEnv",
    "RedisValidationJob",
    "UrlRedisEnv",
    "ValidationJob",
    "utc_now",
]

__getattr__ = lazy_exports(__name__, _WHERE)
