"""``redis-shared seal`` / ``gen-password`` advice: the default file, the certificate sources, and refusals whose
suggested commands run exactly as printed."""

from __future__ import annotations

import datetime
import io
import re
import shlex
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from redis_constructs import cli
from redis_constructs.credentials.sealing import DEFAULT_SEALED_VALUES, read_sealed_file

PASSWORD = "Zq7-Vx2_Lm9.Tt4~Rb8!Ne3"


@pytest.fixture(scope="module")
def cert_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture()
def site(tmp_path: Path, cert_pem: bytes, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site checkout: the cwd, with the controller's certificate in pub.pem."""
    (tmp_path / "pub.pem").write_bytes(cert_pem)
    (tmp_path / "sealed").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = PASSWORD + "\n") -> int:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    return cli.main(argv)


def _suggested_commands(stderr: str) -> list[list[str]]:
    """Every backquoted ``redis-shared ...`` command in an error line, split as a shell would."""
    return [shlex.split(command) for command in re.findall(r"`(redis-shared [^`]*)`", stderr)]


def test_seal_writes_sealed_values_by_default(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["seal", "--cert", "pub.pem", "--secret-name", "redis-shared-client", "--namespace", "redis"]
    assert _run([*argv, "--key", "password"], monkeypatch) == 0
    assert Path("sealed/values.yaml") == DEFAULT_SEALED_VALUES
    assert read_sealed_file(site / "sealed" / "values.yaml").values[0].secret_name == "redis-shared-client"


def test_a_missing_cert_names_online_helm_and_offline(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["seal", "--secret-name", "redis-shared-client", "--namespace", "redis", "--key", "password"]
    assert _run(argv, monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cert: got None; expected the controller's PEM certificate: `kubeseal --fetch-cert")
    assert "--controller-name <release> --controller-namespace <namespace>" in err
    assert "docs/credentials.md#seal-without-a-cluster-your-own-key" in err
    assert "did you mean" not in err
    assert _run([*argv, "--cert", "absent.pem"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cert: got 'absent.pem'; expected a readable PEM file (No such file or directory)")
    assert "did you mean" not in err


@pytest.mark.parametrize("scope", ["strict", "cluster-wide"])
def test_every_refusals_command_runs_as_printed(
    site: Path, scope: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seal for redis and beersystem, then for shop alone: refused; each suggested command, run as printed
    (the password on stdin), seals shop next to the others."""
    base = ["seal", "--cert", "pub.pem", "--secret-name", "redis-shared-client", "--key", "password"]
    assert _run([*base, "--scope", scope, "--namespace", "redis", "--namespace", "beersystem"], monkeypatch) == 0
    out = site / "sealed" / "values.yaml"
    before = out.read_bytes()
    assert _run([*base, "--scope", scope, "--namespace", "shop"], monkeypatch) == 2
    err = capsys.readouterr().err
    commands = _suggested_commands(err)
    assert len(commands) == (2 if scope == "cluster-wide" else 1), err
    assert out.read_bytes() == before
    for command in commands:
        assert command[:2] == ["redis-shared", "seal"]
        assert "--out" in command
        out.write_bytes(before)
        assert _run(command[1:], monkeypatch) == 0, capsys.readouterr().err
        sealed = read_sealed_file(out).namespaces("redis-shared-client")
        assert sealed == ("beersystem", "redis", "shop")


def test_reuse_in_a_strict_file_suggests_a_command_that_runs(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["seal", "--cert", "pub.pem", "--secret-name", "redis-shared-client", "--key", "password"]
    assert _run([*base, "--namespace", "redis"], monkeypatch) == 0
    assert _run([*base, "--namespace", "shop", "--reuse-existing"], monkeypatch) == 2
    err = capsys.readouterr().err
    (command,) = _suggested_commands(err)
    assert "--cert" in command and "--out" in command
    assert _run(command[1:], monkeypatch) == 0, capsys.readouterr().err
    assert set(read_sealed_file("sealed/values.yaml").namespaces("redis-shared-client")) == {"redis", "shop"}
