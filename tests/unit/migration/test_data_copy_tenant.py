"""The data copy knows its tenant: a key-confined tenant's copy passes --tenant-prefix and keeps its marker inside.

beersystem (unconfined, on ``default``) copies exactly as before: its Job is in the binding snapshots, unchanged.
"""

from __future__ import annotations

import pytest
from binding_world import NS, World, env_of, only_job
from conftest import find

from redis_constructs import Tenant
from redis_constructs.core.errors import PropError
from redis_constructs.core.refs import SecretKeyRef
from redis_constructs.migration.data_copy import CopyDirection, OldRedisEndpoint, RedisDataCopyProps, copy_command
from redis_constructs.migration.redis_env import RedisEnv

OLD = OldRedisEndpoint(
    host="old.beersystem.svc.cluster.local",
    namespace=NS,
    pod_labels={"app": "old-redis"},
    password=SecretKeyRef(name="old", key="password"),
)


def props(world: World, **kw: object) -> RedisDataCopyProps:
    base: dict[str, object] = {"redis": world.redis, "old": OLD, "name": "shop-redis-copy"}
    return RedisDataCopyProps(**(base | kw))  # type: ignore[arg-type]


def test_a_confined_tenants_copy_refuses_keys_outside_its_prefix() -> None:
    world = World(tenants=(Tenant(namespace=NS, key_prefix="beer:"),))
    argv = copy_command(props(world, marker="beer:redis-shared:migration:x", tenant_prefix="beer:"))
    assert argv[argv.index("--tenant-prefix") + 1] == "beer:"
    assert argv[argv.index("--marker") + 1] == "beer:redis-shared:migration:x"


def test_an_unconfined_copy_has_no_prefix_argument() -> None:
    argv = copy_command(props(World(), marker="redis-shared:migration:x"))
    assert "--tenant-prefix" not in argv


def test_fails_a_marker_outside_the_tenant_prefix() -> None:
    with pytest.raises(PropError, match=r"^marker: got 'redis-shared:m'; expected a key under the tenant prefix"):
        props(World(), marker="redis-shared:m", tenant_prefix="beer:")


def test_fails_a_prefix_on_the_copy_back() -> None:
    with pytest.raises(PropError, match=r"^tenant_prefix: got 'beer:'; expected None for a BACK_TO_OLD copy"):
        props(World(), direction=CopyDirection.BACK_TO_OLD, match=("beer:*",), tenant_prefix="beer:")


def test_a_named_tenants_binding_and_validation_job_use_its_user_and_prefix() -> None:
    world = World(tenants=(Tenant(namespace=NS, key_prefix="beer:"),))
    world.bind(env=RedisEnv.url(var="BEER_REDIS_URL", database=0), remove_env=("REDIS_HOST", "REDIS_PORT"))
    objects = world.beersystem()
    deployment = find(objects, "Deployment", "beersystem", NS)
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "beersystem"]
    env = env_of(container)
    assert env["BEER_REDIS_URL"]["value"].startswith("redis://beersystem:$(REDIS_PASSWORD)@")
    job_env = {e["name"]: e.get("value") for e in only_job(objects)["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert job_env["REDIS_USER"] == "beersystem"
    assert job_env["KEY_PREFIX"] == "beer:"
