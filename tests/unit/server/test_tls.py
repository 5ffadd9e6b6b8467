"""RedisShared with TLS (redis_constructs.server.tls): what is rendered, checked on the synthesized objects."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import cdk8s
import pytest
from conftest import containers, find, of_kind
from netpol import Peer, Target, admits

from redis_constructs import LoadBalancer, PropError, RedisShared, RedisSharedProps
from redis_constructs.gitops.manifest_checks import ExternalRefs, check_objects
from redis_constructs.server.tls import (
    RELOAD_CREDENTIALS_VOLUME,
    CertManagerCertificate,
    CertManagerSelfSignedCa,
    ExistingTlsSecret,
    IssuerKind,
    Tls,
    render_reload_script,
    render_tls_conf,
)

Obj = dict[str, Any]
LB = LoadBalancer(ip="192.168.4.203", source_ranges=("192.168.4.0/24",))
TLS = Tls(certificates=CertManagerCertificate(issuer_name="homelab-ca"))


def render(**overrides: Any) -> tuple[RedisShared, list[Obj]]:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "test", disable_resource_name_hashes=True)
    props = RedisSharedProps(client_namespaces=("beersystem",), load_balancer=LB, tls=TLS)
    redis = RedisShared(chart, "Redis", replace(props, **overrides))
    return redis, list(chart.to_json())


EXTERNAL = ExternalRefs(
    secrets={
        ("redis", "redis-shared-client"): frozenset({"password"}),
        ("redis", "redis-shared-system"): frozenset({"replication-password", "exporter-password", "admin-password"}),
        ("redis", "redis-lan-tls"): frozenset({"tls.crt", "tls.key", "ca.crt"}),
    },
    namespaces=frozenset({"beersystem"}),
)
PRIMARY = Target(
    namespace="redis",
    labels={"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis-shared"},
)


def test_the_rendered_objects_pass_the_synth_checks() -> None:
    for tls in (
        TLS,
        Tls(certificates=CertManagerSelfSignedCa()),
        Tls(certificates=ExistingTlsSecret(secret_name="redis-lan-tls")),
    ):
        _, objects = render(tls=tls)
        assert check_objects(objects, external=EXTERNAL) == []


def test_the_certificate_names_every_address_a_client_dials() -> None:
    redis, objects = render()
    cert = find(objects, "Certificate", "redis-shared-tls")
    spec = cert["spec"]
    assert spec["secretName"] == "redis-shared-tls"
    assert spec["issuerRef"] == {"name": "homelab-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert "commonName" not in spec  # RFC 5280: at most 64 bytes; the SANs name everything
    assert redis.master_host in spec["dnsNames"]
    for name in (
        "redis-shared-master.redis.svc.cluster.local",
        "redis-shared-master.redis.svc",
        "redis-shared-master",
        "redis-shared-replicas.redis.svc.cluster.local",
        "redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local",
        "redis-shared-replicas-0.redis-shared-headless.redis.svc.cluster.local",
        "localhost",
    ):
        assert name in spec["dnsNames"], name
    assert spec["ipAddresses"] == ["192.168.4.203", "127.0.0.1"]
    assert spec["privateKey"]["rotationPolicy"] == "Always"


def test_an_existing_secret_renders_no_certificate_and_is_mounted() -> None:
    _, objects = render(tls=Tls(certificates=ExistingTlsSecret(secret_name="redis-lan-tls")))
    assert of_kind(objects, "Certificate") == []
    sts = find(objects, "StatefulSet", "redis-shared-master")
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "redis-lan-tls"
    assert [i["key"] for i in volumes["tls-ca"]["secret"]["items"]] == ["ca.crt"]  # never the key


def test_the_load_balancer_publishes_only_the_tls_port() -> None:
    _, objects = render()
    external = find(objects, "Service", "redis-shared-external")
    assert [(p["name"], p["port"]) for p in external["spec"]["ports"]] == [("redis-tls", 6380)]
    master = find(objects, "Service", "redis-shared-master")
    assert [p["port"] for p in master["spec"]["ports"]] == [6379, 6380]


def test_the_network_policy_keeps_the_lan_off_the_plaintext_port() -> None:
    _, objects = render()
    policy = find(objects, "NetworkPolicy", "redis-shared")
    lan, tenant = Peer.address("192.168.4.50"), Peer.pod("beersystem")
    assert not admits(objects, PRIMARY, lan, 6379)
    assert not admits(objects, PRIMARY, lan, 6380)  # the LAN's TLS goes through the proxy's caps
    assert admits(objects, PRIMARY, lan, 6381)
    assert admits(objects, PRIMARY, tenant, 6379)
    assert admits(objects, PRIMARY, tenant, 6380)
    assert not admits(objects, PRIMARY, Peer.pod("default"), 6379)
    assert not admits(objects, PRIMARY, Peer.address("10.9.9.9"), 6380)
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
    assert {6379, 6380} <= egress_ports  # the replica dials the primary's TLS port


def test_without_tls_nothing_changes_for_the_lan() -> None:
    _, objects = render(tls=None)
    external = find(objects, "Service", "redis-shared-external")
    assert [(p["port"], p["targetPort"]) for p in external["spec"]["ports"]] == [(6379, "lan")]
    assert not admits(objects, PRIMARY, Peer.address("192.168.4.50"), 6379)
    assert admits(objects, PRIMARY, Peer.address("192.168.4.50"), 6381)  # the proxy, plaintext passed through
    assert of_kind(objects, "Certificate") == []


def test_replication_and_the_exporter_use_tls_and_the_probes_stay_on_plaintext_loopback() -> None:
    _, objects = render()
    config = find(objects, "ConfigMap", "redis-shared-configuration")["data"]
    assert render_tls_conf(TLS) in config["common.conf"]
    assert "tls-replication yes" in config["common.conf"]
    assert config["replica.conf"].splitlines()[-1].endswith(" 6380")
    sts = find(objects, "StatefulSet", "redis-shared-replicas")
    c = containers(sts)
    env = {e["name"]: e.get("value") for e in c["metrics"]["env"]}
    assert env["REDIS_ADDR"] == "rediss://localhost:6380"
    assert env["REDIS_EXPORTER_TLS_CA_CERT_FILE"] == "/opt/redis-shared/tls-ca/ca.crt"
    redis_env = {e["name"]: e.get("value") for e in c["redis"]["env"]}
    assert redis_env["REDIS_EXPORTER_URI"] == env["REDIS_ADDR"]  # the password file's key
    assert "tls-reload" in c
    assert [m["mountPath"] for m in c["metrics"]["volumeMounts"] if "tls" in m["name"]] == ["/opt/redis-shared/tls-ca"]
    probe = c["redis"]["readinessProbe"]["exec"]["command"]
    assert probe[-1] == "readiness"


def test_the_longest_names_give_a_certificate_without_a_common_name() -> None:
    name, namespace = "r" * 40, "n" * 63
    redis, objects = render(name=name, namespace=namespace)
    spec = find(objects, "Certificate", f"{name}-tls")["spec"]
    assert len(redis.master_host) > 64  # would not fit a commonName
    assert "commonName" not in spec
    assert redis.master_host in spec["dnsNames"]
    assert all(len(n) <= 253 for n in spec["dnsNames"])


def test_the_reload_sidecar_gets_only_the_admin_password_and_no_readiness_probe() -> None:
    _, objects = render()
    for sts_name in ("redis-shared-master", "redis-shared-replicas"):
        sts = find(objects, "StatefulSet", sts_name)
        reload = containers(sts)["tls-reload"]
        # A stalled loop restarts the sidecar (liveness) but never makes the pod unready.
        assert "readinessProbe" not in reload
        assert reload["livenessProbe"]["exec"]["command"][-1] == "check"
        mounts = {m["name"]: m["mountPath"] for m in reload["volumeMounts"]}
        assert "credentials" not in mounts
        assert mounts[RELOAD_CREDENTIALS_VOLUME] == "/opt/redis-shared/secrets"
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        sources = volumes[RELOAD_CREDENTIALS_VOLUME]["projected"]["sources"]
        assert [item["path"] for src in sources for item in src["secret"]["items"]] == ["admin-password"]


@pytest.mark.parametrize(
    ("tls", "match"),
    [
        (Tls(certificates=CertManagerCertificate(issuer_name="Bad_Name")), r"tls\.certificates\.issuer_name: got"),
        (Tls(certificates=CertManagerCertificate(issuer_name="ca", duration="90d")), r"duration: got '90d'"),
        (
            Tls(certificates=CertManagerCertificate(issuer_name="ca", duration="100h", renew_before="100h")),
            r"renew_before: got '100h'; expected less than duration",
        ),
        (Tls(certificates=ExistingTlsSecret(secret_name="")), r"tls\.certificates\.secret_name: got ''"),
        (Tls(certificates=TLS.certificates, port=6379), r"tls\.port: got 6379; expected a port other than"),
        (Tls(certificates=TLS.certificates, port=80), r"tls\.port: got 80"),
        (Tls(certificates=TLS.certificates, reload_interval_seconds=0), r"tls\.reload_interval_seconds: got 0"),
        (Tls(certificates="homelab-ca"), r"tls\.certificates: got 'homelab-ca'"),  # type: ignore[arg-type]
    ],
)
def test_fails_bad_tls_props(tls: Tls, match: str) -> None:
    with pytest.raises(PropError, match=match):
        render(tls=tls)


def test_an_issuer_in_the_namespace_can_be_named() -> None:
    _, objects = render(tls=Tls(certificates=CertManagerCertificate(issuer_name="ca", issuer_kind=IssuerKind.ISSUER)))
    assert find(objects, "Certificate", "redis-shared-tls")["spec"]["issuerRef"]["kind"] == "Issuer"


def test_a_self_signed_ca_chain_needs_nothing_but_cert_manager() -> None:
    _, objects = render(tls=Tls(certificates=CertManagerSelfSignedCa()))
    selfsigned = find(objects, "Issuer", "redis-shared-selfsigned")
    assert selfsigned["spec"] == {"selfSigned": {}}
    ca = find(objects, "Certificate", "redis-shared-ca")
    assert ca["spec"]["isCA"] is True
    assert ca["spec"]["issuerRef"]["name"] == "redis-shared-selfsigned"
    assert ca["spec"]["privateKey"]["rotationPolicy"] == "Never"  # clients keep trusting it across renewals
    issuer = find(objects, "Issuer", "redis-shared-ca")
    assert issuer["spec"] == {"ca": {"secretName": ca["spec"]["secretName"]}}
    server = find(objects, "Certificate", "redis-shared-tls")
    assert server["spec"]["issuerRef"] == {"name": "redis-shared-ca", "kind": "Issuer", "group": "cert-manager.io"}
    assert {o["metadata"]["namespace"] for o in (selfsigned, ca, issuer, server)} == {"redis"}


def test_fails_bad_self_signed_ca_lifetimes() -> None:
    with pytest.raises(PropError, match=r"tls\.certificates\.ca_duration: got '10y'"):
        render(tls=Tls(certificates=CertManagerSelfSignedCa(ca_duration="10y")))
    with pytest.raises(PropError, match=r"tls\.certificates\.renew_before: got '3000h'; expected less than"):
        render(tls=Tls(certificates=CertManagerSelfSignedCa(renew_before="3000h")))


def test_the_reload_script_passes_shellcheck_as_posix_sh(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is required (apt-get install shellcheck; .ci/run installs it)"
    path = tmp_path / "tls-reload.sh"
    path.write_text(render_reload_script())
    result = subprocess.run([shellcheck, "--shell=sh", "--severity=warning", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert subprocess.run(["sh", "-n", str(path)], capture_output=True).returncode == 0


def test_dotted_secret_and_issuer_names_are_accepted_as_the_api_server_accepts_them() -> None:
    """Secret and Issuer names are RFC 1123 subdomains (validation.secret_name / dns_subdomain), not labels."""
    _, objects = render(tls=Tls(certificates=ExistingTlsSecret(secret_name="redis.lan-tls")))
    sts = find(objects, "StatefulSet", "redis-shared-master")
    secrets = [v["secret"]["secretName"] for v in sts["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    assert "redis.lan-tls" in secrets
    _, objects = render(tls=Tls(certificates=CertManagerCertificate(issuer_name="homelab.ca")))
    assert find(objects, "Certificate", "redis-shared-tls")["spec"]["issuerRef"]["name"] == "homelab.ca"
    with pytest.raises(PropError, match=r"tls\.certificates\.secret_name: got 'Redis_TLS'; expected a Secret name"):
        render(tls=Tls(certificates=ExistingTlsSecret(secret_name="Redis_TLS")))
