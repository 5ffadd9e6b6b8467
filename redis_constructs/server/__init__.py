"""Server: :class:`RedisShared` — its props, names, child constructs (namespace, ConfigMaps, Services,
StatefulSets, PodDisruptionBudget, NetworkPolicy, certificates), redis.conf and ACL rendering, the pod scripts,
TLS, the roles of the pods and the rollout order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_exports

if TYPE_CHECKING:
    from .names import RedisNames as RedisNames
    from .props import LoadBalancer as LoadBalancer
    from .props import RedisCredentials as RedisCredentials
    from .props import RedisSharedProps as RedisSharedProps
    from .props import Resources as Resources
    from .redis_conf import EvictionPolicy as EvictionPolicy
    from .redis_conf import Role as Role
    from .redis_conf import TenantCommands as TenantCommands
    from .redis_shared import RedisShared as RedisShared
    from .rollout import add_rollout_order as add_rollout_order
    from .tenants import Tenant as Tenant
    from .tls import CertManagerCertificate as CertManagerCertificate
    from .tls import CertManagerSelfSignedCa as CertManagerSelfSignedCa
    from .tls import ExistingTlsSecret as ExistingTlsSecret
    from .tls import Tls as Tls

_WHERE = {
    "CertManagerCertificate": ".tls",
    "CertManagerSelfSignedCa": ".tls",
    "EvictionPolicy": ".redis_conf",
    "ExistingTlsSecret": ".tls",
    "LoadBalancer": ".props",
    "RedisCredentials": ".props",
    "RedisNames": ".names",
    "RedisShared": ".redis_shared",
    "RedisSharedProps": ".props",
    "Resources": ".props",
    "Role": ".redis_conf",
    "Tenant": ".tenants",
    "TenantCommands": ".redis_conf",
    "Tls": ".tls",
    "add_rollout_order": ".rollout",
}

__all__ = [
    "CertManagerCertificate",
    "CertManagerSelfSignedCa",
    "EvictionPolicy",
    "ExistingTlsSecret",
    "LoadBalancer",
    "RedisCredentials",
    "RedisNames",
    "RedisShared",
    "RedisSharedProps",
    "Resources",
    "Role",
    "Tenant",
    "TenantCommands",
    "Tls",
    "add_rollout_order",
]

__getattr__ = lazy_exports(__name__, _WHERE)
