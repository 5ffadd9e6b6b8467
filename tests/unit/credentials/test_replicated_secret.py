"""ReplicatedSecret: each source's objects, real decryption of what is sealed, least privilege, rotation."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import cdk8s
import pytest
from conftest import containers, find, of_kind
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sealed_decrypt import DecryptError, unseal_value

import main
from redis_constructs import ExternalRefs, PropError, SynthError, synthesize
from redis_constructs.credentials.cli import seal_tenant_into
from redis_constructs.credentials.replicated_secret import (
    ReplicatedSecret,
    ReplicatedSecretProps,
    SecretSource,
    SecretStoreKind,
)
from redis_constructs.credentials.sealing import (
    SealingScope,
    certificate_fingerprint,
    read_sealed_file,
    seal_into_file,
    write_sealed_file,
)
from redis_constructs.gitops.manifest_checks import check_objects

Obj = dict[str, Any]
PASSWORDS = {
    ("redis-shared-client", "password"): "client-Pw_0123456789abcdef",
    # Redis's copy of beersystem's password (TenantCredentials: one key per tenant in `redis`).
    ("redis-shared-client", "beersystem.password"): "client-Pw_0123456789abcdef",
    ("redis-shared-system", "replication-password"): "repl-Pw_0123456789abcdef",
    ("redis-shared-system", "exporter-password"): "exporter-Pw_0123456789abc",
    ("redis-shared-system", "admin-password"): "admin-Pw_0123456789abcdef",
    ("redis-shared-system", "migration-password"): "migration-Pw_0123456789ab",
    ("redis-shared-system", "backup-password"): "backup-Pw_0123456789abcde",
    ("redis-shared-system", "check-password"): "check-Pw_0123456789abcdef",
}


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("cert") / "pub.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, path


@pytest.fixture(scope="module")
def sealed_file(key_pair: tuple[rsa.RSAPrivateKey, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, cert = key_pair
    out = tmp_path_factory.mktemp("sealed") / "values.yaml"
    for (secret, key), password in PASSWORDS.items():
        if secret == "redis-shared-client":
            continue
        seal_into_file(
            out,
            cert_pem=cert.read_bytes(),
            secret_name=secret,
            namespaces=("redis",),
            key=key,
            value=password.encode(),
            scope=SealingScope.STRICT,
        )
    values = seal_tenant_into(
        read_sealed_file(out),
        cert_pem=cert.read_bytes(),
        tenant="beersystem",
        password=PASSWORDS[("redis-shared-client", "password")],
        secret_name="redis-shared-client",
        server_namespace="redis",
    )
    write_sealed_file(out, values)
    return out


def site_objects(source: SecretSource) -> list[Obj]:
    return [o for c in main.build_app(source=source).charts for o in c.to_json()]


def test_sealed_values_decrypt_to_the_password_in_their_namespace_only(
    key_pair: tuple[rsa.RSAPrivateKey, Path], sealed_file: Path
) -> None:
    private_key, _ = key_pair
    objects = site_objects(SecretSource.sealed(read_sealed_file(sealed_file)))
    sealed = of_kind(objects, "SealedSecret")
    assert sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in sealed) == [
        ("beersystem", "redis-shared-client"),
        ("redis", "redis-shared-client"),
        ("redis", "redis-shared-system"),
    ]
    for obj in sealed:
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        assert obj["spec"]["template"]["metadata"] == {"name": name, "namespace": ns}
        for key, encrypted in obj["spec"]["encryptedData"].items():
            assert unseal_value(private_key, encrypted, namespace=ns, name=name).decode() == PASSWORDS[(name, key)]
            other_ns = "default" if ns == "redis" else "redis"
            with pytest.raises(DecryptError):
                unseal_value(private_key, encrypted, namespace=other_ns, name=name)
            with pytest.raises(DecryptError):
                unseal_value(private_key, encrypted, namespace=ns, name="other-name")
    assert check_objects(objects, external=main.EXTERNAL) == []


def test_only_the_client_credential_reaches_beersystem() -> None:
    objects = site_objects(main.secret_source())
    secrets_in_beersystem = [
        (o["kind"], o["metadata"]["name"])
        for o in objects
        if o["metadata"].get("namespace") == "beersystem" and o["kind"] in {"Secret", "SealedSecret", "ExternalSecret"}
    ]
    assert secrets_in_beersystem == [("SealedSecret", "redis-shared-client")]
    sealed = find(objects, "SealedSecret", "redis-shared-client", "beersystem")
    assert set(sealed["spec"]["encryptedData"]) == {"password"}


def test_the_committed_site_default_is_sealed_and_has_no_plaintext() -> None:
    text = (main.HERE / "dist" / "redis-shared" / "manifests.yaml").read_text()
    assert "kind: Secret\n" not in text
    assert "stringData" not in text
    values = read_sealed_file(main.SEALED_VALUES)
    pem = (main.HERE / "sealed" / "placeholder-cert.pem").read_bytes()
    assert values.certificate_sha256 == certificate_fingerprint(pem)


def test_external_source_renders_one_external_secret_per_namespace() -> None:
    source = SecretSource.external(
        store_name="vault", remote_key="homelab/redis-shared", store_kind=SecretStoreKind.SECRET_STORE
    )
    objects = site_objects(source)
    externals = of_kind(objects, "ExternalSecret")
    assert sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in externals) == [
        ("beersystem", "redis-shared-client"),
        ("redis", "redis-shared-client"),
        ("redis", "redis-shared-system"),
    ]
    client = find(externals, "ExternalSecret", "redis-shared-client", "beersystem")["spec"]
    assert client["secretStoreRef"] == {"name": "vault", "kind": "SecretStore"}
    assert client["data"] == [
        {"secretKey": "password", "remoteRef": {"key": "homelab/redis-shared", "property": "beersystem.password"}}
    ]
    assert client["target"]["name"] == "redis-shared-client"
    server = find(externals, "ExternalSecret", "redis-shared-client", "redis")["spec"]
    assert server["data"] == [
        {
            "remoteRef": {"key": "homelab/redis-shared", "property": "beersystem.password"},
            "secretKey": "beersystem.password",
        }
    ]
    assert check_objects(objects, external=main.EXTERNAL) == []


def test_existing_source_renders_nothing_secret_but_keeps_the_references() -> None:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "c", disable_resource_name_hashes=True)
    secret = ReplicatedSecret(
        chart,
        "S",
        ReplicatedSecretProps(
            name="s", namespaces=("redis", "app"), keys=("password",), source=SecretSource.existing(version="7")
        ),
    )
    assert chart.to_json() == []
    assert secret.version == "7"
    assert secret.key_ref("password", namespace="app").name == "s"
    assert dict(secret.external_refs().secrets) == {
        ("redis", "s"): frozenset({"password"}),
        ("app", "s"): frozenset({"password"}),
    }


def test_plaintext_is_refused_by_synth_unless_explicitly_allowed(tmp_path: Path) -> None:

    app = cdk8s.App()
    chart = cdk8s.Chart(app, "c", disable_resource_name_hashes=True)
    ReplicatedSecret(
        chart,
        "S",
        ReplicatedSecretProps(
            name="s",
            namespaces=("x",),
            keys=("password",),
            source=SecretSource.plaintext_for_tests({"password": "a" * 20}),
        ),
    )
    out = tmp_path / "dist"
    with pytest.raises(SynthError, match=r"Secret x/s: a Secret with plaintext data would be committed to git"):
        synthesize(app, out)
    assert not out.exists()
    synthesize(app, out, allow_plaintext_secrets=True, external=ExternalRefs(namespaces=frozenset({"x"})))
    assert "stringData" in (out / "c" / "manifests.yaml").read_text()


def test_rotation_rolls_the_redis_pods(
    sealed_file: Path, key_pair: tuple[rsa.RSAPrivateKey, Path], tmp_path: Path
) -> None:
    def version(path: Path) -> str:
        objects = site_objects(SecretSource.sealed(read_sealed_file(path)))
        meta = find(objects, "StatefulSet", "redis-shared-replicas")["spec"]["template"]["metadata"]
        return str(meta["annotations"]["redis-shared/credentials-version"])

    rotated = tmp_path / "values.yaml"
    rotated.write_bytes(sealed_file.read_bytes())
    seal_into_file(
        rotated,
        cert_pem=key_pair[1].read_bytes(),
        secret_name="redis-shared-system",
        namespaces=("redis",),
        key="admin-password",
        value=b"new-Admin_0123456789abc",
        scope=SealingScope.STRICT,
    )
    assert version(sealed_file) == version(sealed_file)
    assert version(sealed_file) != version(rotated)


def test_redis_pods_mount_the_replicated_secrets() -> None:
    objects = site_objects(main.secret_source())
    sts = find(objects, "StatefulSet", "redis-shared-master")
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    sources = {
        s["secret"]["name"]: [i["key"] for i in s["secret"]["items"]]
        for s in volumes["credentials"]["projected"]["sources"]
    }
    assert sources == {
        "redis-shared-system": [
            "replication-password",
            "exporter-password",
            "admin-password",
            "migration-password",
            "backup-password",
            "check-password",
        ],
    }
    assert "credentials" in {m["name"] for m in containers(sts)["redis"]["volumeMounts"]}
    # The tenants' passwords: the whole Secret (no items), never in the redis container.
    assert volumes["tenant-secrets"] == {
        "name": "tenant-secrets",
        "secret": {"defaultMode": 0o440, "secretName": "redis-shared-client"},
    }
    assert "tenant-secrets" not in {m["name"] for m in containers(sts)["redis"]["volumeMounts"]}


# -- bad input ---------------------------------------------------------------------------------------------
def make(**kwargs: Any) -> ReplicatedSecret:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "c", disable_resource_name_hashes=True)
    props: dict[str, Any] = {
        "name": "s",
        "namespaces": ("redis",),
        "keys": ("password",),
        "source": SecretSource.existing(),
    }
    return ReplicatedSecret(chart, "S", ReplicatedSecretProps(**(props | kwargs)))


def test_fails_duplicate_namespaces() -> None:
    with pytest.raises(PropError, match=r"namespaces: .*expected no duplicates \('redis' appears twice\)"):
        make(namespaces=("redis", "redis"))


def test_fails_no_namespaces() -> None:
    with pytest.raises(PropError, match=r"namespaces: got \(\); expected at least one namespace"):
        make(namespaces=())


def test_fails_bad_namespace() -> None:
    with pytest.raises(PropError, match=r"namespaces: got 'Beer_System'; expected an RFC 1123 label"):
        make(namespaces=("Beer_System",))


def test_fails_key_ref_for_a_namespace_not_replicated_to() -> None:
    with pytest.raises(
        PropError, match=r"namespace: got 'beersystem'; expected one of redis \(Secret s is not replicated there\)"
    ):
        make().key_ref("password", namespace="beersystem")


def test_fails_key_ref_for_an_unknown_key() -> None:
    with pytest.raises(PropError, match=r"key: got 'pw'; expected one of password"):
        make().key_ref("pw", namespace="redis")


def test_fails_bad_key_name() -> None:
    with pytest.raises(PropError, match=r"keys: got 'a/b'; expected a Secret key of ASCII letters"):
        make(keys=("a/b",))
    with pytest.raises(PropError, match=r"keys: got 'pässword'; expected a Secret key of ASCII letters"):
        make(keys=("pässword",))
    with pytest.raises(PropError, match=r"keys: got '\.\.data'; expected .*not '\.', '\.\.' or starting with '\.\.'"):
        make(keys=("..data",))


def test_fails_sealed_values_missing_a_namespace(sealed_file: Path) -> None:
    with pytest.raises(
        PropError,
        match=r"source\.sealed: got 'redis-shared-system in beersystem'; expected values sealed for every namespace",
    ):
        make(
            name="redis-shared-system",
            namespaces=("redis", "beersystem"),
            keys=main.SYSTEM_KEYS,
            source=SecretSource.sealed(read_sealed_file(sealed_file)),
        )


def test_fails_sealed_values_missing_a_key(sealed_file: Path) -> None:
    with pytest.raises(
        PropError, match=r"source\.sealed: .*expected exactly the keys \['password', 'extra'\]; seal the missing ones"
    ):
        make(
            name="redis-shared-client",
            keys=("password", "extra"),
            source=SecretSource.sealed(read_sealed_file(sealed_file)),
        )


def test_fails_external_without_store_or_key() -> None:
    with pytest.raises(PropError, match=r"source\.store_name: got ''; expected an RFC 1123 label"):
        make(source=SecretSource.external(store_name="", remote_key="k"))
    with pytest.raises(PropError, match=r"source\.remote_key: got ''; expected the key of the credentials"):
        make(source=SecretSource.external(store_name="vault", remote_key=""))
    with pytest.raises(PropError, match=r"source\.refresh_interval: got 'hourly'; expected a duration"):
        make(source=SecretSource.external(store_name="vault", remote_key="k", refresh_interval="hourly"))


def test_fails_plaintext_with_other_keys() -> None:
    with pytest.raises(PropError, match=r"source\.plaintext: got \['pw'\]; expected exactly the keys \['password'\]"):
        make(source=SecretSource.plaintext_for_tests({"pw": "x" * 20}))


def test_props_validate_themselves_before_any_construct_exists() -> None:
    labels = {"team": "shop"}
    props = ReplicatedSecretProps(
        name="s", namespaces=("redis", "app"), keys=("password",), source=SecretSource.existing(), labels=labels
    )
    labels["team"] = "other"
    assert props.labels == {"team": "shop"}  # a copy: changing the caller's dict later changes nothing
    with pytest.raises(PropError, match=r"^namespaces: got \(\); expected at least one namespace$"):
        ReplicatedSecretProps(name="s", namespaces=(), keys=("password",), source=SecretSource.existing())


def test_fails_props_that_are_not_replicated_secret_props() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    with pytest.raises(PropError, match=r"^props: got 'dict'; expected a ReplicatedSecretProps \(construct c/S\)$"):
        ReplicatedSecret(chart, "S", {"name": "s"})  # type: ignore[arg-type]
