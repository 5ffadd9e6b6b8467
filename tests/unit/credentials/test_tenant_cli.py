"""The tenant commands of the credentials CLI, end to end on a sealed-values file with a key we hold.

seal-tenant seals one password for the tenant's copy and Redis's key; rotate-tenant --begin/--end are the two
commits of a rotation; migrate-client-secret moves the shared client password to a tenant's key. Every
ciphertext is checked by unsealing it as the controller would (tests/support/sealed_decrypt).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sealed_decrypt import unseal_value

from redis_constructs.credentials import cli
from redis_constructs.credentials.sealing import read_sealed_file, seal_into_file

SECRET = "redis-shared-client"
OLD = "old-Pw_0123456789abcdef"
NEW = "new-Pw_0123456789abcdef"


@pytest.fixture(scope="module")
def key_and_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[rsa.RSAPrivateKey, Path]:
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
    path = tmp_path_factory.mktemp("cert") / "pub.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, path


@pytest.fixture
def values(key_and_cert: tuple[rsa.RSAPrivateKey, Path], tmp_path: Path) -> Path:
    """The pre-tenant layout: one client password sealed for redis and beersystem under key ``password``."""
    out = tmp_path / "values.yaml"
    seal_into_file(
        out,
        cert_pem=key_and_cert[1].read_bytes(),
        secret_name=SECRET,
        namespaces=["redis", "beersystem"],
        key="password",
        value=OLD.encode(),
    )
    return out


def unseal(key: rsa.RSAPrivateKey, path: Path, namespace: str, data_key: str) -> str:
    encrypted = read_sealed_file(path).encrypted_data(SECRET, namespace)[data_key]
    return unseal_value(key, encrypted, namespace=namespace, name=SECRET).decode()


def run(*argv: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", _Stdin(stdin))
    return cli.main(list(argv))


class _Stdin:
    def __init__(self, text: str) -> None:
        self.buffer = self
        self._data = text.encode()

    def isatty(self) -> bool:
        return False

    def read(self) -> bytes:
        return self._data


def test_migrate_then_rotate_then_seal_a_new_tenant(
    key_and_cert: tuple[rsa.RSAPrivateKey, Path], values: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, cert = key_and_cert
    beer_copy = read_sealed_file(values).encrypted_data(SECRET, "beersystem")
    assert run("migrate-client-secret", "--tenant", "beersystem", "--out", str(values)) == 0
    assert sorted(read_sealed_file(values).encrypted_data(SECRET, "redis")) == ["beersystem.password"]
    assert unseal(key, values, "redis", "beersystem.password") == OLD
    assert read_sealed_file(values).encrypted_data(SECRET, "beersystem") == beer_copy  # untouched

    args = ("--tenant", "beersystem", "--cert", str(cert), "--out", str(values))
    assert run("rotate-tenant", "--begin", *args, stdin=NEW + "\n", monkeypatch=monkeypatch) == 0
    assert unseal(key, values, "redis", "beersystem.previous-password") == OLD
    assert unseal(key, values, "redis", "beersystem.password") == NEW
    assert unseal(key, values, "beersystem", "password") == NEW
    assert run("rotate-tenant", "--end", "--tenant", "beersystem", "--out", str(values)) == 0
    assert sorted(read_sealed_file(values).encrypted_data(SECRET, "redis")) == ["beersystem.password"]

    shop = ("--tenant", "shop", "--cert", str(cert), "--out", str(values))
    assert run("seal-tenant", *shop, stdin="shop-Pw_0123456789abcdef", monkeypatch=monkeypatch) == 0
    assert unseal(key, values, "shop", "password") == "shop-Pw_0123456789abcdef"
    assert unseal(key, values, "redis", "shop.password") == "shop-Pw_0123456789abcdef"
    assert sorted(read_sealed_file(values).encrypted_data(SECRET, "shop")) == ["password"]


def test_refusals_leave_the_file_as_it_was(
    key_and_cert: tuple[rsa.RSAPrivateKey, Path],
    values: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, cert = key_and_cert
    before = values.read_bytes()
    # No rotation begun: nothing to end.
    assert run("rotate-tenant", "--end", "--tenant", "shop", "--out", str(values)) == cli.EXIT_USAGE
    assert "shop.previous-password" in capsys.readouterr().err
    # Nothing to rotate: the tenant has no key in Redis's copy.
    args = ("--tenant", "shop", "--cert", str(cert), "--out", str(values))
    assert run("rotate-tenant", "--begin", *args, stdin=NEW, monkeypatch=monkeypatch) == cli.EXIT_USAGE
    # Migrating a tenant whose own copy is not sealed.
    assert run("migrate-client-secret", "--tenant", "shop", "--out", str(values)) == cli.EXIT_USAGE
    # A password that fails the rules.
    assert run("seal-tenant", *args, stdin="short", monkeypatch=monkeypatch) == cli.EXIT_USAGE
    assert values.read_bytes() == before


def test_register_adds_the_commands_to_a_parser_of_another_program() -> None:
    parser = argparse.ArgumentParser(prog="redis-shared")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["rotate-tenant", "--end", "--tenant", "shop"])
    assert args.handler is not None and args.out == "sealed/values.yaml"
    assert parser.parse_args(["gen-password"]).handler is not None
