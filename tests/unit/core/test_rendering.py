"""The shared rendering rules of rendering.py: one jsii value object per Quantity / IntOrString value."""

from __future__ import annotations

import cdk8s
from cdk8s_plus_28 import k8s

from redis_constructs.core.rendering import int_or_string, namespace_peer, quantity, tcp_port


def test_quantity_is_made_once_per_value_and_renders_it(chart: cdk8s.Chart) -> None:
    assert quantity("64Mi") is quantity("64Mi")
    assert quantity("64Mi") is not quantity("1Mi")
    limits = {"memory": quantity("64Mi"), "cpu": quantity("100m")}
    k8s.KubePod(
        chart,
        "Pod",
        spec=k8s.PodSpec(
            containers=[
                k8s.Container(name="a", resources=k8s.ResourceRequirements(limits=limits, requests=limits)),
                k8s.Container(name="b", resources=k8s.ResourceRequirements(requests={"memory": quantity("64Mi")})),
            ],
            volumes=[k8s.Volume(name="tmp", empty_dir=k8s.EmptyDirVolumeSource(size_limit=quantity("1Mi")))],
        ),
    )
    (pod,) = chart.to_json()
    a, b = pod["spec"]["containers"]
    assert a["resources"] == {
        "limits": {"cpu": "100m", "memory": "64Mi"},
        "requests": {"cpu": "100m", "memory": "64Mi"},
    }
    assert b["resources"] == {"requests": {"memory": "64Mi"}}
    assert pod["spec"]["volumes"] == [{"emptyDir": {"sizeLimit": "1Mi"}, "name": "tmp"}]


def test_int_or_string_keeps_numbers_and_names_apart(chart: cdk8s.Chart) -> None:
    assert int_or_string(6379) is int_or_string(6379)
    assert int_or_string(6379) is not int_or_string("6379")
    k8s.KubeService(
        chart,
        "Svc",
        spec=k8s.ServiceSpec(
            ports=[
                k8s.ServicePort(name="number", port=6379, target_port=int_or_string(6379)),
                k8s.ServicePort(name="digits", port=6380, target_port=int_or_string("6379")),
                k8s.ServicePort(name="name", port=6381, target_port=int_or_string("redis")),
            ]
        ),
    )
    (svc,) = chart.to_json()
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == [6379, "6379", "redis"]


def test_network_policy_peers_and_ports_select_by_the_immutable_namespace_label() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    k8s.KubeNetworkPolicy(
        chart,
        "P",
        spec=k8s.NetworkPolicySpec(
            pod_selector=k8s.LabelSelector(),
            ingress=[
                k8s.NetworkPolicyIngressRule(
                    from_=[namespace_peer("apps"), namespace_peer("redis", {"app": "redis"})], ports=[tcp_port(6379)]
                )
            ],
        ),
    )
    (rule,) = chart.to_json()[0]["spec"]["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "apps"}}},
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "redis"}},
            "podSelector": {"matchLabels": {"app": "redis"}},
        },
    ]
    assert rule["ports"] == [{"port": 6379, "protocol": "TCP"}]
