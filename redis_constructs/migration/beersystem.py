"""BeersystemRedisBinding: :class:`~redis_constructs.migration.binding.RedisClientBinding` with beersystem's defaults.

beersystem (``apps/beersystem/``) reads ``REDIS_HOST``/``REDIS_PORT``/``REDIS_PASSWORD``; its Deployment
``beersystem`` and its old Redis (Deployment or StatefulSet ``beersystem-redis``, Service ``beersystem-redis``, PVC
``beersystem-redis-data``, NetworkPolicy ``beersystem-redis``) are found by kind and name in its included manifests.

Its props derive from the generic ones instead of repeating them: :class:`BeersystemRedisBindingProps` *is* a
:class:`~redis_constructs.migration.binding.RedisClientBindingProps` that takes ``manifests`` and works out ``app``
and ``old_redis`` from them, with beersystem's defaults for ``env`` and ``data_copy``. Every other field, its
default and its rule is the generic one, so a new prop of the binding reaches beersystem without an edit here, and
the construct is the generic binding with nothing of its own but the props type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cdk8s
import constructs

from ..core.errors import PropError, names_construct
from ..core.include import Included
from ..core.refs import SecretKeyRef
from .binding import RedisClientBinding, RedisClientBindingProps
from .data_copy import BindingDataCopy
from .redis_env import RedisEnv

#: beersystem's Deployment (kind, name) in its manifests.
BEERSYSTEM_APP = ("Deployment", "beersystem")
#: beersystem's old Redis objects (kind, name); its Deployment may also be a StatefulSet.
BEERSYSTEM_OLD_REDIS = (
    ("Deployment", "beersystem-redis"),
    ("Service", "beersystem-redis"),
    ("PersistentVolumeClaim", "beersystem-redis-data"),
    ("NetworkPolicy", "beersystem-redis"),
)

#: beersystem's data copy: its old Redis's password, copied by hand into Redis's namespace (docs/migration.md#before-you-start).
BEERSYSTEM_DATA_COPY = BindingDataCopy(old_password=SecretKeyRef(name="beersystem-redis", key="password"))


def _find_objects(manifests: tuple[Included, ...]) -> tuple[cdk8s.ApiObject, tuple[cdk8s.ApiObject, ...]]:
    """beersystem's Deployment and its old Redis objects in ``manifests``; PropError unless each is there once."""
    if not isinstance(manifests, (tuple, list)) or not all(hasattr(m, "api_objects") for m in manifests):
        raise PropError("manifests", manifests, "a tuple of included manifests (cdk8s.Include or IncludeFile)")
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
    return app, old


@dataclass(frozen=True, kw_only=True, slots=True)
class BeersystemRedisBindingProps(RedisClientBindingProps):
    """:class:`RedisClientBindingProps` for beersystem: ``manifests`` instead of ``app`` and ``old_redis``.

    Every other field is the generic one (same default, same rule), but for ``env`` and ``data_copy``.
    """

    #: beersystem's included manifests (``cdk8s.Include`` or :class:`~redis_constructs.core.include.IncludeFile`),
    #: holding its Deployment and its old Redis's objects.
    manifests: tuple[Included, ...]
    #: Found in ``manifests``: Deployment ``beersystem``.
    app: cdk8s.ApiObject = field(init=False)
    #: Found in ``manifests``: the objects of :data:`BEERSYSTEM_OLD_REDIS`.
    old_redis: tuple[cdk8s.ApiObject, ...] = field(init=False)
    #: Default: ``RedisEnv.host_port_password()`` (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD).
    env: RedisEnv = field(default_factory=RedisEnv.host_port_password)
    #: Default: :data:`BEERSYSTEM_DATA_COPY` (the old password from Secret ``beersystem-redis`` in Redis's
    #: namespace); ``None`` copies nothing.
    data_copy: BindingDataCopy | None = BEERSYSTEM_DATA_COPY

    def __post_init__(self) -> None:
        app, old = _find_objects(self.manifests)
        # Derived fields of a frozen record, set once before the generic checks read them.
        object.__setattr__(self, "app", app)
        object.__setattr__(self, "old_redis", old)
        # (slots=True makes a new class: the zero-argument super() would not find it.)
        RedisClientBindingProps.__post_init__(self)


class BeersystemRedisBinding(RedisClientBinding):
    """:class:`RedisClientBinding` with beersystem's defaults: finds its objects in the included manifests.

    Example::

        BeersystemRedisBinding(chart, "Redis", BeersystemRedisBindingProps(
            redis=redis, credentials=client,
            manifests=(cdk8s.Include(chart, "App", url="apps/beersystem/app.yaml"),
                       cdk8s.Include(chart, "OldRedis", url="apps/beersystem/redis.yaml")),
            phase=MigrationPhase.BEFORE_CUTOVER))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: BeersystemRedisBindingProps) -> None:
        """As :class:`RedisClientBinding`; ``props`` must be :class:`BeersystemRedisBindingProps`."""
        if not isinstance(props, BeersystemRedisBindingProps):
            raise PropError("props", type(props).__name__, "a BeersystemRedisBindingProps")
        super().__init__(scope, id, props)
