"""RedisDataCopy: a Job that copies an app's old Redis into RedisShared (or back), verified, with its NetworkPolicies.

The Job runs :mod:`redis_constructs.migration.copy_program` (pure standard library, rendered into a ConfigMap) in a stock
Python image, in RedisShared's namespace, as the ``migration`` ACL user (read, RESTORE, its marker; its password
is a key of the system Secret and never leaves that namespace). The old Redis's password is a Secret in the same
namespace (created out of band from the app's own; docs/migration.md#before-you-start). Passwords are mounted files: never argv, never
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

Three records and a construct, named by what each is (until #18 they were ``DataCopy``, ``DataCopyJob`` and
``RedisDataCopy`` with no props, three names a reader could not tell apart):

* :class:`BindingDataCopy` (was ``DataCopy``): what a binding is asked to copy — the old Redis's password, the
  patterns of the opt-in reverse copy, how the Job runs. The binding works out the rest (endpoint, name, marker).
* :class:`DataCopyJobRun` (was ``DataCopyJob``): how the Job runs (image, deadline, batch size, resources), a
  :class:`~redis_constructs.core.job_run.JobRun` like the validation Job's ``ValidationJobRun``.
* :class:`RedisDataCopyProps`: everything :class:`RedisDataCopy`, the construct, renders from.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import constructs
from cdk8s_plus_28 import k8s

from ..core import validation as v
from ..core.errors import PropError, names_construct
from ..core.images import PYTHON_IMAGE
from ..core.job_run import JobRun, fail_on_exit_codes
from ..core.pod_security import resources
from ..core.refs import SecretKeyRef
from ..core.rendering import (
    admit_policy,
    dns_egress_rule,
    job_network_policy,
    namespace_peer,
    secret_files_volume,
    tcp_port,
)
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
class DataCopyJobRun(JobRun):
    """How the data-copy Job runs; every field has a default.

    Conflicts and differences fail the Job at once, without retries (:data:`FINAL_EXIT_CODES`). Running it twice is
    harmless: a Flux re-apply after ``ttl_seconds_after_finished`` finds the copy's marker and does nothing.
    Checked by whoever uses it (:meth:`validate`), so each error names the prop it came in (``data_copy.job`` of a
    binding, ``job`` of :class:`RedisDataCopyProps`).
    """

    #: Default: :data:`images.PYTHON_IMAGE` (the program needs only the standard library).
    image: str = PYTHON_IMAGE
    #: Default: 3600 (from 60 to 86400); the Job fails (and the sync or Kustomization with it) after an hour.
    active_deadline_seconds: int = 3600
    #: Default: 2000; the remaining TTLs of a key on both sides may differ by this much.
    ttl_tolerance_ms: int = 2000
    #: Default: 120; how long the copy waits for the last other client to leave the source Redis.
    wait_clients_seconds: int = 120
    #: Default: 500 keys per SCAN page (the copy's unit of work) and per conflict-check round trip.
    batch: int = 500
    #: Default: ``("100m", "1")`` CPU request and limit.
    cpu: tuple[str, str] = ("100m", "1")
    #: Default: ``("128Mi", "512Mi")``; the copy streams: a few groups of at most 4 MiB of payloads (and one value of
    #: any size) are in memory at a time, whatever the key count (a million keys peak at about 13 MiB).
    memory: tuple[str, str] = ("128Mi", "512Mi")

    def validate(self, prop: str) -> None:
        """Check every field, naming each ``<prop>.<field>`` (the copy's construct calls it with its own prop)."""
        self.check_run(prop, deadline=(60, 86400))
        v.int_in_range(prop + ".ttl_tolerance_ms", self.ttl_tolerance_ms, 0, 60_000)
        v.int_in_range(prop + ".wait_clients_seconds", self.wait_clients_seconds, 0, 3600)
        v.int_in_range(prop + ".batch", self.batch, 1, 10_000)
        for cpu in v.string_pair(
            prop + ".cpu", self.cpu, "a (request, limit) pair of CPU quantities, e.g. ('100m', '1')"
        ):
            v.cpu_millis(prop + ".cpu", cpu)
        memory = v.string_pair(
            prop + ".memory", self.memory, "a (request, limit) pair of memory quantities, e.g. ('128Mi', '512Mi')"
        )
        for quantity in memory:
            v.memory_bytes(prop + ".memory", quantity)


#: How the copy Job runs unless told otherwise.
DEFAULT_DATA_COPY_RUN = DataCopyJobRun()


def require_migration_user(redis: RedisShared) -> None:
    """Refuse a copy for ``redis`` without its ``migration`` ACL user (the copy runs as that user)."""
    if redis.credentials.migration is None:
        raise PropError(
            "redis.credentials.migration",
            None,
            "a SecretKeyRef to the migration user's password (key migration-password of the system credentials)",
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisDataCopyProps:
    """The props of :class:`RedisDataCopy`, checked when built."""

    #: The RedisShared on one side of the copy; it needs its ``migration`` ACL user (``credentials.migration``).
    redis: RedisShared
    #: The app's own Redis on the other side.
    old: OldRedisEndpoint
    #: Prefix of every object's name (the Job's gets ``-<hash>``); an RFC 1123 label of at most 52 characters.
    name: str
    #: Which way the keys go. Default: ``CopyDirection.INTO_SHARED`` (old Redis -> RedisShared).
    direction: CopyDirection = CopyDirection.INTO_SHARED
    #: The key set in RedisShared once a copy is verified; a later run that finds it does nothing. Required for
    #: INTO_SHARED. Default: - none (a BACK_TO_OLD copy sets no marker).
    marker: str | None = None
    #: SCAN patterns of the app's keys; only those go back. Required for BACK_TO_OLD. Default: - none (INTO_SHARED
    #: copies every key of database 0).
    match: tuple[str, ...] = ()
    #: INTO_SHARED for a key-confined tenant (``Tenant.key_prefix``): every key copied must start with it (the
    #: copy refuses, exit 5, before writing anything) and so must ``marker``. Default: - every key.
    tenant_prefix: str | None = None
    #: The ArgoCD hook phase of every object. Default: ``"PreSync"`` (before the app is applied).
    hook: str = "PreSync"
    #: How the Job runs. Default: :data:`DEFAULT_DATA_COPY_RUN` (a :class:`DataCopyJobRun` with its defaults).
    job: DataCopyJobRun = DEFAULT_DATA_COPY_RUN

    def __post_init__(self) -> None:
        v.dns_label("name", self.name, max_length=52)
        if not isinstance(self.direction, CopyDirection):
            raise PropError("direction", self.direction, "CopyDirection.INTO_SHARED or CopyDirection.BACK_TO_OLD")
        if self.direction is CopyDirection.INTO_SHARED and not self.marker:
            raise PropError("marker", self.marker, "a key name (the copy's completion marker)")
        patterns = v.items("match", self.match, "a tuple of SCAN patterns")
        if self.direction is CopyDirection.BACK_TO_OLD and not patterns:
            raise PropError(
                "match", tuple(self.match), "at least one SCAN pattern of the app's keys (only those go back)"
            )
        for pattern in patterns:
            v.text("match", pattern, max_length=200)  # type: ignore[arg-type]
        if self.tenant_prefix is not None:
            v.text("tenant_prefix", self.tenant_prefix, max_length=64)
            if self.direction is not CopyDirection.INTO_SHARED:
                raise PropError("tenant_prefix", self.tenant_prefix, "None for a BACK_TO_OLD copy")
            if not (self.marker or "").startswith(self.tenant_prefix):
                raise PropError("marker", self.marker, f"a key under the tenant prefix {self.tenant_prefix!r}")
        if self.hook not in ARGOCD_HOOK_PHASES:
            raise PropError("hook", self.hook, "one of " + ", ".join(map(repr, ARGOCD_HOOK_PHASES)))
        old = v.instance("old", self.old, OldRedisEndpoint, "an OldRedisEndpoint")
        v.dns_label("old.namespace", old.namespace)
        v.int_in_range("old.port", old.port, 1, 65535)
        if not isinstance(old.pod_labels, Mapping):
            raise PropError("old.pod_labels", old.pod_labels, "a mapping of label key to value, e.g. {'app': 'redis'}")
        v.label_pairs("old.pod_labels", tuple(old.pod_labels.items()))
        if not old.pod_labels:
            raise PropError("old.pod_labels", dict(old.pod_labels), "at least one label of the old Redis's pods")
        v.instance("job", self.job, DataCopyJobRun, "a DataCopyJobRun").validate("job")
        require_migration_user(v.instance("redis", self.redis, RedisShared, "a RedisShared construct"))


def copy_command(props: RedisDataCopyProps) -> list[str]:
    """The Job's argv: the program, the direction, both Redis (passwords as mounted files), the marker or patterns."""
    redis, old, into = props.redis, props.old, props.direction is CopyDirection.INTO_SHARED
    shared = [
        "--target-host" if into else "--source-host",
        redis.master_host,
        "--target-port" if into else "--source-port",
        str(redis.port),
        "--target-user" if into else "--source-user",
        redis.migration_username,
        "--target-password-file" if into else "--source-password-file",
        f"{SECRETS_DIR}/shared-password",
    ]
    side = "--source" if into else "--target"
    oldargs = [
        f"{side}-host",
        old.host,
        f"{side}-port",
        str(old.port),
        f"{side}-password-file",
        f"{SECRETS_DIR}/old-password",
    ]
    return [
        "python3",
        f"{PROGRAM_DIR}/{PROGRAM_FILE}",
        props.direction.value,
        *oldargs,
        *shared,
        *(["--marker", props.marker] if props.marker else []),
        *(["--tenant-prefix", props.tenant_prefix] if props.tenant_prefix else []),
        *[a for pattern in props.match for a in ("--match", pattern)],
        "--batch",
        str(props.job.batch),
        "--ttl-tolerance-ms",
        str(props.job.ttl_tolerance_ms),
        "--wait-clients-seconds",
        str(props.job.wait_clients_seconds),
    ]


class RedisDataCopy(constructs.Construct):
    """The data-copy Job between an old Redis and :class:`RedisShared`, with its program and NetworkPolicies.

    Children, in this order (ids are API): ``Program`` (the ConfigMap), ``NetworkPolicy`` (the Job's pods),
    ``SharedIngress`` and ``OldIngress`` (what admits them to each Redis), ``Job``.

    Example::

        RedisDataCopy(chart, "Copy", RedisDataCopyProps(
            redis=redis,
            old=OldRedisEndpoint(host="beersystem-redis.beersystem.svc.cluster.local", namespace="beersystem",
                                 pod_labels={"app.kubernetes.io/name": "beersystem-redis"},
                                 password=SecretKeyRef(name="beersystem-redis-source", key="password")),
            name="beersystem-redis-copy", marker="redis-shared:migration:beersystem/beersystem:2026-..."))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: RedisDataCopyProps) -> None:
        """Render the program, the three NetworkPolicies, then the Job."""
        super().__init__(scope, id)
        self.props = v.instance("props", props, RedisDataCopyProps, "a RedisDataCopyProps")
        self.redis = props.redis
        self.old = props.old
        self.name = props.name
        self.namespace = props.redis.namespace
        self.direction = props.direction
        self.pod_labels = {"app.kubernetes.io/name": props.name, "app.kubernetes.io/component": "redis-data-copy"}
        self.program_config_map_name = f"{props.name}-program"
        self._add_program()
        self._add_network_policy()
        self._add_ingress_policies()
        self.job_name = self._add_job()

    def _meta(self, name: str, namespace: str, wave: int, extra: Mapping[str, str] | None = None) -> k8s.ObjectMeta:
        """Every object is an ArgoCD hook of the copy's phase; the Job one wave after the rest."""
        return k8s.ObjectMeta(
            name=name,
            namespace=namespace,
            labels=self.pod_labels,
            annotations={**argocd_hook(self.props.hook, wave=wave), **(extra or {})},
        )

    def _add_program(self) -> None:
        k8s.KubeConfigMap(
            self,
            "Program",
            metadata=self._meta(self.program_config_map_name, self.namespace, -1),
            data={PROGRAM_FILE: PROGRAM},
        )

    def _add_network_policy(self) -> None:
        """The Job's pods reach DNS and both Redis on their ports; nothing reaches them."""
        redis, old = self.redis, self.old
        job_network_policy(
            self,
            "NetworkPolicy",
            metadata=self._meta(self.name, self.namespace, -1),
            pod_labels=self.pod_labels,
            egress=[
                dns_egress_rule(redis.dns_namespace, redis.dns_pod_labels),
                k8s.NetworkPolicyEgressRule(
                    to=[namespace_peer(redis.namespace, redis.pod_labels)], ports=[tcp_port(redis.port)]
                ),
                k8s.NetworkPolicyEgressRule(
                    to=[namespace_peer(old.namespace, old.pod_labels)], ports=[tcp_port(old.port)]
                ),
            ],
        )

    def _add_ingress_policies(self) -> None:
        """Each Redis admits the Job's pods, in addition to what its own policies allow."""
        redis, old = self.redis, self.old
        for cid, namespace, selected, port in (
            ("SharedIngress", redis.namespace, redis.pod_labels, redis.port),
            ("OldIngress", old.namespace, old.pod_labels, old.port),
        ):
            admit_policy(
                self,
                cid,
                metadata=self._meta(f"{self.name}-ingress", namespace, -1),
                selected=selected,
                peer=namespace_peer(self.namespace, self.pod_labels),
                ports=[port],
            )

    def _job_spec(self) -> k8s.JobSpec:
        job = self.props.job
        migration = self.redis.credentials.migration
        assert migration is not None  # RedisDataCopyProps checked it
        return job.job_spec(
            labels=self.pod_labels,
            uid=COPY_UID,
            container="copy",
            command=copy_command(self.props),
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
                secret_files_volume("credentials", {"shared-password": migration, "old-password": self.old.password}),
            ],
            resources=resources(cpu=job.cpu, memory=job.memory),
            pod_failure_policy=fail_on_exit_codes("copy", FINAL_EXIT_CODES),
        )

    def _add_job(self) -> str:
        """The Job, named ``<name>-<hash of its spec and the program>``; returns that name."""
        job = self.props.job
        spec = self._job_spec()
        extra = job.checkov_skips(
            (
                ("CKV_K8S_43", "version-pinned tag; set data_copy.image_digest to pin the digest"),
                ("CKV_K8S_15", "IfNotPresent with a version-pinned tag"),
            )
        )
        job_name = job.hashed_name(self.name, spec, PROGRAM)
        k8s.KubeJob(self, "Job", metadata=self._meta(job_name, self.namespace, 0, extra), spec=spec)
        return job_name


@dataclass(frozen=True, kw_only=True, slots=True)
class BindingDataCopy:
    """What a binding is asked to copy: the old Redis's password (in RedisShared's namespace) and how the Job runs.

    Checked by the binding (:meth:`validate`), in every phase, not only in the one that renders the Job.
    """

    #: The old Redis's password as a Secret in RedisShared's namespace (created out of band from the app's own).
    old_password: SecretKeyRef
    #: Default: - a :class:`DataCopyJobRun` with its defaults.
    job: DataCopyJobRun = DEFAULT_DATA_COPY_RUN
    #: SCAN patterns of the app's keys in RedisShared; when given, the SCALED_DOWN phase renders the opt-in reverse
    #: copy (RedisShared -> old Redis, overwriting). Default: - no reverse copy.
    reverse_match: tuple[str, ...] = ()

    def validate(self, prop: str) -> None:
        """Check every field, naming each ``<prop>.<field>``."""
        v.instance(prop + ".job", self.job, DataCopyJobRun, "a DataCopyJobRun").validate(prop + ".job")
        v.instance(prop + ".old_password", self.old_password, SecretKeyRef, "a SecretKeyRef")
        v.secret_name(prop + ".old_password.name", self.old_password.name)
        v.secret_key(prop + ".old_password.key", self.old_password.key)
        for pattern in v.items(prop + ".reverse_match", self.reverse_match, "a tuple of SCAN patterns"):
            v.text(prop + ".reverse_match", pattern, max_length=200)  # type: ignore[arg-type]
