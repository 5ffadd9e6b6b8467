"""RedisCertificates: the cert-manager objects per certificate source, and the names the certificate carries."""

from __future__ import annotations

from typing import Any

import cdk8s
from conftest import find, of_kind

from redis_constructs import RedisShared, RedisSharedProps
from redis_constructs.server.certificates import RedisCertificates, RedisCertificatesProps
from redis_constructs.server.names import RedisNames
from redis_constructs.server.tls import CertManagerCertificate, CertManagerSelfSignedCa, ExistingTlsSecret, Tls

Obj = dict[str, Any]
NAMES = RedisNames(name="cache", namespace="shared")


def certificates(spec: RedisCertificatesProps) -> tuple[RedisCertificates, list[Obj]]:
    chart = cdk8s.Chart(cdk8s.App(), "test", disable_resource_name_hashes=True)
    built = RedisCertificates(chart, "Tls", spec)
    return built, list(chart.to_json())


def test_a_named_issuer_gets_one_certificate() -> None:
    tls = Tls(certificates=CertManagerCertificate(issuer_name="lan-ca"))
    built, objects = certificates(
        RedisCertificatesProps(names=NAMES, tls=tls, replicas=2, load_balancer_ip="10.0.0.10")
    )
    (cert,) = objects
    assert cert["metadata"]["name"] == "cache-tls"
    assert cert["spec"]["ipAddresses"] == ["10.0.0.10", "127.0.0.1"]
    assert built.node.default_child is built.resource


def test_the_self_signed_ca_chain_comes_before_the_certificate_it_signs() -> None:
    tls = Tls(certificates=CertManagerSelfSignedCa())
    _, objects = certificates(RedisCertificatesProps(names=NAMES, tls=tls, replicas=1))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Issuer", "cache-selfsigned"),
        ("Certificate", "cache-ca"),
        ("Issuer", "cache-ca"),
        ("Certificate", "cache-tls"),
    ]
    assert find(objects, "Certificate", "cache-tls")["spec"]["ipAddresses"] == ["127.0.0.1"]


def test_every_pod_and_service_name_once() -> None:
    spec = RedisCertificatesProps(names=NAMES, tls=Tls(certificates=CertManagerSelfSignedCa()), replicas=3)
    names = spec.dns_names()
    assert len(names) == len(set(names))
    assert names[0] == NAMES.master_host
    for i in range(3):
        assert f"cache-replicas-{i}.cache-headless.shared.svc.cluster.local" in names
    assert "cache-replicas-3.cache-headless.shared.svc.cluster.local" not in names
    for svc in ("cache-master", "cache-replicas", "cache-headless"):
        assert {svc, f"{svc}.shared", f"{svc}.shared.svc"} <= set(names)
    assert names[-1] == "localhost"


def test_redis_shared_renders_no_certificate_for_an_existing_secret(chart: cdk8s.Chart) -> None:
    RedisShared(chart, "Redis", RedisSharedProps(tls=Tls(certificates=ExistingTlsSecret(secret_name="mine"))))
    objects = list(chart.to_json())
    assert of_kind(objects, "Certificate") == []
    assert of_kind(objects, "Issuer") == []
