"""Client namespaces have one owner: ``RedisShared.add_client_namespace`` brings the policy peer and the Secret copy.

A late add (after construction) reaches the NetworkPolicy and the client Secret, never rolls the Redis pods, and
refuses — changing nothing — when the copy cannot be made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cdk8s
import pytest
from conftest import ROOT, find

import main
from redis_constructs import PropError, RedisCredentials, RedisShared, RedisSharedProps
from redis_constructs.credentials.replicated_secret import ReplicatedSecret, ReplicatedSecretProps, SecretSource
from redis_constructs.credentials.sealing import read_sealed_file, seal_into_file

Obj = dict[str, Any]
#: The site's system keys: the sealed-values file the late-add tests read holds exactly these.
SYSTEM_KEYS = main.SYSTEM_KEYS
CLIENT_PLAINTEXT = SecretSource.plaintext_for_tests({"password": "client-Pw_0123456789abcdef"})
SYSTEM_PLAINTEXT = SecretSource.plaintext_for_tests({k: f"{k}-Pw_0123456789" for k in SYSTEM_KEYS})


class World:
    """A RedisShared whose credentials are two ReplicatedSecrets, as main.py composes them."""

    def __init__(self, source: SecretSource | None = None, *, client_namespaces: tuple[str, ...] = ("a",)) -> None:
        self.chart = cdk8s.Chart(cdk8s.App(), "t", disable_resource_name_hashes=True)
        self.client = ReplicatedSecret(
            self.chart,
            "Client",
            ReplicatedSecretProps(
                name="redis-shared-client", namespaces=("redis",), keys=("password",), source=source or CLIENT_PLAINTEXT
            ),
        )
        self.system = ReplicatedSecret(
            self.chart,
            "System",
            ReplicatedSecretProps(
                name="redis-shared-system", namespaces=("redis",), keys=SYSTEM_KEYS, source=source or SYSTEM_PLAINTEXT
            ),
        )
        self.redis = RedisShared(
            self.chart,
            "Redis",
            RedisSharedProps(
                client_namespaces=client_namespaces,
                credentials=RedisCredentials.from_replicated(client=self.client, system=self.system),
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


def pod_annotations(objects: list[Obj]) -> dict[str, dict[str, str]]:
    return {
        name: find(objects, "StatefulSet", name)["spec"]["template"]["metadata"]["annotations"]
        for name in ("redis-shared-master", "redis-shared-replicas")
    }


def client_copies(objects: list[Obj], kind: str) -> list[str]:
    return sorted(
        o["metadata"]["namespace"]
        for o in objects
        if o["kind"] == kind and o["metadata"]["name"] == "redis-shared-client"
    )


def test_client_namespaces_given_once_get_peer_and_copy() -> None:
    world = World(client_namespaces=("a", "b"))
    objects = world.objects()
    assert peers(objects) == ["a", "b"]
    assert client_copies(objects, "Secret") == ["a", "b", "redis"]
    assert world.client.namespaces == ("redis", "a", "b")


def test_late_add_client_namespace_adds_peer_and_copy_and_does_not_roll_redis() -> None:
    world = World()
    before = world.objects()
    world.redis.add_client_namespace("late")
    after = world.objects()
    assert peers(before) == ["a"]
    assert peers(after) == ["a", "late"]
    assert client_copies(after, "Secret") == ["a", "late", "redis"]
    assert world.redis.client_namespaces == ("a", "late")
    assert world.client.key_ref("password", namespace="late").name == "redis-shared-client"
    assert pod_annotations(after) == pod_annotations(before)


def test_client_namespace_already_holding_a_copy_is_not_copied_twice() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "t", disable_resource_name_hashes=True)
    client = ReplicatedSecret(
        chart,
        "Client",
        ReplicatedSecretProps(
            name="redis-shared-client", namespaces=("redis", "a"), keys=("password",), source=CLIENT_PLAINTEXT
        ),
    )
    system = ReplicatedSecret(
        chart,
        "System",
        ReplicatedSecretProps(
            name="redis-shared-system", namespaces=("redis",), keys=SYSTEM_KEYS, source=SYSTEM_PLAINTEXT
        ),
    )
    RedisShared(
        chart,
        "Redis",
        RedisSharedProps(
            client_namespaces=("a",), credentials=RedisCredentials.from_replicated(client=client, system=system)
        ),
    )
    assert client_copies(list(chart.to_json()), "Secret") == ["a", "redis"]


def test_fails_late_add_without_sealed_values_for_it_and_changes_nothing() -> None:
    world = World(
        SecretSource.sealed(read_sealed_file(ROOT / "sealed" / "values.yaml")), client_namespaces=("beersystem",)
    )
    before = world.objects()
    with pytest.raises(PropError, match=r"^source\.sealed: got 'redis-shared-client in shop'; expected values sealed"):
        world.redis.add_client_namespace("shop")
    assert world.redis.client_namespaces == ("beersystem",)
    assert world.client.namespaces == ("redis", "beersystem")
    assert world.objects() == before


def test_fails_late_add_of_a_taken_namespace() -> None:
    world = World()
    with pytest.raises(PropError, match=r"^client_namespaces: got 'a'; expected a namespace not added yet"):
        world.redis.add_client_namespace("a")
    with pytest.raises(
        PropError, match=r"^client_namespaces: got 'redis'; expected a namespace other than Redis's own"
    ):
        world.redis.add_client_namespace("redis")
    assert client_copies(world.objects(), "Secret") == ["a", "redis"]


def test_sealed_copy_for_a_new_namespace_does_not_roll_redis(tmp_path: Path) -> None:
    cert = (ROOT / "sealed" / "placeholder-cert.pem").read_bytes()
    values = tmp_path / "values.yaml"
    seal_into_file(
        values,
        cert_pem=cert,
        secret_name="redis-shared-client",
        namespaces=["redis", "a", "b"],
        key="password",
        value=b"client-Pw_0123456789abcdef",
    )
    for key in SYSTEM_KEYS:
        seal_into_file(
            values,
            cert_pem=cert,
            secret_name="redis-shared-system",
            namespaces=["redis"],
            key=key,
            value=b"sys-Pw_0123456789abcdef",
        )
    source = SecretSource.sealed(read_sealed_file(values))
    one = World(source, client_namespaces=("a",)).objects()
    two = World(source, client_namespaces=("a", "b")).objects()
    assert client_copies(two, "SealedSecret") == ["a", "b", "redis"]
    assert pod_annotations(one) == pod_annotations(two)
