"""GitOps: rendering for Argo CD and Flux — sync annotations, checked synthesis into dist/, the manifest and
schema checks, ``make plan``, and Flux Kustomizations. Imports only :mod:`redis_constructs.core`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_exports

if TYPE_CHECKING:
    from .bootstrap import GitopsBootstrap as GitopsBootstrap
    from .bootstrap import GitopsBootstrapProps as GitopsBootstrapProps
    from .flux import FluxUnit as FluxUnit
    from .flux import flux_kustomizations as flux_kustomizations
    from .flux import flux_split_patches as flux_split_patches
    from .manifest_checks import ExternalRefs as ExternalRefs
    from .sync_annotations import APP_SYNC_WAVE as APP_SYNC_WAVE
    from .sync_annotations import ARGOCD_HOOK as ARGOCD_HOOK
    from .sync_annotations import ARGOCD_HOOK_DELETE_POLICY as ARGOCD_HOOK_DELETE_POLICY
    from .sync_annotations import ARGOCD_HOOK_PHASES as ARGOCD_HOOK_PHASES
    from .sync_annotations import ARGOCD_SYNC_OPTIONS as ARGOCD_SYNC_OPTIONS
    from .sync_annotations import FLUX_PRUNE as FLUX_PRUNE
    from .sync_annotations import PRUNE_PROTECTION as PRUNE_PROTECTION
    from .sync_annotations import REDIS_CHART_SYNC_WAVES as REDIS_CHART_SYNC_WAVES
    from .sync_annotations import REDIS_SYNC_WAVE as REDIS_SYNC_WAVE
    from .sync_annotations import SYNC_WAVE as SYNC_WAVE
    from .sync_annotations import add_sync_waves as add_sync_waves
    from .sync_annotations import annotations_of as annotations_of
    from .sync_annotations import argocd_hook as argocd_hook
    from .sync_annotations import merged_protection as merged_protection
    from .sync_annotations import protect_from_pruning as protect_from_pruning
    from .sync_annotations import set_sync_wave as set_sync_wave
    from .synth import SynthError as SynthError
    from .synth import synthesize as synthesize

_WHERE = {
    "APP_SYNC_WAVE": ".sync_annotations",
    "ARGOCD_HOOK": ".sync_annotations",
    "ARGOCD_HOOK_DELETE_POLICY": ".sync_annotations",
    "ARGOCD_HOOK_PHASES": ".sync_annotations",
    "ARGOCD_SYNC_OPTIONS": ".sync_annotations",
    "ExternalRefs": ".manifest_checks",
    "FLUX_PRUNE": ".sync_annotations",
    "FluxUnit": ".flux",
    "GitopsBootstrap": ".bootstrap",
    "GitopsBootstrapProps": ".bootstrap",
    "PRUNE_PROTECTION": ".sync_annotations",
    "REDIS_CHART_SYNC_WAVES": ".sync_annotations",
    "REDIS_SYNC_WAVE": ".sync_annotations",
    "SYNC_WAVE": ".sync_annotations",
    "SynthError": ".synth",
    "add_sync_waves": ".sync_annotations",
    "annotations_of": ".sync_annotations",
    "argocd_hook": ".sync_annotations",
    "flux_kustomizations": ".flux",
    "flux_split_patches": ".flux",
    "merged_protection": ".sync_annotations",
    "protect_from_pruning": ".sync_annotations",
    "set_sync_wave": ".sync_annotations",
    "synthesize": ".synth",
}

__all__ = [
    "APP_SYNC_WAVE",
    "ARGOCD_HOOK",
    "ARGOCD_HOOK_DELETE_POLICY",
    "ARGOCD_HOOK_PHASES",
    "ARGOCD_SYNC_OPTIONS",
    "FLUX_PRUNE",
    "PRUNE_PROTECTION",
    "REDIS_CHART_SYNC_WAVES",
    "REDIS_SYNC_WAVE",
    "SYNC_WAVE",
    "ExternalRefs",
    "FluxUnit",
    "GitopsBootstrap",
    "GitopsBootstrapProps",
    "SynthError",
    "add_sync_waves",
    "annotations_of",
    "argocd_hook",
    "flux_kustomizations",
    "flux_split_patches",
    "merged_protection",
    "protect_from_pruning",
    "set_sync_wave",
    "synthesize",
]

__getattr__ = lazy_exports(__name__, _WHERE)
