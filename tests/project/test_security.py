"""Exposure and Pod Security checks over the synthesized site, as a reviewer would make them.

The checks (``security_checks.py``) are functions returning a list of problems, so each can be shown to fail:
the ``test_fails_...`` cases break one field of a copy of the site objects and expect exactly that problem.
``test_props_fuzz`` runs the same checks over generated props.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from netpol import POD_CIDR, Peer, Target, admits
from security_checks import (
    OPEN_TO_ALL,
    admission_problems,
    bounds_problems,
    exposure_problems,
    pod_security_problems,
    pod_templates,
    redis_targets,
)

import main
from redis_constructs.server.checkov_skips import CHECKOV_SKIPS
from redis_constructs.server.names import METRICS_PORT, REDIS_PORT
from redis_constructs.server.props import LoadBalancer

Obj = dict[str, Any]


# -- the site ----------------------------------------------------------------------------------------------
def _site_load_balancer() -> LoadBalancer:
    lb = main.REDIS.load_balancer
    assert lb is not None, "the site publishes Redis on the LAN"
    return lb


SITE_LB = _site_load_balancer()
SITE_RANGES = SITE_LB.source_ranges
REDIS_POD = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis-shared"}


def site_cases() -> list[tuple[Peer, int, bool]]:
    """The reviewer's table: who may reach 6379, the TLS port and 9121, and who may not."""
    assert main.REDIS.tls is not None, "the site serves the LAN with TLS"
    tls_port = main.REDIS.tls.port
    # peer, plaintext 6379, TLS, metrics (both exporters), the LAN proxy 6381: the LAN reaches only the proxy,
    # never Redis's own ports (docs/resilience.md).
    table: list[tuple[Peer, bool, bool, bool, bool]] = [
        (Peer.pod("beersystem"), True, True, False, False),
        (Peer.pod("default"), False, False, False, False),
        (Peer.pod("monitoring"), False, False, True, False),
        (Peer.address("192.168.4.50"), False, False, False, True),
        (Peer.address("10.9.9.9"), False, False, False, False),
        (Peer.address("192.168.5.1"), False, False, False, False),
        (Peer.pod("redis", {**REDIS_POD, "app.kubernetes.io/component": "replica"}), True, True, False, False),
        (Peer.pod("redis", {"app": "something-else"}), False, False, False, False),
    ]
    cases = []
    for peer, redis_ok, tls_ok, metrics_ok, lan_ok in table:
        cases += [(peer, REDIS_PORT, redis_ok), (peer, tls_port, tls_ok), (peer, METRICS_PORT, metrics_ok)]
        cases += [(peer, 9101, metrics_ok), (peer, 6381, lan_ok), (peer, 22, False)]
    return cases


def test_site_has_one_load_balancer_for_the_primary_and_the_lan_only(site_objects: list[Obj]) -> None:
    assert exposure_problems(site_objects, primary="redis-shared-master", source_ranges=SITE_RANGES) == []
    assert SITE_LB.allow_any_source is False
    assert all(ipaddress.ip_network(r) not in OPEN_TO_ALL for r in SITE_RANGES)


def test_site_network_policy_admits_only_the_listed_peers(site_objects: list[Obj]) -> None:
    targets = redis_targets(site_objects, "redis")
    assert {t.labels["app.kubernetes.io/component"] for t in targets} == {"master", "replica"}
    assert admission_problems(site_objects, targets, site_cases()) == []


def test_site_sample_pods_are_outside_the_lan_range() -> None:
    # Otherwise the ipBlock would admit the sample pods and the table above would test nothing.
    pod_net = ipaddress.ip_network(POD_CIDR)
    assert not any(pod_net.overlaps(ipaddress.ip_network(r)) for r in SITE_RANGES)


def test_site_pods_meet_pod_security_restricted(site_objects: list[Obj]) -> None:
    assert len(list(pod_templates(site_objects))) >= 2
    assert pod_security_problems(site_objects) == []


def test_site_containers_are_bounded_and_probed(site_objects: list[Obj]) -> None:
    assert bounds_problems(site_objects) == []


def test_site_namespace_enforces_restricted(site_objects: list[Obj]) -> None:
    (ns,) = [o for o in site_objects if o["kind"] == "Namespace" and o["metadata"]["name"] == "redis"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_checkov_skips_are_on_the_statefulsets_and_give_reasons(site_objects: list[Obj]) -> None:
    redis_sets = [o for o in site_objects if o["kind"] == "StatefulSet" and o["metadata"]["namespace"] == "redis"]
    assert len(redis_sets) == 2
    for sts in redis_sets:
        skips = {k: v for k, v in sts["metadata"]["annotations"].items() if k.startswith("checkov.io/skip")}
        assert sorted(v.split("=")[0] for v in skips.values()) == ["CKV_K8S_15", "CKV_K8S_43", "CKV_K8S_9"]
        for value in skips.values():
            check_id, reason = value.split("=")  # checkov's own parsing: exactly one '='
            assert len(reason) > 20, check_id
        assert "checkov.io/skip1" not in (sts["spec"]["template"]["metadata"].get("annotations") or {})
    assert {s.check_id for s in CHECKOV_SKIPS} == {"CKV_K8S_15", "CKV_K8S_43", "CKV_K8S_9"}
    # Only the sidecars lack a readiness probe (liveness only, on purpose): acl-reload, tls-reload with TLS on,
    # lan-proxy with a LoadBalancer.
    for sts in redis_sets:
        unready = [c["name"] for c in sts["spec"]["template"]["spec"]["containers"] if "readinessProbe" not in c]
        assert unready == ["acl-reload", "tls-reload", "lan-proxy"]


# -- each check can fail -----------------------------------------------------------------------------------
def _sts(objects: list[Obj], name: str = "redis-shared-master") -> Obj:
    (sts,) = [o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == name]
    return sts


def _pod(objects: list[Obj]) -> Obj:
    pod: Obj = _sts(objects)["spec"]["template"]["spec"]
    return pod


def _container(objects: list[Obj], name: str = "redis") -> Obj:
    (c,) = [c for c in _pod(objects)["containers"] if c["name"] == name]
    found: Obj = c
    return found


def _service(objects: list[Obj], name: str) -> Obj:
    (svc,) = [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == name]
    found: Obj = svc
    return found


Mutation = Callable[[list[Obj]], object]
POD_SECURITY_BREAKS: list[tuple[str, Mutation, str]] = [
    ("host_network", lambda o: _pod(o).update(hostNetwork=True), "hostNetwork is set"),
    ("host_pid", lambda o: _pod(o).update(hostPID=True), "hostPID is set"),
    ("host_port", lambda o: _container(o)["ports"][0].update(hostPort=6379), "hostPort 6379"),
    ("privileged", lambda o: _container(o)["securityContext"].update(privileged=True), "'redis': privileged"),
    (
        "privilege_escalation",
        lambda o: _container(o)["securityContext"].update(allowPrivilegeEscalation=True),
        "allowPrivilegeEscalation is not false",
    ),
    ("root_user", lambda o: _container(o)["securityContext"].update(runAsUser=0), "'redis': runAsUser is 0"),
    (
        "run_as_non_root_unset",
        lambda o: (
            _pod(o)["securityContext"].pop("runAsNonRoot"),
            _container(o, "metrics")["securityContext"].pop("runAsNonRoot"),
        ),
        "'metrics': runAsNonRoot is not true",
    ),
    (
        "added_capability",
        lambda o: _container(o)["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
        "capabilities add ['NET_ADMIN']",
    ),
    (
        "capabilities_not_dropped",
        lambda o: _container(o)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
        "capabilities do not drop ALL",
    ),
    (
        "seccomp_unconfined",
        lambda o: _container(o)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "seccompProfile 'Unconfined'",
    ),
    (
        "host_path_volume",
        lambda o: _pod(o)["volumes"].append({"name": "host", "hostPath": {"path": "/"}}),
        "volume 'host' of type ['hostPath']",
    ),
    (
        "unsafe_sysctl",
        lambda o: _pod(o)["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        "unsafe sysctl kernel.msgmax",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "problem"), [(m, p) for _, m, p in POD_SECURITY_BREAKS], ids=[i for i, _, _ in POD_SECURITY_BREAKS]
)
def test_fails_pod_security_when_a_field_is_broken(site_objects: list[Obj], mutate: Mutation, problem: str) -> None:
    objects = copy.deepcopy(site_objects)
    mutate(objects)
    problems = pod_security_problems(objects)
    assert any(problem in p for p in problems), problems


def test_fails_pod_security_in_a_deployment_too(site_objects: list[Obj]) -> None:
    pod = copy.deepcopy(_pod(copy.deepcopy(site_objects)))
    pod["containers"][0]["securityContext"]["runAsUser"] = 0
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "x", "namespace": "redis"},
        "spec": {"template": {"spec": pod}},
    }
    assert any("Deployment redis/x" in p and "runAsUser is 0" in p for p in pod_security_problems([deployment]))


BOUNDS_BREAKS: list[tuple[str, Mutation, str]] = [
    ("no_readiness", lambda o: _container(o, "metrics").pop("readinessProbe"), "'metrics': no readinessProbe"),
    ("no_liveness", lambda o: _container(o).pop("livenessProbe"), "'redis': no livenessProbe"),
    ("no_cpu_limit", lambda o: _container(o)["resources"]["limits"].pop("cpu"), "no limits for ['cpu']"),
    (
        "init_without_memory_request",
        lambda o: _pod(o)["initContainers"][0]["resources"]["requests"].pop("memory"),
        "initContainers 'config': no requests for ['memory']",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "problem"), [(m, p) for _, m, p in BOUNDS_BREAKS], ids=[i for i, _, _ in BOUNDS_BREAKS]
)
def test_fails_bounds_when_a_field_is_missing(site_objects: list[Obj], mutate: Mutation, problem: str) -> None:
    objects = copy.deepcopy(site_objects)
    mutate(objects)
    problems = bounds_problems(objects)
    assert any(problem in p for p in problems), problems


EXPOSURE_BREAKS: list[tuple[str, Mutation, str]] = [
    (
        "open_to_the_world",
        lambda o: _service(o, "redis-shared-external")["spec"].update(loadBalancerSourceRanges=["0.0.0.0/0"]),
        "admits every address (0.0.0.0/0)",
    ),
    (
        "open_to_every_ipv6_address",
        lambda o: _service(o, "redis-shared-external")["spec"]["loadBalancerSourceRanges"].append("::/0"),
        "admits every address (::/0)",
    ),
    (
        "selects_replicas_too",
        lambda o: _service(o, "redis-shared-external")["spec"]["selector"].pop("redis-shared/role"),
        "expected only the primary",
    ),
    (
        "cluster_traffic_policy",
        lambda o: _service(o, "redis-shared-external")["spec"].update(externalTrafficPolicy="Cluster"),
        "externalTrafficPolicy is not Local",
    ),
    (
        "node_port",
        lambda o: _service(o, "redis-shared-master")["spec"].update(type="NodePort"),
        "redis-shared-master: opens a NodePort",
    ),
    (
        "second_load_balancer",
        lambda o: _service(o, "redis-shared-replicas")["spec"].update(type="LoadBalancer"),
        "2 LoadBalancer Services; expected 1",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "problem"), [(m, p) for _, m, p in EXPOSURE_BREAKS], ids=[i for i, _, _ in EXPOSURE_BREAKS]
)
def test_fails_exposure_when_the_service_is_widened(site_objects: list[Obj], mutate: Mutation, problem: str) -> None:
    objects = copy.deepcopy(site_objects)
    mutate(objects)
    problems = exposure_problems(objects, primary="redis-shared-master", source_ranges=SITE_RANGES)
    assert any(problem in p for p in problems), problems


def _redis_peers(objects: list[Obj]) -> list[Obj]:
    (policy,) = [o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "redis-shared"]
    peers: list[Obj] = policy["spec"]["ingress"][0]["from"]
    return peers


def _metrics_peers(objects: list[Obj]) -> list[Obj]:
    (policy,) = [o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "redis-shared"]
    peers: list[Obj] = policy["spec"]["ingress"][1]["from"]
    return peers


NETPOL_BREAKS: list[tuple[str, Mutation, str]] = [
    (
        "every_namespace",
        lambda o: _redis_peers(o).append({"namespaceSelector": {}}),
        "a pod in default → ",
    ),
    (
        "wider_ip_block",
        lambda o: _redis_peers(o).append({"ipBlock": {"cidr": "192.168.0.0/16"}}),
        "address 192.168.5.1 → ",
    ),
    (
        "pod_selector_alone_in_redis_namespace",
        lambda o: _redis_peers(o).append({"podSelector": {}}),
        "a pod in redis → ",
    ),
    (
        "open_to_every_address",
        lambda o: _redis_peers(o).append({"ipBlock": {"cidr": "0.0.0.0/0"}}),
        "address 10.9.9.9 → ",
    ),
    ("metrics_to_every_namespace", lambda o: _metrics_peers(o).append({"namespaceSelector": {}}), "port 9121"),
    (
        "policy_removed",
        lambda o: o.__setitem__(slice(None), [x for x in o if x["kind"] != "NetworkPolicy"]),
        "admitted",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "problem"), [(m, p) for _, m, p in NETPOL_BREAKS], ids=[i for i, _, _ in NETPOL_BREAKS]
)
def test_fails_admission_when_the_policy_is_widened(site_objects: list[Obj], mutate: Mutation, problem: str) -> None:
    objects = copy.deepcopy(site_objects)
    targets = redis_targets(objects, "redis")
    mutate(objects)
    problems = admission_problems(objects, targets, site_cases())
    assert any(problem in p and p.endswith("admitted") for p in problems), problems


def test_fails_admission_when_the_client_namespace_is_dropped(site_objects: list[Obj]) -> None:
    objects = copy.deepcopy(site_objects)
    targets = redis_targets(objects, "redis")
    peers = _redis_peers(objects)
    peers[:] = [p for p in peers if "namespaceSelector" not in p]
    problems = admission_problems(objects, targets, site_cases())
    assert any(p.startswith("a pod in beersystem → ") and p.endswith("port 6379: refused") for p in problems), problems


# -- the evaluator itself ----------------------------------------------------------------------------------
def _policy(spec: Obj, namespace: str = "app") -> Obj:
    return {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": namespace}, "spec": spec}


APP = Target(namespace="app", labels={"role": "db"}, port_names={"db": 5432})


def test_evaluator_default_allows_until_a_policy_selects_the_pod() -> None:
    other = _policy({"podSelector": {"matchLabels": {"role": "web"}}, "policyTypes": ["Ingress"]})
    assert admits([], APP, Peer.address("203.0.113.9"), 5432)
    assert admits([other], APP, Peer.address("203.0.113.9"), 5432)
    deny_all = _policy({"podSelector": {}, "policyTypes": ["Ingress"]})
    assert not admits([deny_all], APP, Peer.pod("app"), 5432)
    egress_only = _policy({"podSelector": {}, "policyTypes": ["Egress"]})
    assert admits([egress_only], APP, Peer.pod("app"), 5432)


def test_evaluator_namespace_and_pod_selectors_in_one_peer_both_apply() -> None:
    both = _policy(
        {
            "podSelector": {},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}},
                            "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}]},
                        }
                    ],
                    "ports": [{"port": "db"}],
                }
            ],
        }
    )
    assert admits([both], APP, Peer.pod("web", {"tier": "fe"}), 5432)
    assert not admits([both], APP, Peer.pod("web", {"tier": "be"}), 5432)
    assert not admits([both], APP, Peer.pod("other", {"tier": "fe"}), 5432)
    assert not admits([both], APP, Peer.pod("web", {"tier": "fe"}), 5433)
    assert not admits([both], APP, Peer.pod("web", {"tier": "fe"}), 5432, "UDP")


def test_evaluator_ip_block_with_except_and_port_ranges() -> None:
    block = _policy(
        {
            "podSelector": {"matchLabels": {"role": "db"}},
            "ingress": [
                {
                    "from": [{"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.9.0/24"]}}],
                    "ports": [{"port": 5000, "endPort": 6000, "protocol": "TCP"}],
                }
            ],
        }
    )
    assert admits([block], APP, Peer.address("192.168.1.1"), 5432)
    assert not admits([block], APP, Peer.address("192.168.9.1"), 5432)
    assert not admits([block], APP, Peer.address("192.168.1.1"), 6001)
    assert not admits([block], APP, Peer.address("2001:db8::1"), 5432)
    assert not admits([block], APP, Peer.pod("app"), 5432)  # 10.42.0.17 is outside the block
