"""Choice types: one frozen class per variant, validated at construction; the base cannot be built bare."""

from __future__ import annotations

import dataclasses

import cdk8s
import pytest

from redis_constructs import PropError, RedisEnv, ReplicatedSecret, ReplicatedSecretProps, SecretSource
from redis_constructs.credentials.replicated_secret import (
    ExistingSecretSource,
    ExternalSecretSource,
    PlaintextSecretSource,
    SealedSecretSource,
    SourceKind,
)
from redis_constructs.credentials.sealing import SealedValues, SealingScope
from redis_constructs.migration.redis_env import HostPortPasswordRedisEnv, PasswordFileRedisEnv, UrlRedisEnv

FINGERPRINT = "0" * 64


def test_factories_return_one_frozen_class_per_variant() -> None:
    sources: list[tuple[SecretSource, type, SourceKind]] = [
        (SecretSource.existing(version="2"), ExistingSecretSource, SourceKind.EXISTING),
        (
            SecretSource.sealed(SealedValues(certificate_sha256=FINGERPRINT, scope=SealingScope.STRICT)),
            SealedSecretSource,
            SourceKind.SEALED,
        ),
        (SecretSource.external(store_name="vault", remote_key="k"), ExternalSecretSource, SourceKind.EXTERNAL),
        (SecretSource.plaintext_for_tests({"password": "x" * 20}), PlaintextSecretSource, SourceKind.PLAINTEXT),
    ]
    for source, cls, kind in sources:
        assert type(source) is cls
        assert isinstance(source, SecretSource)
        assert source.kind is kind
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(source, dataclasses.fields(source)[0].name, "9")  # type: ignore[arg-type]
    envs: list[tuple[RedisEnv, type]] = [
        (RedisEnv.host_port_password(), HostPortPasswordRedisEnv),
        (RedisEnv.url(), UrlRedisEnv),
        (RedisEnv.password_file(), PasswordFileRedisEnv),
    ]
    for env, cls in envs:
        assert type(env) is cls
        assert isinstance(env, RedisEnv)
    assert RedisEnv.url(var="U", password_var="P").variables() == ("P", "U")
    assert RedisEnv.password_file().variables() == ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD_FILE")


def test_fails_bare_secret_source() -> None:
    with pytest.raises(
        PropError, match=r"^source: got 'SecretSource\(\.\.\.\)'; expected one of SecretSource\.existing\(\)"
    ):
        SecretSource(kind=SourceKind.SEALED)


def test_fails_sealed_source_without_sealed_values() -> None:
    with pytest.raises(
        PropError, match=r"^source\.sealed: got 'NoneType'; expected SealedValues from read_sealed_file"
    ):
        SecretSource.sealed(None)  # type: ignore[arg-type]


def test_fails_source_version_not_a_short_string() -> None:
    with pytest.raises(PropError, match=r"^source\.version: got 3; expected a non-empty string of at most 63"):
        SecretSource.existing(version=3)  # type: ignore[arg-type]
    with pytest.raises(PropError, match=r"^source\.version: got ''; expected a non-empty string"):
        SecretSource.external(store_name="vault", remote_key="k", version="")


def test_fails_external_store_kind_not_an_enum() -> None:
    with pytest.raises(PropError, match=r"^source\.store_kind: got 'SecretStore'; expected a SecretStoreKind"):
        SecretSource.external(store_name="vault", remote_key="k", store_kind="SecretStore")  # type: ignore[arg-type]


def test_fails_plaintext_values_not_strings() -> None:
    with pytest.raises(PropError, match=r"^source\.plaintext: got 'int'; expected a mapping of str keys to str values"):
        SecretSource.plaintext_for_tests({"password": 5})  # type: ignore[dict-item]
    with pytest.raises(PropError, match=r"^source\.plaintext: got 'str'; expected a mapping of Secret key to value"):
        SecretSource.plaintext_for_tests("password")  # type: ignore[arg-type]


def test_fails_replicated_secret_with_a_source_that_is_no_variant() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "t")
    with pytest.raises(PropError, match=r"^source: got 'str'; expected a SecretSource from SecretSource\.existing\(\)"):
        ReplicatedSecret(
            chart,
            "S",
            ReplicatedSecretProps(name="s", namespaces=("redis",), keys=("password",), source="sealed"),  # type: ignore[arg-type]
        )


def test_fails_bare_redis_env() -> None:
    with pytest.raises(
        PropError, match=r"^env: got 'RedisEnv\(\.\.\.\)'; expected one of RedisEnv\.host_port_password\(\)"
    ):
        RedisEnv(kind="url")


def test_fails_redis_env_variants_with_bad_fields() -> None:
    with pytest.raises(PropError, match=r"^env: got ''; expected environment variable names"):
        RedisEnv.url(var="")
    with pytest.raises(PropError, match=r"^env\.database: got 16; expected"):
        RedisEnv.url(database=16)
    with pytest.raises(PropError, match=r"^env\.mount_path: got 'rel'; expected an absolute path"):
        RedisEnv.password_file(mount_path="rel")
    with pytest.raises(PropError, match=r"^env: .*expected no duplicates"):
        RedisEnv.host_port_password(host_var="X", port_var="X")
    with pytest.raises(PropError, match=r"^env: got None; expected environment variable names"):
        UrlRedisEnv(url_var=None)  # type: ignore[arg-type]
