"""Migration: moving an app onto RedisShared — :class:`RedisClientBinding` and
:class:`BeersystemRedisBinding` (the phases), the app's Redis env variants, the verified data copy and its program,
and the validation Job.

Every construct here takes ``(scope, id, props)`` with a ``…Props`` record that checks itself when built.
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Any

from ..core.lazy import lazy_exports

if TYPE_CHECKING:
    from .beersystem import BEERSYSTEM_DATA_COPY as BEERSYSTEM_DATA_COPY
    from .beersystem import BeersystemRedisBinding as BeersystemRedisBinding
    from .beersystem import BeersystemRedisBindingProps as BeersystemRedisBindingProps
    from .binding import MigrationPhase as MigrationPhase
    from .binding import RedisClientBinding as RedisClientBinding
    from .binding import RedisClientBindingProps as RedisClientBindingProps
    from .binding import utc_now as utc_now
    from .data_copy import BindingDataCopy as BindingDataCopy
    from .data_copy import CopyDirection as CopyDirection
    from .data_copy import DataCopyJobRun as DataCopyJobRun
    from .data_copy import OldRedisEndpoint as OldRedisEndpoint
    from .data_copy import RedisDataCopy as RedisDataCopy
    from .data_copy import RedisDataCopyProps as RedisDataCopyProps
    from .decommission_gate import DecommissionGate as DecommissionGate
    from .decommission_gate import GateJobRun as GateJobRun
    from .decommission_gate import RedisDecommissionGate as RedisDecommissionGate
    from .decommission_gate import RedisDecommissionGateProps as RedisDecommissionGateProps
    from .redis_env import HostPortPasswordRedisEnv as HostPortPasswordRedisEnv
    from .redis_env import PasswordFileRedisEnv as PasswordFileRedisEnv
    from .redis_env import RedisEnv as RedisEnv
    from .redis_env import UrlRedisEnv as UrlRedisEnv
    from .validation_job import RedisValidationJob as RedisValidationJob
    from .validation_job import RedisValidationJobProps as RedisValidationJobProps
    from .validation_job import ValidationJobRun as ValidationJobRun

_WHERE = {
    "BEERSYSTEM_DATA_COPY": ".beersystem",
    "BeersystemRedisBinding": ".beersystem",
    "BeersystemRedisBindingProps": ".beersystem",
    "BindingDataCopy": ".data_copy",
    "CopyDirection": ".data_copy",
    "DataCopyJobRun": ".data_copy",
    "DecommissionGate": ".decommission_gate",
    "GateJobRun": ".decommission_gate",
    "HostPortPasswordRedisEnv": ".redis_env",
    "MigrationPhase": ".binding",
    "OldRedisEndpoint": ".data_copy",
    "PasswordFileRedisEnv": ".redis_env",
    "RedisClientBinding": ".binding",
    "RedisClientBindingProps": ".binding",
    "RedisDataCopy": ".data_copy",
    "RedisDataCopyProps": ".data_copy",
    "RedisDecommissionGate": ".decommission_gate",
    "RedisDecommissionGateProps": ".decommission_gate",
    "RedisEnv": ".redis_env",
    "RedisValidationJob": ".validation_job",
    "RedisValidationJobProps": ".validation_job",
    "UrlRedisEnv": ".redis_env",
    "ValidationJobRun": ".validation_job",
    "utc_now": ".binding",
}

#: Classes renamed in #18, old name -> new name: the old name still imports from here (and from the package root)
#: for one more release, with a DeprecationWarning naming the new one. Remove the table in the release after.
RENAMED = {
    "DataCopy": "BindingDataCopy",
    "DataCopyJob": "DataCopyJobRun",
    "ValidationJob": "ValidationJobRun",
}

__all__ = [
    "BEERSYSTEM_DATA_COPY",
    "BeersystemRedisBinding",
    "BeersystemRedisBindingProps",
    "BindingDataCopy",
    "CopyDirection",
    "DataCopyJobRun",
    "DecommissionGate",
    "GateJobRun",
    "HostPortPasswordRedisEnv",
    "MigrationPhase",
    "OldRedisEndpoint",
    "PasswordFileRedisEnv",
    "RedisClientBinding",
    "RedisClientBindingProps",
    "RedisDataCopy",
    "RedisDataCopyProps",
    "RedisDecommissionGate",
    "RedisDecommissionGateProps",
    "RedisEnv",
    "RedisValidationJob",
    "RedisValidationJobProps",
    "UrlRedisEnv",
    "ValidationJobRun",
    "utc_now",
]

_lazy = lazy_exports(__name__, _WHERE)


def __getattr__(name: str) -> Any:
    new = RENAMED.get(name)
    if new is None:
        return _lazy(name)
    # Point the warning at the first caller outside this package (the root's lookup passes through core.lazy).
    level, frame = 1, sys._getframe(0)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("redis_constructs"):
        frame = frame.f_back
        level += 1
    warnings.warn(
        f"redis_constructs.migration.{name} is renamed {new}; import {new} (the old name goes in the next release)",
        DeprecationWarning,
        stacklevel=level,
    )
    return _lazy(new)
