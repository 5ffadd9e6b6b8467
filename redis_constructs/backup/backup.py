"""RedisBackup: a CronJob that takes a verified RDB snapshot of redis-shared every night, keeps 7 daily and 4 weekly
ones on a volume away from the Redis nodes, and optionally copies each to S3 with restic (docs/backups.md).

The Job runs :file:`backup.sh` (POSIX sh, in the Redis image: the server's own redis-cli, redis-check-rdb and
redis-server) as the ``backup`` ACL user: ``redis-cli --rdb`` from the replica (the primary when the replica is
unusable, unless ``fallback_to_primary=False``), over TLS when RedisShared has it; redis-check-rdb, a load into a
throwaway server and the key count verify it before it is kept, with its sha256 beside it. Objects:

* PersistentVolumeClaim ``<redis>-backup`` (protected from pruning: a backup must survive deleting the app);
* ConfigMap ``<redis>-backup-program`` (the two scripts);
* NetworkPolicy ``<redis>-backup`` (the Job's pods: DNS, the Redis pods on the port used, the off-site storage)
  and ``<redis>-backup-ingress`` (admits them to the Redis pods);
* CronJob ``<redis>-backup`` (child id ``Resource``): its pods have a required anti-affinity to the Redis pods, so
  the volume (local-path binds it where the first pod lands) is never on a Redis node;
* with off-site: the Secret ``<redis>-backup-offsite`` (a :class:`ReplicatedSecret`) and a second container.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import constructs
from cdk8s_plus_28 import k8s

from ..core import validation as v
from ..core.errors import names_construct
from ..core.job_run import fail_on_exit_codes
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
from ..credentials.replicated_secret import ReplicatedSecret, ReplicatedSecretProps
from ..gitops.sync_annotations import PRUNE_PROTECTION
from ..server.redis_conf import BACKUP_USERNAME, REPORT_KEY_PREFIX
from ..server.tls import TLS_CA_DIR, secret_name
from ..server.workload import REDIS_UID
from .props import OffsiteCopy, RedisBackupProps

HERE = Path(__file__).resolve().parent
#: The programs, as shipped in the package (rendered verbatim into the ConfigMap).
BACKUP_PROGRAM = (HERE / "backup.sh").read_text()
OFFSITE_PROGRAM = (HERE / "offsite.sh").read_text()
PROGRAM_DIR = "/opt/redis-shared-backup"
SECRETS_DIR = "/var/run/secrets/redis-shared-backup"
OFFSITE_SECRETS_DIR = "/var/run/secrets/redis-shared-offsite"
#: Where the backup volume is mounted: the snapshots are ``redis-YYYYmmddTHHMMSSZ.rdb`` with ``.rdb.sha256`` and
#: ``.json`` beside them.
BACKUP_DIR = "/backups"
#: Exit codes of backup.sh a retry cannot fix: check-rdb rejected it, it does not load or count, volume full.
FINAL_EXIT_CODES = (3, 4, 5)
OFFSITE_KEYS = ("restic-password", "aws-credentials")
MiB = 1024**2


def offsite_egress_rule(offsite: OffsiteCopy) -> k8s.NetworkPolicyEgressRule:
    """Egress to the off-site repository's addresses and ports (the backup's upload, a restore's fetch)."""
    return k8s.NetworkPolicyEgressRule(
        to=[k8s.NetworkPolicyPeer(ip_block=k8s.IpBlock(cidr=c)) for c in offsite.cidrs],
        ports=[tcp_port(port) for port in offsite.ports],
    )


class RedisBackup(constructs.Construct):
    """Nightly verified snapshots of a :class:`RedisShared`, kept on a volume away from its nodes.

    Children (ids are API): ``Volume``, ``Program``, ``NetworkPolicy``, ``RedisIngress``, ``OffsiteCredentials``
    (with off-site only), ``Resource`` (the CronJob).

    Example::

        backup = RedisBackup(chart, "Backup", RedisBackupProps(redis=shared))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: RedisBackupProps) -> None:
        """Render the volume, the program, the policies, the off-site Secret, then the CronJob."""
        super().__init__(scope, id)
        self.props = p = v.instance("props", props, RedisBackupProps, "a RedisBackupProps")
        redis = p.redis
        self.redis = redis
        self.name = f"{redis.name}-backup"
        self.namespace = redis.namespace
        #: The CronJob's name (its Jobs are ``<name>-<schedule time>``).
        self.cronjob_name = self.name
        #: The backup volume's claim.
        self.pvc_name = self.name
        self.program_config_map_name = f"{self.name}-program"
        self.offsite_secret_name = f"{self.name}-offsite"
        #: The keys each run reports to on the primary (``last-bytes``, ``last-keys``, ``last-success-time``).
        self.report_prefix = REPORT_KEY_PREFIX
        #: Labels of the Job's pods.
        self.pod_labels = {"app.kubernetes.io/name": self.name, "app.kubernetes.io/component": "redis-backup"}
        #: The port the Job dials (the TLS port when RedisShared has TLS).
        self.port = redis.tls_port or redis.port
        #: ``RedisBackupTooOld``'s threshold, for ``monitoring.BackupMonitoring`` (monitoring does not import this).
        self.alert_max_age_seconds = p.alert_max_age_hours * 3600
        self._add_volume()
        self._add_program()
        self._add_network_policies()
        self.offsite_secret: ReplicatedSecret | None = None
        if p.offsite is not None:
            self.offsite_secret = ReplicatedSecret(
                self,
                "OffsiteCredentials",
                ReplicatedSecretProps(
                    name=self.offsite_secret_name,
                    namespaces=(self.namespace,),
                    keys=OFFSITE_KEYS,
                    source=p.offsite.credentials,
                ),
            )
        self.cronjob = k8s.KubeCronJob(
            self,
            "Resource",
            metadata=self._meta(self.name, extra=self._checkov_skips()),
            spec=k8s.CronJobSpec(
                schedule=p.schedule,
                time_zone=p.time_zone,
                concurrency_policy="Forbid",
                starting_deadline_seconds=3600,
                successful_jobs_history_limit=3,
                failed_jobs_history_limit=3,
                job_template=k8s.JobTemplateSpec(
                    metadata=k8s.ObjectMeta(labels=self.pod_labels), spec=self._job_spec()
                ),
            ),
        )

    # -- what other constructs read --------------------------------------------------------------------
    def storage_size(self) -> str:
        """The volume's size: the prop, or ``(keep_daily + keep_weekly + 1) x maxmemory / 2`` (at least 1Gi)."""
        p = self.props
        if p.storage.size is not None:
            return p.storage.size
        size = (p.keep_daily + p.keep_weekly + 1) * self.redis.maxmemory_bytes // 2
        return f"{max(1024, -(-size // MiB))}Mi"

    def memory(self) -> tuple[str, str]:
        """The Job's memory request and limit (the throwaway server holds the dataset)."""
        if self.props.job.memory is not None:
            return self.props.job.memory
        return ("256Mi", f"{self.redis.maxmemory_bytes * 3 // 2 // MiB + 256}Mi")

    # -- objects ---------------------------------------------------------------------------------------
    def _meta(
        self, name: str, *, namespace: str | None = None, extra: Mapping[str, str] | None = None
    ) -> k8s.ObjectMeta:
        return k8s.ObjectMeta(
            name=name,
            namespace=namespace or self.namespace,
            labels=self.pod_labels,
            annotations=dict(extra or {}) or None,
        )

    def _checkov_skips(self) -> dict[str, str]:
        skips = [
            ("CKV_K8S_43", "version-pinned tag; set job.image_digest to pin the digest"),
            ("CKV_K8S_15", "IfNotPresent with a version-pinned tag"),
        ]
        return self.props.job.checkov_skips(skips) if self.props.offsite is None else checkov_skip_annotations(skips)

    def _add_volume(self) -> None:
        k8s.KubePersistentVolumeClaim(
            self,
            "Volume",
            metadata=self._meta(self.pvc_name, extra=PRUNE_PROTECTION),
            spec=k8s.PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"],
                storage_class_name=self.props.storage.storage_class,
                resources=k8s.ResourceRequirements(requests={"storage": quantity(self.storage_size())}),
            ),
        )

    def _add_program(self) -> None:
        k8s.KubeConfigMap(
            self,
            "Program",
            metadata=self._meta(self.program_config_map_name),
            data={"backup.sh": BACKUP_PROGRAM, "offsite.sh": OFFSITE_PROGRAM},
        )

    def _add_network_policies(self) -> None:
        """The Job's pods reach DNS, the Redis pods on :attr:`port` and the off-site storage; nothing reaches them."""
        redis, offsite = self.redis, self.props.offsite
        egress = [
            dns_egress_rule(redis.dns_namespace, redis.dns_pod_labels),
            k8s.NetworkPolicyEgressRule(
                to=[namespace_peer(redis.namespace, redis.pod_labels)], ports=[tcp_port(self.port)]
            ),
        ]
        if offsite is not None:
            egress.append(offsite_egress_rule(offsite))
        job_network_policy(
            self, "NetworkPolicy", metadata=self._meta(self.name), pod_labels=self.pod_labels, egress=egress
        )
        admit_policy(
            self,
            "RedisIngress",
            metadata=self._meta(f"{self.name}-ingress"),
            selected=redis.pod_labels,
            peer=namespace_peer(self.namespace, self.pod_labels),
            ports=[self.port],
        )

    def snapshot_env(self) -> list[k8s.EnvVar]:
        """backup.sh's settings (no secret: the password is a mounted file)."""
        p, redis = self.props, self.redis
        env = {
            "BACKUP_HOST": redis.replicas_host,
            "BACKUP_PORT": str(self.port),
            "BACKUP_FALLBACK_HOST": redis.master_host if p.fallback_to_primary else "",
            "BACKUP_FALLBACK_PORT": str(self.port),
            "BACKUP_USER": BACKUP_USERNAME,
            "BACKUP_PASSWORD_FILE": f"{SECRETS_DIR}/backup-password",
            "BACKUP_TLS": "1" if redis.tls is not None else "0",
            "BACKUP_CA_FILE": f"{TLS_CA_DIR}/ca.crt" if redis.tls is not None else "",
            "BACKUP_DIR": BACKUP_DIR,
            "BACKUP_WORK_DIR": "/tmp",
            "BACKUP_KEEP_DAILY": str(p.keep_daily),
            "BACKUP_KEEP_WEEKLY": str(p.keep_weekly),
            "BACKUP_KEY_TOLERANCE_PERCENT": str(p.key_count_tolerance_percent),
            "BACKUP_LOAD_TIMEOUT_SECONDS": str(p.job.load_timeout_seconds),
            "BACKUP_REPORT_HOST": redis.master_host,
            "BACKUP_REPORT_PORT": str(self.port),
            "BACKUP_REPORT_PREFIX": REPORT_KEY_PREFIX,
        }
        return [k8s.EnvVar(name=k, value=val) for k, val in env.items()]

    def _snapshot_container(self) -> k8s.Container:
        job = self.props.job
        mounts = [
            k8s.VolumeMount(name="program", mount_path=PROGRAM_DIR, read_only=True),
            k8s.VolumeMount(name="credentials", mount_path=SECRETS_DIR, read_only=True),
            k8s.VolumeMount(name="backups", mount_path=BACKUP_DIR),
            k8s.VolumeMount(name="tmp", mount_path="/tmp"),
        ]
        if self.redis.tls is not None:
            mounts.append(k8s.VolumeMount(name="tls-ca", mount_path=TLS_CA_DIR, read_only=True))
        return k8s.Container(
            name="snapshot",
            image=image_ref(job.image, job.image_digest),
            image_pull_policy="IfNotPresent",
            command=["sh", f"{PROGRAM_DIR}/backup.sh"],
            env=self.snapshot_env(),
            volume_mounts=mounts,
            resources=resources(cpu=job.cpu, memory=self.memory()),
            security_context=restricted_container(REDIS_UID),
        )

    def _offsite_container(self) -> k8s.Container:
        offsite = self.props.offsite
        assert offsite is not None
        env = {
            "RESTIC_REPOSITORY": offsite.repository,
            "RESTIC_PASSWORD_FILE": f"{OFFSITE_SECRETS_DIR}/restic-password",
            "AWS_SHARED_CREDENTIALS_FILE": f"{OFFSITE_SECRETS_DIR}/aws-credentials",
            "AWS_DEFAULT_REGION": offsite.region,
            "RESTIC_CACHE_DIR": "/cache",
            "BACKUP_DIR": BACKUP_DIR,
            "BACKUP_KEEP_DAILY": str(self.props.keep_daily),
            "BACKUP_KEEP_WEEKLY": str(self.props.keep_weekly),
        }
        return k8s.Container(
            name="offsite",
            image=offsite.image,
            image_pull_policy="IfNotPresent",
            command=["sh", f"{PROGRAM_DIR}/offsite.sh"],
            env=[k8s.EnvVar(name=k, value=val) for k, val in env.items()],
            volume_mounts=[
                k8s.VolumeMount(name="program", mount_path=PROGRAM_DIR, read_only=True),
                k8s.VolumeMount(name="offsite-credentials", mount_path=OFFSITE_SECRETS_DIR, read_only=True),
                k8s.VolumeMount(name="backups", mount_path=BACKUP_DIR, read_only=True),
                k8s.VolumeMount(name="cache", mount_path="/cache"),
                k8s.VolumeMount(name="tmp", mount_path="/tmp"),
            ],
            resources=resources(cpu=("100m", "1"), memory=("128Mi", "1Gi")),
            security_context=restricted_container(REDIS_UID),
        )

    def _volumes(self) -> list[k8s.Volume]:
        redis, backup = self.redis, self.redis.credentials.backup
        assert backup is not None  # RedisBackupProps checked it
        volumes = [
            k8s.Volume(
                name="program",
                config_map=k8s.ConfigMapVolumeSource(name=self.program_config_map_name, default_mode=0o444),
            ),
            secret_files_volume("credentials", {"backup-password": backup}),
            k8s.Volume(
                name="backups", persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name=self.pvc_name)
            ),
            k8s.Volume(name="tmp", empty_dir=k8s.EmptyDirVolumeSource(size_limit=quantity("64Mi"))),
        ]
        if redis.tls is not None:
            volumes.append(
                k8s.Volume(
                    name="tls-ca",
                    secret=k8s.SecretVolumeSource(
                        secret_name=secret_name(redis.tls, redis.name),
                        default_mode=0o444,
                        items=[k8s.KeyToPath(key="ca.crt", path="ca.crt")],
                    ),
                )
            )
        if self.offsite_secret is not None:
            volumes += [
                secret_files_volume(
                    "offsite-credentials",
                    {k: self.offsite_secret.key_ref(k, namespace=self.namespace) for k in OFFSITE_KEYS},
                ),
                k8s.Volume(name="cache", empty_dir=k8s.EmptyDirVolumeSource(size_limit=quantity("1Gi"))),
            ]
        return volumes

    def _job_spec(self) -> k8s.JobSpec:
        job = self.props.job
        snapshot = self._snapshot_container()
        # With off-site, the snapshot is an init container: restic starts only after it stored a verified file.
        init, containers = ([snapshot], [self._offsite_container()]) if self.props.offsite else ([], [snapshot])
        return job.pod_job_spec(
            labels=self.pod_labels,
            uid=REDIS_UID,
            # Never on a Redis pod's node: the volume binds where the first pod lands (WaitForFirstConsumer).
            affinity=k8s.Affinity(
                pod_anti_affinity=k8s.PodAntiAffinity(
                    required_during_scheduling_ignored_during_execution=[
                        k8s.PodAffinityTerm(
                            label_selector=k8s.LabelSelector(match_labels=dict(self.redis.pod_labels)),
                            topology_key="kubernetes.io/hostname",
                        )
                    ]
                )
            ),
            init_containers=init or None,
            containers=containers,
            volumes=self._volumes(),
            pod_failure_policy=fail_on_exit_codes("snapshot", FINAL_EXIT_CODES),
        )
