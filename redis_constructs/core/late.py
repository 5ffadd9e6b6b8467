"""Objects built at synth time from collections that ``add_*`` methods may still extend (STYLE §15)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import constructs
from cdk8s_plus_28 import k8s


class LateNetworkPolicy(k8s.KubeNetworkPolicy):
    """A NetworkPolicy whose spec is produced again by ``spec()`` each time it is synthesized.

    Metadata (and what others add to it, e.g. sync-wave annotations) is kept; the spec always reflects the
    owner's current state, so an ``add_client_namespace`` after construction reaches the policy.
    """

    def __init__(
        self,
        scope: constructs.Construct,
        id: str,
        *,
        metadata: k8s.ObjectMeta,
        spec: Callable[[], k8s.NetworkPolicySpec],
    ) -> None:
        super().__init__(scope, id, metadata=metadata, spec=spec())
        self._spec = spec

    def to_json(self) -> Any:
        """The manifest with the spec as of now."""
        manifest = super().to_json()
        manifest["spec"] = _sort_keys(k8s.KubeNetworkPolicy.manifest(spec=self._spec())["spec"])
        return manifest


def _sort_keys(value: Any) -> Any:
    """Keys sorted at every level, as ``ApiObject.to_json`` renders them (lists keep their order)."""
    if isinstance(value, dict):
        return {k: _sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sort_keys(item) for item in value]
    return value
