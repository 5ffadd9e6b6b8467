"""RedisDataCopy: a Job that copies an app's old Redis into RedisShared (or back), verified, with its NetworkPolicies.

The Job runs :mod:`redis_constructs.migration.copy_program` (pure standard library, rendered into a ConfigMap) in a stock
Python image, in RedisShared's namespace, as the ``migration`` ACL user (read, RESTORE, its marker; its password
is a key of the system Secret and never leaves that namespace). The old Redis's password is a Secret in the same
namespace (created out of band from the app's own; README runbook). Passwords are mounted files: never argv, never
environment values. Four objects come with it:

* ConfigMap ``<name>-program``: the program.
* NetworkPolicy ``<name>`` (Redis namespace): the Job's pods may reach DNS, the Redis pods and the old Redis's
  pods on their ports, and nothing may reach them.
* NetworkPolicy ``<name>-ingress`` in Redis's namespace and in the old Redis's: only these pods are admitted to
  both Redis in addition to what their own policies allow.

Every object is an ArgoCD hook of the same phase (``PreSync`` for the cutover copy), the ConfigMap and policies
one hook wave before the Job, so they exist before it starts; Flux ignores the hook annotations and applies them
together (the program retries connecting while the policies take effect). The Job's name ends in a hash of its
whole rendered spec and the program: a Job's template is immutable, so a changed Job is a new Job.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import constructs
from cdk8s_plus_28 import k8s

from ..core import validation as v
from ..core.errors import PropError
from ..core.images import PYTHON_IMAGE
from ..core.job_run import JobRun
from ..core.pod_security import resources
from ..core.refs import SecretKeyRef
from ..core.rendering import dns_egress_rule, namespace_peer, secret_files_volume, tcp_port
from ..gitops.sync_annotations import ARGOCD_HOOK_PHASES, argocd_hook
from ..server.redis_shared import RedisShared

#: The program, as shipped in the package (rendered verbatim into the ConfigMap).
PROGRAM_FILE = "copy_program.py"
PROGRAM = (Path(__file__).resolve().parent / PROGRAM_FILE).read_text()
PROGRAM_DIR = "/opt/redis-shared-copy"
SECRETS_DIR = "/var/run/secrets/redis-shared-copy"
#: UID of the copy container (the Python image has no user of its own; restricted needs a non-zero one).
COPY_UID = 10002
#: Exit codes of the program that a retry cannot fix (conflict, differences, refused): the Job fails at once.
FINAL_EXIT_CODES = (2, 4, 5)


class CopyDirection(enum.Enum):
    """Which way the keys go."""

    #: The cutover: old Redis -> RedisShared, every key of database 0, conflicts refused, a completion marker.
    INTO_SHARED = "copy"
    #: The opt-in rollback: RedisShared -> old Redis, only keys matching the given patterns, overwriting.
    BACK_TO_OLD = "reverse"


@dataclass(frozen=True, kw_only=True, slots=True)
class OldRedisEndpoint:
    """The app's own Redis, as the copy Job reaches it."""

    #: Its Service's DNS name, e.g. ``beersystem-redis.beersystem.svc.cluster.local``.
    host: str
    #: Default: 6379.
    port: int = 6379
    #: Its namespace (for the NetworkPolicies).
    namespace: str
    #: Labels selecting its pods (the Deployment's ``spec.selector.matchLabels``).
    pod_labels: Mapping[str, str]
    #: Its password (``requirepass``, Redis user ``default``), as a Secret in RedisShared's namespace.
    password: SecretKeyRef


@dataclass(frozen=True, kw_only=True, slots=True)
class DataCopyJob(JobRun):
    """How the data-copy Job runs; every field has a default.

    Conflicts and differences fail the Job at once, without retries (:data:`FINAL_EXIT_CODES`). Running it twice is
    harmless: a Flux re-apply after ``ttl_seconds_after_finished`` finds the copy's marker and does nothing.
    """

    #: Default: :data:`images.PYTHON_IMAGE` (the program needs only the standard library).
    image: str = PYTHON_IMAGE
    #: Default: 3600 (from 60 to 86400); the Job fails (and the sync or Kustomization with it) after an hour.
    active_deadline_seconds: int = 3600
    #: Default: 2000; the remaining TTLs of a key on both sides may differ by this much.
    ttl_tolerance_ms: int = 2000
    #: Default: 120; how long the copy waits for the last other client to leave the source Redis.
    wait_clients_seconds: int = 120
    #: Default: 500 keys per pipelined round trip.
    batch: int = 500
    #: Default: ``("100m", "1")`` CPU request and limit.
    cpu: tuple[str, str] = ("100m", "1")
    #: Default: ``("128Mi", "512Mi")``; the key list and up to ~32 MiB of payloads (and one value of any size) are in
    #: memory at a time.
    memory: tuple[str, str] = ("128Mi", "512Mi")

    def validate(self, prop: str) -> None:
        """Check every field, naming each ``<prop>.<field>`` (the copy's construct calls it with its own prop)."""
        self.check_run(prop, deadline=(60, 86400))
        v.int_in_range(prop + ".ttl_tolerance_ms", self.ttl_tolerance_ms, 0, 60_000)
        v.int_in_range(prop + ".wait_clients_seconds", self.wait_clients_seconds, 0, 3600)
        v.int_in_range(prop + ".batch", self.batch, 1, 10_000)
        v.cpu_millis(prop + ".cpu", self.cpu[0])
        v.cpu_millis(prop + ".cpu", self.cpu[1])
        v.memory_bytes(prop + ".memory", self.memory[0])
        v.memory_bytes(prop + ".memory", self.memory[1])


#: The copy Job the bindings render unless told otherwise.
DEFAULT_DATA_COPY = DataCopyJob()


def require_migration_user(redis: RedisShared) -> None:
    """Refuse a copy for ``redis`` without its ``migration`` ACL user (the copy runs as that user)."""
    if redis.credentials.migration is None:
        raise PropError(
            "redis.credentials.migration",
            None,
            "a SecretKeyRef to the migration user's password (key migration-password of the system credentials)",
        )


class RedisDataCopy(constructs.Construct):
    """The data-copy Job between an old Redis and :class:`RedisShared`, with its program and NetworkPolicies.

    Example::

        RedisDataCopy(chart, "Copy", redis=redis, old=OldRedisEndpoint(host="beersystem-redis.beersystem.svc"
                      ".cluster.local", namespace="beersystem", pod_labels={"app.kubernetes.io/name":
                      "beersystem-redis"}, password=SecretKeyRef(name="beersystem-redis-source", key="password")),
                      name="beersystem-redis-copy", marker="redis-shared:migration:beersystem/beersystem:2026-...")
    """

    def __init__(
        self,
        scope: constructs.Construct,
        id: str,
        *,
        redis: RedisShared,
        old: OldRedisEndpoint,
        name: str,
        direction: CopyDirection = CopyDirection.INTO_SHARED,
        marker: str | None = None,
        match: Sequence[str] = (),
        hook: str = "PreSync",
        job: DataCopyJob = DEFAULT_DATA_COPY,
    ) -> None:
        """``name``: prefix of every object's name (the Job's gets ``-<hash>``).

        ``marker``: the key set in RedisShared once a copy is verified (required for INTO_SHARED); a later run that
        finds it does nothing. ``match``: SCAN patterns of the app's keys (required for BACK_TO_OLD).
        ``hook``: the ArgoCD hook phase. Default: ``"PreSync"`` (before the app is applied).
        ``job``: Default: - a :class:`DataCopyJob` with its defaults.
        """
        super().__init__(scope, id)
        v.dns_label("name", name, max_length=52)
        if not isinstance(direction, CopyDirection):
            raise PropError("direction", direction, "CopyDirection.INTO_SHARED or CopyDirection.BACK_TO_OLD")
        if direction is CopyDirection.INTO_SHARED and not marker:
            raise PropError("marker", marker, "a key name (the copy's completion marker)")
        if direction is CopyDirection.BACK_TO_OLD and not match:
            raise PropError("match", tuple(match), "at least one SCAN pattern of the app's keys (only those go back)")
        for pattern in match:
            v.text("match", pattern, max_length=200)
        if hook not in ARGOCD_HOOK_PHASES:
            raise PropError("hook", hook, "one of " + ", ".join(map(repr, ARGOCD_HOOK_PHASES)))
        v.dns_label("old.namespace", old.namespace)
        v.int_in_range("old.port", old.port, 1, 65535)
        v.label_pairs("old.pod_labels", tuple(old.pod_labels.items()))
        if not old.pod_labels:
            raise PropError("old.pod_labels", dict(old.pod_labels), "at least one label of the old Redis's pods")
        job.validate("job")
        require_migration_user(redis)
        self.redis = redis
        self.old = old
        self.name = name
        self.namespace = redis.namespace
        self.direction = direction
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "redis-data-copy"}
        self.pod_labels = labels

        def hook_meta(
            obj_name: str, namespace: str, wave: int, extra: Mapping[str, str] | None = None
        ) -> k8s.ObjectMeta:
            return k8s.ObjectMeta(
                name=obj_name,
                namespace=namespace,
                labels=labels,
                annotations={**argocd_hook(hook, wave=wave), **(extra or {})},
            )

        self.program_config_map_name = f"{name}-program"
        k8s.KubeConfigMap(
            self,
            "Program",
            metadata=hook_meta(self.program_config_map_name, self.namespace, -1),
            data={PROGRAM_FILE: PROGRAM},
        )
        dns = dns_egress_rule(redis.dns_namespace, redis.dns_pod_labels)
        k8s.KubeNetworkPolicy(
            self,
            "NetworkPolicy",
            metadata=hook_meta(name, self.namespace, -1),
            spec=k8s.NetworkPolicySpec(
                pod_selector=k8s.LabelSelector(match_labels=labels),
                policy_types=["Ingress", "Egress"],
                egress=[
                    dns,
                    k8s.NetworkPolicyEgressRule(
                        to=[namespace_peer(redis.namespace, redis.pod_labels)], ports=[tcp_port(redis.port)]
                    ),
                    k8s.NetworkPolicyEgressRule(
                        to=[namespace_peer(old.namespace, old.pod_labels)], ports=[tcp_port(old.port)]
                    ),
                ],
            ),
        )
        for cid, namespace, selected, port in (
            ("SharedIngress", redis.namespace, redis.pod_labels, redis.port),
            ("OldIngress", old.namespace, old.pod_labels, old.port),
        ):
            k8s.KubeNetworkPolicy(
                self,
                cid,
                metadata=hook_meta(f"{name}-ingress", namespace, -1),
                spec=k8s.NetworkPolicySpec(
                    pod_selector=k8s.LabelSelector(match_labels=dict(selected)),
                    policy_types=["Ingress"],
                    ingress=[
                        k8s.NetworkPolicyIngressRule(
                            from_=[namespace_peer(self.namespace, labels)], ports=[tcp_port(port)]
                        )
                    ],
                ),
            )

        shared = [
            "--target-host" if direction is CopyDirection.INTO_SHARED else "--source-host",
            redis.master_host,
            "--target-port" if direction is CopyDirection.INTO_SHARED else "--source-port",
            str(redis.port),
            "--target-user" if direction is CopyDirection.INTO_SHARED else "--source-user",
            redis.migration_username,
            "--target-password-file" if direction is CopyDirection.INTO_SHARED else "--source-password-file",
            f"{SECRETS_DIR}/shared-password",
        ]
        side = "--source" if direction is CopyDirection.INTO_SHARED else "--target"
        oldargs = [
            f"{side}-host",
            old.host,
            f"{side}-port",
            str(old.port),
            f"{side}-password-file",
            f"{SECRETS_DIR}/old-password",
        ]
        args = [
            "python3",
            f"{PROGRAM_DIR}/{PROGRAM_FILE}",
            direction.value,
            *oldargs,
            *shared,
            *(["--marker", marker] if marker else []),
            *[a for pattern in match for a in ("--match", pattern)],
            "--batch",
            str(job.batch),
            "--ttl-tolerance-ms",
            str(job.ttl_tolerance_ms),
            "--wait-clients-seconds",
            str(job.wait_clients_seconds),
        ]
        migration = redis.credentials.migration
        assert migration is not None  # checked above
        spec = job.job_spec(
            labels=labels,
            uid=COPY_UID,
            container="copy",
            command=args,
            env=[
                k8s.EnvVar(name="PYTHONDONTWRITEBYTECODE", value="1"),
                k8s.EnvVar(name="PYTHONUNBUFFERED", value="1"),
            ],
            volume_mounts=[
                k8s.VolumeMount(name="program", mount_path=PROGRAM_DIR, read_only=True),
                k8s.VolumeMount(name="credentials", mount_path=SECRETS_DIR, read_only=True),
            ],
            volumes=[
                k8s.Volume(
                    name="program",
                    config_map=k8s.ConfigMapVolumeSource(name=self.program_config_map_name, default_mode=0o444),
                ),
                secret_files_volume("credentials", {"shared-password": migration, "old-password": old.password}),
            ],
            resources=resources(cpu=job.cpu, memory=job.memory),
            pod_failure_policy=k8s.PodFailurePolicy(
                rules=[
                    k8s.PodFailurePolicyRule(
                        action="FailJob",
                        on_pod_conditions=[],
                        on_exit_codes=k8s.PodFailurePolicyOnExitCodesRequirement(
                            container_name="copy", operator="In", values=list(FINAL_EXIT_CODES)
                        ),
                    )
                ]
            ),
        )
        extra = job.checkov_skips(
            (
                ("CKV_K8S_43", "version-pinned tag; set data_copy.image_digest to pin the digest"),
                ("CKV_K8S_15", "IfNotPresent with a version-pinned tag"),
            )
        )
        self.job_name = job.hashed_name(name, spec, PROGRAM)
        k8s.KubeJob(self, "Job", metadata=hook_meta(self.job_name, self.namespace, 0, extra), spec=spec)


@dataclass(frozen=True, kw_only=True, slots=True)
class DataCopy:
    """A binding's data copy: the old Redis's password (in RedisShared's namespace) and how the Job runs."""

    #: The old Redis's password as a Secret in RedisShared's namespace (created out of band from the app's own).
    old_password: SecretKeyRef
    #: Default: - a :class:`DataCopyJob` with its defaults.
    job: DataCopyJob = DEFAULT_DATA_COPY
    #: SCAN patterns of the app's keys in RedisShared; when given, the SCALED_DOWN phase renders the opt-in reverse
    #: copy (RedisShared -> old Redis, overwriting). Default: - no reverse copy.
    reverse_match: tuple[str, ...] = ()
