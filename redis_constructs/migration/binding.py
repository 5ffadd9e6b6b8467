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
them, neither ArgoCD nor Flux deletes them. Removing them is one deliberate ``kubectl delete`` (README runbook),
so no sync can destroy the rollback path by accident.

Two parts live in modules of their own: the validation Job (:mod:`redis_constructs.migration.validation_job`, a child
construct ``Validate``) and the ArgoCD/Flux annotations (:mod:`redis_constructs.gitops.sync_annotations`).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cdk8s
import constructs

from ..core import validation as v
from ..core.errors import PropError, names_construct
from ..core.include import Included
from ..core.refs import SecretKeyRef
from ..core.restart_annotations import CREDENTIALS_VERSION_ANNOTATION, TARGET_ANNOTATION
from ..credentials.replicated_secret import ReplicatedSecret
from ..gitops.manifest_checks import describe
from ..gitops.sync_annotations import (
    APP_SYNC_WAVE,
    protect_from_pruning,
    set_sync_wave,
)
from ..server.redis_shared import RedisShared
from .data_copy import CopyDirection, DataCopy, OldRedisEndpoint, RedisDataCopy, require_migration_user
from .redis_env import HostPortPasswordRedisEnv, PasswordFileRedisEnv, RedisEnv, UrlRedisEnv
from .validation_job import (
    CREDENTIALS_VOLUME,
    DEFAULT_VALIDATION,
    PASSWORD_FILE,
    RedisValidationJob,
    ValidationJob,
)

#: How long the old Redis stays rendered (and rollback stays one commit away) after the cutover.
DECOMMISSION_DELAY = dt.timedelta(hours=24)

# Pod template annotations added in CUTOVER (and kept in DECOMMISSIONED): CREDENTIALS_VERSION_ANNOTATION and
# TARGET_ANNOTATION (restart_annotations.py) change with the credentials' version and the target, so the pods
# roll onto the new Redis and again on every rotation.


class MigrationPhase(enum.Enum):
    """Where an app is in its move onto the shared Redis; commit one phase at a time (README runbook)."""

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
        meant = [p for p in cls if isinstance(value, str) and value.strip().upper().replace("-", "_") in {p.name}]
        raise PropError(
            prop,
            value,
            "one of " + ", ".join(f"MigrationPhase.{p.name}" for p in cls),
            fix=f"MigrationPhase.{meant[0].name}" if meant else None,
        )


def utc_now() -> dt.datetime:
    """The system clock in UTC: the bindings' default ``now``."""
    return dt.datetime.now(dt.UTC)


def _remaining(delta: dt.timedelta) -> str:
    minutes = math.ceil(delta.total_seconds() / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


class RedisClientBinding(constructs.Construct):
    """Moves one included app Deployment from its own Redis onto a :class:`RedisShared`, phase by phase.

    The app and its old Redis objects are ``cdk8s.ApiObject`` s from ``cdk8s.Include`` in the same chart; the
    binding changes them in place (JSON patches and annotations) or removes them from the tree, and adds the
    validation Job. See the module docstring for what each phase renders.

    Example::

        app = cdk8s.Include(chart, "App", url="apps/beersystem/app.yaml")
        old = cdk8s.Include(chart, "OldRedis", url="apps/beersystem/redis.yaml")
        RedisClientBinding(chart, "Redis", redis=redis, credentials=client, app=app.api_objects[0],
                           env=RedisEnv.host_port_password(), phase=MigrationPhase.CUTOVER,
                           cutover_time=dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC),
                           old_redis=tuple(old.api_objects))
    """

    @names_construct
    def __init__(
        self,
        scope: constructs.Construct,
        id: str,
        *,
        redis: RedisShared,
        credentials: ReplicatedSecret,
        app: cdk8s.ApiObject,
        env: RedisEnv,
        phase: MigrationPhase,
        cutover_time: dt.datetime | None = None,
        now: Callable[[], dt.datetime] = utc_now,
        old_redis: tuple[cdk8s.ApiObject, ...] = (),
        delete_old_data: bool = False,
        container: str | None = None,
        remove_env: tuple[str, ...] = (),
        validation: ValidationJob | None = DEFAULT_VALIDATION,
        data_copy: DataCopy | None = None,
        data_copy_scope: constructs.Construct | None = None,
    ) -> None:
        """Validate every prop, then render ``phase``.

        ``cutover_time``: when CUTOVER was first deployed (timezone-aware); required from CUTOVER on.
        ``now``: the clock, injected for tests. Default: - the system clock in UTC.
        ``old_redis``: the old Redis objects (Deployment/StatefulSet, Service, PVC...). Default: - none.
        ``delete_old_data``: stop rendering the old PersistentVolumeClaims in DECOMMISSIONED. Default: False, they
        stay rendered with prune protection (the data is kept).
        ``container``: the container that talks to Redis. Default: - the Deployment's only container.
        ``remove_env``: variables of the old setup to drop in CUTOVER. Default: - none.
        ``validation``: Default: - a :class:`ValidationJob` with its defaults; ``None`` renders no Job.
        ``data_copy``: copy the old Redis's keys into ``redis`` in CUTOVER (a PreSync hook / its own Flux unit), and
        optionally back in SCALED_DOWN. Default: - no copy (the old data stays behind).
        ``data_copy_scope``: where the copy's objects go. Default: - this binding (its chart); the site passes a chart
        of its own so Flux can order it between the units.
        """
        super().__init__(scope, id)
        self.phase = MigrationPhase.parse("phase", phase)
        if not isinstance(env, RedisEnv):
            raise PropError("env", env, "a RedisEnv from RedisEnv.host_port_password/url/password_file")
        env.validate("env")
        if validation is not None and not isinstance(validation, ValidationJob):
            raise PropError("validation", validation, "a ValidationJob, or None for no Job")
        self.env = env
        self.redis = redis
        self.credentials = credentials
        self.delete_old_data = delete_old_data
        self.validation = validation

        # -- the app --
        if not cdk8s.ApiObject.is_api_object(app):
            raise PropError("app", app, "the Deployment's cdk8s.ApiObject (from cdk8s.Include)")
        self.app = app
        manifest = app.to_json()
        if app.kind != "Deployment" or app.api_version != "apps/v1":
            raise PropError("app", describe(manifest), "a Deployment (apps/v1)")
        self.namespace = str((manifest.get("metadata") or {}).get("namespace") or "")
        if not self.namespace:
            raise PropError("app", describe(manifest), "a Deployment with metadata.namespace set")
        pod = manifest["spec"]["template"]["spec"]
        names = [str(c["name"]) for c in pod.get("containers") or []]
        if container is None and len(names) != 1:
            raise PropError("container", container, "the container that talks to Redis, one of " + ", ".join(names))
        if container is not None and container not in names:
            raise PropError("container", container, "one of " + ", ".join(names))
        self.container = container if container is not None else names[0]
        for name in remove_env:
            if not v.is_env_var_name(name) or name in env.variables():
                raise PropError("remove_env", name, "old variable names, none of those env sets")
        self.remove_env = v.unique("remove_env", remove_env)
        volumes = {vol["name"] for vol in pod.get("volumes") or []}
        if isinstance(env, PasswordFileRedisEnv) and CREDENTIALS_VOLUME in volumes:
            raise PropError("app", describe(manifest), f"a pod without a volume named {CREDENTIALS_VOLUME!r}")

        # -- redis and the credential in the app's namespace --
        if not isinstance(redis, RedisShared):
            raise PropError("redis", redis, "a RedisShared construct")
        if self.namespace not in redis.client_namespaces:
            raise PropError(
                "redis",
                redis.node.path,
                f"a RedisShared that admits namespace {self.namespace!r}",
                fix=f"client_namespaces=(..., {self.namespace!r}) or redis.add_client_namespace({self.namespace!r})",
            )
        if not isinstance(credentials, ReplicatedSecret) or credentials.secret_name != redis.client_secret_name:
            raise PropError(
                "credentials",
                getattr(credentials, "secret_name", credentials),
                f"the ReplicatedSecret holding Redis's client credential (Secret {redis.client_secret_name!r})",
            )
        if self.namespace not in credentials.namespaces:
            raise PropError(
                "credentials",
                credentials.secret_name,
                f"a ReplicatedSecret replicated into the app's namespace {self.namespace!r} "
                f"(it is in: {', '.join(credentials.namespaces)})",
            )
        self.secret_ref = credentials.key_ref(redis.client_password_key, namespace=self.namespace)

        # -- the old Redis --
        seen: set[str] = set()
        app_path = app.node.path
        for obj in old_redis:
            if not cdk8s.ApiObject.is_api_object(obj) or (path := obj.node.path) == app_path:
                raise PropError("old_redis", obj, "the old Redis's cdk8s.ApiObjects, not the app itself")
            if path in seen:
                raise PropError("old_redis", path, "no duplicates")
            seen.add(path)
        self.old_redis = old_redis

        # -- time --
        self.cutover_time = self._check_time(cutover_time, now)

        self.data_copy = data_copy
        self.data_copy_job_name: str | None = None
        if data_copy is not None and not isinstance(data_copy, DataCopy):
            raise PropError("data_copy", data_copy, "a DataCopy or None")
        if data_copy is not None:
            # Checked in every phase, not only in the one that renders the Job.
            data_copy.job.validate("data_copy.job")
            require_migration_user(redis)
            v.secret_name("data_copy.old_password.name", data_copy.old_password.name)
            v.secret_key("data_copy.old_password.key", data_copy.old_password.key)
            for pattern in data_copy.reverse_match:
                v.text("data_copy.reverse_match", pattern, max_length=200)
        self.validation_job: RedisValidationJob | None = None
        self.validation_job_name: str | None = None
        if self.phase is MigrationPhase.SCALED_DOWN:
            self._scale_down()
            self._handle_old_redis()
            if data_copy is not None and data_copy.reverse_match:
                self._data_copy(data_copy, data_copy_scope, CopyDirection.BACK_TO_OLD)
        elif self.phase is not MigrationPhase.BEFORE_CUTOVER:
            self._cut_over(manifest)
            self._handle_old_redis()
            if validation is not None:
                self.validation_job = RedisValidationJob(
                    self,
                    "Validate",
                    redis=redis,
                    credentials=credentials,
                    namespace=self.namespace,
                    app_name=self.app.name,
                    props=validation,
                )
                self.validation_job_name = self.validation_job.job_name
            if data_copy is not None and self.phase is MigrationPhase.CUTOVER:
                self._data_copy(data_copy, data_copy_scope, CopyDirection.INTO_SHARED)

    # -- validation ---------------------------------------------------------------------------------------
    def _check_time(self, cutover_time: dt.datetime | None, now: Callable[[], dt.datetime]) -> dt.datetime | None:
        if self.phase in (MigrationPhase.BEFORE_CUTOVER, MigrationPhase.SCALED_DOWN):
            # Ignored: after a rollback the committed CUTOVER_TIME may stay as it was.
            return cutover_time
        if cutover_time is None:
            raise PropError(
                "cutover_time",
                None,
                f"the time CUTOVER was first deployed (required in {self.phase.name}), "
                "e.g. datetime(2026, 11, 26, 12, 0, tzinfo=UTC)",
            )
        if not isinstance(cutover_time, dt.datetime) or cutover_time.tzinfo is None:
            raise PropError("cutover_time", cutover_time, "a timezone-aware datetime, e.g. tzinfo=datetime.UTC")
        current = now()
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
        return cutover_time

    # -- CUTOVER ------------------------------------------------------------------------------------------
    def _env(self) -> list[dict[str, Any]]:
        e, r = self.env, self.redis
        secret = {"valueFrom": {"secretKeyRef": {"name": self.secret_ref.name, "key": self.secret_ref.key}}}
        if isinstance(e, UrlRedisEnv):
            url = f"redis://{r.client_username}:$({e.password_var})@{r.master_host}:{r.port}/{e.database}"
            return [{"name": e.password_var, **secret}, {"name": e.url_var, "value": url}]
        out: list[dict[str, Any]] = []
        if isinstance(e, HostPortPasswordRedisEnv) and e.username_var:
            out.append({"name": e.username_var, "value": r.client_username})
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
        # API server rejects next to Recreate: README runbook, "Before you start".)
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

    def _data_copy(self, copy: DataCopy, scope: constructs.Construct | None, direction: CopyDirection) -> None:
        old = self._old_endpoint(copy.old_password)
        app_name = self.app.name
        marker = None
        if direction is CopyDirection.INTO_SHARED:
            assert self.cutover_time is not None
            # One marker per cutover: a second cutover after a rollback (a new CUTOVER_TIME) copies again.
            marker = f"redis-shared:migration:{self.namespace}/{app_name}:{self.cutover_time.isoformat()}"
        into = direction is CopyDirection.INTO_SHARED
        copy_construct = RedisDataCopy(
            scope if scope is not None else self,
            "DataCopy" if into else "ReverseDataCopy",
            redis=self.redis,
            old=old,
            name=f"{app_name[:30]}-redis-copy" if into else f"{app_name[:30]}-redis-copy-back",
            direction=direction,
            marker=marker,
            match=copy.reverse_match if not into else (),
            # Into redis-shared: before the app is applied. Back: after the app's scale-down is healthy.
            hook="PreSync" if into else "PostSync",
            job=copy.job,
        )
        self.data_copy_job_name = copy_construct.job_name


#: beersystem's Deployment, its old Redis objects, and the variables it reads (apps/beersystem/).
BEERSYSTEM_APP = ("Deployment", "beersystem")
BEERSYSTEM_OLD_REDIS = (
    ("Deployment", "beersystem-redis"),
    ("Service", "beersystem-redis"),
    ("PersistentVolumeClaim", "beersystem-redis-data"),
    ("NetworkPolicy", "beersystem-redis"),
)

#: beersystem's data copy: its old Redis's password, copied by hand into Redis's namespace (README runbook).
BEERSYSTEM_DATA_COPY = DataCopy(old_password=SecretKeyRef(name="beersystem-redis", key="password"))


class BeersystemRedisBinding(RedisClientBinding):
    """:class:`RedisClientBinding` with beersystem's defaults: finds its objects in the included manifests.

    beersystem reads ``REDIS_HOST``/``REDIS_PORT``/``REDIS_PASSWORD``; its Deployment ``beersystem`` and the old
    Redis (Deployment or StatefulSet ``beersystem-redis``, Service ``beersystem-redis``, PVC
    ``beersystem-redis-data``, NetworkPolicy ``beersystem-redis``) are looked up by kind and name in ``manifests``.

    Example::

        BeersystemRedisBinding(chart, "Redis", redis=redis, credentials=client,
                               manifests=(cdk8s.Include(chart, "App", url="apps/beersystem/app.yaml"),
                                          cdk8s.Include(chart, "OldRedis", url="apps/beersystem/redis.yaml")),
                               phase=MigrationPhase.BEFORE_CUTOVER)
    """

    @names_construct
    def __init__(
        self,
        scope: constructs.Construct,
        id: str,
        *,
        redis: RedisShared,
        credentials: ReplicatedSecret,
        manifests: Sequence[Included],
        phase: MigrationPhase,
        cutover_time: dt.datetime | None = None,
        now: Callable[[], dt.datetime] = utc_now,
        delete_old_data: bool = False,
        env: RedisEnv | None = None,
        validation: ValidationJob | None = DEFAULT_VALIDATION,
        data_copy: DataCopy | None = BEERSYSTEM_DATA_COPY,
        data_copy_scope: constructs.Construct | None = None,
    ) -> None:
        """``env``: Default: ``RedisEnv.host_port_password()`` (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD).

        ``data_copy``: Default: :data:`BEERSYSTEM_DATA_COPY` (the old password from Secret ``beersystem-redis`` in
        Redis's namespace); ``None`` copies nothing. ``data_copy_scope``: as for :class:`RedisClientBinding`.
        """
        # (kind, name, object), read once: each read of .kind or .name is a round trip to jsii.
        objects = [(o.kind, o.name, o) for inc in manifests for o in inc.api_objects]

        def pick(kinds: tuple[str, ...], name: str) -> cdk8s.ApiObject:
            found = [o for kind, n, o in objects if kind in kinds and n == name]
            if len(found) != 1:
                have = sorted(f"{kind} {n}" for kind, n, _ in objects)
                raise PropError("manifests", have, f"exactly one {' or '.join(kinds)} named {name!r}")
            return found[0]

        app = pick((BEERSYSTEM_APP[0],), BEERSYSTEM_APP[1])
        old = tuple(
            pick(("Deployment", "StatefulSet") if kind == "Deployment" else (kind,), name)
            for kind, name in BEERSYSTEM_OLD_REDIS
        )
        super().__init__(
            scope,
            id,
            redis=redis,
            credentials=credentials,
            app=app,
            env=env if env is not None else RedisEnv.host_port_password(),
            phase=phase,
            cutover_time=cutover_time,
            now=now,
            old_redis=old,
            delete_old_data=delete_old_data,
            validation=validation,
            data_copy=data_copy,
            data_copy_scope=data_copy_scope,
        )
