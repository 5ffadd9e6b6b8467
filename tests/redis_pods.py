"""What the runtime tests and the benchmark share about running the synthesized redis-shared pods."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: What the test certificates name (cert-manager's Certificate names these and more in the cluster).
TLS_NAMES = [
    "redis-shared-master.redis.svc.cluster.local",
    "redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local",
    "redis-shared-replicas-0.redis-shared-headless.redis.svc.cluster.local",
    "localhost",
]


class Ca:
    """A throwaway CA and the server certificates it signs."""

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, ips: list[str]) -> tuple[bytes, bytes, int]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in TLS_NAMES]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ["127.0.0.1", *ips]]
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TLS_NAMES[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=2))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem, serial


def out_of_band_secrets(
    objects: Sequence[Mapping[str, Any]], by_file: Mapping[str, str], *, namespace: str = "redis", ca: Ca | None = None
) -> dict[tuple[str, str], dict[str, str]]:
    """Secret data for every Secret the primary's ``credentials`` volume projects, by mounted file name.

    In the cluster these Secrets come from the sealed-secrets controller (or are created by hand); here the
    test supplies ``by_file`` (``client-password`` … ``admin-password`` → password), whatever the Secrets'
    names and keys are in the manifests.
    """
    sts = next(o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"].endswith("-master"))
    volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "credentials")
    secrets: dict[tuple[str, str], dict[str, str]] = {}
    for source in volume["projected"]["sources"]:
        ref = source["secret"]
        for item in ref["items"]:
            secrets.setdefault((namespace, ref["name"]), {})[item["key"]] = by_file[item["path"]]
    # Every password supplied is mounted, except the optional migration user's (rendered only with its key).
    mounted = {item["path"] for source in volume["projected"]["sources"] for item in source["secret"]["items"]}
    assert set(by_file) - {"migration-password"} <= mounted, sorted(set(by_file) - mounted)
    return secrets | tls_secrets(objects, namespace=namespace, ca=ca)


def tls_secrets(
    objects: Sequence[Mapping[str, Any]], *, namespace: str = "redis", ca: Ca | None = None
) -> dict[tuple[str, str], dict[str, str]]:
    """With TLS the pods mount a kubernetes.io/tls Secret (cert-manager's in the cluster): one issued by ``ca``
    (a fresh test CA unless given) for the StatefulSets' ``tls`` volume; nothing without TLS."""
    sts = next(o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"].endswith("-master"))
    tls = next((v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls"), None)
    if tls is None:
        return {}
    ca = ca or Ca("redis-shared test CA")
    crt, key, _ = ca.issue([])
    return {
        (namespace, tls["secret"]["secretName"]): {
            "tls.crt": crt.decode(),
            "tls.key": key.decode(),
            "ca.crt": ca.pem.decode(),
        }
    }
