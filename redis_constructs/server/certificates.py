"""RedisCertificates: the cert-manager objects behind RedisShared's TLS port.

With :class:`~redis_constructs.server.tls.CertManagerCertificate`, one Certificate ``<name>-tls`` from the named
issuer; with :class:`~redis_constructs.server.tls.CertManagerSelfSignedCa`, also the self-signed Issuer, the CA
Certificate and the CA Issuer that signs it. With an :class:`~redis_constructs.server.tls.ExistingTlsSecret`
RedisShared renders none of this (the Secret is yours).
"""

from __future__ import annotations

from dataclasses import dataclass

import cdk8s
import constructs

from .._imports.io import cert_manager
from . import tls as tls_mod
from .names import RedisNames
from .redis_conf import Role
from .tls import Tls


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisCertificatesProps:
    """Props of :class:`RedisCertificates`: what the certificate needs, validated by RedisShared."""

    names: RedisNames
    #: The TLS props; not an :class:`~redis_constructs.server.tls.ExistingTlsSecret`.
    tls: Tls
    #: Pods of the replicas StatefulSet (each gets its pod DNS name on the certificate).
    replicas: int
    #: Default: - no LoadBalancer address on the certificate.
    load_balancer_ip: str | None = None

    def dns_names(self) -> list[str]:
        """Every name a client dials: the Services in each spelling, each pod, and ``localhost``."""
        names = self.names
        dns_names = [names.master_host]
        for svc in (names.master_service_name, names.replicas_service_name, names.headless_service_name):
            dns_names += [
                f"{svc}.{names.namespace}.svc.cluster.local",
                f"{svc}.{names.namespace}.svc",
                f"{svc}.{names.namespace}",
                svc,
            ]
        dns_names += [names.pod_host(Role.PRIMARY, 0), *(names.pod_host(Role.REPLICA, i) for i in range(self.replicas))]
        dns_names.append("localhost")  # the exporter dials localhost and verifies the name
        return list(dict.fromkeys(dns_names))

    def ip_addresses(self) -> list[str]:
        return [ip for ip in (self.load_balancer_ip,) if ip] + ["127.0.0.1"]


class RedisCertificates(constructs.Construct):
    """The server Certificate ``<name>-tls`` naming every address a client dials, and its issuer chain.

    Example::

        tls = Tls(certificates=CertManagerSelfSignedCa())
        RedisCertificates(chart, "Tls", RedisCertificatesProps(names=names, tls=tls, replicas=1))
    """

    def __init__(self, scope: constructs.Construct, id: str, props: RedisCertificatesProps) -> None:
        super().__init__(scope, id)
        names, tls = props.names, props.tls
        labels = names.object_labels()
        if isinstance(tls.certificates, tls_mod.CertManagerSelfSignedCa):
            tls_mod.add_self_signed_ca(
                self, tls.certificates, redis_name=names.name, namespace=names.namespace, labels=labels
            )
        #: The server Certificate (``node.default_child``).
        self.resource = cert_manager.Certificate(
            self,
            "Resource",
            metadata=cdk8s.ApiObjectMetadata(name=f"{names.name}-tls", namespace=names.namespace, labels=labels),
            spec=tls_mod.certificate_spec(
                tls, redis_name=names.name, dns_names=props.dns_names(), ip_addresses=props.ip_addresses()
            ),
        )
