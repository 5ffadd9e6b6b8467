"""Modules that moved into the sub-packages: their old import paths work for one more release, with a warning.

One table, old module -> new module (both under ``redis_constructs``). Two old paths need no entry:
``redis_constructs.monitoring`` is now the monitoring sub-package, whose face hands on the same names, and
``redis_constructs.plan`` stays the plan's entry point. ``import redis_constructs.binding`` (or
``from redis_constructs.binding import X``) gets the new module itself, after a ``DeprecationWarning`` naming the
new path. Remove the table, and this module, in the release after the move.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

#: old module -> new module, both relative to ``redis_constructs``.
MOVED_MODULES: dict[str, str] = {
    "errors": "core.errors",
    "validation": "core.validation",
    "rendering": "core.rendering",
    "pod_security": "core.pod_security",
    "images": "core.images",
    "job_run": "core.job_run",
    "restart_annotations": "core.restart_annotations",
    "late": "core.late",
    "include": "core.include",
    "synth": "gitops.synth",
    "manifest_checks": "gitops.manifest_checks",
    "k8s_schema": "gitops.k8s_schema",
    "replicated_secret": "credentials.replicated_secret",
    "sealing": "credentials.sealing",
    "redis_shared": "server.redis_shared",
    "redis_props": "server.props",
    "redis_names": "server.names",
    "redis_namespace": "server.namespace",
    "redis_configuration": "server.config_maps",
    "redis_config": "server.redis_conf",
    "redis_services": "server.services",
    "redis_workload": "server.workload",
    "redis_disruption_budget": "server.disruption_budget",
    "redis_network_policy": "server.network_policy",
    "redis_certificates": "server.certificates",
    "scripts": "server.scripts",
    "tls": "server.tls",
    "failover": "server.roles",
    "binding": "migration.binding",
    "redis_env": "migration.redis_env",
    "data_copy": "migration.data_copy",
    "validation_job": "migration.validation_job",
    "alerts": "monitoring.alerts",
    "dashboard": "monitoring.dashboard",
}

_PACKAGE = __name__.rpartition(".")[0]


class _MovedModuleLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self._new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self._new}; import it from there (the old path goes in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self._new)

    def exec_module(self, module: ModuleType) -> None:
        """The module is the new one, already executed."""


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != _PACKAGE or name not in MOVED_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _MovedModuleLoader(f"{_PACKAGE}.{MOVED_MODULES[name]}"))


def install_moved_modules() -> None:
    """Let the old module paths resolve (once per interpreter)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
