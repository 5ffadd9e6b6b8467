"""RedisClientBinding: move an app's included manifests from its own Redis onto RedisShared, one phase at a time.

The app's manifests are the app team's YAML, loaded with ``cdk8s.Include``; the binding rewrites only what the
current :class:`MigrationPhase` needs, so going back one phase renders the previous manifests again:

* ``BEFORE_CUTOVER``: the app and its old Redis exactly as included.
* ``SCALED_DOWN``: the app at 0 replicas, still configured for its old Redis (the downtime starts); the old Redis
  objects protected from pruning; with ``data_copy.reverse_match``, the opt-in reverse copy (a PostSync hook).
* ``CUTOVER``: the app's Redis env points at ``redis.master_host:redis.port`` with the client credential
  replicated into the app's namespace; ``strategy: Recreate`` so old and new pods never serve together; pod
  template annotations so the pods roll; the old Redis objects still rendered but protected from pruning
  (ArgoCD and Flux); a validation Job (ArgoCD PostSync hook, a plain Job for Flux) that runs PING/SET/GET/DEL
  against the new Redis with the app's own credential; with ``data_copy``, the data copy
  (:mod:`redis_constructs.migration.data_copy`) as PreSync hooks in ``data_copy_scope``, so the app starts only after it
  verified.
* ``DECOMMISSIONED``: as ``CUTOVER``, without the old Redis objects, and only once ``cutover_time`` is at least
  24 h in the past. The old data volume stays rendered and protected unless ``delete_old_data=True``.

The prune protection CUTOVER puts on the old objects lives on in the cluster: when DECOMMISSIONED stops rendering
them, neither ArgoCD nor Flux deletes them. Removing them is one deliberate ``kubectl delete`` (docs/migration.md#6-decommission),
so no sync can destroy the rollback path by accident.

Its props, :class:`RedisClientBindingProps`, check themselves when built (every rule about their values alone);
the binding checks what reads the tree (Redis admits the app's namespace, the credential is replicated there).
Parts live in modules of their own: the validation Job (:mod:`redis_constructs.migration.validation_job`, a child
construct ``Validate``), the data copy (:mod:`redis_constructs.migration.data_copy`), beersystem's binding and
defaults (:mod:`redis_constructs.migration.beersystem`) and the ArgoCD/Flux annotations
(:mod:`redis_constructs.gitops.sync_annotations`).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cdk8s
import constructs

from ..core import validation as v
from ..core.errors import PropError, names_construct
from ..core.refs import SecretKeyRef
from ..core.restart_annotations import CREDENTIALS_VERSION_ANNOTATION, TARGET_ANNOTATION
from ..core.suggest import nearest
from ..credentials.replicated_secret import ReplicatedSecret
from ..credentials.tenant_credentials import TenantCredentials
from ..gitops.manifest_checks import describe
from ..gitops.sync_annotations import (
    APP_SYNC_WAVE,
    protect_from_pruning,
    set_sync_wave,
)
from ..server.redis_shared import RedisShared
from .data_copy import (
    BindingDataCopy,
    CopyDirection,
    OldRedisEndpoint,
    RedisDataCopy,
    RedisDataCopyProps,
    require_migration_user,
)
from .decommission_gate import DecommissionGate, RedisDecommissionGate, RedisDecommissionGateProps
from .redis_env import HostPortPasswordRedisEnv, PasswordFileRedisEnv, RedisEnv, UrlRedisEnv
from .validation_job import (
    CREDENTIALS_VOLUME,
    DEFAULT_VALIDATION_RUN,
    PASSWORD_FILE,
    RedisValidationJob,
    RedisValidationJobProps,
    ValidationJobRun,
)

#: How long the old Redis stays rendered (and rollback stays one commit away) after the cutover.
DECOMMISSION_DELAY = dt.timedelta(hours=24)

# Pod template annotations added in CUTOVER (and kept in DECOMMISSIONED): CREDENTIALS_VERSION_ANNOTATION and
# TARGET_ANNOTATION (restart_annotations.py) change with the credentials' version and the target, so the pods
# roll onto the new Redis and again on every rotation.


class MigrationPhase(enum.Enum):
    """Where an app is in its move onto the shared Redis; commit one phase at a time (docs/migration.md)."""

    BEFORE_CUTOVER = "before-cutover"
    #: The app scaled to 0 replicas, still configured for its old Redis: the downtime starts, nothing writes.
    SCALED_DOWN = "scaled-down"
    CUTOVER = "cutover"
    DECOMMISSIONED = "decommissioned"

    @classmethod
    def parse(cls, prop: str, value: object) -> MigrationPhase:
        """``value`` if it is a member; PropError otherwise (naming the member a string probably meant)."""
        if isinstance(value, cls):
            return value
        typed = (
            value.strip().upper().replace("-", "_").removeprefix("MIGRATIONPHASE.") if isinstance(value, str) else value
        )
        meant = typed if isinstance(typed, str) and typed in cls.__members__ else nearest(typed, cls.__members__)
        raise PropError(
            prop,
            value,
            "one of " + ", ".join(f"MigrationPhase.{p.name}" for p in cls),
            fix=f"MigrationPhase.{meant}" if meant else None,
        )


def utc_now() -> dt.datetime:
    """The system clock in UTC: the bindings' default ``now``."""
    return dt.datetime.now(dt.UTC)


def _remaining(delta: dt.timedelta) -> str:
    minutes = math.ceil(delta.total_seconds() / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


@dataclass(frozen=True, slots=True)
class _AppDeployment:
    """What the binding reads from the app's Deployment as included."""

    manifest: Mapping[str, Any]
    namespace: str
    containers: tuple[str, ...]
    volumes: frozenset[str]


def _read_app(app: object) -> _AppDeployment:
    """``app``'s manifest, namespace, container and volume names; PropError unless a namespaced apps/v1 Deployment."""
    # isinstance first: jsii's is_api_object raises AttributeError on a plain tuple, bytes or object.
    if not isinstance(app, constructs.Construct) or not cdk8s.ApiObject.is_api_object(app):
        raise PropError("app", app, "the Deployment's cdk8s.ApiObject (from cdk8s.Include)")
    assert isinstance(app, cdk8s.ApiObject)
    manifest = app.to_json()
    if app.kind != "Deployment" or app.api_version != "apps/v1":
        raise PropError("app", describe(manifest), "a Deployment (apps/v1)")
    namespace = str((manifest.get("metadata") or {}).get("namespace") or "")
    if not namespace:
        raise PropError("app", describe(manifest), "a Deployment with metadata.namespace set")
    pod = manifest["spec"]["template"]["spec"]
    return _AppDeployment(
        manifest=manifest,
        namespace=namespace,
        containers=tuple(str(c["name"]) for c in pod.get("containers") or []),
        volumes=frozenset(vol["name"] for vol in pod.get("volumes") or []),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisClientBindingProps:
    """The props of :class:`RedisClientBinding`: which app, onto which Redis, in which phase; checked when built.

    Every rule about these values alone is checked here, in every phase (a bad value fails the commit that sets
    it, not the cutover). The rules that read the tree — ``redis`` admits the app's namespace, ``credentials`` is
    replicated there — are checked by the binding when it is built.
    """

    #: The RedisShared the app moves onto; it must admit the app's namespace (``client_namespaces``).
    redis: RedisShared
    #: The tenants' credentials of ``redis`` (its :class:`TenantCredentials`, or a ReplicatedSecret named like
    #: its tenant Secret with key ``password``), with a copy in the app's namespace.
    credentials: ReplicatedSecret | TenantCredentials
    #: The app's Deployment (apps/v1, ``metadata.namespace`` set): a ``cdk8s.ApiObject`` from ``cdk8s.Include``.
    app: cdk8s.ApiObject
    #: The variables the app reads its Redis from: ``RedisEnv.host_port_password()``, ``.url()`` or
    #: ``.password_file()``.
    env: RedisEnv
    #: Where the app is in its move (docs/migration.md); commit one phase at a time.
    phase: MigrationPhase
    #: When CUTOVER was first deployed (timezone-aware), not after ``now()``; required from CUTOVER on.
    #: Default: - none; ignored in BEFORE_CUTOVER and SCALED_DOWN (after a rollback it may stay as it was).
    cutover_time: dt.datetime | None = None
    #: The clock (a function returning a timezone-aware datetime), injected for tests.
    #: Default: :func:`utc_now`, the system clock in UTC.
    now: Callable[[], dt.datetime] = utc_now
    #: The old Redis's objects (Deployment/StatefulSet, Service, PVC...); with ``data_copy``, exactly one Service.
    #: Default: - none.
    old_redis: tuple[cdk8s.ApiObject, ...] = ()
    #: In DECOMMISSIONED, stop rendering the old PersistentVolumeClaims. Default: False; they stay rendered with
    #: prune protection (the data is kept).
    delete_old_data: bool = False
    #: The container that talks to Redis. Default: - the Deployment's only container.
    container: str | None = None
    #: Variables of the old setup to drop in CUTOVER. Default: - none.
    remove_env: tuple[str, ...] = ()
    #: How the validation Job runs. Default: :data:`DEFAULT_VALIDATION_RUN` (a :class:`ValidationJobRun` with its
    #: defaults); ``None`` renders no Job.
    validation: ValidationJobRun | None = DEFAULT_VALIDATION_RUN
    #: Copy the old Redis's keys into ``redis`` in CUTOVER (a PreSync hook / its own Flux unit), and optionally back
    #: in SCALED_DOWN. Default: - no copy (the old data stays behind).
    data_copy: BindingDataCopy | None = None
    #: Where the copy's objects go. Default: - the binding itself (its chart); the site passes a chart of its own
    #: so Flux can order it between the units.
    data_copy_scope: constructs.Construct | None = None
    #: In DECOMMISSIONED, a Job asking Prometheus whether the time since the cutover was healthy, as a PreSync hook
    #: in ``data_copy_scope`` (docs/checks.md). Default: - no gate: only the synth-time 24 h check.
    decommission_gate: DecommissionGate | None = None

    def __post_init__(self) -> None:
        MigrationPhase.parse("phase", self.phase)
        if not isinstance(self.env, RedisEnv):
            raise PropError("env", self.env, "a RedisEnv from RedisEnv.host_port_password/url/password_file")
        self.env.validate("env")
        if self.validation is not None and not isinstance(self.validation, ValidationJobRun):
            raise PropError("validation", self.validation, "a ValidationJobRun, or None for no Job")
        self._check_app()
        if not isinstance(self.redis, RedisShared):
            raise PropError("redis", self.redis, "a RedisShared construct")
        if not isinstance(self.credentials, (ReplicatedSecret, TenantCredentials)) or (
            self.credentials.secret_name != self.redis.client_secret_name
        ):
            raise PropError(
                "credentials",
                getattr(self.credentials, "secret_name", self.credentials),
                f"the TenantCredentials holding Redis's tenant passwords (Secret {self.redis.client_secret_name!r})",
            )
        self._check_old_redis()
        v.boolean("delete_old_data", self.delete_old_data)
        self._check_time()
        self._check_data_copy()
        if self.decommission_gate is not None:
            v.instance("decommission_gate", self.decommission_gate, DecommissionGate, "a DecommissionGate")

    def _check_app(self) -> None:
        app = _read_app(self.app)
        if self.container is None and len(app.containers) != 1:
            raise PropError(
                "container", self.container, "the container that talks to Redis, one of " + ", ".join(app.containers)
            )
        if self.container is not None and self.container not in app.containers:
            raise PropError("container", self.container, "one of " + ", ".join(app.containers))
        for name in v.items("remove_env", self.remove_env, "a tuple of variable names"):
            if not v.is_env_var_name(name) or name in self.env.variables():
                raise PropError("remove_env", name, "old variable names, none of those env sets")
        v.unique("remove_env", self.remove_env)
        if isinstance(self.env, PasswordFileRedisEnv) and CREDENTIALS_VOLUME in app.volumes:
            raise PropError("app", describe(app.manifest), f"a pod without a volume named {CREDENTIALS_VOLUME!r}")

    def _check_old_redis(self) -> None:
        seen: set[str] = set()
        app_path = self.app.node.path
        for obj in v.items("old_redis", self.old_redis, "a tuple of the old Redis's cdk8s.ApiObjects"):
            if (
                not isinstance(obj, constructs.Construct)
                or not cdk8s.ApiObject.is_api_object(obj)
                or (path := obj.node.path) == app_path
            ):
                raise PropError("old_redis", obj, "the old Redis's cdk8s.ApiObjects, not the app itself")
            if path in seen:
                raise PropError("old_redis", path, "no duplicates")
            seen.add(path)

    def _check_time(self) -> None:
        if not callable(self.now):
            raise PropError("now", self.now, "a clock returning timezone-aware datetimes, e.g. utc_now")
        if self.phase in (MigrationPhase.BEFORE_CUTOVER, MigrationPhase.SCALED_DOWN):
            # Ignored: after a rollback the committed CUTOVER_TIME may stay as it was.
            return
        cutover_time = self.cutover_time
        if cutover_time is None:
            raise PropError(
                "cutover_time",
                None,
                f"the time CUTOVER was first deployed (required in {self.phase.name}), "
                "e.g. datetime(2026, 11, 26, 12, 0, tzinfo=UTC)",
            )
        if not isinstance(cutover_time, dt.datetime) or cutover_time.tzinfo is None:
            raise PropError("cutover_time", cutover_time, "a timezone-aware datetime, e.g. tzinfo=datetime.UTC")
        current = self.now()
        if not isinstance(current, dt.datetime) or current.tzinfo is None:
            raise PropError("now", current, "a clock returning timezone-aware datetimes")
        if cutover_time > current:
            raise PropError("cutover_time", cutover_time.isoformat(), f"a time not after now ({current.isoformat()})")
        if self.phase is MigrationPhase.DECOMMISSIONED:
            elapsed = current - cutover_time
            if elapsed < DECOMMISSION_DELAY:
                ready = cutover_time + DECOMMISSION_DELAY
                raise PropError(
                    "cutover_time",
                    cutover_time.isoformat(),
                    f"at least 24h before now to decommission the old Redis; {_remaining(DECOMMISSION_DELAY - elapsed)} "
                    f"remain (earliest {ready.isoformat()}); keep MigrationPhase.CUTOVER until then",
                )

    def _check_data_copy(self) -> None:
        # Checked in every phase, not only in the one that renders the Job.
        if self.data_copy is None:
            return
        if not isinstance(self.data_copy, BindingDataCopy):
            raise PropError("data_copy", self.data_copy, "a BindingDataCopy or None")
        self.data_copy.validate("data_copy")
        require_migration_user(self.redis)


class RedisClientBinding(constructs.Construct):
    """Moves one included app Deployment from its own Redis onto a :class:`RedisShared`, phase by phase.

    The app and its old Redis objects are ``cdk8s.ApiObject`` s from ``cdk8s.Include`` in the same chart; the
    binding changes them in place (JSON patches and annotations) or removes them from the tree, and adds the
    validation Job (child ``Validate``) and the data copy (``DataCopy`` / ``ReverseDataCopy``, in
    ``data_copy_scope``). See the module docstring for what each phase renders.

    Example::

        app = cdk8s.Include(chart, "App", url="apps/beersystem/app.yaml")
        old = cdk8s.Include(chart, "OldRedis", url="apps/beersystem/redis.yaml")
        RedisClientBinding(chart, "Redis", RedisClientBindingProps(
            redis=redis, credentials=client, app=app.api_objects[0], env=RedisEnv.host_port_password(),
            phase=MigrationPhase.CUTOVER, cutover_time=dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC),
            old_redis=tuple(old.api_objects)))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: RedisClientBindingProps) -> None:
        """Check what reads the tree, then render ``props.phase``."""
        super().__init__(scope, id)
        self.props = v.instance("props", props, RedisClientBindingProps, "a RedisClientBindingProps")
        self.phase = props.phase
        self.env = props.env
        self.redis = props.redis
        self.credentials = props.credentials
        self.delete_old_data = props.delete_old_data
        self.validation = props.validation
        self.app = props.app
        self.old_redis = props.old_redis
        self.remove_env = tuple(props.remove_env)
        self.cutover_time = props.cutover_time
        self.data_copy = props.data_copy
        # Read again here, not kept from the props' check: the binding patches the app as it is now.
        deployment = _read_app(props.app)
        self.namespace = deployment.namespace
        self.container = props.container if props.container is not None else deployment.containers[0]
        self.secret_ref = self._client_secret_ref()
        self.validation_job: RedisValidationJob | None = None
        self.validation_job_name: str | None = None
        self.data_copy_job_name: str | None = None
        self._render(deployment.manifest)

    def _client_secret_ref(self) -> SecretKeyRef:
        """The client credential's copy in the app's namespace, once Redis admits it and the Secret is there."""
        redis, credentials, namespace = self.redis, self.credentials, self.namespace
        if namespace not in redis.client_namespaces:
            raise PropError(
                "redis",
                redis.node.path,
                f"a RedisShared that admits namespace {namespace!r}",
                fix=f"client_namespaces=(..., {namespace!r}) or redis.add_client_namespace({namespace!r})",
            )
        if namespace not in credentials.namespaces:
            raise PropError(
                "credentials",
                credentials.secret_name,
                f"credentials with a copy in the app's namespace {namespace!r} "
                f"(it is in: {', '.join(credentials.namespaces)})",
            )
        return credentials.key_ref(redis.client_password_key, namespace=namespace)

    def _render(self, manifest: Mapping[str, Any]) -> None:
        copy = self.data_copy
        if self.phase is MigrationPhase.SCALED_DOWN:
            self._scale_down()
            self._handle_old_redis()
            if copy is not None and copy.reverse_match:
                self._data_copy(copy, CopyDirection.BACK_TO_OLD)
        elif self.phase is not MigrationPhase.BEFORE_CUTOVER:
            self._cut_over(manifest)
            self._handle_old_redis()
            if self.validation is not None:
                self._add_validation_job(self.validation)
            if copy is not None and self.phase is MigrationPhase.CUTOVER:
                self._data_copy(copy, CopyDirection.INTO_SHARED)
            if self.props.decommission_gate is not None and self.phase is MigrationPhase.DECOMMISSIONED:
                self._add_decommission_gate(self.props.decommission_gate)

    def _add_decommission_gate(self, gate: DecommissionGate) -> None:
        assert self.cutover_time is not None
        scope = self.props.data_copy_scope
        self.decommission_gate = RedisDecommissionGate(
            scope if scope is not None else self,
            "DecommissionGate",
            RedisDecommissionGateProps(
                redis=self.redis,
                namespace=self.namespace,
                app_name=self.app.name,
                cutover_time=self.cutover_time,
                gate=gate,
            ),
        )

    def _add_validation_job(self, run: ValidationJobRun) -> None:
        self.validation_job = RedisValidationJob(
            self,
            "Validate",
            RedisValidationJobProps(
                redis=self.redis,
                credentials=self.credentials,
                namespace=self.namespace,
                app_name=self.app.name,
                job=run,
            ),
        )
        self.validation_job_name = self.validation_job.job_name

    # -- CUTOVER ------------------------------------------------------------------------------------------
    def _env(self) -> list[dict[str, Any]]:
        e, r = self.env, self.redis
        user = r.tenant(self.namespace).user
        secret = {"valueFrom": {"secretKeyRef": {"name": self.secret_ref.name, "key": self.secret_ref.key}}}
        if isinstance(e, UrlRedisEnv):
            url = f"redis://{user}:$({e.password_var})@{r.master_host}:{r.port}/{e.database}"
            return [{"name": e.password_var, **secret}, {"name": e.url_var, "value": url}]
        out: list[dict[str, Any]] = []
        if isinstance(e, HostPortPasswordRedisEnv) and e.username_var:
            out.append({"name": e.username_var, "value": user})
        if isinstance(e, (HostPortPasswordRedisEnv, PasswordFileRedisEnv)):
            out += [{"name": e.host_var, "value": r.master_host}, {"name": e.port_var, "value": str(r.port)}]
        if isinstance(e, HostPortPasswordRedisEnv):
            out.append({"name": e.password_var, **secret})
        if isinstance(e, PasswordFileRedisEnv):
            out.append({"name": e.file_var, "value": f"{e.mount_path}/{PASSWORD_FILE}"})
        return out

    def _cut_over(self, manifest: Mapping[str, Any]) -> None:
        spec = dict(manifest["spec"])
        template = dict(spec["template"])
        meta = dict(template.get("metadata") or {})
        meta["annotations"] = {
            **(meta.get("annotations") or {}),
            CREDENTIALS_VERSION_ANNOTATION: self.credentials.version_in(self.namespace),
            TARGET_ANNOTATION: f"{self.redis.master_host}:{self.redis.port}",
        }
        pod = dict(template["spec"])
        managed = set(self.env.variables()) | set(self.remove_env)
        containers = []
        for original in pod["containers"]:
            c = dict(original)
            if c["name"] == self.container:
                env = list(c.get("env") or [])
                at = next((i for i, e in enumerate(env) if e["name"] in managed), len(env))
                kept = [e for e in env[:at] if e["name"] not in managed]
                rest = [e for e in env[at:] if e["name"] not in managed]
                c["env"] = [*kept, *self._env(), *rest]
                if isinstance(self.env, PasswordFileRedisEnv):
                    c["volumeMounts"] = [
                        *(c.get("volumeMounts") or []),
                        {"name": CREDENTIALS_VOLUME, "mountPath": self.env.mount_path, "readOnly": True},
                    ]
            containers.append(c)
        pod["containers"] = containers
        if isinstance(self.env, PasswordFileRedisEnv):
            pod["volumes"] = [*(pod.get("volumes") or []), self._secret_volume()]
        template["metadata"] = meta
        template["spec"] = pod
        spec["template"] = template
        # Every old pod is gone before a new one starts: never old and new Redis serving at the same time.
        # (An input that never set strategy.rollingUpdate leaves a defaulted one on the live object, which the
        # API server rejects next to Recreate: docs/migration.md#before-you-start.)
        spec["strategy"] = {"type": "Recreate"}
        self.app.add_json_patch(cdk8s.JsonPatch.replace("/spec", spec))
        set_sync_wave(self.app, APP_SYNC_WAVE)

    def _secret_volume(self) -> dict[str, Any]:
        return {
            "name": CREDENTIALS_VOLUME,
            "secret": {
                "secretName": self.secret_ref.name,
                "defaultMode": 0o440,
                "items": [{"key": self.secret_ref.key, "path": PASSWORD_FILE}],
            },
        }

    def _handle_old_redis(self) -> None:
        for obj in self.old_redis:
            keep_data = obj.kind == "PersistentVolumeClaim" and not self.delete_old_data
            if self.phase is MigrationPhase.DECOMMISSIONED and not keep_data:
                scope = obj.node.scope
                if scope is not None:  # an included object always has one (its Include)
                    scope.node.try_remove_child(obj.node.id)
                continue
            protect_from_pruning(obj)

    # -- SCALED_DOWN and the data copy ---------------------------------------------------------------------
    def _scale_down(self) -> None:
        # Only the replica count changes: a rollback to BEFORE_CUTOVER renders the input again.
        self.app.add_json_patch(cdk8s.JsonPatch.add("/spec/replicas", 0))
        set_sync_wave(self.app, APP_SYNC_WAVE)

    def _old_endpoint(self, password: SecretKeyRef) -> OldRedisEndpoint:
        services = [o.to_json() for o in self.old_redis if o.kind == "Service"]
        if len(services) != 1:
            raise PropError("old_redis", [describe(s) for s in services], "exactly one Service (the copy's source)")
        svc = services[0]
        selector = (svc.get("spec") or {}).get("selector") or {}
        ports = (svc.get("spec") or {}).get("ports") or []
        if not selector or not ports:
            raise PropError("old_redis", describe(svc), "a Service with a selector and a port")
        ns = str(svc["metadata"].get("namespace") or self.namespace)
        return OldRedisEndpoint(
            host=f"{svc['metadata']['name']}.{ns}.svc.cluster.local",
            port=int(ports[0]["port"]),
            namespace=ns,
            pod_labels=dict(selector),
            password=password,
        )

    def _data_copy(self, copy: BindingDataCopy, direction: CopyDirection) -> None:
        old = self._old_endpoint(copy.old_password)
        app_name = self.app.name
        marker = None
        # A key-confined tenant's copy refuses keys outside its prefix; its marker lies inside it.
        prefix = self.redis.tenant(self.namespace).key_prefix
        if direction is CopyDirection.INTO_SHARED:
            assert self.cutover_time is not None
            # One marker per cutover: a second cutover after a rollback (a new CUTOVER_TIME) copies again.
            marker = f"{prefix or ''}redis-shared:migration:{self.namespace}/{app_name}:{self.cutover_time.isoformat()}"
        into = direction is CopyDirection.INTO_SHARED
        scope = self.props.data_copy_scope
        copy_construct = RedisDataCopy(
            scope if scope is not None else self,
            "DataCopy" if into else "ReverseDataCopy",
            RedisDataCopyProps(
                redis=self.redis,
                old=old,
                name=f"{app_name[:30]}-redis-copy" if into else f"{app_name[:30]}-redis-copy-back",
                direction=direction,
                marker=marker,
                tenant_prefix=prefix if into else None,
                match=copy.reverse_match if not into else (),
                # Into redis-shared: before the app is applied. Back: after the app's scale-down is healthy.
                hook="PreSync" if into else "PostSync",
                job=copy.job,
            ),
        )
        self.data_copy_job_name = copy_construct.job_name
