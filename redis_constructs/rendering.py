"""Small rendering rules that more than one construct needs, each in one place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cdk8s_plus_28 import k8s

from .errors import PropError

DNS_PORT = 53


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
