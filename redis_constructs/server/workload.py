"""RedisWorkload: one StatefulSet of RedisShared, instantiated once per :class:`~redis_constructs.Role`.

Both StatefulSets share one pod template, rendered for the role their pods have now (``primary_pod`` moves
it): an init container renders redis.conf and the ACL file from the ConfigMaps and the mounted passwords, the
``redis`` container runs start.sh with startup/liveness/readiness probes on the local Redis, the ``metrics``
redis_exporter sidecar serves 9121 and, with TLS, the ``tls-reload`` sidecar makes Redis load a renewed
certificate; a preStop hook on ``redis`` waits out the first AOF rewrite after a full sync (pre-stop.sh). Each
pod gets a ``data`` PVC (retained when the StatefulSet is deleted or scaled down) and its own
node (required anti-affinity).
"""

from __future__ import annotations

from dataclasses import dataclass

import constructs
from cdk8s_plus_28 import k8s

from ..core.pod_security import resources, restricted_container, restricted_pod
from ..core.rendering import int_or_string, quantity, secret_files_volume
from ..core.restart_annotations import CONFIG_CHECKSUM_ANNOTATION, CREDENTIALS_VERSION_ANNOTATION
from ..gitops.sync_annotations import FLUX_PRUNE
from . import lan_proxy as lan_proxy_mod
from . import tls as tls_mod
from .acl_reload import TENANT_SECRETS_DIR, TENANTS_DIR
from .checkov_skips import checkov_skips
from .names import METRICS_PORT, REDIS_PORT, RedisNames
from .props import RedisCredentials, Resources
from .redis_conf import (
    CONF_DIR,
    DATA_DIR,
    EXPORTER_RUN_DIR,
    EXPORTER_USERNAME,
    RUN_DIR,
    SCRIPTS_DIR,
    SECRETS_DIR,
    Role,
)
from .roles import ROLE_LABEL, role_of
from .scripts import PROBE_TIMEOUT_SECONDS
from .tls import Tls

REDIS_UID = 10001
EXPORTER_UID = 59000
#: The redis_exporter image's own binary; the command is set explicitly so no ENTRYPOINT is assumed.
EXPORTER_BINARY = "/redis_exporter"


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisWorkloadProps:
    """Props of :class:`RedisWorkload`: what one StatefulSet needs, validated by RedisShared.

    Both StatefulSets get the same props but ``role``.
    """

    names: RedisNames
    #: The StatefulSet this is: ``Role.PRIMARY`` names ``<name>-master``, ``Role.REPLICA`` ``<name>-replicas``
    #: (not the role its pods have: see ``primary``).
    role: Role
    #: Pods of the replicas StatefulSet.
    replicas: int
    #: The StatefulSet whose pod is the primary.
    primary: Role
    #: Image references as rendered (``image@digest`` when a digest is pinned).
    image: str
    exporter_image: str
    #: Both images carry a digest (checkov's digest and pull-policy checks then pass by themselves).
    digests_pinned: bool
    resources: Resources
    termination_grace_period_seconds: int
    storage_class: str
    storage_size: str
    credentials: RedisCredentials
    #: :attr:`RedisConfiguration.checksum`: the pods roll when it changes.
    config_checksum: str
    #: Default: - no TLS port, volumes or reload sidecar.
    tls: Tls | None = None
    #: Default: - no LAN proxy sidecar (no LoadBalancer).
    lan_proxy: lan_proxy_mod.LanProxySettings | None = None
    #: The haproxy image as rendered. Default: - none (no LAN proxy).
    lan_proxy_image: str = ""

    @property
    def tls_port(self) -> int | None:
        return self.tls.port if self.tls is not None else None

    def exporter_uri(self) -> str:
        """What the exporter dials: the TLS port by name ``localhost`` (a SAN of the certificate) with TLS."""
        return exporter_uri(self.tls_port)


def exporter_uri(tls_port: int | None, *, user: str | None = None) -> str:
    """The URI the exporter sidecar dials (``user@`` in front of the host when given: a ``/scrape`` target, whose
    password the exporter finds in its password file under the same URI)."""
    who = f"{user}@" if user else ""
    if tls_port is not None:
        return f"rediss://{who}localhost:{tls_port}"
    return f"redis://{who}localhost:{REDIS_PORT}"


def _probe(mode: str, *, period: int, failures: int) -> k8s.Probe:
    return k8s.Probe(
        exec=k8s.ExecAction(command=["sh", f"{SCRIPTS_DIR}/probe.sh", mode]),
        period_seconds=period,
        timeout_seconds=PROBE_TIMEOUT_SECONDS,
        failure_threshold=failures,
        success_threshold=1,
    )


def _memory_volume(name: str) -> k8s.Volume:
    return k8s.Volume(name=name, empty_dir=k8s.EmptyDirVolumeSource(medium="Memory", size_limit=quantity("1Mi")))


class RedisWorkload(constructs.Construct):
    """StatefulSet ``<name>-master`` (``role=Role.PRIMARY``) or ``<name>-replicas`` (``Role.REPLICA``).

    ``props.role`` names the StatefulSet, not the role its pods have: after a promotion (``props.primary`` is
    ``Role.REPLICA``) the replicas StatefulSet's pod is the primary. The selector, service name and PVC template
    never change with the role (they are immutable); the pod labels and ``REDIS_ROLE`` do.

    Example::

        workload = RedisWorkload(chart, "Primary", props)  # props.role is Role.PRIMARY
        workload.statefulset_name  # 'redis-shared-master'
    """

    def __init__(self, scope: constructs.Construct, id: str, props: RedisWorkloadProps) -> None:
        super().__init__(scope, id)
        names, role = props.names, props.role
        self.role = role
        self.statefulset_name = names.statefulset_name(role)
        #: The role this StatefulSet's pods have now.
        self.pod_role = role_of(role, props.primary)
        #: The StatefulSet's own (immutable selector) labels plus the role its pods have now.
        self.pod_labels = {**names.labels(role), ROLE_LABEL: self.pod_role.value}
        # Flux never prunes a StatefulSet when it moves between its Kustomizations (the master StatefulSet is
        # applied by its own Kustomization, after the one holding everything else).
        annotations = {FLUX_PRUNE: "disabled"} | checkov_skips("StatefulSet", digests_pinned=props.digests_pinned)
        #: The StatefulSet (``node.default_child``).
        self.statefulset = k8s.KubeStatefulSet(
            self,
            "Resource",
            # Flux prunes nothing here when the StatefulSet moves between its Kustomizations (failover.py).
            metadata=names.meta(self.statefulset_name, role=role, annotations=annotations),
            spec=k8s.StatefulSetSpec(
                replicas=1 if role is Role.PRIMARY else props.replicas,
                service_name=names.headless_service_name,
                # Immutable: the StatefulSet's identity, never the role (which the pod labels carry).
                selector=k8s.LabelSelector(match_labels=names.labels(role)),
                pod_management_policy="OrderedReady",
                update_strategy=k8s.StatefulSetUpdateStrategy(type="RollingUpdate"),
                persistent_volume_claim_retention_policy=k8s.StatefulSetPersistentVolumeClaimRetentionPolicy(
                    when_deleted="Retain", when_scaled="Retain"
                ),
                template=self._template(props),
                volume_claim_templates=[
                    k8s.KubePersistentVolumeClaimProps(
                        metadata=k8s.ObjectMeta(name="data", labels=names.labels(role)),
                        spec=k8s.PersistentVolumeClaimSpec(
                            access_modes=["ReadWriteOnce"],
                            storage_class_name=props.storage_class,
                            resources=k8s.ResourceRequirements(requests={"storage": quantity(props.storage_size)}),
                        ),
                    )
                ],
            ),
        )

    def _redis_env(self, props: RedisWorkloadProps) -> list[k8s.EnvVar]:
        names = props.names
        pods = [(Role.PRIMARY, 0), *((Role.REPLICA, i) for i in range(props.replicas))]
        promoted = self.role is Role.REPLICA and self.pod_role is Role.PRIMARY
        return [
            k8s.EnvVar(name="REDIS_ROLE", value=self.pod_role.value),
            # A promoted replica with an empty volume refuses to start (nothing there to promote).
            k8s.EnvVar(name="REDIS_PROMOTED", value=str(promoted).lower()),
            k8s.EnvVar(name="REDIS_PORT", value=str(REDIS_PORT)),
            # Pod to pod (replication, start.sh's peer checks): the TLS port with TLS, verified against the CA.
            k8s.EnvVar(name="REDIS_REPLICATION_PORT", value=str(props.tls_port or REDIS_PORT)),
            k8s.EnvVar(name="REDIS_TLS_CA_FILE", value=f"{tls_mod.TLS_DIR}/ca.crt" if props.tls else ""),
            # start.sh compares it with the primary the mounted (kubelet-refreshed) replica.conf names.
            k8s.EnvVar(
                name="REDIS_POD_NAME",
                value_from=k8s.EnvVarSource(field_ref=k8s.ObjectFieldSelector(field_path="metadata.name")),
            ),
            k8s.EnvVar(
                name="REDIS_REPLICA_HOSTS",
                value=" ".join(names.pod_host(r, i) for r, i in pods if (r, i) != (props.primary, 0)),
            ),
            k8s.EnvVar(name="REDIS_EXPORTER_URI", value=props.exporter_uri()),
        ]

    def _template(self, props: RedisWorkloadProps) -> k8s.PodTemplateSpec:
        names, tls = props.names, props.tls
        redis_env = self._redis_env(props)
        config_mounts = [
            k8s.VolumeMount(name="configuration", mount_path=CONF_DIR, read_only=True),
            k8s.VolumeMount(name="scripts", mount_path=SCRIPTS_DIR, read_only=True),
            k8s.VolumeMount(name="credentials", mount_path=SECRETS_DIR, read_only=True),
        ]
        # The tenants file and their passwords, mounted whole (no subPath, no items): the kubelet refreshes both
        # in place, so a tenant added or rotated reaches the acl-reload sidecar without a restart.
        tenant_mounts = [
            k8s.VolumeMount(name="tenants", mount_path=TENANTS_DIR, read_only=True),
            k8s.VolumeMount(name="tenant-secrets", mount_path=TENANT_SECRETS_DIR, read_only=True),
        ]
        init = k8s.Container(
            name="config",
            image=props.image,
            image_pull_policy="IfNotPresent",
            command=["sh", f"{SCRIPTS_DIR}/render-config.sh"],
            env=redis_env,
            volume_mounts=[
                *config_mounts,
                *tenant_mounts,
                k8s.VolumeMount(name="runtime", mount_path=RUN_DIR),
                k8s.VolumeMount(name="exporter-auth", mount_path=EXPORTER_RUN_DIR),
            ],
            resources=resources(cpu=("10m", "100m"), memory=("32Mi", "32Mi")),
            security_context=restricted_container(REDIS_UID),
        )
        redis = k8s.Container(
            name="redis",
            image=props.image,
            image_pull_policy="IfNotPresent",
            command=["sh", f"{SCRIPTS_DIR}/start.sh"],
            env=redis_env,
            ports=[
                k8s.ContainerPort(name="redis", container_port=REDIS_PORT, protocol="TCP"),
                *(
                    [k8s.ContainerPort(name="redis-tls", container_port=props.tls_port, protocol="TCP")]
                    if props.tls_port is not None
                    else []
                ),
            ],
            volume_mounts=[
                *config_mounts,
                k8s.VolumeMount(name="runtime", mount_path=RUN_DIR, read_only=True),
                k8s.VolumeMount(name="data", mount_path=DATA_DIR),
                k8s.VolumeMount(name="tmp", mount_path="/tmp"),
                *([k8s.VolumeMount(name="tls", mount_path=tls_mod.TLS_DIR, read_only=True)] if tls else []),
            ],
            resources=resources(
                cpu=(props.resources.cpu_request, props.resources.cpu_limit),
                memory=(props.resources.memory_limit, props.resources.memory_limit),
            ),
            security_context=restricted_container(REDIS_UID),
            # Loading a large AOF can take minutes: 15 min budget before liveness takes over.
            startup_probe=_probe("startup", period=10, failures=90),
            liveness_probe=_probe("liveness", period=10, failures=3),
            readiness_probe=_probe("readiness", period=5, failures=2),
            # Waits out the first AOF rewrite after a full sync, during which Redis drops a SIGTERM (pre-stop.sh);
            # bounded by the grace period it is part of.
            lifecycle=k8s.Lifecycle(
                pre_stop=k8s.LifecycleHandler(
                    exec=k8s.ExecAction(
                        command=["sh", f"{SCRIPTS_DIR}/pre-stop.sh", str(props.termination_grace_period_seconds)]
                    )
                )
            ),
        )
        exporter = self._exporter(props)
        volumes = [
            k8s.Volume(
                name="configuration",
                config_map=k8s.ConfigMapVolumeSource(name=names.config_map_name, default_mode=0o440),
            ),
            k8s.Volume(
                name="scripts",
                config_map=k8s.ConfigMapVolumeSource(name=names.scripts_config_map_name, default_mode=0o550),
            ),
            secret_files_volume("credentials", props.credentials.by_file()),
            k8s.Volume(
                name="tenants",
                config_map=k8s.ConfigMapVolumeSource(name=names.tenants_config_map_name, default_mode=0o440),
            ),
            # Every key of the tenants Secret (no items): a key added later appears on the kubelet's refresh.
            k8s.Volume(
                name="tenant-secrets",
                secret=k8s.SecretVolumeSource(secret_name=props.credentials.tenant_secret, default_mode=0o440),
            ),
            # The reload sidecars' credentials: ``admin-password`` alone, not the whole credentials volume.
            secret_files_volume(
                tls_mod.RELOAD_CREDENTIALS_VOLUME, {"admin-password": props.credentials.by_file()["admin-password"]}
            ),
            _memory_volume("runtime"),
            _memory_volume("exporter-auth"),
            k8s.Volume(name="tmp", empty_dir=k8s.EmptyDirVolumeSource(size_limit=quantity("64Mi"))),
        ]
        sidecars = [self._acl_reload(props, tenant_mounts)]
        if tls is not None:
            volumes += tls_mod.volumes(tls, names.name)
            sidecars.append(tls_mod.reload_container(tls, image=props.image, uid=REDIS_UID, env=redis_env))
        if props.lan_proxy is not None:
            sidecars.append(lan_proxy_mod.lan_proxy_container(props.lan_proxy, image=props.lan_proxy_image))
        return k8s.PodTemplateSpec(
            metadata=k8s.ObjectMeta(
                labels=self.pod_labels,
                annotations={
                    CONFIG_CHECKSUM_ANNOTATION: props.config_checksum,
                    CREDENTIALS_VERSION_ANNOTATION: props.credentials.version,
                    "kubectl.kubernetes.io/default-container": "redis",
                },
            ),
            spec=k8s.PodSpec(
                service_account_name=names.service_account_name,
                automount_service_account_token=False,
                enable_service_links=False,
                termination_grace_period_seconds=props.termination_grace_period_seconds,
                security_context=restricted_pod(REDIS_UID, fs_group_change_policy="OnRootMismatch"),
                affinity=k8s.Affinity(
                    # Required: the primary and each replica on different nodes, or one node failure
                    # takes both copies of the data.
                    pod_anti_affinity=k8s.PodAntiAffinity(
                        required_during_scheduling_ignored_during_execution=[
                            k8s.PodAffinityTerm(
                                label_selector=k8s.LabelSelector(match_labels=names.labels()),
                                topology_key="kubernetes.io/hostname",
                            )
                        ]
                    )
                ),
                init_containers=[init],
                containers=[redis, exporter, *sidecars],
                volumes=volumes,
            ),
        )

    def _acl_reload(self, props: RedisWorkloadProps, tenant_mounts: list[k8s.VolumeMount]) -> k8s.Container:
        """The sidecar that applies the tenants file to the running Redis (ACL SETUSER/DELUSER, acl_reload.sh)."""
        return k8s.Container(
            name="acl-reload",
            image=props.image,
            image_pull_policy="IfNotPresent",
            command=["sh", f"{SCRIPTS_DIR}/acl-reload.sh"],
            env=[k8s.EnvVar(name="REDIS_PORT", value=str(REDIS_PORT))],
            volume_mounts=[
                k8s.VolumeMount(name="scripts", mount_path=SCRIPTS_DIR, read_only=True),
                k8s.VolumeMount(name=tls_mod.RELOAD_CREDENTIALS_VOLUME, mount_path=SECRETS_DIR, read_only=True),
                *tenant_mounts,
                # users.acl is rewritten after Redis accepted every change: a restart loads what runs.
                k8s.VolumeMount(name="runtime", mount_path=RUN_DIR),
            ],
            resources=resources(cpu=("5m", "50m"), memory=("16Mi", "32Mi")),
            security_context=restricted_container(REDIS_UID),
            # Liveness only (like tls-reload): a stuck loop restarts this sidecar, never unreadies Redis.
            liveness_probe=k8s.Probe(
                exec=k8s.ExecAction(command=["sh", f"{SCRIPTS_DIR}/acl-reload.sh", "check"]),
                initial_delay_seconds=30,
                period_seconds=30,
                timeout_seconds=5,
                failure_threshold=3,
            ),
        )

    def _exporter(self, props: RedisWorkloadProps) -> k8s.Container:
        """The redis_exporter sidecar: the exporter user, its password from a file, TLS with the CA alone."""
        health = k8s.HttpGetAction(path="/health", port=int_or_string("metrics"))
        return k8s.Container(
            name="metrics",
            image=props.exporter_image,
            image_pull_policy="IfNotPresent",
            command=[EXPORTER_BINARY],
            env=[
                k8s.EnvVar(name="REDIS_ADDR", value=props.exporter_uri()),
                *(
                    [k8s.EnvVar(name="REDIS_EXPORTER_TLS_CA_CERT_FILE", value=f"{tls_mod.TLS_CA_DIR}/ca.crt")]
                    if props.tls
                    else []
                ),
                k8s.EnvVar(name="REDIS_USER", value=EXPORTER_USERNAME),
                k8s.EnvVar(name="REDIS_PASSWORD_FILE", value=f"{EXPORTER_RUN_DIR}/password.json"),
                # CONFIG GET would return masterauth in clear text; the exporter user may not run it.
                k8s.EnvVar(name="REDIS_EXPORTER_CONFIG_COMMAND", value="-"),
                # CLIENT SETNAME is not granted to the exporter user; skip it instead of logging NOPERM.
                k8s.EnvVar(name="REDIS_EXPORTER_SET_CLIENT_NAME", value="false"),
                k8s.EnvVar(name="REDIS_EXPORTER_WEB_LISTEN_ADDRESS", value=f":{METRICS_PORT}"),
                # CLIENT LIST per scrape: connections and client memory per tenant (redis_connected_client_info
                # carries `user`). Never --check-keys/--check-single-keys (key values into labels) nor
                # --check-key-groups (Lua on every scrape); the backup's report keys (numbers, not a tenant's data)
                # are read through a ServiceMonitor parameter instead (RedisMonitoring, docs/backups.md).
                k8s.EnvVar(name="REDIS_EXPORTER_EXPORT_CLIENT_LIST", value="true"),
                # The tenants' key counts (count-keys, a /scrape parameter of the ServiceMonitor) SCAN every key:
                # on the replicas only, whichever pod a failover made the primary (v1.71+).
                *(
                    [k8s.EnvVar(name="REDIS_EXPORTER_SKIP_CHECKKEYS_FOR_ROLE_MASTER", value="true")]
                    if props.replicas >= 1
                    else []
                ),
            ],
            ports=[k8s.ContainerPort(name="metrics", container_port=METRICS_PORT, protocol="TCP")],
            volume_mounts=[
                k8s.VolumeMount(name="exporter-auth", mount_path=EXPORTER_RUN_DIR, read_only=True),
                *([k8s.VolumeMount(name="tls-ca", mount_path=tls_mod.TLS_CA_DIR, read_only=True)] if props.tls else []),
            ],
            resources=resources(cpu=("10m", "200m"), memory=("64Mi", "64Mi")),
            security_context=restricted_container(EXPORTER_UID),
            liveness_probe=k8s.Probe(http_get=health, period_seconds=15, timeout_seconds=3, failure_threshold=3),
            readiness_probe=k8s.Probe(http_get=health, period_seconds=15, timeout_seconds=3, failure_threshold=2),
        )
