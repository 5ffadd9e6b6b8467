"""RedisRestore: one commit that puts a backup's keys back into the running redis-shared (docs/backups.md).

A Job (ArgoCD ``Sync`` hook; Flux applies it as it is) named ``<redis>-restore-<hash of its spec>``. Its pod:

* ``fetch`` (init container, restic image; off-site source only): ``restic restore`` of the snapshot by its tag;
* ``snapshot-server`` (a native sidecar: an init container with ``restartPolicy: Always``, Redis image): checks the
  snapshot's sha256, then loads it into a redis-server on the pod's loopback (no password, no persistence); its
  startup probe holds the copy back until the load is done, and the kubelet stops it when the copy exits;
* ``copy`` (Python image): the copy program's ``restore`` mode, as the ``migration`` user, for the keys matching
  ``match`` — conflicts refused unless ``replace``; every key verified (type, value, TTL); a marker makes a
  re-applied Job exit 0 at once. Other tenants keep working: nothing waits for clients, nothing is deleted.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass

import constructs
from cdk8s_plus_28 import k8s

from ..core import validation as v
from ..core.errors import PropError, names_construct
from ..core.images import PYTHON_IMAGE, REDIS_IMAGE
from ..core.job_run import JobRun, fail_on_exit_codes
from ..core.pod_security import resources, restricted_container
from ..core.rendering import (
    admit_policy,
    checkov_skip_annotations,
    dns_egress_rule,
    image_ref,
    job_network_policy,
    namespace_peer,
    quantity,
    secret_files_volume,
    tcp_port,
)
from ..gitops.sync_annotations import argocd_hook
from ..migration.data_copy import COPY_UID, PROGRAM, PROGRAM_FILE, require_migration_user
from ..server.redis_conf import SYSTEM_KEY_PREFIX
from ..server.redis_shared import RedisShared
from ..server.workload import REDIS_UID
from .backup import BACKUP_DIR, OFFSITE_KEYS, OFFSITE_SECRETS_DIR, RedisBackup, offsite_egress_rule

#: A snapshot's name as backup.sh writes it (UTC time of the run).
SNAPSHOT_NAME = re.compile(r"redis-[0-9]{8}T[0-9]{6}Z")
PROGRAM_DIR = "/opt/redis-shared-restore"
SECRETS_DIR = "/var/run/secrets/redis-shared-restore"
#: Where the off-site snapshot is restored (restic recreates the file's absolute path below it).
RESTORE_DIR = "/restore"
#: The throwaway server's port, on the pod's loopback only.
SNAPSHOT_PORT = 6390
MARKER_PREFIX = SYSTEM_KEY_PREFIX + "restore:"
#: Exit codes of the copy program a retry cannot fix (conflict, differences, refused).
FINAL_EXIT_CODES = (2, 4, 5)


class RestoreSource(enum.Enum):
    """Where the snapshot is read from."""

    #: The backup volume (the Job runs on its node).
    VOLUME = "volume"
    #: The off-site restic repository (``RedisBackupProps.offsite``), fetched by the snapshot's tag.
    OFFSITE = "offsite"


@dataclass(frozen=True, kw_only=True, slots=True)
class RestoreJobRun(JobRun):
    """How the restore Job runs; every field has a default."""

    #: Default: :data:`images.PYTHON_IMAGE` (the copy program's interpreter).
    image: str = PYTHON_IMAGE
    #: Default: :data:`images.REDIS_IMAGE` (the snapshot server).
    redis_image: str = REDIS_IMAGE
    #: Default: 3600 (from 60 to 86400).
    active_deadline_seconds: int = 3600
    #: Default: 1 retry.
    backoff_limit: int = 1
    #: Default: 2000; the restored TTLs may differ from the snapshot's by this much.
    ttl_tolerance_ms: int = 2000
    #: Default: 500 keys per round trip.
    batch: int = 500

    def validate(self, prop: str) -> None:
        """Check every field, naming each ``<prop>.<field>``."""
        self.check_run(prop, deadline=(60, 86400))
        v.pinned_image(prop + ".redis_image", self.redis_image)
        v.int_in_range(prop + ".ttl_tolerance_ms", self.ttl_tolerance_ms, 0, 60_000)
        v.int_in_range(prop + ".batch", self.batch, 1, 10_000)


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisRestoreProps:
    """The props of :class:`RedisRestore`, checked when built."""

    #: The RedisShared to restore into; it needs its ``migration`` ACL user (``credentials.migration``).
    redis: RedisShared
    #: The backup the snapshot comes from.
    backup: RedisBackup
    #: The snapshot's name, e.g. ``"redis-20261206T031700Z"`` (``ls`` the backup volume, or ``restic snapshots``).
    snapshot: str
    #: Default: ``RestoreSource.VOLUME``.
    source: RestoreSource = RestoreSource.VOLUME
    #: SCAN patterns of the keys to restore, e.g. ``("beersystem:*",)``. Default: ``("*",)`` (every key).
    match: tuple[str, ...] = ("*",)
    #: Overwrite the matched keys that exist (``RESTORE ... REPLACE``); only with explicit patterns, never ``*``.
    #: Default: False (a key that differs is a conflict: nothing is written).
    replace: bool = False
    #: Default: - a :class:`RestoreJobRun` with its defaults.
    job: RestoreJobRun = RestoreJobRun()

    def __post_init__(self) -> None:
        redis = v.instance("redis", self.redis, RedisShared, "a RedisShared construct")
        backup = v.instance("backup", self.backup, RedisBackup, "a RedisBackup construct")
        if not isinstance(self.snapshot, str) or not SNAPSHOT_NAME.fullmatch(self.snapshot):
            raise PropError("snapshot", self.snapshot, "a snapshot name 'redis-YYYYmmddTHHMMSSZ'")
        if not isinstance(self.source, RestoreSource):
            raise PropError("source", self.source, "RestoreSource.VOLUME or RestoreSource.OFFSITE")
        if self.source is RestoreSource.OFFSITE and backup.props.offsite is None:
            raise PropError("source", "OFFSITE", "RestoreSource.VOLUME (the backup has no offsite copy)")
        if not self.match:
            raise PropError("match", tuple(self.match), "at least one SCAN pattern, e.g. ('beersystem:*',)")
        for pattern in self.match:
            v.text("match", pattern, max_length=200)
        v.boolean("replace", self.replace)
        if self.replace and "*" in self.match:
            raise PropError(
                "replace", True, "False with match '*' (overwriting every tenant's live keys is not a restore)"
            )
        v.instance("job", self.job, RestoreJobRun, "a RestoreJobRun").validate("job")
        require_migration_user(redis)


class RedisRestore(constructs.Construct):
    """A Job that restores a backup's keys (all, or those matching patterns) into :class:`RedisShared`.

    Children (ids are API): ``Program``, ``NetworkPolicy``, ``RedisIngress``, ``Job``.

    Example::

        RedisRestore(chart, "RestoreBeersystem", RedisRestoreProps(
            redis=shared, backup=backup, snapshot="redis-20261206T031700Z", match=("beersystem:*",)))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: RedisRestoreProps) -> None:
        """Render the program, the policies, then the Job."""
        super().__init__(scope, id)
        self.props = p = v.instance("props", props, RedisRestoreProps, "a RedisRestoreProps")
        self.redis = redis = p.redis
        self.namespace = redis.namespace
        spec_text = "\n".join([p.snapshot, p.source.value, str(p.replace), *p.match])
        digest = hashlib.sha256(spec_text.encode()).hexdigest()[:8]
        #: ``<redis>-restore-<hash of what is restored>``: two restores in one chart have objects of their own.
        self.name = f"{redis.name}-restore-{digest}"
        #: The key set once the restore is verified; a re-applied Job finds it and does nothing.
        self.marker = f"{MARKER_PREFIX}{p.snapshot}:{digest}"
        self.pod_labels = {"app.kubernetes.io/name": self.name, "app.kubernetes.io/component": "redis-restore"}
        self.program_config_map_name = f"{self.name}-program"
        k8s.KubeConfigMap(
            self, "Program", metadata=self._meta(self.program_config_map_name, -1), data={PROGRAM_FILE: PROGRAM}
        )
        self._add_network_policies()
        spec = self._job_spec()
        self.job_name = p.job.hashed_name(f"{redis.name}-restore", spec, PROGRAM)
        skips = checkov_skip_annotations(
            (
                ("CKV_K8S_43", "version-pinned tags; set job.image_digest to pin the digest"),
                ("CKV_K8S_15", "IfNotPresent with a version-pinned tag"),
            )
        )
        k8s.KubeJob(self, "Job", metadata=self._meta(self.job_name, 0, skips), spec=spec)

    def _meta(self, name: str, wave: int, extra: dict[str, str] | None = None) -> k8s.ObjectMeta:
        return k8s.ObjectMeta(
            name=name,
            namespace=self.namespace,
            labels=self.pod_labels,
            annotations={**argocd_hook("Sync", wave=wave), **(extra or {})},
        )

    def _add_network_policies(self) -> None:
        redis, p = self.redis, self.props
        egress = [
            dns_egress_rule(redis.dns_namespace, redis.dns_pod_labels),
            k8s.NetworkPolicyEgressRule(
                to=[namespace_peer(redis.namespace, redis.pod_labels)], ports=[tcp_port(redis.port)]
            ),
        ]
        offsite = p.backup.props.offsite
        if p.source is RestoreSource.OFFSITE and offsite is not None:
            egress.append(offsite_egress_rule(offsite))
        job_network_policy(
            self, "NetworkPolicy", metadata=self._meta(self.name, -1), pod_labels=self.pod_labels, egress=egress
        )
        admit_policy(
            self,
            "RedisIngress",
            metadata=self._meta(f"{self.name}-ingress", -1),
            selected=redis.pod_labels,
            peer=namespace_peer(self.namespace, self.pod_labels),
            ports=[redis.port],
        )

    def snapshot_dir(self) -> str:
        """Where the snapshot server reads the file: the backup volume, or where restic restored it."""
        return BACKUP_DIR if self.props.source is RestoreSource.VOLUME else RESTORE_DIR + BACKUP_DIR

    def copy_command(self) -> list[str]:
        """The copy program's argv: restore mode, the throwaway as source, redis-shared as ``migration``."""
        p, redis = self.props, self.redis
        return [
            "python3",
            f"{PROGRAM_DIR}/{PROGRAM_FILE}",
            "restore",
            "--source-host",
            "127.0.0.1",
            "--source-port",
            str(SNAPSHOT_PORT),
            "--target-host",
            redis.master_host,
            "--target-port",
            str(redis.port),
            "--target-user",
            redis.migration_username,
            "--target-password-file",
            f"{SECRETS_DIR}/shared-password",
            "--marker",
            self.marker,
            *[a for pattern in p.match for a in ("--match", pattern)],
            *(["--replace"] if p.replace else []),
            # The snapshot's redis-shared:* keys (an older backup report, check keys, markers) are not restored:
            # the running system's own are current, and differ (a full restore would refuse on them).
            "--skip-prefix",
            SYSTEM_KEY_PREFIX,
            "--batch",
            str(p.job.batch),
            "--ttl-tolerance-ms",
            str(p.job.ttl_tolerance_ms),
            "--wait-clients-seconds",
            "0",
        ]

    def _job_spec(self) -> k8s.JobSpec:
        p, redis, job = self.props, self.redis, self.props.job
        migration = redis.credentials.migration
        assert migration is not None  # RedisRestoreProps checked it
        directory = self.snapshot_dir()
        name = p.snapshot
        serve = (
            f"cd {directory} && sha256sum -c {name}.rdb.sha256 && exec redis-server --bind 127.0.0.1 --port {SNAPSHOT_PORT}"
            f" --dir {directory} --dbfilename {name}.rdb --save '' --appendonly no --protected-mode no"
        )
        snapshot_mounts = [k8s.VolumeMount(name="tmp", mount_path="/tmp")]
        volumes = [
            k8s.Volume(
                name="program",
                config_map=k8s.ConfigMapVolumeSource(name=self.program_config_map_name, default_mode=0o444),
            ),
            secret_files_volume("credentials", {"shared-password": migration}),
            k8s.Volume(name="tmp", empty_dir=k8s.EmptyDirVolumeSource(size_limit=quantity("64Mi"))),
        ]
        init: list[k8s.Container] = []
        if p.source is RestoreSource.VOLUME:
            snapshot_mounts.append(k8s.VolumeMount(name="backups", mount_path=BACKUP_DIR, read_only=True))
            volumes.append(
                k8s.Volume(
                    name="backups",
                    persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(
                        claim_name=p.backup.pvc_name, read_only=True
                    ),
                )
            )
        else:
            offsite = p.backup.props.offsite
            secret = p.backup.offsite_secret
            assert offsite is not None and secret is not None  # RedisRestoreProps checked it
            snapshot_mounts.append(k8s.VolumeMount(name="restore", mount_path=RESTORE_DIR, read_only=True))
            volumes += [
                k8s.Volume(name="restore", empty_dir=k8s.EmptyDirVolumeSource()),
                k8s.Volume(name="cache", empty_dir=k8s.EmptyDirVolumeSource(size_limit=quantity("1Gi"))),
                secret_files_volume(
                    "offsite-credentials", {k: secret.key_ref(k, namespace=self.namespace) for k in OFFSITE_KEYS}
                ),
            ]
            env = {
                "RESTIC_REPOSITORY": offsite.repository,
                "RESTIC_PASSWORD_FILE": f"{OFFSITE_SECRETS_DIR}/restic-password",
                "AWS_SHARED_CREDENTIALS_FILE": f"{OFFSITE_SECRETS_DIR}/aws-credentials",
                "AWS_DEFAULT_REGION": offsite.region,
                "RESTIC_CACHE_DIR": "/cache",
            }
            init.append(
                k8s.Container(
                    name="fetch",
                    image=offsite.image,
                    image_pull_policy="IfNotPresent",
                    command=["restic", "restore", "latest", "--tag", name, "--target", RESTORE_DIR],
                    env=[k8s.EnvVar(name=k, value=val) for k, val in env.items()],
                    volume_mounts=[
                        k8s.VolumeMount(name="restore", mount_path=RESTORE_DIR),
                        k8s.VolumeMount(name="cache", mount_path="/cache"),
                        k8s.VolumeMount(name="offsite-credentials", mount_path=OFFSITE_SECRETS_DIR, read_only=True),
                        k8s.VolumeMount(name="tmp", mount_path="/tmp"),
                    ],
                    resources=resources(cpu=("100m", "1"), memory=("128Mi", "1Gi")),
                    security_context=restricted_container(REDIS_UID),
                )
            )
        memory_limit = f"{redis.maxmemory_bytes * 3 // 2 // 1024**2 + 256}Mi"
        init.append(
            k8s.Container(
                name="snapshot-server",
                image=image_ref(job.redis_image, None),
                image_pull_policy="IfNotPresent",
                restart_policy="Always",
                command=["sh", "-c", serve],
                startup_probe=k8s.Probe(
                    exec=k8s.ExecAction(command=["sh", "-c", f'[ "$(redis-cli -p {SNAPSHOT_PORT} PING)" = PONG ]']),
                    period_seconds=2,
                    timeout_seconds=5,
                    failure_threshold=900,
                ),
                volume_mounts=snapshot_mounts,
                resources=resources(cpu=("100m", "1"), memory=("256Mi", memory_limit)),
                security_context=restricted_container(REDIS_UID),
            )
        )
        copy = k8s.Container(
            name="copy",
            image=image_ref(job.image, job.image_digest),
            image_pull_policy="IfNotPresent",
            command=self.copy_command(),
            env=[
                k8s.EnvVar(name="PYTHONDONTWRITEBYTECODE", value="1"),
                k8s.EnvVar(name="PYTHONUNBUFFERED", value="1"),
            ],
            volume_mounts=[
                k8s.VolumeMount(name="program", mount_path=PROGRAM_DIR, read_only=True),
                k8s.VolumeMount(name="credentials", mount_path=SECRETS_DIR, read_only=True),
            ],
            resources=resources(cpu=("100m", "1"), memory=("128Mi", "512Mi")),
            security_context=restricted_container(COPY_UID),
        )
        return job.pod_job_spec(
            labels=self.pod_labels,
            uid=COPY_UID,
            init_containers=init,
            containers=[copy],
            volumes=volumes,
            pod_failure_policy=fail_on_exit_codes("copy", FINAL_EXIT_CODES),
        )
