"""Run rendered Kubernetes pods as local processes (netns per pod, mount ns per container).

See ``runner.py`` for what is emulated. Public API: ``Cluster``, ``Pod``, ``Container``, ``PodError``,
``ManifestError``, ``load_manifests``, ``b64``.
"""

from __future__ import annotations

from .host import HOST_IP, PREFIX, HostError, MemoryStats
from .k8s import ManifestError, cpu_cores, memory_bytes, parse_quantity
from .runner import Cluster, Container, Pod, PodError, b64, k8s_exit_code, load_manifests, log_to

__all__ = [
    "HOST_IP",
    "PREFIX",
    "Cluster",
    "Container",
    "HostError",
    "ManifestError",
    "MemoryStats",
    "Pod",
    "PodError",
    "b64",
    "cpu_cores",
    "k8s_exit_code",
    "load_manifests",
    "log_to",
    "memory_bytes",
    "parse_quantity",
]
