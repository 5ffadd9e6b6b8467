"""Tenants have one declaration: ``RedisSharedProps.tenants`` / ``add_client_namespace(ns, tenant=...)``.

Everything a tenant needs follows from it: the NetworkPolicy peer, its own Secret copy, its key in Redis's
tenants Secret and its line in the tenants ConfigMap. A late add (after construction) reaches all of them and
never changes the StatefulSets (no restart: the acl-reload sidecar applies it); it refuses — changing nothing —
when the tenant clashes or its copies cannot be made. A rotation changes the tenant's copy and Redis's Secret,
never the StatefulSets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cdk8s
import pytest
from conftest import ROOT, find

import main
from redis_constructs import PropError, RedisCredentials, RedisShared, RedisSharedProps, Tenant
from redis_constructs.credentials.cli import seal_tenant_into
from redis_constructs.credentials.replicated_secret import ReplicatedSecret, ReplicatedSecretProps, SecretSource
from redis_constructs.credentials.sealing import read_sealed_file, seal_into_file, write_sealed_file
from redis_constructs.credentials.tenant_credentials import TenantCredentials, TenantCredentialsProps
from redis_constructs.credentials.tenant_sealing import move_sealed_key

Obj = dict[str, Any]
#: The site's system keys: the sealed-values file the late-add tests read holds exactly these.
SYSTEM_KEYS = main.SYSTEM_KEYS
SYSTEM_PLAINTEXT = SecretSource.plaintext_for_tests({k: f"{k}-Pw_0123456789" for k in SYSTEM_KEYS})
CERT = ROOT / "sealed" / "placeholder-cert.pem"
SHOP = Tenant(namespace="shop", key_prefix="shop:")
BEER = Tenant(namespace="beersystem", password_only=True)


def plaintext(*namespaces: str) -> SecretSource:
    return SecretSource.plaintext_for_tests({f"{ns}.password": f"{ns}-Pw_0123456789abcdef" for ns in namespaces})


class World:
    """A RedisShared whose credentials are a TenantCredentials and a ReplicatedSecret, as main.py composes them."""

    def __init__(
        self,
        source: SecretSource | None = None,
        *,
        client_namespaces: tuple[str, ...] = (),
        tenants: tuple[Tenant, ...] = (Tenant(namespace="a"),),
        system: SecretSource | None = None,
    ) -> None:
        self.chart = cdk8s.Chart(cdk8s.App(), "t", disable_resource_name_hashes=True)
        names = [t.namespace for t in tenants] + list(client_namespaces)
        self.client = TenantCredentials(
            self.chart, "Client", TenantCredentialsProps(source=source or plaintext(*names, "late", "shop"))
        )
        self.system = ReplicatedSecret(
            self.chart,
            "System",
            ReplicatedSecretProps(
                name="redis-shared-system", namespaces=("redis",), keys=SYSTEM_KEYS, source=system or SYSTEM_PLAINTEXT
            ),
        )
        self.redis = RedisShared(
            self.chart,
            "Redis",
            RedisSharedProps(
                tenants=tenants,
                client_namespaces=client_namespaces,
                credentials=RedisCredentials.from_replicated(system=self.system, tenants=self.client),
            ),
        )

    def objects(self) -> list[Obj]:
        return list(self.chart.to_json())


def peers(objects: list[Obj]) -> list[str]:
    """Namespaces admitted to 6379 by the NetworkPolicy."""
    rule = find(objects, "NetworkPolicy", "redis-shared")["spec"]["ingress"][0]
    return [
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in rule["from"]
        if "namespaceSelector" in p
    ]


def statefulsets(objects: list[Obj]) -> str:
    """Both StatefulSets, byte for byte: a change here is a restart of the Redis pods."""
    return json.dumps(
        [find(objects, "StatefulSet", name) for name in ("redis-shared-master", "redis-shared-replicas")],
        sort_keys=True,
    )


def client_copies(objects: list[Obj], kind: str) -> list[str]:
    return sorted(
        o["metadata"]["namespace"]
        for o in objects
        if o["kind"] == kind and o["metadata"]["name"] == "redis-shared-client"
    )


def server_keys(objects: list[Obj], kind: str = "Secret") -> list[str]:
    secret = find(objects, kind, "redis-shared-client", "redis")
    data = secret["spec"]["encryptedData"] if kind == "SealedSecret" else secret["stringData"]
    return sorted(str(k) for k in data)


def tenants_file(objects: list[Obj]) -> list[str]:
    text: str = find(objects, "ConfigMap", "redis-shared-tenants", "redis")["data"]["tenants.conf"]
    return text.splitlines()


def sealed_site_values(tmp_path: Path, *tenants: str) -> Path:
    """The site's sealed file plus ``tenants`` sealed with the committed (placeholder) certificate."""
    values = read_sealed_file(ROOT / "sealed" / "values.yaml")
    for ns in tenants:
        values = seal_tenant_into(
            values,
            cert_pem=CERT.read_bytes(),
            tenant=ns,
            password=f"{ns}-Pw_0123456789abcdef",
            secret_name="redis-shared-client",
            server_namespace="redis",
        )
    path = tmp_path / "values.yaml"
    write_sealed_file(path, values)
    return path


# -- one declaration ----------------------------------------------------------------------------------------
def test_tenants_given_once_get_peer_copy_server_key_and_acl_line() -> None:
    world = World(tenants=(BEER, SHOP), client_namespaces=("a",))
    objects = world.objects()
    assert peers(objects) == ["beersystem", "shop", "a"]
    assert client_copies(objects, "Secret") == ["a", "beersystem", "redis", "shop"]
    assert server_keys(objects) == ["a.password", "beersystem.password", "shop.password"]
    lines = tenants_file(objects)
    assert lines[0] == "a a " + Tenant(namespace="a").rules()
    assert lines[1] == "beersystem default " + BEER.rules()
    assert lines[2].startswith("shop shop ~shop:* &shop:* +@all -@admin -@scripting ")
    assert world.redis.tenants == (BEER, SHOP, Tenant(namespace="a"))
    assert world.redis.tenant("shop") is SHOP
    # Each namespace's copy holds only its own password.
    shop_copy = find(objects, "Secret", "redis-shared-client", "shop")
    assert shop_copy["stringData"] == {"password": "shop-Pw_0123456789abcdef"}


def test_no_tenant_on_default_turns_default_off() -> None:
    objects = World(tenants=(SHOP,)).objects()
    assert tenants_file(objects)[-1] == "- default"


def test_tenants_config_map_is_not_in_the_config_checksum() -> None:
    one = World(tenants=(SHOP,)).objects()
    two = World(tenants=(SHOP, Tenant(namespace="a"))).objects()
    assert tenants_file(one) != tenants_file(two)
    assert statefulsets(one) == statefulsets(two)


def test_tenant_secrets_volume_is_mounted_whole_by_the_init_container_and_the_sidecar_only() -> None:
    sts = find(World().objects(), "StatefulSet", "redis-shared-master")["spec"]["template"]["spec"]
    volume = next(v for v in sts["volumes"] if v["name"] == "tenant-secrets")
    assert volume == {"name": "tenant-secrets", "secret": {"defaultMode": 0o440, "secretName": "redis-shared-client"}}
    mounting = {
        c["name"]
        for c in sts["initContainers"] + sts["containers"]
        for m in c.get("volumeMounts", [])
        if m["name"] in ("tenant-secrets", "tenants")
    }
    assert mounting == {"config", "acl-reload"}
    assert not any("subPath" in m for c in sts["initContainers"] + sts["containers"] for m in c["volumeMounts"])


# -- late adds ---------------------------------------------------------------------------------------------
def test_late_add_reaches_every_object_and_never_the_statefulsets() -> None:
    world = World()
    before = world.objects()
    world.redis.add_client_namespace("shop", tenant=SHOP)
    after = world.objects()
    assert peers(before) == ["a"]
    assert peers(after) == ["a", "shop"]
    assert client_copies(after, "Secret") == ["a", "redis", "shop"]
    assert server_keys(after) == ["a.password", "shop.password"]
    assert [line.split()[0] for line in tenants_file(after)] == ["a", "shop", "-"]
    assert world.redis.client_namespaces == ("a", "shop")
    assert world.redis.tenants[-1] is SHOP
    assert world.client.key_ref("password", namespace="shop").name == "redis-shared-client"
    assert statefulsets(after) == statefulsets(before)


def test_late_add_without_a_tenant_is_its_own_user_with_every_key() -> None:
    world = World()
    world.redis.add_client_namespace("late")
    assert world.redis.tenant("late") == Tenant(namespace="late")
    assert tenants_file(world.objects())[1].startswith("late late ~* &* ")


def test_sealed_late_add_and_rotation_never_change_the_statefulsets(tmp_path: Path) -> None:
    path = sealed_site_values(tmp_path, "shop")
    world = World(SecretSource.sealed(read_sealed_file(path)), tenants=(BEER,), system=main.secret_source())
    before = world.objects()
    world.redis.add_client_namespace("shop", tenant=SHOP)
    added = world.objects()
    assert server_keys(added, "SealedSecret") == ["beersystem.password", "shop.password"]
    assert client_copies(added, "SealedSecret") == ["beersystem", "redis", "shop"]
    assert statefulsets(added) == statefulsets(before)
    shop_version = world.client.version_in("shop")

    # Rotation, first commit: the old ciphertext moves to shop.previous-password, a new one is sealed.
    values = move_sealed_key(
        read_sealed_file(path),
        secret_name="redis-shared-client",
        namespace="redis",
        from_key="shop.password",
        to_key="shop.previous-password",
    )
    values = seal_tenant_into(
        values,
        cert_pem=CERT.read_bytes(),
        tenant="shop",
        password="shop-NEW-Pw_0123456789abcdef",
        secret_name="redis-shared-client",
        server_namespace="redis",
    )
    write_sealed_file(path, values)
    rotated = World(SecretSource.sealed(read_sealed_file(path)), tenants=(BEER, SHOP), system=main.secret_source())
    objects = rotated.objects()
    assert server_keys(objects, "SealedSecret") == ["beersystem.password", "shop.password", "shop.previous-password"]
    assert rotated.client.version_in("shop") != shop_version  # the app rolls onto its new password
    assert rotated.client.version_in("beersystem") == world.client.version_in("beersystem")
    assert statefulsets(objects) == statefulsets(before)


def test_fails_late_add_without_sealed_values_for_it_and_changes_nothing(tmp_path: Path) -> None:
    world = World(SecretSource.sealed(read_sealed_file(ROOT / "sealed" / "values.yaml")), tenants=(BEER,))
    before = world.objects()
    with pytest.raises(
        PropError,
        match=r"^source\.sealed: got 'redis-shared-client in redis: no key shop\.password'; expected the tenant's "
        r"password sealed for Redis's namespace too; seal it with `python -m redis_constructs seal-tenant",
    ):
        world.redis.add_client_namespace("shop", tenant=SHOP)
    assert world.redis.client_namespaces == ("beersystem",)
    assert world.client.namespaces == ("beersystem",)
    assert world.objects() == before


def test_fails_late_add_with_only_the_server_key_sealed_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    write_sealed_file(
        path,
        read_sealed_file(ROOT / "sealed" / "values.yaml"),
    )
    seal_into_file(
        path,
        cert_pem=CERT.read_bytes(),
        secret_name="redis-shared-client",
        namespaces=["redis"],
        key="shop.password",
        value=b"shop-Pw_0123456789abcdef",
    )
    world = World(SecretSource.sealed(read_sealed_file(path)), tenants=(BEER,))
    before = world.objects()
    with pytest.raises(PropError, match=r"^source\.sealed: got 'redis-shared-client in shop'; expected the tenant's"):
        world.redis.add_client_namespace("shop", tenant=SHOP)
    assert world.redis.tenants == (BEER,)
    assert world.objects() == before


def test_fails_a_sealed_key_of_an_undeclared_tenant(tmp_path: Path) -> None:
    path = sealed_site_values(tmp_path, "shop")
    world = World(SecretSource.sealed(read_sealed_file(path)), tenants=(BEER,))
    assert server_keys(world.objects(), "SealedSecret") == ["beersystem.password"]  # never rendered
    with pytest.raises(PropError, match=r"keys \['shop\.password'\]\"; expected keys of declared tenants only"):
        world.client.check_complete()
    world.redis.add_client_namespace("shop", tenant=SHOP)
    world.client.check_complete()


def test_fails_late_add_of_a_taken_namespace_or_user() -> None:
    world = World(tenants=(BEER, Tenant(namespace="a")))
    with pytest.raises(PropError, match=r"^client_namespaces: got 'a'; expected a namespace not added yet"):
        world.redis.add_client_namespace("a")
    with pytest.raises(
        PropError, match=r"^client_namespaces: got 'redis'; expected a namespace other than Redis's own"
    ):
        world.redis.add_client_namespace("redis")
    with pytest.raises(PropError, match=r"^tenants: got 'late'; expected at most one password-only tenant"):
        world.redis.add_client_namespace("late", tenant=Tenant(namespace="late", password_only=True))
    with pytest.raises(PropError, match=r"^tenant\.namespace: got 'shop'; expected the namespace added, 'late'"):
        world.redis.add_client_namespace("late", tenant=SHOP)
    assert world.redis.client_namespaces == ("beersystem", "a")
    assert client_copies(world.objects(), "Secret") == ["a", "beersystem", "redis"]


def test_fails_a_namespace_both_in_tenants_and_client_namespaces() -> None:
    with pytest.raises(
        PropError, match=r"^client_namespaces: got 'shop'; expected a namespace not declared in tenants"
    ):
        RedisSharedProps(tenants=(SHOP,), client_namespaces=("shop",))


def test_fails_tenant_lookup_naming_the_tenants() -> None:
    world = World(tenants=(BEER, SHOP))
    with pytest.raises(
        PropError, match=r"^namespace: got 'blog'; expected a tenant namespace, one of beersystem, shop"
    ):
        world.redis.tenant("blog")


# -- the site ----------------------------------------------------------------------------------------------
def test_site_beersystem_is_the_password_only_tenant_with_todays_rules(site_objects: list[Obj]) -> None:
    lines = tenants_file(site_objects)
    assert lines == [
        "beersystem default ~* &* +@all -@admin -@scripting -flushdb -flushall -config -shutdown -acl -replicaof "
        "-slaveof -failover -module -debug -sync -psync -replconf -monitor -swapdb -migrate -eval -evalsha -eval_ro "
        "-evalsha_ro -fcall -fcall_ro -function -script -restore -restore-asking"
    ]
    assert server_keys(site_objects, "SealedSecret") == ["beersystem.password"]
    # The ciphertext moved keys, unchanged: beersystem's password is the one Redis knew as `default`'s.
    sealed = read_sealed_file(ROOT / "sealed" / "values.yaml")
    assert sealed.encrypted_data("redis-shared-client", "redis") == {
        "beersystem.password": find(site_objects, "SealedSecret", "redis-shared-client", "redis")["spec"][
            "encryptedData"
        ]["beersystem.password"]
    }


def test_site_with_a_second_tenant_shop_renders_it(tmp_path: Path) -> None:
    """shop (prefix shop:) next to beersystem, sealed with the committed certificate, through main.build_app."""
    import dataclasses

    from redis_constructs.gitops.synth import chart_objects

    path = sealed_site_values(tmp_path, "shop")
    redis = dataclasses.replace(main.REDIS, tenants=(*main.REDIS.tenants, SHOP))
    charts = chart_objects(main.build_app(redis, SecretSource.sealed(read_sealed_file(path))))
    objects = charts["redis-shared"]
    assert peers(objects) == ["beersystem", "shop"]
    assert server_keys(objects, "SealedSecret") == ["beersystem.password", "shop.password"]
    assert client_copies(objects, "SealedSecret") == ["beersystem", "redis", "shop"]
    assert tenants_file(objects)[1].startswith("shop shop ~shop:* &shop:* ")
    assert tenants_file(objects)[1].endswith("-keys -randomkey -select -move")
    site = chart_objects(main.build_app())["redis-shared"]
    assert statefulsets(objects) == statefulsets(site)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: RedisSharedProps(tenants=[SHOP]),  # type: ignore[arg-type]
            r"^tenants: got 'list'; expected a tuple of Tenant",
        ),
        (
            lambda: RedisSharedProps(tenants=("shop",)),  # type: ignore[arg-type]
            r"^tenants: got 'shop'; expected a Tenant\(namespace=\.\.\.\)",
        ),
        (
            lambda: RedisSharedProps(tenants=(Tenant(namespace="redis"),)),
            r"^tenants: got 'redis'; expected a namespace other than Redis's own 'redis'",
        ),
        (
            lambda: RedisSharedProps(tenants=(SHOP, Tenant(namespace="shop2", key_prefix="shop:eu:"))),
            r"^tenants: got \"shop2: 'shop:eu:'\"; expected a key prefix outside 'shop''s 'shop:'",
        ),
    ],
)
def test_fails_bad_tenants_props(build: Any, message: str) -> None:
    with pytest.raises(PropError, match=message):
        build()
