"""RedisDecommissionGate: before the old Redis goes, ask Prometheus whether the time since the cutover was healthy.

A Job in the app's namespace runs :mod:`redis_constructs.migration.gate_program` (stdlib Python) against Prometheus
(kube-prometheus-stack's in the site). Over the whole time since the cutover (at least ``min_hours``) it refuses,
naming the reason, unless: Prometheus holds kube-state-metrics samples from the cutover on; a run of the app's
validation Job completed and none failed; a run of the cluster checks completed and none failed; no redis-shared
alert fired; no container of the app restarted. Prometheus unreachable refuses too (exit 3). Objects, all ArgoCD
``PreSync`` hooks (a failed PreSync hook stops the sync before anything of the new phase is applied):

* ConfigMap ``<app>-redis-gate-program`` and NetworkPolicy ``<app>-redis-gate`` (DNS and Prometheus only), wave -1;
* Job ``<app>-redis-decommission-gate-<hash>``, wave 0.

For Flux they go in the unit the app's unit depends on (the binding's ``data_copy_scope``), so the app's unit is
not applied while the gate refuses. docs/checks.md, "Decommission gate".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import constructs
from cdk8s_plus_28 import k8s

from ..core import validation as v
from ..core.errors import PropError, names_construct
from ..core.images import PYTHON_IMAGE
from ..core.job_run import JobRun
from ..core.pod_security import resources
from ..core.rendering import dns_egress_rule, namespace_peer, tcp_port
from ..gitops.sync_annotations import argocd_hook
from ..server.redis_shared import RedisShared

PROGRAM_PATH = Path(__file__).with_name("gate_program.py")
PROGRAM_DIR = "/opt/redis-shared/gate"
GATE_UID = 65534
GATE_CHECKOV_SKIPS = (
    ("CKV_K8S_43", "version-pinned tag; set decommission_gate.image_digest to pin the digest"),
    ("CKV_K8S_15", "IfNotPresent with a version-pinned tag"),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class DecommissionGate:
    """The decommission gate's settings: where Prometheus is and how the Job runs (a binding's
    ``decommission_gate``). The Job fields are :class:`~redis_constructs.core.job_run.JobRun`'s."""

    #: Prometheus's HTTP API base, e.g. ``http://kube-prometheus-stack-prometheus.monitoring.svc:9090``; nothing
    #: sensible can be computed, so it is required.
    prometheus_url: str
    #: The namespace Prometheus runs in (the gate's NetworkPolicy admits egress there). Default: ``"monitoring"``.
    prometheus_namespace: str = "monitoring"
    #: The least time since the cutover. Default: 24 (hours, from 24 to 8760).
    min_hours: float = 24.0
    #: A regex of the alert names that refuse (PromQL, fully anchored), in Redis's namespace. Default:
    #: ``"Redis.+"``, every alert the monitoring renders (each is named ``Redis…``).
    alerts: str = "Redis.+"
    #: How the Job runs. Default: - :class:`GateJobRun` with its defaults.
    job: GateJobRun | None = None

    def __post_init__(self) -> None:
        url = urllib.parse.urlsplit(self.prometheus_url) if isinstance(self.prometheus_url, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            raise PropError(
                "decommission_gate.prometheus_url",
                self.prometheus_url,
                "an http(s) URL of Prometheus, e.g. http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
            )
        v.dns_label("decommission_gate.prometheus_namespace", self.prometheus_namespace)
        v.number_in_range("decommission_gate.min_hours", self.min_hours, 24, 8760)
        v.text("decommission_gate.alerts", self.alerts, max_length=500)
        if self.job is not None:
            v.instance("decommission_gate.job", self.job, GateJobRun, "a GateJobRun")

    @property
    def prometheus_port(self) -> int:
        """The port the URL names (80/443 by scheme when it names none)."""
        url = urllib.parse.urlsplit(self.prometheus_url)
        return url.port or (443 if url.scheme == "https" else 80)

    @property
    def run(self) -> GateJobRun:
        """The Job's settings, defaults resolved."""
        return self.job or GateJobRun()


@dataclass(frozen=True, kw_only=True, slots=True)
class GateJobRun(JobRun):
    """How the gate's Job runs."""

    #: Default: :data:`images.PYTHON_IMAGE`.
    image: str = PYTHON_IMAGE
    #: Default: 120 (from 30 to 900).
    active_deadline_seconds: int = 120
    #: Default: 0 retries: a refusal is an answer, not a hiccup (Prometheus unreachable fails closed).
    backoff_limit: int = 0

    def __post_init__(self) -> None:
        self.check_run("decommission_gate.job", deadline=(30, 900))


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisDecommissionGateProps:
    """The props of :class:`RedisDecommissionGate` (the binding fills them in DECOMMISSIONED)."""

    redis: RedisShared
    #: The app's namespace and name: the Job goes there, its validation Jobs and pods are found by them.
    namespace: str
    app_name: str
    #: When CUTOVER was first deployed: the window starts here.
    cutover_time: dt.datetime
    gate: DecommissionGate

    def __post_init__(self) -> None:
        v.instance("redis", self.redis, RedisShared, "a RedisShared construct")
        v.dns_label("namespace", self.namespace)
        v.instance("gate", self.gate, DecommissionGate, "a DecommissionGate")
        if not isinstance(self.cutover_time, dt.datetime) or self.cutover_time.tzinfo is None:
            raise PropError("cutover_time", self.cutover_time, "a timezone-aware datetime")


class RedisDecommissionGate(constructs.Construct):
    """The gate's ConfigMap, NetworkPolicy and Job (see the module docstring). The Job is ``Resource``.

    Example::

        RedisDecommissionGate(chart, "DecommissionGate", RedisDecommissionGateProps(
            redis=redis, namespace="beersystem", app_name="beersystem", cutover_time=cutover,
            gate=DecommissionGate(prometheus_url="http://kube-prometheus-stack-prometheus.monitoring.svc:9090")))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: RedisDecommissionGateProps) -> None:
        super().__init__(scope, id)
        self.props = v.instance("props", props, RedisDecommissionGateProps, "a RedisDecommissionGateProps")
        gate, run, namespace = props.gate, props.gate.run, props.namespace
        app = props.app_name[:30]
        base = f"{app}-redis-gate"
        labels = {"app.kubernetes.io/name": base, "app.kubernetes.io/part-of": props.app_name}
        program = PROGRAM_PATH.read_text()
        self.config_map = k8s.KubeConfigMap(
            self,
            "Program",
            metadata=k8s.ObjectMeta(
                name=f"{base}-program", namespace=namespace, labels=labels, annotations=argocd_hook("PreSync", wave=-1)
            ),
            data={"gate_program.py": program},
        )
        self.network_policy = k8s.KubeNetworkPolicy(
            self,
            "NetworkPolicy",
            metadata=k8s.ObjectMeta(
                name=base, namespace=namespace, labels=labels, annotations=argocd_hook("PreSync", wave=-1)
            ),
            spec=k8s.NetworkPolicySpec(
                pod_selector=k8s.LabelSelector(match_labels=labels),
                policy_types=["Ingress", "Egress"],
                egress=[
                    dns_egress_rule(props.redis.dns_namespace, props.redis.dns_pod_labels),
                    k8s.NetworkPolicyEgressRule(
                        to=[namespace_peer(gate.prometheus_namespace)], ports=[tcp_port(gate.prometheus_port)]
                    ),
                ],
            ),
        )
        spec = run.job_spec(
            labels=labels,
            uid=GATE_UID,
            container="gate",
            command=["python3", f"{PROGRAM_DIR}/gate_program.py", *self.args()],
            env=[],
            volume_mounts=[k8s.VolumeMount(name="program", mount_path=PROGRAM_DIR, read_only=True)],
            volumes=[
                k8s.Volume(
                    name="program",
                    config_map=k8s.ConfigMapVolumeSource(name=f"{base}-program", default_mode=0o444),
                )
            ],
            resources=resources(cpu=("10m", "200m"), memory=("32Mi", "64Mi")),
        )
        digest = hashlib.sha256(program.encode()).hexdigest()
        self.job_name = run.hashed_name(f"{app}-redis-decommission-gate", spec, digest)
        self.job = k8s.KubeJob(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(
                name=self.job_name,
                namespace=namespace,
                labels=labels,
                annotations=argocd_hook("PreSync", wave=0) | run.checkov_skips(GATE_CHECKOV_SKIPS),
            ),
            spec=spec,
        )

    def args(self) -> list[str]:
        """The program's arguments: the window, the Jobs', pods' and alerts' selectors."""
        p = self.props
        app = p.app_name[:40]
        return [
            "--prometheus-url", p.gate.prometheus_url,
            "--cutover-time", str(int(p.cutover_time.timestamp())),
            "--min-hours", f"{p.gate.min_hours:g}",
            "--app-namespace", p.namespace,
            "--validation-jobs", f"{app}-redis-validate-[0-9a-f]{{8}}",
            # The app's Deployment pods (<name>-<template hash>-<suffix>), not the old Redis's (<name>-redis-…).
            "--app-pods", f"{p.app_name}-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}",
            "--redis-namespace", p.redis.namespace,
            "--check-jobs", f"{p.redis.name}-check-.+",
            "--alert", p.gate.alerts,
        ]  # fmt: skip
