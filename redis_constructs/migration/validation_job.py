"""RedisValidationJob: the post-cutover check that an app's namespace reaches RedisShared with its own credential.

A Job in the app's namespace runs ``redis-cli`` PING/SET/GET/DEL (:data:`VALIDATE_SCRIPT`) against
``redis.master_host:redis.port`` as the client user, with the password the app reads, mounted as a file (never in
argv or the environment). It is an ArgoCD ``PostSync`` hook (a failed check fails the sync) and, for Flux, a plain
Job its Kustomization waits for. Two objects:

* NetworkPolicy ``<app>-redis-validate``: the Job's pods may reach DNS and Redis's port in Redis's namespace, and
  nothing may reach them.
* Job ``<app>-redis-validate-<hash>``: the hash covers the whole rendered spec and the credentials' version, since
  a Job's template is immutable (a changed Job is a new Job).

:class:`~redis_constructs.migration.binding.RedisClientBinding` adds one in CUTOVER and DECOMMISSIONED. Two records,
each checked when it is built: :class:`RedisValidationJobProps` (what the construct checks: Redis, the credential,
the app's namespace) and :class:`ValidationJobRun` (how the Job runs: image, deadline, retries, clean-up; a binding's
``validation``). ``ValidationJobRun`` was ``ValidationJob`` until #18: the old name read as the construct's props.
"""

from __future__ import annotations

from dataclasses import dataclass

import constructs
from cdk8s_plus_28 import k8s

from ..core import validation as v
from ..core.errors import PropError, names_construct
from ..core.images import REDIS_IMAGE
from ..core.job_run import JobRun
from ..core.pod_security import resources
from ..core.rendering import dns_egress_rule, job_network_policy, namespace_peer, tcp_port
from ..credentials.replicated_secret import ReplicatedSecret
from ..credentials.tenant_credentials import TenantCredentials
from ..gitops.sync_annotations import argocd_hook
from ..server.redis_shared import RedisShared
from ..server.workload import REDIS_UID

#: checkov checks the validation Job skips while its image has no digest (docs/development.md#policy-checks-checkov).
VALIDATION_JOB_CHECKOV_SKIPS = (
    ("CKV_K8S_43", "version-pinned tag; set validation.image_digest to pin the digest"),
    ("CKV_K8S_15", "IfNotPresent with a version-pinned tag (the image Redis already runs)"),
)
#: The client credential as a file: the volume's name and the file's, in this Job's pod and in an app's pod that
#: reads its password from a file (``RedisEnv.password_file``).
CREDENTIALS_VOLUME = "redis-shared-credentials"
PASSWORD_FILE = "password"
_VALIDATE_PASSWORD_DIR = "/var/run/secrets/redis-shared"
#: The validation Job's script: the password is read from the mounted file into REDISCLI_AUTH (never argv).
VALIDATE_SCRIPT = """\
set -eu
REDISCLI_AUTH="$(cat "$PASSWORD_FILE")"
export REDISCLI_AUTH
key="${KEY_PREFIX:-}redis-shared:validate:$POD_NAMESPACE:$POD_NAME"
check() {
  want="$1"
  shift
  got="$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --user "$REDIS_USER" "$@")" || {
    echo "FAIL: $1 could not reach $REDIS_HOST:$REDIS_PORT" >&2
    exit 1
  }
  if [ "$got" != "$want" ]; then
    echo "FAIL: $1 returned '$got', expected '$want'" >&2
    exit 1
  fi
  echo "ok: $1"
}
check PONG PING
check OK SET "$key" "$key" EX 300
check "$key" GET "$key"
check 1 DEL "$key"
echo "redis-shared at $REDIS_HOST:$REDIS_PORT works with this namespace's credential"
"""


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidationJobRun(JobRun):
    """How the post-cutover check's Job runs (a Job running ``redis-cli`` with the app's credential against the new Redis).

    Running it twice is harmless (one short-lived key), so a Flux re-apply after ``ttl_seconds_after_finished``
    just checks again.
    """

    #: Default: :data:`images.REDIS_IMAGE`, the current patched 7.4 release, the image RedisShared runs by default.
    image: str = REDIS_IMAGE
    #: Default: 120 (from 10 to 3600); the Job fails (and the ArgoCD sync or Flux Kustomization with it) after this
    #: long.
    active_deadline_seconds: int = 120

    def __post_init__(self) -> None:
        # At construction, in every phase: a bad value fails the commit that sets it, not the cutover.
        self.check_run("validation", deadline=(10, 3600))


#: How the validation Job runs unless told otherwise.
DEFAULT_VALIDATION_RUN = ValidationJobRun()


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisValidationJobProps:
    """The props of :class:`RedisValidationJob`, checked when built.

    The rule that reads the tree (``credentials`` is replicated into ``namespace``) is checked by the construct.
    """

    #: The RedisShared to check: the Job connects to ``redis.master_host:redis.port`` as its client user.
    redis: RedisShared
    #: The tenant's credentials (a :class:`TenantCredentials`, or a ReplicatedSecret holding its ``password``);
    #: they must have a copy in ``namespace``.
    credentials: ReplicatedSecret | TenantCredentials
    #: The app's namespace: the Job and its NetworkPolicy go there and read the credential's copy there.
    namespace: str
    #: The app's name: the prefix of the objects' names (``<app_name>-redis-validate``).
    app_name: str
    #: How the Job runs. Default: :data:`DEFAULT_VALIDATION_RUN` (a :class:`ValidationJobRun` with its defaults).
    job: ValidationJobRun = DEFAULT_VALIDATION_RUN

    def __post_init__(self) -> None:
        v.instance("redis", self.redis, RedisShared, "a RedisShared construct")
        if not isinstance(self.credentials, (ReplicatedSecret, TenantCredentials)):
            raise PropError("credentials", type(self.credentials).__name__, "a TenantCredentials or a ReplicatedSecret")
        v.dns_label("namespace", self.namespace)
        v.dns_label("app_name", self.app_name)
        v.instance("job", self.job, ValidationJobRun, "a ValidationJobRun")


class RedisValidationJob(constructs.Construct):
    """The validation Job and its NetworkPolicy in an app's namespace (see the module docstring).

    The Job is the construct's ``Resource`` child (``node.default_child``), created after its NetworkPolicy.

    Example::

        RedisValidationJob(chart, "Validate", RedisValidationJobProps(
            redis=redis, credentials=client, namespace="beersystem", app_name="beersystem",
            job=ValidationJobRun(active_deadline_seconds=300)))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: RedisValidationJobProps) -> None:
        """Render the NetworkPolicy, then the Job (its name hashes its spec and the credentials' version)."""
        super().__init__(scope, id)
        self.props = v.instance("props", props, RedisValidationJobProps, "a RedisValidationJobProps")
        redis, credentials, namespace, app_name = props.redis, props.credentials, props.namespace, props.app_name
        job = props.job
        secret_ref = credentials.key_ref(redis.client_password_key, namespace=namespace)
        tenant = redis.tenant(namespace)
        self.namespace = namespace
        # The NetworkPolicy's name; the Job's gets a hash of its rendered spec below (see there).
        name = f"{app_name[:40]}-redis-validate"
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": app_name}
        annotations = argocd_hook("PostSync") | job.checkov_skips(VALIDATION_JOB_CHECKOV_SKIPS)

        def field(path: str) -> k8s.EnvVarSource:
            return k8s.EnvVarSource(field_ref=k8s.ObjectFieldSelector(field_path=path))

        self.network_policy = job_network_policy(
            self,
            "NetworkPolicy",
            metadata=k8s.ObjectMeta(name=name, namespace=namespace, labels=labels),
            pod_labels=labels,
            egress=[
                dns_egress_rule(redis.dns_namespace, redis.dns_pod_labels),
                k8s.NetworkPolicyEgressRule(
                    to=[namespace_peer(redis.namespace, redis.pod_labels)],
                    ports=[tcp_port(redis.port)],
                ),
            ],
        )
        spec = job.job_spec(
            labels=labels,
            uid=REDIS_UID,
            container="validate",
            command=["sh", "-c", VALIDATE_SCRIPT],
            env=[
                k8s.EnvVar(name="REDIS_HOST", value=redis.master_host),
                k8s.EnvVar(name="REDIS_PORT", value=str(redis.port)),
                k8s.EnvVar(name="REDIS_USER", value=tenant.user),
                # A key-confined tenant may touch only its own keys.
                *([k8s.EnvVar(name="KEY_PREFIX", value=tenant.key_prefix)] if tenant.key_prefix else []),
                k8s.EnvVar(name="PASSWORD_FILE", value=f"{_VALIDATE_PASSWORD_DIR}/{PASSWORD_FILE}"),
                k8s.EnvVar(name="POD_NAME", value_from=field("metadata.name")),
                k8s.EnvVar(name="POD_NAMESPACE", value_from=field("metadata.namespace")),
            ],
            volume_mounts=[
                k8s.VolumeMount(name=CREDENTIALS_VOLUME, mount_path=_VALIDATE_PASSWORD_DIR, read_only=True),
            ],
            volumes=[
                k8s.Volume(
                    name=CREDENTIALS_VOLUME,
                    secret=k8s.SecretVolumeSource(
                        secret_name=secret_ref.name,
                        default_mode=0o440,
                        items=[k8s.KeyToPath(key=secret_ref.key, path=PASSWORD_FILE)],
                    ),
                )
            ],
            resources=resources(cpu=("10m", "100m"), memory=("16Mi", "32Mi")),
        )
        # The name hashes the whole rendered spec and the credential version (JobRun.hashed_name).
        self.job_name = job.hashed_name(name, spec, credentials.version_in(namespace))
        self.job = k8s.KubeJob(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(name=self.job_name, namespace=namespace, labels=labels, annotations=annotations),
            spec=spec,
        )
