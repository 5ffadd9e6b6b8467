"""redis_constructs: cdk8s constructs for a shared, highly available Redis 7 on a homelab K3s cluster.

The package is one sub-package per concern; imports run one way, each only to those listed before it:
:mod:`~redis_constructs.core` (errors, validation, rendering helpers), :mod:`~redis_constructs.gitops` (Argo CD
and Flux, synthesis, checks, plan), :mod:`~redis_constructs.credentials` (ReplicatedSecret, sealing),
:mod:`~redis_constructs.server` (RedisShared), then :mod:`~redis_constructs.migration` (the app bindings, the
data copy), :mod:`~redis_constructs.backup` (nightly snapshots, restores) and :mod:`~redis_constructs.monitoring`
(alerts, dashboard). The root hands on what an app needs.
Names are imported lazily so that the pure parts (``python -m redis_constructs seal``, the renderers) do not
start jsii and Node. Importing the package points jsii at Node 22 (``core/_node.py``): import it before ``cdk8s``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._moved import install_moved_modules
from .core._node import use_bundled_node
from .core.lazy import lazy_exports

use_bundled_node()
install_moved_modules()

if TYPE_CHECKING:
    from .backup import OffsiteCopy as OffsiteCopy
    from .backup import RedisBackup as RedisBackup
    from .backup import RedisBackupProps as RedisBackupProps
    from .backup import RedisRestore as RedisRestore
    from .backup import RedisRestoreProps as RedisRestoreProps
    from .backup import RestoreSource as RestoreSource
    from .checks import CheckJobRun as CheckJobRun
    from .checks import RedisChecks as RedisChecks
    from .checks import RedisChecksProps as RedisChecksProps
    from .core import IncludeFile as IncludeFile
    from .core import IncludeFileProps as IncludeFileProps
    from .core import PropError as PropError
    from .core import SecretKeyRef as SecretKeyRef
    from .credentials import ReplicatedSecret as ReplicatedSecret
    from .credentials import ReplicatedSecretProps as ReplicatedSecretProps
    from .credentials import SecretSource as SecretSource
    from .credentials import SecretStoreKind as SecretStoreKind
    from .credentials import TenantCredentials as TenantCredentials
    from .credentials import TenantCredentialsProps as TenantCredentialsProps
    from .credentials import read_sealed_file as read_sealed_file
    from .gitops import ExternalRefs as ExternalRefs
    from .gitops import FluxUnit as FluxUnit
    from .gitops import GitopsBootstrap as GitopsBootstrap
    from .gitops import GitopsBootstrapProps as GitopsBootstrapProps
    from .gitops import SynthError as SynthError
    from .gitops import add_sync_waves as add_sync_waves
    from .gitops import flux_kustomizations as flux_kustomizations
    from .gitops import flux_split_patches as flux_split_patches
    from .gitops import synthesize as synthesize
    from .migration import BEERSYSTEM_DATA_COPY as BEERSYSTEM_DATA_COPY
    from .migration import BeersystemRedisBinding as BeersystemRedisBinding
    from .migration import BeersystemRedisBindingProps as BeersystemRedisBindingProps
    from .migration import BindingDataCopy as BindingDataCopy
    from .migration import DecommissionGate as DecommissionGate
    from .migration import MigrationPhase as MigrationPhase
    from .migration import RedisClientBinding as RedisClientBinding
    from .migration import RedisClientBindingProps as RedisClientBindingProps
    from .migration import RedisDataCopy as RedisDataCopy
    from .migration import RedisDataCopyProps as RedisDataCopyProps
    from .migration import RedisEnv as RedisEnv
    from .migration import RedisValidationJob as RedisValidationJob
    from .migration import RedisValidationJobProps as RedisValidationJobProps
    from .migration import ValidationJobRun as ValidationJobRun
    from .migration import utc_now as utc_now
    from .monitoring import BackupMonitoring as BackupMonitoring
    from .monitoring import RedisMonitoring as RedisMonitoring
    from .monitoring import RedisMonitoringProps as RedisMonitoringProps
    from .server import CertManagerCertificate as CertManagerCertificate
    from .server import CertManagerSelfSignedCa as CertManagerSelfSignedCa
    from .server import EvictionPolicy as EvictionPolicy
    from .server import ExistingTlsSecret as ExistingTlsSecret
    from .server import LoadBalancer as LoadBalancer
    from .server import RedisCredentials as RedisCredentials
    from .server import RedisShared as RedisShared
    from .server import RedisSharedProps as RedisSharedProps
    from .server import Resources as Resources
    from .server import Role as Role
    from .server import Tenant as Tenant
    from .server import TenantCommands as TenantCommands
    from .server import Tls as Tls
    from .server import add_rollout_order as add_rollout_order

_WHERE = {
    "BackupMonitoring": ".monitoring",
    "OffsiteCopy": ".backup",
    "RedisBackup": ".backup",
    "RedisBackupProps": ".backup",
    "RedisRestore": ".backup",
    "RedisRestoreProps": ".backup",
    "RestoreSource": ".backup",
    "BEERSYSTEM_DATA_COPY": ".migration",
    "BeersystemRedisBinding": ".migration",
    "BeersystemRedisBindingProps": ".migration",
    "BindingDataCopy": ".migration",
    "CertManagerCertificate": ".server",
    "CheckJobRun": ".checks",
    "CertManagerSelfSignedCa": ".server",
    # Renamed (migration.RENAMED): still handed on, with a warning naming the new name; not in __all__.
    "DataCopy": ".migration",
    "DecommissionGate": ".migration",
    "EvictionPolicy": ".server",
    "ExistingTlsSecret": ".server",
    "ExternalRefs": ".gitops",
    "FluxUnit": ".gitops",
    "GitopsBootstrap": ".gitops",
    "GitopsBootstrapProps": ".gitops",
    "IncludeFile": ".core",
    "IncludeFileProps": ".core",
    "LoadBalancer": ".server",
    "MigrationPhase": ".migration",
    "PropError": ".core",
    "RedisChecks": ".checks",
    "RedisChecksProps": ".checks",
    "RedisClientBinding": ".migration",
    "RedisClientBindingProps": ".migration",
    "RedisCredentials": ".server",
    "RedisDataCopy": ".migration",
    "RedisDataCopyProps": ".migration",
    "RedisEnv": ".migration",
    "RedisMonitoring": ".monitoring",
    "RedisMonitoringProps": ".monitoring",
    "RedisShared": ".server",
    "RedisSharedProps": ".server",
    "RedisValidationJob": ".migration",
    "RedisValidationJobProps": ".migration",
    "ReplicatedSecret": ".credentials",
    "ReplicatedSecretProps": ".credentials",
    "TenantCredentials": ".credentials",
    "TenantCredentialsProps": ".credentials",
    "Resources": ".server",
    "Role": ".server",
    "SecretKeyRef": ".core",
    "SecretSource": ".credentials",
    "SecretStoreKind": ".credentials",
    "SynthError": ".gitops",
    "Tenant": ".server",
    "TenantCommands": ".server",
    "Tls": ".server",
    "utc_now": ".migration",
    "ValidationJob": ".migration",  # renamed ValidationJobRun, as DataCopy above
    "ValidationJobRun": ".migration",
    "add_rollout_order": ".server",
    "add_sync_waves": ".gitops",
    "flux_kustomizations": ".gitops",
    "flux_split_patches": ".gitops",
    "read_sealed_file": ".credentials",
    "synthesize": ".gitops",
}

__all__ = [
    "BEERSYSTEM_DATA_COPY",
    "BackupMonitoring",
    "BeersystemRedisBinding",
    "BeersystemRedisBindingProps",
    "BindingDataCopy",
    "CertManagerCertificate",
    "CertManagerSelfSignedCa",
    "CheckJobRun",
    "DecommissionGate",
    "EvictionPolicy",
    "ExistingTlsSecret",
    "ExternalRefs",
    "FluxUnit",
    "GitopsBootstrap",
    "GitopsBootstrapProps",
    "IncludeFile",
    "IncludeFileProps",
    "LoadBalancer",
    "MigrationPhase",
    "OffsiteCopy",
    "PropError",
    "RedisBackup",
    "RedisBackupProps",
    "RedisChecks",
    "RedisChecksProps",
    "RedisClientBinding",
    "RedisClientBindingProps",
    "RedisCredentials",
    "RedisDataCopy",
    "RedisDataCopyProps",
    "RedisEnv",
    "RedisMonitoring",
    "RedisMonitoringProps",
    "RedisRestore",
    "RedisRestoreProps",
    "RedisShared",
    "RedisSharedProps",
    "RedisValidationJob",
    "RedisValidationJobProps",
    "ReplicatedSecret",
    "ReplicatedSecretProps",
    "Resources",
    "RestoreSource",
    "Role",
    "SecretKeyRef",
    "SecretSource",
    "SecretStoreKind",
    "SynthError",
    "Tenant",
    "TenantCommands",
    "TenantCredentials",
    "TenantCredentialsProps",
    "Tls",
    "ValidationJobRun",
    "add_rollout_order",
    "add_sync_waves",
    "flux_kustomizations",
    "flux_split_patches",
    "read_sealed_file",
    "synthesize",
    "utc_now",
]

__getattr__ = lazy_exports(__name__, _WHERE)
