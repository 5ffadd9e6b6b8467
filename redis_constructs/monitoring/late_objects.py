"""Monitoring objects built at synth from the RedisShared's tenants, so a tenant added late reaches them (STYLE §15).

Each keeps the metadata given at construction (and what others add to it) and produces its body again in
``to_json`` from a callable, like :class:`redis_constructs.core.late.LateNetworkPolicy`. None of them is on a pod
template: a tenant added late changes these objects, never a Redis pod.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import constructs
from cdk8s import ApiObjectMetadata
from cdk8s_plus_28 import k8s

from .._imports.com.coreos import monitoring as prom
from ..core.rendering import sorted_keys


class LateServiceMonitor(prom.ServiceMonitor):  # type: ignore[misc]  # the generated CRD module is untyped
    """A ServiceMonitor whose spec is ``spec()`` as of synth (the key-count endpoint follows the tenants)."""

    def __init__(
        self,
        scope: constructs.Construct,
        id: str,
        *,
        metadata: ApiObjectMetadata,
        spec: Callable[[], prom.ServiceMonitorSpec],
    ) -> None:
        super().__init__(scope, id, metadata=metadata, spec=spec())
        self._spec = spec

    def to_json(self) -> Any:
        """The manifest with the spec as of now."""
        manifest = super().to_json()
        manifest["spec"] = sorted_keys(prom.ServiceMonitor.manifest(spec=self._spec())["spec"])
        return manifest


class LatePrometheusRule(prom.PrometheusRule):  # type: ignore[misc]  # the generated CRD module is untyped
    """A PrometheusRule whose spec is ``spec()`` as of synth (the tenant rules follow the tenants)."""

    def __init__(
        self,
        scope: constructs.Construct,
        id: str,
        *,
        metadata: ApiObjectMetadata,
        spec: Callable[[], prom.PrometheusRuleSpec],
    ) -> None:
        super().__init__(scope, id, metadata=metadata, spec=spec())
        self._spec = spec

    def to_json(self) -> Any:
        """The manifest with the spec as of now."""
        manifest = super().to_json()
        manifest["spec"] = sorted_keys(prom.PrometheusRule.manifest(spec=self._spec())["spec"])
        return manifest


class LateConfigMap(k8s.KubeConfigMap):
    """A ConfigMap whose ``data`` is ``data()`` as of synth (the dashboard's tenant rows follow the tenants)."""

    def __init__(
        self,
        scope: constructs.Construct,
        id: str,
        *,
        metadata: k8s.ObjectMeta,
        data: Callable[[], Mapping[str, str]],
    ) -> None:
        super().__init__(scope, id, metadata=metadata, data=data())
        self._data = data

    def to_json(self) -> Any:
        """The manifest with the data as of now."""
        manifest = super().to_json()
        manifest["data"] = sorted_keys(dict(self._data()))
        return manifest
