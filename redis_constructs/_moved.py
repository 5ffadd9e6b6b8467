"""Modules that moved into the sub-packages: their old import paths work for one more release, with a warning.

One table, old module -> new module (both under ``redis_constructs``). Two old paths need no entry:
``redis_constructs.monitoring`` is now the monitoring sub-package, whose face hands on the same names, and
``redis_constructs.plan`` stays the plan's entry point. ``import redis_constructs.binding`` (or
``from redis_constructs.binding import X``) gets the new module itself, after a ``DeprecationWarning`` naming the
new path. An old module whose names went to several new ones (``binding``: the beersystem names went to
``migration.beersystem``) gets a module that looks each name up in them in turn, and under its new name if it
was renamed (:data:`RENAMED_NAMES`). Remove the tables, and this module, in the release after the move.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

#: old module -> new module (or new modules, the first named in the warning), relative to ``redis_constructs``.
MOVED_MODULES: dict[str, str | tuple[str, ...]] = {
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
    "redis_shared": ("server.redis_shared", "server.props"),
    "redis_props": ("server.props", "server.checkov_skips"),
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
    "failover": ("server.roles", "server.rollout", "gitops.flux", "gitops.sync_annotations"),
    "binding": ("migration.binding", "migration.beersystem"),
    "redis_env": "migration.redis_env",
    "data_copy": ("migration.data_copy", "migration"),
    "validation_job": ("migration.validation_job", "migration"),
    "alerts": "monitoring.alerts",
    "dashboard": "monitoring.dashboard",
}

#: Names the old modules defined that the new ones spell otherwise (the classes renamed in 0.2.0 resolve through
#: ``redis_constructs.migration``, which warns about them itself).
RENAMED_NAMES: dict[str, str] = {
    "ARGOCD_SYNC_WAVE": "SYNC_WAVE",
    "DEFAULT_DATA_COPY": "DEFAULT_DATA_COPY_RUN",
    "DEFAULT_VALIDATION": "DEFAULT_VALIDATION_RUN",
}

_PACKAGE = __name__.rpartition(".")[0]


class _MovedModuleLoader(importlib.abc.Loader):
    def __init__(self, new: tuple[str, ...]) -> None:
        self._new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        places = " and ".join(self._new)
        warnings.warn(
            f"{spec.name} moved to {places}; import it from there (the old path goes in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        if len(self._new) == 1:
            return importlib.import_module(self._new[0])
        return _merged(spec.name, [importlib.import_module(m) for m in self._new])

    def exec_module(self, module: ModuleType) -> None:
        """The module is the new one, already executed."""


def _merged(name: str, modules: Sequence[ModuleType]) -> ModuleType:
    """A module whose attributes are looked up in ``modules`` in turn (each name also under its new name)."""
    merged = ModuleType(name, modules[0].__doc__)

    def lookup(attr: str) -> object:
        for candidate in (attr, RENAMED_NAMES.get(attr)):
            for module in modules:
                if candidate is not None and hasattr(module, candidate):
                    return getattr(module, candidate)
        raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    merged.__getattr__ = lookup  # type: ignore[method-assign]
    return merged


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != _PACKAGE or name not in MOVED_MODULES:
            return None
        new = MOVED_MODULES[name]
        modules = tuple(f"{_PACKAGE}.{m}" for m in ((new,) if isinstance(new, str) else new))
        return importlib.machinery.ModuleSpec(fullname, _MovedModuleLoader(modules))


def install_moved_modules() -> None:
    """Let the old module paths resolve (once per interpreter)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
