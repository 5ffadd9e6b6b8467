"""RedisWorkload: one StatefulSet per role, its containers, probes, volumes and PVC template."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import cdk8s
import pytest
from conftest import containers, find, of_kind

from redis_constructs import RedisCredentials, RedisShared, RedisSharedProps, Resources, Role
from redis_constructs.server.names import RedisNames
from redis_constructs.server.tls import ExistingTlsSecret, Tls
from redis_constructs.server.workload import RedisWorkload, RedisWorkloadProps

Obj = dict[str, Any]
NAMES = RedisNames(name="cache", namespace="shared")
SPEC = RedisWorkloadProps(
    names=NAMES,
    role=Role.PRIMARY,
    replicas=1,
    primary=Role.PRIMARY,
    image="redis:7.4.2-bookworm",
    exporter_image="oliver006/redis_exporter:v1.62.0",
    digests_pinned=False,
    resources=Resources(),
    termination_grace_period_seconds=30,
    storage_class="local-path",
    storage_size="8Gi",
    credentials=RedisCredentials(),
    config_checksum="c" * 64,
)


def render(props: RedisSharedProps | None = None) -> tuple[RedisShared, list[Obj]]:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "test", disable_resource_name_hashes=True)
    redis = RedisShared(chart, "Redis", props)
    return redis, list(chart.to_json())


def workload(spec: RedisWorkloadProps, role: Role) -> tuple[RedisWorkload, Obj]:
    chart = cdk8s.Chart(cdk8s.App(), "test", disable_resource_name_hashes=True)
    w = RedisWorkload(chart, "Workload", replace(spec, role=role))
    (sts,) = chart.to_json()
    return w, sts


def env(sts: Obj) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in containers(sts)["redis"]["env"]}


@pytest.mark.parametrize(
    ("role", "name", "replicas"), [(Role.PRIMARY, "cache-master", 1), (Role.REPLICA, "cache-replicas", 3)]
)
def test_one_statefulset_per_role_with_its_immutable_selector(role: Role, name: str, replicas: int) -> None:
    w, sts = workload(replace(SPEC, replicas=3), role)
    assert w.statefulset_name == sts["metadata"]["name"] == name
    assert w.node.default_child is w.statefulset
    assert sts["spec"]["replicas"] == replicas
    assert sts["spec"]["selector"]["matchLabels"] == NAMES.labels(role)
    assert sts["spec"]["serviceName"] == "cache-headless"
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"] == {"name": "data", "labels": NAMES.labels(role)}
    assert sts["spec"]["template"]["metadata"]["annotations"]["redis-shared/config-checksum"] == "c" * 64


def test_a_promotion_moves_the_role_not_the_selector() -> None:
    promoted = replace(SPEC, primary=Role.REPLICA)
    master, master_sts = workload(promoted, Role.PRIMARY)
    replica, replica_sts = workload(promoted, Role.REPLICA)
    assert (master.pod_role, replica.pod_role) == (Role.REPLICA, Role.PRIMARY)
    assert env(replica_sts)["REDIS_ROLE"] == "master"
    assert env(replica_sts)["REDIS_PROMOTED"] == "true"
    assert env(master_sts)["REDIS_PROMOTED"] == "false"
    assert env(master_sts)["REDIS_REPLICA_HOSTS"] == NAMES.pod_host(Role.PRIMARY, 0)
    assert replica_sts["spec"]["selector"]["matchLabels"] == NAMES.labels(Role.REPLICA)
    assert replica_sts["spec"]["template"]["metadata"]["labels"]["redis-shared/role"] == "master"


def test_checkov_skips_follow_digests_and_tls() -> None:
    def skips(spec: RedisWorkloadProps) -> set[str]:
        annotations = workload(spec, Role.PRIMARY)[1]["metadata"]["annotations"]
        return {v.split("=")[0] for k, v in annotations.items() if k.startswith("checkov.io/skip")}

    tls = Tls(certificates=ExistingTlsSecret(secret_name="cache-tls"))
    # CKV_K8S_9: the acl-reload sidecar (and with TLS tls-reload) has liveness only.
    assert skips(SPEC) == {"CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_9"}
    assert skips(replace(SPEC, digests_pinned=True)) == {"CKV_K8S_9"}
    assert skips(replace(SPEC, digests_pinned=True, tls=tls)) == {"CKV_K8S_9"}
    assert workload(SPEC, Role.PRIMARY)[1]["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"


def test_tls_adds_the_port_the_mounts_and_the_reload_sidecar() -> None:
    plain = workload(SPEC, Role.PRIMARY)[1]
    tls = workload(replace(SPEC, tls=Tls(certificates=ExistingTlsSecret(secret_name="cache-tls"))), Role.PRIMARY)[1]
    assert set(containers(plain)) == {"config", "redis", "metrics", "acl-reload"}
    assert set(containers(tls)) == {"config", "redis", "metrics", "acl-reload", "tls-reload"}
    assert {"name": "redis-tls", "containerPort": 6380, "protocol": "TCP"} in containers(tls)["redis"]["ports"]
    volumes = {v["name"]: v for v in tls["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "cache-tls"
    assert env(tls)["REDIS_EXPORTER_URI"] == "rediss://localhost:6380"
    assert env(plain)["REDIS_EXPORTER_URI"] == "redis://localhost:6379"


def test_replica_count_zero_renders_an_empty_replica_set() -> None:
    _, objects = render(RedisSharedProps(replicas=0))
    sts = find(objects, "StatefulSet", "redis-shared-replicas")
    assert sts["spec"]["replicas"] == 0
    env = {
        e["name"]: e.get("value")
        for e in containers(find(objects, "StatefulSet", "redis-shared-master"))["redis"]["env"]
    }
    assert env["REDIS_REPLICA_HOSTS"] == ""


def test_no_password_in_config_maps_command_lines_or_env_values(site_objects: list[Obj]) -> None:
    for sts in of_kind(site_objects, "StatefulSet"):
        for container in containers(sts).values():
            text = " ".join(container["command"] + container.get("args", []))
            assert "pass" not in text.lower()
            for env in container.get("env", []):
                assert "valueFrom" not in env or "secretKeyRef" not in env["valueFrom"]
                assert "PASSWORD" not in env["name"] or env["value"].startswith("/run/")
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        sources = volumes["credentials"]["projected"]["sources"]
        assert {s["secret"]["name"] for s in sources} == {"redis-shared-system"}
        assert volumes["tenant-secrets"]["secret"]["secretName"] == "redis-shared-client"
        assert volumes["runtime"]["emptyDir"]["medium"] == "Memory"


def test_pods_are_restricted_and_bounded(site_objects: list[Obj]) -> None:
    for sts in of_kind(site_objects, "StatefulSet"):
        pod = sts["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in containers(sts).values():
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["runAsUser"] >= 10000
            assert set(container["resources"]["requests"]) == {"cpu", "memory"}
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}
        terms = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms[0]["topologyKey"] == "kubernetes.io/hostname"
        assert "app.kubernetes.io/component" not in terms[0]["labelSelector"]["matchLabels"]


def test_probes_ask_only_the_local_redis_and_end_before_the_kubelet(site_objects: list[Obj]) -> None:
    scripts = find(site_objects, "ConfigMap", "redis-shared-scripts")["data"]
    probe = scripts["probe.sh"]
    assert "-h 127.0.0.1" in probe
    assert "REDIS_MASTER" not in probe
    # A link that is up only marks a synced volume (and makes a demoted pod Ready): the other replicas'
    # readiness never waits for the link (SC-002).
    assert probe.count("master_link_status:up") == 1
    # At most two redis-cli calls and one name lookup, each bounded by timeout(1).
    call, lookup = (float(t) for t in re.findall(r"`timeout ([\d.]+)`", probe))
    calls = 2 * call + lookup
    for sts in of_kind(site_objects, "StatefulSet"):
        redis = containers(sts)["redis"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert redis[kind]["exec"]["command"][-1] == kind.removesuffix("Probe")
            assert calls < redis[kind]["timeoutSeconds"]
        assert redis["startupProbe"]["periodSeconds"] * redis["startupProbe"]["failureThreshold"] >= 600
