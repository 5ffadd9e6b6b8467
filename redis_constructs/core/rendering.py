"""Small rendering rules that more than one construct needs, each in one place."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import constructs
from cdk8s_plus_28 import k8s

from .errors import PropError

if TYPE_CHECKING:
    from .refs import SecretKeyRef

DNS_PORT = 53


@functools.lru_cache(maxsize=1024)
def quantity(value: str) -> k8s.Quantity:
    """``k8s.Quantity.from_string(value)``, created once per value and shared by every object that uses it.

    Each ``from_string`` is a round trip to jsii's Node process; a Quantity is an immutable value, so one object
    per value renders the same manifests (a synth asks for the same few dozen times: requests, limits, sizes).
    """
    return k8s.Quantity.from_string(value)


@functools.lru_cache(maxsize=1024, typed=True)
def int_or_string(value: int | str) -> k8s.IntOrString:
    """``k8s.IntOrString.from_number``/``from_string`` of ``value`` (a port number or name), like :func:`quantity`."""
    if isinstance(value, str):
        return k8s.IntOrString.from_string(value)
    return k8s.IntOrString.from_number(value)


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


def sorted_keys(value: Any) -> Any:
    """``value`` with mapping keys sorted at every level, as cdk8s renders an ApiObject (lists keep their order)."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(item) for item in value]
    return value


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


def namespace_peer(namespace: str, pod_labels: Mapping[str, str] | None = None) -> k8s.NetworkPolicyPeer:
    """A NetworkPolicy peer: the pods of ``namespace`` (by its immutable ``kubernetes.io/metadata.name`` label).

    ``pod_labels``: only the pods carrying these. Default: - every pod of the namespace.
    """
    return k8s.NetworkPolicyPeer(
        namespace_selector=k8s.LabelSelector(match_labels={"kubernetes.io/metadata.name": namespace}),
        pod_selector=k8s.LabelSelector(match_labels=dict(pod_labels)) if pod_labels is not None else None,
    )


def tcp_port(port: int) -> k8s.NetworkPolicyPort:
    """A NetworkPolicy port: TCP ``port``."""
    return k8s.NetworkPolicyPort(port=int_or_string(port), protocol="TCP")


def job_network_policy(
    scope: constructs.Construct,
    id: str,
    *,
    metadata: k8s.ObjectMeta,
    pod_labels: Mapping[str, str],
    egress: Iterable[k8s.NetworkPolicyEgressRule],
) -> k8s.KubeNetworkPolicy:
    """The NetworkPolicy of a Job's pods (``pod_labels``): nothing reaches them, and they reach ``egress`` only."""
    return k8s.KubeNetworkPolicy(
        scope,
        id,
        metadata=metadata,
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=dict(pod_labels)),
            policy_types=["Ingress", "Egress"],
            egress=list(egress),
        ),
    )


def admit_policy(
    scope: constructs.Construct,
    id: str,
    *,
    metadata: k8s.ObjectMeta,
    selected: Mapping[str, str],
    peer: k8s.NetworkPolicyPeer,
    ports: Iterable[int],
) -> k8s.KubeNetworkPolicy:
    """A NetworkPolicy by which the pods ``selected`` (e.g. Redis's) also admit ``peer`` (e.g. a Job's pods) on TCP
    ``ports``: NetworkPolicies add up, so the pods' own policy stays as it is."""
    return k8s.KubeNetworkPolicy(
        scope,
        id,
        metadata=metadata,
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(match_labels=dict(selected)),
            policy_types=["Ingress"],
            ingress=[k8s.NetworkPolicyIngressRule(from_=[peer], ports=[tcp_port(p) for p in ports])],
        ),
    )


def dns_egress_rule(namespace: str, pod_labels: Mapping[str, str]) -> k8s.NetworkPolicyEgressRule:
    """Egress to the cluster DNS pods only (``pod_labels`` in ``namespace``), UDP and TCP 53."""
    return k8s.NetworkPolicyEgressRule(
        to=[namespace_peer(namespace, pod_labels)],
        ports=[k8s.NetworkPolicyPort(port=int_or_string(DNS_PORT), protocol=p) for p in ("UDP", "TCP")],
    )
