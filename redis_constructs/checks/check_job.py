"""RedisChecks: the checks of every success criterion on the live cluster, after each sync and on a schedule.

A Job in Redis's namespace runs :mod:`redis_constructs.checks.check_program` (``cluster`` mode: stdlib Python, one
line per check with its measured figure, exit 1 on any failure) as the ``check`` ACL user, which is confined to
``redis-shared:check:*`` (its password mounted as a file, never in argv or the environment). Objects:

* ConfigMap ``<name>-check-program``: the program, one file.
* NetworkPolicy ``<name>-check``: the check pods reach DNS and the Redis pods on the Redis port, the TLS port and
  the exporter's port; nothing reaches them.
* NetworkPolicy ``<name>-check-ingress``: admits the check pods to the Redis pods on those ports (NetworkPolicies
  add up, so the Redis pods' own policy stays as it is).
* Job ``<name>-check-<hash>``: an ArgoCD ``PostSync`` hook (BeforeHookCreation: the last run stays visible until
  the next sync; a failed hook fails the sync). For Flux it is a plain Job in the unit that applies the primary's
  StatefulSet (``wait: true``: the unit is Ready only once the checks passed). The hash covers the Job's spec, the
  program, the credentials' version and every other object of the chart (computed at synth, STYLE 15), so any
  change to redis-shared gives a new Job, which Flux runs.
* CronJob ``<name>-check-scheduled`` (only with ``schedule``): the same pod on a schedule, so drift between syncs
  shows (alerts ``RedisCheckFailed``/``RedisCheckStale``, :mod:`redis_constructs.monitoring.check_alerts`).

docs/checks.md says what each line means.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cdk8s
import constructs
from cdk8s_plus_28 import k8s

from ..core import validation as v
from ..core.errors import PropError, names_construct
from ..core.images import PYTHON_IMAGE
from ..core.job_run import JobRun
from ..core.pod_security import resources
from ..core.rendering import admit_policy, dns_egress_rule, job_network_policy, namespace_peer, tcp_port
from ..gitops.sync_annotations import argocd_hook
from ..server.names import METRICS_PORT
from ..server.redis_conf import CHECK_KEY_PREFIX, Role
from ..server.redis_shared import RedisShared
from ..server.tls import TLS_CA_DIR
from ..server.tls import secret_name as tls_secret_name

#: The program as one file (it imports nothing of this package): what the ConfigMap holds and the Job runs.
PROGRAM_PATH = Path(__file__).with_name("check_program.py")
PROGRAM_DIR = "/opt/redis-shared/check"
PASSWORD_DIR = "/var/run/secrets/redis-shared"
#: The python image's ``nobody``: the program needs no identity of its own.
CHECK_UID = 65534
#: checkov checks the check Job skips while its image has no digest (docs/development.md#policy-checks-checkov).
CHECK_JOB_CHECKOV_SKIPS = (
    ("CKV_K8S_43", "version-pinned tag; set run.image_digest to pin the digest"),
    ("CKV_K8S_15", "IfNotPresent with a version-pinned tag"),
)
#: What the load check needs: measured at 28 MiB RSS and far above 10k ops/s on one core (docs/checks.md); a CPU
#: limit near 100m could miss 10k ops/s for reasons that are not Redis's.
CHECK_RESOURCES = {"cpu": ("250m", "1"), "memory": ("64Mi", "128Mi")}


def program_text() -> str:
    """The check program's source, as the ConfigMap carries it."""
    return PROGRAM_PATH.read_text()


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckJobRun(JobRun):
    """How the check Job (and the scheduled CronJob) runs, and the bounds each check holds the cluster to."""

    #: Default: :data:`images.PYTHON_IMAGE` (the program is stdlib Python).
    image: str = PYTHON_IMAGE
    #: Default: 120 (from 30 to 900): the checks take ~10 s; the rest is waiting for Redis after a rollout.
    active_deadline_seconds: int = 120
    #: Default: 1 retry: a check that fails twice is a finding, not a hiccup.
    backoff_limit: int = 1
    #: A cron schedule for the CronJob ``<name>-check-scheduled``. Default: - no CronJob (checks after syncs only).
    schedule: str | None = None
    #: The name (or IP address) the TLS certificate must carry, as LAN clients dial it. Default: - the
    #: LoadBalancer's IP when Redis has one, else its master host.
    tls_name: str | None = None
    #: SC-001: the load check's least ops/s. Default: 10000 (from 1 to 10,000,000).
    min_ops_per_second: int = 10_000
    #: SC-006: the load check's largest p95 latency in ms. Default: 10 (from 0.01 to 10,000).
    max_p95_ms: float = 10.0
    #: How long the load runs. Default: 3 (seconds, from 1 to 30).
    load_seconds: float = 3.0
    #: How long a write may take to show on the replicas. Default: 2 (seconds, from 0.1 to 60).
    replication_seconds: float = 2.0
    #: The largest replica lag the primary may report. Default: 10 (seconds, from 0 to 3600).
    max_lag_seconds: int = 10

    def __post_init__(self) -> None:
        self.check_run("run", deadline=(30, 900))
        if self.schedule is not None:
            v.cron_schedule("run.schedule", self.schedule)
        if self.tls_name is not None:
            v.text("run.tls_name", self.tls_name, max_length=253)
        v.int_in_range("run.min_ops_per_second", self.min_ops_per_second, 1, 10_000_000)
        v.number_in_range("run.max_p95_ms", self.max_p95_ms, 0.01, 10_000)
        v.number_in_range("run.load_seconds", self.load_seconds, 1, 30)
        v.number_in_range("run.replication_seconds", self.replication_seconds, 0.1, 60)
        v.int_in_range("run.max_lag_seconds", self.max_lag_seconds, 0, 3600)


#: How the checks run unless told otherwise: after every sync only.
DEFAULT_CHECK_RUN = CheckJobRun()


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisChecksProps:
    """The props of :class:`RedisChecks`, checked when built."""

    #: The RedisShared to check; its ``credentials.check`` must be set (the ``check`` user exists only then).
    redis: RedisShared
    #: How the Job runs. Default: :data:`DEFAULT_CHECK_RUN`.
    run: CheckJobRun = field(default=DEFAULT_CHECK_RUN)

    def __post_init__(self) -> None:
        v.instance("redis", self.redis, RedisShared, "a RedisShared construct")
        v.instance("run", self.run, CheckJobRun, "a CheckJobRun")
        if self.redis.check_password is None:
            raise PropError(
                "redis",
                self.redis.node.path,
                "a RedisShared whose credentials.check is set (the check user exists only then: add key "
                "check-password to the system credentials)",
            )


class _LateNamedJob(k8s.KubeJob):
    """A Job whose name is ``<base>-<hash>``, the hash covering its spec, ``inputs`` and, at synth, every other
    object of its chart (so a change anywhere in redis-shared gives a new Job; see the module docstring)."""

    def __init__(self, scope: constructs.Construct, id: str, *, base: str, inputs: tuple[str, ...], **kw: Any) -> None:
        super().__init__(scope, id, **kw)
        self._base = base
        self._inputs = inputs

    def chart_digest(self) -> str:
        """SHA-256 over every other object of the chart as rendered now (Jobs and CronJobs left out)."""
        h = hashlib.sha256()
        # Chart.api_objects comes back empty through jsii; the construct tree holds them all.
        for node in cdk8s.Chart.of(self).node.find_all():
            if isinstance(node, cdk8s.ApiObject) and node.kind not in ("Job", "CronJob"):
                h.update(json.dumps(node.to_json(), sort_keys=True, separators=(",", ":")).encode())
        return h.hexdigest()

    def rendered_name(self) -> str:
        """The name as rendered now (it changes with anything in the chart)."""
        return str(self.to_json()["metadata"]["name"])

    def to_json(self) -> Any:
        """The manifest, named after its spec, the inputs and the chart as of now."""
        manifest = super().to_json()
        text = json.dumps(manifest["spec"], sort_keys=True, separators=(",", ":")) + "".join(
            "\n" + i for i in (*self._inputs, self.chart_digest())
        )
        manifest["metadata"]["name"] = f"{self._base}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
        return manifest


class RedisChecks(constructs.Construct):
    """The check program, its NetworkPolicies, the post-sync Job and the optional CronJob (module docstring).

    Put it in Redis's chart: the Job's name covers that chart's objects. The Job is ``Resource``.

    Example::

        RedisChecks(chart, "Checks", RedisChecksProps(redis=redis, run=CheckJobRun(schedule="17 * * * *")))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: RedisChecksProps) -> None:
        """Render the ConfigMap, the two NetworkPolicies, the Job and (with a schedule) the CronJob."""
        super().__init__(scope, id)
        self.props = v.instance("props", props, RedisChecksProps, "a RedisChecksProps")
        redis, run = props.redis, props.run
        ref = redis.check_password
        assert ref is not None  # RedisChecksProps checked it
        namespace = redis.namespace
        base = f"{redis.name}-check"
        labels = {"app.kubernetes.io/name": base, "app.kubernetes.io/part-of": redis.name}
        #: The prefix of every Job the checks run: the post-sync Jobs and the CronJob's (the gate matches it).
        self.job_prefix = base + "-"
        self.program_config_map_name = f"{base}-program"
        self.cronjob_name = f"{base}-scheduled" if run.schedule else None
        self.tls_name = run.tls_name or redis.load_balancer_ip or redis.master_host
        ports = [redis.port, *([redis.tls_port] if redis.tls_port else []), METRICS_PORT]
        program = program_text()

        self.config_map = k8s.KubeConfigMap(
            self,
            "Program",
            metadata=k8s.ObjectMeta(name=self.program_config_map_name, namespace=namespace, labels=labels),
            data={"check_program.py": program},
        )
        self.network_policy = job_network_policy(
            self,
            "NetworkPolicy",
            metadata=k8s.ObjectMeta(name=base, namespace=namespace, labels=labels),
            pod_labels=labels,
            egress=[
                dns_egress_rule(redis.dns_namespace, redis.dns_pod_labels),
                k8s.NetworkPolicyEgressRule(
                    to=[namespace_peer(namespace, redis.pod_labels)], ports=[tcp_port(p) for p in ports]
                ),
            ],
        )
        self.ingress_policy = admit_policy(
            self,
            "RedisIngress",
            metadata=k8s.ObjectMeta(name=f"{base}-ingress", namespace=namespace, labels=labels),
            selected=redis.pod_labels,
            peer=k8s.NetworkPolicyPeer(pod_selector=k8s.LabelSelector(match_labels=labels)),
            ports=ports,
        )
        spec = run.job_spec(
            labels=labels,
            uid=CHECK_UID,
            container="check",
            command=["python3", f"{PROGRAM_DIR}/check_program.py", "cluster", *self.args()],
            env=[],
            volume_mounts=[
                k8s.VolumeMount(name="program", mount_path=PROGRAM_DIR, read_only=True),
                k8s.VolumeMount(name="credentials", mount_path=PASSWORD_DIR, read_only=True),
                *([k8s.VolumeMount(name="tls-ca", mount_path=TLS_CA_DIR, read_only=True)] if redis.tls else []),
            ],
            volumes=[
                k8s.Volume(
                    name="program",
                    config_map=k8s.ConfigMapVolumeSource(name=self.program_config_map_name, default_mode=0o444),
                ),
                k8s.Volume(
                    name="credentials",
                    secret=k8s.SecretVolumeSource(
                        secret_name=ref.name, default_mode=0o440, items=[k8s.KeyToPath(key=ref.key, path="password")]
                    ),
                ),
                # Only ca.crt of the TLS Secret: the check verifies the certificate, it never needs the key.
                *(
                    [
                        k8s.Volume(
                            name="tls-ca",
                            secret=k8s.SecretVolumeSource(
                                secret_name=tls_secret_name(redis.tls, redis.name),
                                default_mode=0o444,
                                items=[k8s.KeyToPath(key="ca.crt", path="ca.crt")],
                            ),
                        )
                    ]
                    if redis.tls
                    else []
                ),
            ],
            resources=resources(cpu=CHECK_RESOURCES["cpu"], memory=CHECK_RESOURCES["memory"]),
        )
        annotations = argocd_hook("PostSync") | run.checkov_skips(CHECK_JOB_CHECKOV_SKIPS)
        program_digest = hashlib.sha256(program.encode()).hexdigest()
        self.job = _LateNamedJob(
            self,
            "Resource",
            base=base,
            inputs=(program_digest, redis.credentials.version),
            metadata=k8s.ObjectMeta(name=base, namespace=namespace, labels=labels, annotations=annotations),
            spec=spec,
        )
        self.cronjob: k8s.KubeCronJob | None = None
        if run.schedule:
            self.cronjob = k8s.KubeCronJob(
                self,
                "Scheduled",
                metadata=k8s.ObjectMeta(
                    name=self.cronjob_name,
                    namespace=namespace,
                    labels=labels,
                    annotations=run.checkov_skips(CHECK_JOB_CHECKOV_SKIPS),
                ),
                spec=k8s.CronJobSpec(
                    schedule=run.schedule,
                    concurrency_policy="Forbid",
                    starting_deadline_seconds=600,
                    successful_jobs_history_limit=1,
                    failed_jobs_history_limit=1,
                    job_template=k8s.JobTemplateSpec(metadata=k8s.ObjectMeta(labels=labels), spec=spec),
                ),
            )

    @property
    def job_name(self) -> str:
        """The post-sync Job's name as rendered now (``<name>-check-<hash>``)."""
        return self.job.rendered_name()

    def flux_objects(self) -> tuple[tuple[str, str], ...]:
        """``(kind, name)`` of every object here, for ``flux_split_patches(after=...)`` (the unit that waits)."""
        out = [
            ("ConfigMap", self.program_config_map_name),
            ("NetworkPolicy", str(self.network_policy.name)),
            ("NetworkPolicy", str(self.ingress_policy.name)),
            ("Job", self.job_name),
        ]
        if self.cronjob_name:
            out.append(("CronJob", self.cronjob_name))
        return tuple(out)

    def args(self) -> list[str]:
        """The program's arguments (``cluster`` mode), from Redis's names and the run's bounds."""
        redis, run = self.props.redis, self.props.run
        out = [
            "--master-host", redis.master_host,
            "--replicas-host", redis.replicas_host,
            "--port", str(redis.port),
        ]  # fmt: skip
        if redis.tls_port:
            out += ["--tls-port", str(redis.tls_port), "--ca-file", f"{TLS_CA_DIR}/ca.crt", "--tls-name", self.tls_name]
        out += [
            "--user", redis.check_username,
            "--password-file", f"{PASSWORD_DIR}/password",
            "--key-prefix", CHECK_KEY_PREFIX,
            "--replicas", str(redis.replicas),
            "--replication-seconds", f"{run.replication_seconds:g}",
            "--max-lag-seconds", str(run.max_lag_seconds),
        ]  # fmt: skip
        hosts = [redis.names.pod_host(Role.PRIMARY, 0)]
        hosts += [redis.names.pod_host(Role.REPLICA, i) for i in range(redis.replicas)]
        for host in hosts:
            out += ["--exporter-url", f"http://{host}:{METRICS_PORT}/metrics"]
        out += [
            "--load-seconds", f"{run.load_seconds:g}",
            "--min-ops", str(run.min_ops_per_second),
            "--max-p95-ms", f"{run.max_p95_ms:g}",
        ]  # fmt: skip
        return out
