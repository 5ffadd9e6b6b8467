"""redis_constructs: cdk8s constructs for a shared, highly available Redis 7 on a homelab K3s cluster.

Constructs: :class:`RedisShared`, :class:`ReplicatedSecret`, :class:`RedisMonitoring`,
:class:`RedisClientBinding` / :class:`BeersystemRedisBinding`, :class:`RedisValidationJob`;
:func:`synthesize` writes checked manifests.
Names are imported lazily so that the pure parts (``python -m redis_constructs seal``, the renderers) do not
start jsii and Node. Importing the package points jsii at Node 22 (``_node.py``): import it before ``cdk8s``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._node import use_bundled_node

use_bundled_node()

if TYPE_CHECKING:
    from .binding import BeersystemRedisBinding as BeersystemRedisBinding
    from .binding import MigrationPhase as MigrationPhase
    from .binding import RedisClientBinding as RedisClientBinding
    from .errors import PropError as PropError
    from .manifest_checks import ExternalRefs as ExternalRefs
    from .monitoring import RedisMonitoring as RedisMonitoring
    from .monitoring import RedisMonitoringProps as RedisMonitoringProps
    from .redis_config import EvictionPolicy as EvictionPolicy
    from .redis_config import Role as Role
    from .redis_env import HostPortPasswordRedisEnv as HostPortPasswordRedisEnv
    from .redis_env import PasswordFileRedisEnv as PasswordFileRedisEnv
    from .redis_env import RedisEnv as RedisEnv
    from .redis_env import UrlRedisEnv as UrlRedisEnv
    from .redis_props import LoadBalancer as LoadBalancer
    from .redis_props import RedisCredentials as RedisCredentials
    from .redis_props import RedisSharedProps as RedisSharedProps
    from .redis_props import Resources as Resources
    from .redis_props import SecretKeyRef as SecretKeyRef
    from .redis_shared import RedisShared as RedisShared
    from .replicated_secret import ExistingSecretSource as ExistingSecretSource
    from .replicated_secret import ExternalSecretSource as ExternalSecretSource
    from .replicated_secret import PlaintextSecretSource as PlaintextSecretSource
    from .replicated_secret import ReplicatedSecret as ReplicatedSecret
    from .replicated_secret import SealedSecretSource as SealedSecretSource
    from .replicated_secret import SecretSource as SecretSource
    from .replicated_secret import SecretStoreKind as SecretStoreKind
    from .synth import SynthError as SynthError
    from .synth import synthesize as synthesize
    from .validation_job import RedisValidationJob as RedisValidationJob
    from .validation_job import ValidationJob as ValidationJob

_WHERE = {
    "BeersystemRedisBinding": "binding",
    "EvictionPolicy": "redis_config",
    "ExternalRefs": "manifest_checks",
    "LoadBalancer": "redis_props",
    "MigrationPhase": "binding",
    "PropError": "errors",
    "RedisClientBinding": "binding",
    "RedisCredentials": "redis_props",
    "RedisEnv": "redis_env",
    "HostPortPasswordRedisEnv": "redis_env",
    "UrlRedisEnv": "redis_env",
    "PasswordFileRedisEnv": "redis_env",
    "ExistingSecretSource": "replicated_secret",
    "SealedSecretSource": "replicated_secret",
    "ExternalSecretSource": "replicated_secret",
    "PlaintextSecretSource": "replicated_secret",
    "RedisMonitoring": "monitoring",
    "RedisMonitoringProps": "monitoring",
    "RedisShared": "redis_shared",
    "RedisSharedProps": "redis_props",
    "ReplicatedSecret": "replicated_secret",
    "Resources": "redis_props",
    "Role": "redis_config",
    "SecretKeyRef": "redis_props",
    "SecretSource": "replicated_secret",
    "SecretStoreKind": "replicated_secret",
    "SynthError": "synth",
    "ValidationJob": "validation_job",
    "RedisValidationJob": "validation_job",
    "synthesize": "synth",
}

__all__ = [
    "BeersystemRedisBinding",
    "EvictionPolicy",
    "ExistingSecretSource",
    "ExternalRefs",
    "ExternalSecretSource",
    "HostPortPasswordRedisEnv",
    "LoadBalancer",
    "MigrationPhase",
    "PasswordFileRedisEnv",
    "PlaintextSecretSource",
    "PropError",
    "RedisClientBinding",
    "RedisCredentials",
    "RedisEnv",
    "RedisMonitoring",
    "RedisMonitoringProps",
    "RedisShared",
    "RedisSharedProps",
    "RedisValidationJob",
    "ReplicatedSecret",
    "Resources",
    "Role",
    "SealedSecretSource",
    "SecretKeyRef",
    "SecretSource",
    "SecretStoreKind",
    "SynthError",
    "UrlRedisEnv",
    "ValidationJob",
    "synthesize",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
