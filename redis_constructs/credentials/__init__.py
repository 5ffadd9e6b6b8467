"""Credentials: :class:`ReplicatedSecret` (one Secret in several namespaces, never plaintext in git) with its
:class:`ReplicatedSecretProps`, its sources, sealing for the sealed-secrets controller, and the command line that
seals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_exports

if TYPE_CHECKING:
    from .replicated_secret import ExistingSecretSource as ExistingSecretSource
    from .replicated_secret import ExternalSecretSource as ExternalSecretSource
    from .replicated_secret import PlaintextSecretSource as PlaintextSecretSource
    from .replicated_secret import ReplicatedSecret as ReplicatedSecret
    from .replicated_secret import ReplicatedSecretProps as ReplicatedSecretProps
    from .replicated_secret import SealedSecretSource as SealedSecretSource
    from .replicated_secret import SecretSource as SecretSource
    from .replicated_secret import SecretStoreKind as SecretStoreKind
    from .sealing import SealingScope as SealingScope
    from .sealing import read_sealed_file as read_sealed_file
    from .sealing import seal_into_file as seal_into_file
    from .tenant_credentials import TenantCredentials as TenantCredentials
    from .tenant_credentials import TenantCredentialsProps as TenantCredentialsProps

_WHERE = {
    "ExistingSecretSource": ".replicated_secret",
    "ExternalSecretSource": ".replicated_secret",
    "PlaintextSecretSource": ".replicated_secret",
    "ReplicatedSecret": ".replicated_secret",
    "ReplicatedSecretProps": ".replicated_secret",
    "TenantCredentials": ".tenant_credentials",
    "TenantCredentialsProps": ".tenant_credentials",
    "SealedSecretSource": ".replicated_secret",
    "SealingScope": ".sealing",
    "SecretSource": ".replicated_secret",
    "SecretStoreKind": ".replicated_secret",
    "read_sealed_file": ".sealing",
    "seal_into_file": ".sealing",
}

__all__ = [
    "ExistingSecretSource",
    "ExternalSecretSource",
    "PlaintextSecretSource",
    "ReplicatedSecret",
    "ReplicatedSecretProps",
    "SealedSecretSource",
    "SealingScope",
    "SecretSource",
    "SecretStoreKind",
    "TenantCredentials",
    "TenantCredentialsProps",
    "read_sealed_file",
    "seal_into_file",
]

__getattr__ = lazy_exports(__name__, _WHERE)
