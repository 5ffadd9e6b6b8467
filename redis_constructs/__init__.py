"""redis_constructs: cdk8s constructs for a shared, highly available Redis 7 on a homelab K3s cluster.

Names are imported lazily so that the pure parts (``python -m redis_constructs seal``, the renderers)
do not start jsii and Node.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import PropError as PropError
    from .manifest_checks import ExternalRefs as ExternalRefs
    from .redis_config import EvictionPolicy as EvictionPolicy
    from .redis_config import Role as Role
    from .redis_shared import LoadBalancer as LoadBalancer
    from .redis_shared import RedisCredentials as RedisCredentials
    from .redis_shared import RedisShared as RedisShared
    from .redis_shared import RedisSharedProps as RedisSharedProps
    from .redis_shared import Resources as Resources
    from .redis_shared import SecretKeyRef as SecretKeyRef
    from .synth import SynthError as SynthError
    from .synth import synthesize as synthesize

_WHERE = {
    "EvictionPolicy": "redis_config",
    "ExternalRefs": "manifest_checks",
    "LoadBalancer": "redis_shared",
    "PropError": "errors",
    "RedisCredentials": "redis_shared",
    "RedisShared": "redis_shared",
    "RedisSharedProps": "redis_shared",
    "Resources": "redis_shared",
    "Role": "redis_config",
    "SecretKeyRef": "redis_shared",
    "SynthError": "synth",
    "synthesize": "synth",
}

__all__ = [
    "EvictionPolicy",
    "ExternalRefs",
    "LoadBalancer",
    "PropError",
    "RedisCredentials",
    "RedisShared",
    "RedisSharedProps",
    "Resources",
    "Role",
    "SecretKeyRef",
    "SynthError",
    "synthesize",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
