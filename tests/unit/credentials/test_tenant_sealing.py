"""A moved ciphertext still unseals under its Secret's label (the controller's rule), and nothing else moves."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sealed_decrypt import unseal_value

from redis_constructs.credentials.sealing import (
    SealedValue,
    SealedValues,
    SealingScope,
    certificate_fingerprint,
    load_certificate,
    seal_value,
)
from redis_constructs.credentials.tenant_sealing import drop_sealed_key, move_sealed_key


@pytest.fixture(scope="module")
def key_and_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def _values(cert: bytes) -> SealedValues:
    pub = load_certificate(cert)
    return SealedValues(
        certificate_sha256=certificate_fingerprint(cert),
        scope=SealingScope.STRICT,
        values=(
            SealedValue(
                secret_name="redis-shared-client",
                namespace="redis",
                key="password",
                ciphertext=seal_value(pub, b"beer-password-0123", namespace="redis", name="redis-shared-client"),
            ),
            SealedValue(
                secret_name="redis-shared-client",
                namespace="beersystem",
                key="password",
                ciphertext=seal_value(pub, b"beer-password-0123", namespace="beersystem", name="redis-shared-client"),
            ),
        ),
    )


def test_moved_value_unseals_under_the_same_secret(key_and_cert: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, cert = key_and_cert
    before = _values(cert)
    after = move_sealed_key(
        before, secret_name="redis-shared-client", namespace="redis", from_key="password", to_key="beersystem.password"
    )
    moved = after.encrypted_data("redis-shared-client", "redis")
    assert list(moved) == ["beersystem.password"]
    assert unseal_value(key, moved["beersystem.password"], namespace="redis", name="redis-shared-client") == (
        b"beer-password-0123"
    )
    # beersystem's own copy is byte for byte what it was: its SealedSecret, and the app, do not change.
    assert after.encrypted_data("redis-shared-client", "beersystem") == before.encrypted_data(
        "redis-shared-client", "beersystem"
    )


def test_fails_to_move_onto_a_taken_key(key_and_cert: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    values = move_sealed_key(
        _values(key_and_cert[1]),
        secret_name="redis-shared-client",
        namespace="redis",
        from_key="password",
        to_key="shop.previous-password",
    )
    with pytest.raises(ValueError, match=r"to_key: got .*; expected a key not sealed yet"):
        move_sealed_key(
            values, secret_name="redis-shared-client", namespace="beersystem", from_key="password", to_key="password"
        )


def test_drop_removes_one_key(key_and_cert: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    values = drop_sealed_key(
        _values(key_and_cert[1]), secret_name="redis-shared-client", namespace="redis", key="password"
    )
    assert values.namespaces("redis-shared-client") == ("beersystem",)
    with pytest.raises(ValueError, match=r"key: got .*; expected a key sealed in the file"):
        drop_sealed_key(values, secret_name="redis-shared-client", namespace="redis", key="password")
