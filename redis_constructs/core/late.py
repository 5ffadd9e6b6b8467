"""Objects built at synth time from collections that ``add_*`` methods may still extend (STYLE §15)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import constructs
from cdk8s_plus_28 import k8s

from .rendering import sorted_keys


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
        manifest["spec"] = sorted_keys(k8s.KubeNetworkPolicy.manifest(spec=self._spec())["spec"])
        return manifest
