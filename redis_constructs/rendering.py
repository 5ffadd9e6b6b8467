"""Small rendering rules that more than one construct needs, each in one place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from cdk8s_plus_28 import k8s

from .errors import PropError

if TYPE_CHECKING:
    from .redis_props import SecretKeyRef

DNS_PORT = 53


def secret_files_volume(name: str, files: Mapping[str, SecretKeyRef]) -> k8s.Volume:
    """A projected volume ``name`` holding each Secret key of ``files`` (mounted file name -> key), mode 0440.

    One projection per Secret (in name order), its keys in the order ``files`` gives them.
    """
    by_secret: dict[str, list[k8s.KeyToPath]] = {}
    for path, ref in files.items():
        by_secret.setdefault(ref.name, []).append(k8s.KeyToPath(key=ref.key, path=path))
    return k8s.Volume(
        name=name,
        projected=k8s.ProjectedVolumeSource(
            default_mode=0o440,
            sources=[
                k8s.VolumeProjection(secret=k8s.SecretProjection(name=secret, items=items))
                for secret, items in sorted(by_secret.items())
            ],
        ),
    )


def image_ref(image: str, digest: str | None) -> str:
    """``image@digest`` when a digest is pinned, else the (version-pinned) ``image`` itself."""
    return f"{image}@{digest}" if digest else image


def checkov_skip_annotations(skips: Iterable[tuple[str, str]]) -> dict[str, str]:
    """checkov's inline skips ``checkov.io/skip<n>: <check_id>=<reason>`` for ``(check_id, reason)`` pairs.

    Each exception sits on the object it excuses, so ``make checkov`` stays at 0 failed checks.
    """
    out: dict[str, str] = {}
    for n, (check_id, reason) in enumerate(skips, start=1):
        if "=" in reason:
            raise PropError("reason", reason, "no '=' (checkov splits on it)")
        out[f"checkov.io/skip{n}"] = f"{check_id}={reason}"
    return out


def dns_egress_rule(namespace: str, pod_labels: Mapping[str, str]) -> k8s.NetworkPolicyEgressRule:
    """Egress to the cluster DNS pods only (``pod_labels`` in ``namespace``), UDP and TCP 53."""
    return k8s.NetworkPolicyEgressRule(
        to=[
            k8s.NetworkPolicyPeer(
                namespace_selector=k8s.LabelSelector(match_labels={"kubernetes.io/metadata.name": namespace}),
                pod_selector=k8s.LabelSelector(match_labels=dict(pod_labels)),
            )
        ],
        ports=[k8s.NetworkPolicyPort(port=k8s.IntOrString.from_number(DNS_PORT), protocol=p) for p in ("UDP", "TCP")],
    )
