"""Property-based tests over RedisSharedProps.

* every invalid value of every prop gives one :class:`PropError` naming that prop (never a jsii
  traceback, never another exception type);
* every valid combination synthesizes objects that pass the strict schema and reference checks and the
  exposure, NetworkPolicy and Pod Security checks of ``security_checks``.

The ``test_fails_...`` cases at the end are the gaps the fuzzing found, fixed in ``validation.py``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import cdk8s
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netpol import Peer, Target, admits
from security_checks import bounds_problems, exposure_problems, pod_security_problems, redis_targets

from redis_constructs import (
    EvictionPolicy,
    LoadBalancer,
    PropError,
    RedisCredentials,
    RedisShared,
    RedisSharedProps,
    Resources,
    SecretKeyRef,
)
from redis_constructs.gitops.manifest_checks import ExternalRefs, check_objects
from redis_constructs.server.redis_conf import TenantCommands
from redis_constructs.server.tls import CertManagerCertificate, CertManagerSelfSignedCa, ExistingTlsSecret, Tls

Obj = dict[str, Any]
#: The documented ports (README), as literals: the code's own constants would follow a mistake in them.
REDIS_PORT = 6379
METRICS_PORT = 9121

INVALID_EXAMPLES = 15
VALID_EXAMPLES = 50


def render(props: RedisSharedProps) -> list[Obj]:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "fuzz", disable_resource_name_hashes=True)
    RedisShared(chart, "Redis", props)
    return list(chart.to_json())


# -- building blocks ---------------------------------------------------------------------------------------
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def labels(max_size: int = 20) -> st.SearchStrategy[str]:
    """Valid RFC 1123 labels."""
    return st.from_regex(r"[a-z]([-a-z0-9]{0,%d}[a-z0-9])?" % (max_size - 2), fullmatch=True)  # noqa: UP031


def not_a_label(max_length: int) -> st.SearchStrategy[Any]:
    """Strings that are not RFC 1123 labels of at most ``max_length`` characters, and non-strings."""
    return st.one_of(
        st.text(max_size=30).filter(lambda s: not _LABEL.match(s)),
        st.from_regex(r"[a-z]{%d,%d}" % (max_length + 1, max_length + 20), fullmatch=True),  # noqa: UP031
        st.sampled_from(["", "-a", "a-", "A", "a_b", "a.b", "ä", "a b", "a\n"]),
        st.integers(),
        st.none(),
    )


_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def not_a_subdomain() -> st.SearchStrategy[Any]:
    """Strings that are not RFC 1123 subdomains of at most 253 characters (a Secret name), and non-strings."""
    return st.one_of(
        st.text(max_size=30).filter(lambda s: not _SUBDOMAIN.fullmatch(s)),
        st.from_regex(r"[a-z]{254,260}", fullmatch=True),
        st.sampled_from(["", "-a", "a-", "A", "a_b", "a..b", ".a", "a.", "ä", "a b", "a\n"]),
        st.integers(),
        st.none(),
    )


def not_text(max_length: int) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(""), st.text(min_size=max_length + 1, max_size=max_length + 10), st.integers())


IPV4 = st.integers(min_value=1, max_value=2**32 - 2).map(lambda n: str(ipaddress.IPv4Address(n)))
BAD_SECRET_KEYS: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["", ".", "..", "..data", "a/b", "a b", "é", "٣", "key\n", "a" * 254]),
    st.text(min_size=1, max_size=10).filter(lambda s: not re.fullmatch(r"[-._a-zA-Z0-9]+", s)),
    st.integers(),
)
LB = LoadBalancer(ip="192.168.4.203", source_ranges=("192.168.4.0/24",))


def _not_a_valid_image(value: str) -> bool:
    return not re.fullmatch(r"[a-z0-9]+(?:[._/-][a-z0-9]+)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", value) or (
        value.endswith(":latest")
    )


BAD_IMAGES: st.SearchStrategy[Any] = st.one_of(
    st.from_regex(r"[a-z0-9]{1,10}(/[a-z0-9]{1,10})?", fullmatch=True),  # no tag
    st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True).map(lambda s: s + ":latest"),
    st.from_regex(r"[A-Z][a-z]{0,8}:[0-9]\.[0-9]", fullmatch=True),  # upper-case repository
    st.sampled_from(["redis:", ":7.4", " redis:7.4", "redis:7.4 ", "redis:-7", "redis::7", "redis@sha256:ab"]),
    st.text(max_size=20).filter(_not_a_valid_image),
    st.integers(),
)
BAD_DIGESTS: st.SearchStrategy[Any] = st.one_of(
    st.text(max_size=20).filter(lambda s: not re.fullmatch(r"sha256:[0-9a-f]{64}", s)),
    st.from_regex(r"[0-9A-F]{63}[A-F]", fullmatch=True).map(lambda h: "sha256:" + h),
    st.from_regex(r"[0-9a-f]{63}", fullmatch=True).map(lambda h: "sha256:" + h),
    st.from_regex(r"[0-9a-f]{128}", fullmatch=True).map(lambda h: "sha512:" + h),
    st.integers(),
)
BAD_MEMORY: st.SearchStrategy[Any] = st.one_of(
    st.integers(min_value=1, max_value=9).map(lambda n: f"{n}g"),  # `G` (10^9) is valid, `g` is not
    st.just("1" * 5000 + "Mi"),  # absurd: refused by the rule, never an int() overflow
    st.integers(min_value=1, max_value=63).map(lambda n: f"{n}Mi"),  # maxmemory would fall below 32Mi
    st.sampled_from(["", "0", "0Mi", "-1Gi", "1.5Gi", "1gi", "1 Gi", "1GB", "1e9"]),
    st.integers(),
)
BAD_CPU: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["", "0", "0m", "0.0", "-1", "1.0001", "1 m", "1M", "one", "1e3", "0.0001"]),
    st.text(max_size=8).filter(lambda s: not re.fullmatch(r"[0-9.m]+", s)),
    st.integers(),
)


BAD_BOOLS: st.SearchStrategy[Any] = st.sampled_from(["false", "true", "", 0, 1, None, 1.0])
#: Not a whole number of hours in ASCII digits (cert-manager parses the duration with Go).
BAD_HOURS: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(
        [
            "",
            "h",
            "90d",
            "2160",
            "0h",
            "0000h",
            "-1h",
            "1.5h",
            "2160H",
            " 2160h",
            "\u0661\u0662\u0660\u0660\u0660h",
            "1" * 5000 + "h",
        ]
    ),
    st.text(max_size=6).filter(lambda s: not re.fullmatch(r"0*[1-9][0-9]{0,8}h", s)),
    st.integers(),
    st.none(),
)
SELF_SIGNED = Tls(certificates=CertManagerSelfSignedCa())


def bad(*strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of ``strategies``, typed ``Any``: invalid values are often of the wrong type on purpose."""
    return st.one_of(*strategies)


def _pairs(key: Any, value: Any) -> tuple[Any, ...]:
    return ((key, value),)


#: prop name → strategy of props where exactly that prop is invalid (the others are the defaults).
# Each strategy draws a thunk: RedisSharedProps validates itself, so building it is what raises.
INVALID: dict[str, st.SearchStrategy[Callable[[], RedisSharedProps]]] = {
    "name": bad(not_a_label(40), st.sampled_from(["1redis", "0", "9-cache"])).map(
        lambda v: partial(RedisSharedProps, name=v)
    ),
    "namespace": not_a_label(63).map(lambda v: partial(RedisSharedProps, namespace=v)),
    "replicas": bad(
        st.integers(max_value=-1), st.integers(min_value=9), st.booleans(), st.text(max_size=3), st.floats()
    ).map(lambda v: partial(RedisSharedProps, replicas=v)),
    "image": BAD_IMAGES.map(lambda v: partial(RedisSharedProps, image=v)),
    "image_digest": BAD_DIGESTS.map(lambda v: partial(RedisSharedProps, image_digest=v)),
    "exporter_image": BAD_IMAGES.map(lambda v: partial(RedisSharedProps, exporter_image=v)),
    "exporter_image_digest": BAD_DIGESTS.map(lambda v: partial(RedisSharedProps, exporter_image_digest=v)),
    "storage_class": not_a_label(253).map(lambda v: partial(RedisSharedProps, storage_class=v)),
    "storage_size": bad(
        st.integers(min_value=1, max_value=1023).map(lambda n: f"{n}Mi"),
        st.integers(min_value=1, max_value=99).map(lambda n: f"{n}GB"),
        st.sampled_from(["", "0Gi", "8", "8Ki", "8gi", "-8Gi", "1.5Gi", "1G", "8K", "1" * 5000 + "Gi"]),
        st.integers(),
    ).map(lambda v: partial(RedisSharedProps, storage_size=v)),
    "resources.memory_limit": BAD_MEMORY.map(lambda v: partial(RedisSharedProps, resources=Resources(memory_limit=v))),
    "resources.cpu_limit": BAD_CPU.map(lambda v: partial(RedisSharedProps, resources=Resources(cpu_limit=v))),
    "resources.cpu_request": bad(BAD_CPU, st.integers(min_value=1001, max_value=64000).map(lambda n: f"{n}m")).map(
        lambda v: partial(RedisSharedProps, resources=Resources(cpu_request=v, cpu_limit="1"))
    ),
    "eviction_policy": bad(
        st.text(max_size=15).filter(lambda s: s not in {p.value for p in EvictionPolicy}),
        st.sampled_from(["LRU", "allkeys_lru", "ALLKEYS-LRU"]),
        st.integers(),
    ).map(lambda v: partial(RedisSharedProps, eviction_policy=v)),
    "shutdown_timeout_seconds": bad(st.integers(max_value=0), st.integers(min_value=301), st.just(True)).map(
        lambda v: partial(RedisSharedProps, shutdown_timeout_seconds=v)
    ),
    "termination_grace_period_seconds": bad(
        st.integers(max_value=19), st.integers(min_value=3601), st.just(False), st.just("30")
    ).map(lambda v: partial(RedisSharedProps, termination_grace_period_seconds=v)),
    "load_balancer.ip": bad(
        st.sampled_from(["", "redis.lan", "192.168.4", "192.168.4.256", "192.168.4.0/24", " 192.168.4.3"]),
        st.integers(min_value=0, max_value=2**32 - 1),
        IPV4.filter(lambda ip: not ip.startswith("192.168.4.")),  # outside the range
    ).map(lambda v: partial(RedisSharedProps, load_balancer=replace(LB, ip=v))),
    "load_balancer.source_ranges": bad(
        st.just(()),
        st.just("192.168.4.0/24"),  # a bare string instead of a tuple
        st.sampled_from(["192.168.4.0/33", "192.168.4.7/24", "192.168.4.1", "lan", "0.0.0.0/0", "::/0"]).map(
            lambda r: (r,)
        ),
        st.just(("192.168.4.0/24", "192.168.4.0/24")),
        st.integers().map(lambda n: (n,)),
    ).map(lambda v: partial(RedisSharedProps, load_balancer=replace(LB, source_ranges=v))),
    "load_balancer.address_pool": not_a_label(63)
    .filter(lambda v: v is not None)
    .map(lambda v: partial(RedisSharedProps, load_balancer=replace(LB, address_pool=v))),
    "client_namespaces": bad(
        not_a_label(63).map(lambda v: (v,)),
        labels().map(lambda v: (v, v)),
        st.just(("redis",)),
        labels().filter(lambda v: len(v) > 1),  # a bare string instead of a tuple
    ).map(lambda v: partial(RedisSharedProps, client_namespaces=v)),
    "monitoring_namespace": not_a_label(63).map(lambda v: partial(RedisSharedProps, monitoring_namespace=v)),
    "dns_namespace": not_a_label(63).map(lambda v: partial(RedisSharedProps, dns_namespace=v)),
    "dns_pod_labels": bad(
        st.just(()),
        st.just("k8s-app=kube-dns"),
        st.just(("k8s-app",)),
        st.sampled_from(["", "-a", "a b", "é", "a/", "/a", "Example.COM/a", "a" * 64]).map(lambda k: _pairs(k, "x")),
        st.sampled_from(["-x", "x-", "a b", "é", "x" * 64, "a/b"]).map(lambda v: _pairs("k8s-app", v)),
        st.just((("a", "1"), ("a", "2"))),
        st.integers().map(lambda n: _pairs("k8s-app", n)),
    ).map(lambda v: partial(RedisSharedProps, dns_pod_labels=v)),
    "credentials.tenant_secret": not_a_subdomain().map(
        lambda v: partial(RedisSharedProps, credentials=RedisCredentials(tenant_secret=v))
    ),
    "credentials.admin.key": BAD_SECRET_KEYS.map(
        lambda v: partial(
            RedisSharedProps, credentials=RedisCredentials(admin=SecretKeyRef(name="redis-shared-system", key=v))
        )
    ),
    "credentials.replication.key": BAD_SECRET_KEYS.map(
        lambda v: partial(
            RedisSharedProps, credentials=RedisCredentials(replication=SecretKeyRef(name="redis-shared-system", key=v))
        )
    ),
    "credentials.exporter.name": not_a_subdomain().map(
        lambda v: partial(RedisSharedProps, credentials=RedisCredentials(exporter=SecretKeyRef(name=v, key="password")))
    ),
    "credentials.version": not_text(63).map(
        lambda v: partial(RedisSharedProps, credentials=RedisCredentials(version=v))
    ),
    # Wrong types where a typed value belongs: one PropError, never an AttributeError or a truthy misreading.
    "load_balancer": bad(st.text(max_size=15), st.integers(), st.just(("192.168.4.203",)), st.just(Resources())).map(
        lambda v: partial(RedisSharedProps, load_balancer=v)
    ),
    "load_balancer.allow_any_source": bad(st.sampled_from(["false", "true", "", 0, 1, None])).map(
        lambda v: partial(RedisSharedProps, load_balancer=replace(LB, allow_any_source=v))
    ),
    "resources": bad(st.none(), st.text(max_size=5), st.integers(), st.just(LB)).map(
        lambda v: partial(RedisSharedProps, resources=v)
    ),
    "credentials": bad(st.none(), st.text(max_size=5), st.just(SecretKeyRef(name="a", key="b"))).map(
        lambda v: partial(RedisSharedProps, credentials=v)
    ),
    "credentials.migration": bad(st.text(max_size=5), st.integers(), st.just(("redis-shared-system", "m"))).map(
        lambda v: partial(RedisSharedProps, credentials=RedisCredentials(migration=v))
    ),
    "credentials.tenants": bad(st.text(max_size=5), st.integers(), st.just(SecretKeyRef(name="a", key="b"))).map(
        lambda v: partial(RedisSharedProps, credentials=RedisCredentials(tenants=v))
    ),
    "props": bad(st.text(max_size=5), st.integers(), st.just(Resources()), st.just(LB)).map(lambda v: lambda: v),
    "primary_pod": bad(
        st.sampled_from(["", "redis-shared-master-1", "redis-shared-replicas-1", "master", "redis-shared-master"]),
        st.integers(),
        st.just(("redis-shared-master-0",)),
    ).map(lambda v: partial(RedisSharedProps, primary_pod=v)),
    "min_replicas_to_write": bad(
        st.integers(max_value=-1), st.integers(min_value=2), st.booleans(), st.just("1"), st.floats(), st.none()
    ).map(lambda v: partial(RedisSharedProps, min_replicas_to_write=v)),
    "min_replicas_max_lag_seconds": bad(
        st.integers(max_value=0), st.integers(min_value=3601), st.just(True), st.just("10"), st.none()
    ).map(lambda v: partial(RedisSharedProps, min_replicas_max_lag_seconds=v)),
    "tenant_commands": bad(st.none(), st.text(max_size=5), st.integers(), st.just(LB)).map(
        lambda v: partial(RedisSharedProps, tenant_commands=v)
    ),
    "tenant_commands.allow_scripting": BAD_BOOLS.map(
        lambda v: partial(RedisSharedProps, tenant_commands=TenantCommands(allow_scripting=v))
    ),
    "tenant_commands.allow_restore": BAD_BOOLS.map(
        lambda v: partial(RedisSharedProps, tenant_commands=TenantCommands(allow_restore=v))
    ),
    "tls": bad(st.text(max_size=5), st.integers(), st.just(LB), st.just(CertManagerSelfSignedCa())).map(
        lambda v: partial(RedisSharedProps, tls=v)
    ),
    "tls.certificates": bad(st.none(), st.text(max_size=5), st.just(LB), st.just(SELF_SIGNED)).map(
        lambda v: partial(RedisSharedProps, tls=Tls(certificates=v))
    ),
    "tls.port": bad(
        st.integers(max_value=1023), st.integers(min_value=65536), st.just(6379), st.just("6380"), st.booleans()
    ).map(lambda v: partial(RedisSharedProps, tls=replace(SELF_SIGNED, port=v))),
    "tls.reload_interval_seconds": bad(
        st.integers(max_value=0), st.integers(min_value=3601), st.floats(), st.just("60"), st.none()
    ).map(lambda v: partial(RedisSharedProps, tls=replace(SELF_SIGNED, reload_interval_seconds=v))),
    "tls.certificates.issuer_name": not_a_subdomain().map(
        lambda v: partial(RedisSharedProps, tls=Tls(certificates=CertManagerCertificate(issuer_name=v)))
    ),
    "tls.certificates.issuer_kind": bad(st.none(), st.sampled_from(["Issuer", "ClusterIssuer"]), st.integers()).map(
        lambda v: partial(
            RedisSharedProps, tls=Tls(certificates=CertManagerCertificate(issuer_name="ca", issuer_kind=v))
        )
    ),
    "tls.certificates.duration": BAD_HOURS.map(
        lambda v: partial(RedisSharedProps, tls=Tls(certificates=CertManagerSelfSignedCa(duration=v)))
    ),
    "tls.certificates.renew_before": bad(
        BAD_HOURS, st.integers(min_value=2160, max_value=999_999_999).map(lambda n: f"{n}h")
    ).map(lambda v: partial(RedisSharedProps, tls=Tls(certificates=CertManagerSelfSignedCa(renew_before=v)))),
    "tls.certificates.ca_duration": BAD_HOURS.map(
        lambda v: partial(RedisSharedProps, tls=Tls(certificates=CertManagerSelfSignedCa(ca_duration=v)))
    ),
    "tls.certificates.secret_name": not_a_subdomain().map(
        lambda v: partial(RedisSharedProps, tls=Tls(certificates=ExistingTlsSecret(secret_name=v)))
    ),
    "credentials.replication": bad(st.none(), st.text(max_size=5), st.just(("redis-shared-system", "password"))).map(
        lambda v: partial(RedisSharedProps, credentials=RedisCredentials(replication=v))
    ),
}


@pytest.mark.parametrize("prop", sorted(INVALID))
@settings(
    max_examples=INVALID_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(data=st.data())
def test_an_invalid_prop_gives_one_prop_error_naming_it(prop: str, data: st.DataObject) -> None:
    props = data.draw(INVALID[prop])
    with pytest.raises(PropError) as info:  # any other exception type fails the test
        render(props())
    assert info.value.prop == prop, str(info.value)
    assert str(info.value).startswith(f"{prop}: got ")


# -- valid combinations ------------------------------------------------------------------------------------
@st.composite
def load_balancers(draw: st.DrawFn) -> LoadBalancer:
    if draw(st.booleans()):
        return LoadBalancer(ip=draw(IPV4), source_ranges=("0.0.0.0/0",), allow_any_source=True)
    prefixes = draw(st.lists(st.integers(min_value=8, max_value=30), min_size=1, max_size=3))
    networks = []
    for prefix in prefixes:
        network = ipaddress.ip_network(f"{draw(IPV4)}/{prefix}", strict=False)
        if network not in networks:
            networks.append(network)
    hosts = int(networks[0].num_addresses) - 2
    ip = networks[0].network_address + draw(st.integers(min_value=1, max_value=max(hosts, 1)))
    return LoadBalancer(
        ip=str(ip),
        source_ranges=tuple(str(n) for n in networks),
        address_pool=draw(st.none() | labels()),
    )


@st.composite
def valid_props(draw: st.DrawFn) -> RedisSharedProps:
    namespace = draw(labels())
    clients = draw(st.lists(labels().filter(lambda n: n != namespace), max_size=3, unique=True))
    memory_mi = draw(st.integers(min_value=128, max_value=65536))
    cpu_limit = draw(st.integers(min_value=1, max_value=8000))
    cpu_request = draw(st.integers(min_value=1, max_value=cpu_limit))
    shutdown = draw(st.integers(min_value=1, max_value=300))
    digest = st.none() | st.from_regex(r"[0-9a-f]{64}", fullmatch=True).map(lambda h: "sha256:" + h)
    secret = st.builds(
        SecretKeyRef, name=labels(), key=st.from_regex(r"[a-zA-Z0-9][-._a-zA-Z0-9]{0,20}", fullmatch=True)
    )
    name = draw(labels(max_size=40))
    replicas = draw(st.integers(min_value=0, max_value=8))
    primaries = [None, f"{name}-master-0", *([f"{name}-replicas-0"] if replicas == 1 else [])]
    return RedisSharedProps(
        name=name,
        namespace=namespace,
        replicas=replicas,
        primary_pod=draw(st.sampled_from(primaries)),
        min_replicas_to_write=draw(st.integers(min_value=0, max_value=replicas)),
        min_replicas_max_lag_seconds=draw(st.integers(min_value=1, max_value=3600)),
        tenant_commands=TenantCommands(allow_scripting=draw(st.booleans()), allow_restore=draw(st.booleans())),
        image=draw(st.sampled_from(["redis:7.4.2-bookworm", "registry.lan:5000/mirror/redis:7.2.7"])),
        image_digest=draw(digest),
        exporter_image=draw(
            st.sampled_from(["oliver006/redis_exporter:v1.62.0", "quay.io/oliver006/redis_exporter:v1.6"])
        ),
        exporter_image_digest=draw(digest),
        storage_class=draw(labels()),
        storage_size=f"{draw(st.integers(min_value=1, max_value=4096))}Gi",
        resources=Resources(
            memory_limit=draw(st.sampled_from([f"{memory_mi}Mi", f"{memory_mi * 1024}Ki"])),
            cpu_request=f"{cpu_request}m",
            cpu_limit=draw(st.sampled_from([f"{cpu_limit}m", f"{cpu_limit / 1000:.3f}"])),
        ),
        eviction_policy=draw(st.sampled_from(list(EvictionPolicy))),
        shutdown_timeout_seconds=shutdown,
        termination_grace_period_seconds=draw(st.none() | st.integers(min_value=shutdown + 10, max_value=3600)),
        load_balancer=draw(st.none() | load_balancers()),
        client_namespaces=tuple(clients),
        monitoring_namespace=draw(labels()),
        credentials=RedisCredentials(
            tenant_secret=draw(secret).name,
            replication=draw(secret),
            exporter=draw(secret),
            admin=draw(secret),
            version=draw(st.text(min_size=1, max_size=63)),
        ),
        dns_namespace=draw(labels()),
        dns_pod_labels=draw(st.sampled_from([(("k8s-app", "kube-dns"),), (("example.com/role", "dns"), ("tier", ""))])),
    )


def expected_admission(props: RedisSharedProps, peer: Peer, port: int) -> bool:
    """The rule, written from the docs rather than from the code: 6379 from the listed namespaces and the Redis
    pods; the LoadBalancer's source ranges on the LAN proxy's 6381 only (docs/resilience.md); 9121 (and, with
    the proxy, 9101) from the monitoring namespace only."""
    lb = props.load_balancer
    if port == METRICS_PORT or (lb is not None and port == 9101):
        return peer.namespace == props.monitoring_namespace
    address = ipaddress.ip_address(peer.ip)
    from_lan = lb is not None and any(address in ipaddress.ip_network(r) for r in lb.source_ranges)
    if lb is not None and port == 6381:
        return from_lan
    if port != REDIS_PORT:
        return False
    redis_pod = peer.namespace == props.namespace and peer.labels.get("app.kubernetes.io/instance") == props.name
    from_client = peer.namespace in props.client_namespaces
    return redis_pod or from_client


def sample_peers(props: RedisSharedProps) -> list[Peer]:
    peers = [Peer.pod(ns) for ns in props.client_namespaces]
    peers += [
        Peer.pod(props.monitoring_namespace),
        Peer.pod("zz-outsider"),
        Peer.pod(props.namespace, {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": props.name}),
        Peer.pod(props.namespace, {"app": "other"}),
        Peer.address("10.9.9.9"),
        Peer.address("192.168.5.1"),
        Peer.address("2001:db8::1"),
    ]
    if props.load_balancer is not None:
        peers.append(Peer.address(props.load_balancer.ip))
    return peers


def external_refs(props: RedisSharedProps) -> ExternalRefs:
    secrets: dict[tuple[str, str], set[str]] = {}
    for ref in props.credentials.by_file().values():
        secrets.setdefault((props.namespace, ref.name), set()).add(ref.key)
    # The tenants' Secret, mounted whole: no key of it is required.
    secrets.setdefault((props.namespace, props.credentials.tenant_secret), set())
    return ExternalRefs(secrets={k: frozenset(v) for k, v in secrets.items()})


@settings(max_examples=VALID_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(props=valid_props())
def test_valid_props_synthesize_objects_that_pass_every_check(props: RedisSharedProps) -> None:
    objects = render(props)
    assert check_objects(objects, external=external_refs(props)) == []
    lb = props.load_balancer
    assert (
        exposure_problems(
            objects,
            primary=f"{props.name}-replicas"
            if props.primary_pod == f"{props.name}-replicas-0"
            else f"{props.name}-master",
            source_ranges=None if lb is None else lb.source_ranges,
            allow_any_source=lb is not None and lb.allow_any_source,
        )
        == []
    )
    assert pod_security_problems(objects) == []
    assert bounds_problems(objects) == []
    targets: list[Target] = redis_targets(objects, props.namespace)
    assert len(targets) == 2
    for target in targets:
        for peer in sample_peers(props):
            for port in (REDIS_PORT, METRICS_PORT, 6381, 9101, 22):
                assert admits(objects, target, peer, port) == expected_admission(props, peer, port), (
                    peer.description,
                    port,
                )


# -- the gaps the fuzzing found ----------------------------------------------------------------------------
GAPS: list[tuple[str, Callable[[], RedisSharedProps], str]] = [
    # re.match with "$" accepted a trailing newline in every pattern; the API server would refuse the object.
    (
        "client_namespace_with_trailing_newline",
        partial(RedisSharedProps, client_namespaces=("beersystem\n",)),
        r"client_namespaces: got 'beersystem\\n'; expected an RFC 1123 label",
    ),
    (
        "name_with_trailing_newline",
        partial(RedisSharedProps, name="redis\n"),
        r"name: got 'redis\\n'; expected an RFC 1123",
    ),
    (
        "image_with_trailing_newline",
        partial(RedisSharedProps, image="redis:7.4.2-bookworm\n"),
        r"image: got 'redis:7\.4\.2-bookworm\\n'; expected an image reference",
    ),
    (
        "memory_with_trailing_newline",
        partial(RedisSharedProps, resources=Resources(memory_limit="1Gi\n")),
        r"resources\.memory_limit: got '1Gi\\n'; expected a Kubernetes memory quantity",
    ),
    (
        "digest_with_trailing_newline",
        partial(RedisSharedProps, image_digest="sha256:" + "a" * 64 + "\n"),
        r"image_digest: got 'sha256:a{64}\\n'; expected None or a digest",
    ),
    (
        "secret_key_not_ascii",
        partial(
            RedisSharedProps,
            credentials=RedisCredentials(admin=SecretKeyRef(name="redis-shared-system", key="pässword")),
        ),
        r"credentials\.admin\.key: got 'pässword'; expected a Secret key of ASCII letters",
    ),
    (
        "secret_key_dot_dot",
        partial(
            RedisSharedProps, credentials=RedisCredentials(admin=SecretKeyRef(name="redis-shared-system", key="..data"))
        ),
        r"credentials\.admin\.key: got '\.\.data'; expected .*not '\.', '\.\.' or starting with '\.\.'",
    ),
    (
        "secret_key_not_a_string",
        partial(RedisSharedProps, credentials=RedisCredentials(admin=SecretKeyRef(name="redis-shared-system", key=5))),  # type: ignore[arg-type]
        r"credentials\.admin\.key: got 5; expected a Secret key",
    ),
    (
        "credentials_version_not_a_string",
        partial(RedisSharedProps, credentials=RedisCredentials(version=2)),  # type: ignore[arg-type]
        r"credentials\.version: got 2; expected a non-empty string of at most 63 characters",
    ),
    (
        "load_balancer_ip_as_an_integer",
        partial(RedisSharedProps, load_balancer=replace(LB, ip=3232236747)),  # type: ignore[arg-type]
        r"load_balancer\.ip: got 3232236747; expected a single IPv4 or IPv6 address",
    ),
    (
        "client_namespaces_as_one_string",
        partial(RedisSharedProps, client_namespaces="beersystem"),  # type: ignore[arg-type]
        r"client_namespaces: got 'beersystem'; expected a tuple of strings, not one string; "
        r"did you mean \('beersystem',\)\?",
    ),
    (
        "source_ranges_as_one_string",
        partial(RedisSharedProps, load_balancer=replace(LB, source_ranges="192.168.4.0/24")),  # type: ignore[arg-type]
        r"load_balancer\.source_ranges: got '192\.168\.4\.0/24'; expected a tuple of strings",
    ),
    (
        "dns_pod_label_value_invalid",
        partial(RedisSharedProps, dns_pod_labels=(("k8s-app", "kube dns"),)),
        r"dns_pod_labels: got 'kube dns'; expected a label value",
    ),
    (
        "dns_pod_label_key_invalid",
        partial(RedisSharedProps, dns_pod_labels=(("Example.com/app", "dns"),)),
        r"dns_pod_labels: got 'Example\.com/app'; expected a label key",
    ),
    (
        "dns_pod_labels_empty",
        partial(RedisSharedProps, dns_pod_labels=()),
        r"dns_pod_labels: got \(\); expected a non-empty tuple of \(key, value\) label pairs",
    ),
    (
        "dns_pod_labels_not_pairs",
        partial(RedisSharedProps, dns_pod_labels=("k8s-app",)),  # type: ignore[arg-type]
        r"dns_pod_labels: got 'k8s-app'; expected a \(key, value\) pair of strings",
    ),
    # Props added later had no type check: an AttributeError, or a wrong value read as truthy.
    (
        "tls_as_a_string",
        partial(RedisSharedProps, tls="cert-manager"),  # type: ignore[arg-type]
        r"tls: got 'cert-manager'; expected None or a Tls\(certificates=\.\.\.\)",
    ),
    (
        "tenant_commands_none",
        partial(RedisSharedProps, tenant_commands=None),  # type: ignore[arg-type]
        r"tenant_commands: got None; expected a TenantCommands",
    ),
    (
        "allow_scripting_as_a_string",
        partial(RedisSharedProps, tenant_commands=TenantCommands(allow_scripting="false")),  # type: ignore[arg-type]
        r"tenant_commands\.allow_scripting: got 'false'; expected True or False",
    ),
    (
        "tenants_credentials_not_tenant_credentials",
        partial(
            RedisSharedProps,
            credentials=RedisCredentials(tenants="redis-shared-client"),  # type: ignore[arg-type]
            client_namespaces=("a",),
        ),
        r"credentials\.tenants: got 'redis-shared-client'; expected None or a TenantCredentials",
    ),
    # Issue 23: a raised shutdown timeout was reported against the grace period the user never set (an unset one
    # is now derived from it: test_redis_shared.test_an_unset_grace_period_follows_the_shutdown_timeout).
    (
        "shutdown_timeout_beyond_a_set_grace_names_both",
        partial(RedisSharedProps, shutdown_timeout_seconds=60, termination_grace_period_seconds=45),
        r"^shutdown_timeout_seconds: got 60; expected at most termination_grace_period_seconds - 10 \(35\).*"
        r"termination_grace_period_seconds \(45\).*at least 70 too",
    ),
    (
        "grace_below_the_default_shutdown_names_the_grace_period",
        partial(RedisSharedProps, termination_grace_period_seconds=15),
        r"^termination_grace_period_seconds: got 15; expected an integer from 20 to 3600",
    ),
    # The certificate lifetimes had a grammar of their own: non-ASCII digits passed, 5000 digits overflowed int().
    (
        "certificate_duration_in_arabic_indic_digits",
        partial(
            RedisSharedProps, tls=Tls(certificates=CertManagerSelfSignedCa(duration="\u0661\u0662\u0660\u0660\u0660h"))
        ),
        r"tls\.certificates\.duration: got '.*'; expected a whole number of hours",
    ),
    (
        "certificate_duration_of_5000_digits",
        partial(RedisSharedProps, tls=Tls(certificates=CertManagerSelfSignedCa(ca_duration="1" * 5000 + "h"))),
        r"tls\.certificates\.ca_duration: got '1{5000}h'; expected a whole number of hours",
    ),
]


@pytest.mark.parametrize(("props", "message"), [(p, m) for _, p, m in GAPS], ids=[i for i, _, _ in GAPS])
def test_fails_what_the_fuzzing_found(props: Callable[[], RedisSharedProps], message: str) -> None:
    with pytest.raises(PropError, match=message):
        render(props())
