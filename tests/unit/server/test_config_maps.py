"""RedisConfiguration: redis.conf per role, the ACL template, the scripts, and the checksum the pods roll on."""

from __future__ import annotations

import re
from typing import Any

import cdk8s
from conftest import find

from redis_constructs import EvictionPolicy, RedisCredentials, RedisShared, RedisSharedProps, Resources, Role
from redis_constructs.server.config_maps import RedisConfiguration, RedisConfigurationProps
from redis_constructs.server.names import RedisNames
from redis_constructs.server.redis_conf import ACL_USERS, ServerSettings, TenantCommands
from redis_constructs.server.tenants import Tenant
from redis_constructs.server.tls import CertManagerSelfSignedCa, Tls

Obj = dict[str, Any]
NAMES = RedisNames(name="cache", namespace="shared")
SETTINGS = ServerSettings(
    port=6379,
    maxmemory_bytes=512 * 1024**2,
    eviction_policy=EvictionPolicy.ALLKEYS_LRU,
    shutdown_timeout_seconds=10,
    primary_host=NAMES.pod_host(Role.PRIMARY, 0),
)


def render(props: RedisSharedProps | None = None) -> tuple[RedisShared, list[Obj]]:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "test", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", props)
    return redis, list(chart.to_json())


def configuration(**overrides: Any) -> tuple[RedisConfiguration, list[Obj]]:
    chart = cdk8s.Chart(cdk8s.App(), "test", disable_resource_name_hashes=True)
    spec: dict[str, Any] = {
        "names": NAMES,
        "settings": SETTINGS,
        "tenant_commands": TenantCommands(),
        "users": ACL_USERS,
    }
    config = RedisConfiguration(chart, "Configuration", RedisConfigurationProps(**(spec | overrides)))
    return config, list(chart.to_json())


def test_three_config_maps_named_from_the_names_alone() -> None:
    config, objects = configuration()
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ConfigMap", "cache-configuration"),
        ("ConfigMap", "cache-scripts"),
        ("ConfigMap", "cache-tenants"),
    ]
    # No tenant: `default` is off (never left out: Redis would make it nopass +@all).
    assert find(objects, "ConfigMap", "cache-tenants")["data"] == {"tenants.conf": "- default\n"}
    data = find(objects, "ConfigMap", "cache-configuration")["data"]
    assert set(data) == {"common.conf", "master.conf", "replica.conf", "users.acl.tmpl"}
    assert "replicaof cache-master-0.cache-headless.shared.svc.cluster.local 6379" in data["replica.conf"]
    scripts = find(objects, "ConfigMap", "cache-scripts")["data"]
    assert "tls-reload.sh" not in scripts
    assert "tls-port" not in data["common.conf"]
    assert config.node.default_child is config.resource
    assert re.fullmatch(r"[0-9a-f]{64}", config.checksum)


def test_tls_adds_its_listener_and_the_reload_script_and_changes_the_checksum() -> None:
    plain, _ = configuration()
    tls, objects = configuration(tls=Tls(certificates=CertManagerSelfSignedCa()))
    assert "tls-port 6380" in find(objects, "ConfigMap", "cache-configuration")["data"]["common.conf"].splitlines()
    assert "tls-reload.sh" in find(objects, "ConfigMap", "cache-scripts")["data"]
    assert tls.checksum != plain.checksum


def test_the_checksum_follows_the_content_only() -> None:
    a, _ = configuration()
    b, _ = configuration()
    fewer_users, _ = configuration(users=tuple(u for u in ACL_USERS if u.name != "migration"))
    tenants, _ = configuration(tenants=lambda: (Tenant(namespace="shop", key_prefix="shop:"),))
    assert a.checksum == b.checksum == tenants.checksum  # tenants reach running pods without a roll
    assert len({a.checksum, fewer_users.checksum}) == 2


def test_redis_config_per_role(site_objects: list[Obj]) -> None:
    data = find(site_objects, "ConfigMap", "redis-shared-configuration")["data"]
    common = data["common.conf"].splitlines()
    assert "appendonly yes" in common
    assert "appendfsync everysec" in common
    assert "maxmemory 536870912" in common  # half of the 1Gi limit
    assert "maxmemory-policy allkeys-lru" in common
    assert "shutdown-timeout 10" in common
    assert "replicaof" not in data["master.conf"]
    # The site replicates over TLS: the replica dials the primary's TLS port.
    assert "replicaof redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local 6380" in data["replica.conf"]
    sts = find(site_objects, "StatefulSet", "redis-shared-master")
    assert sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 10


def test_acl_users_deny_what_the_plan_disables(site_objects: list[Obj]) -> None:
    acl = find(site_objects, "ConfigMap", "redis-shared-configuration")["data"]["users.acl.tmpl"]
    users = {line.split()[1]: line for line in acl.splitlines()}
    assert set(users) == {
        "replication",
        "exporter",
        "admin",
        "migration",
        "backup",
        "check",
    }  # tenants: the tenants ConfigMap
    # The backup user: SYNC for redis-cli --rdb, INFO, and SET of its report keys only (reads no key).
    assert users["backup"].split()[5:] == [
        "resetchannels",
        "-@all",
        "+sync",
        "+replconf",
        "+info",
        "%W~redis-shared:backup:*",
        "+set",
    ]
    # The check user: its own keys only, no channel, nothing administrative.
    assert users["check"].split()[5:] == [
        "~redis-shared:check:*",
        "resetchannels",
        "-@all",
        "+ping",
        "+info",
        "+set",
        "+get",
        "+del",
        "+client|setname",
    ]
    # The data-copy user: reads, RESTORE and its marker only (no DEL, FLUSH*, CONFIG, ACL).
    assert users["migration"].split()[5:] == [
        "~*",
        "resetchannels",
        "-@all",
        "+@read",
        "+restore",
        "+set",
        "+ping",
        "+info",
        "+client|setname",
    ]
    tenants = find(site_objects, "ConfigMap", "redis-shared-tenants")["data"]["tenants.conf"].splitlines()
    (client,) = [line.split() for line in tenants if line.split()[1] == "default"]
    for command in (
        "flushdb",
        "flushall",
        "config",
        "shutdown",
        "acl",
        "replicaof",
        "slaveof",
        "failover",
        "module",
        "debug",
    ):
        assert f"-{command}" in client
    assert "-@admin" in client
    assert users["replication"].endswith("-@all +psync +replconf +ping")
    assert "+config|get" not in users["exporter"] and "+config" not in users["exporter"]
    assert "-@all" in users["exporter"]
    for line in users.values():
        assert re.search(r" on @[A-Z_]+_SHA256@ ", line), line


def test_rotating_credentials_or_config_rolls_the_pods() -> None:
    def annotations(props: RedisSharedProps) -> dict[str, str]:
        _, objects = render(props)
        meta = find(objects, "StatefulSet", f"{props.name}-master")["spec"]["template"]["metadata"]
        return dict(meta["annotations"])

    base = annotations(RedisSharedProps())
    rotated = annotations(RedisSharedProps(credentials=RedisCredentials(version="2")))
    resized = annotations(RedisSharedProps(resources=Resources(memory_limit="2Gi")))
    assert base["redis-shared/credentials-version"] != rotated["redis-shared/credentials-version"]
    assert base["redis-shared/config-checksum"] == rotated["redis-shared/config-checksum"]
    assert base["redis-shared/config-checksum"] != resized["redis-shared/config-checksum"]
