"""RedisDecommissionGate and DecommissionGate: a PreSync hook in DECOMMISSIONED only, its arguments, every prop rule.

The gate's queries run against a real Prometheus in tests/runtime/test_decommission_gate_runtime.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from binding_world import LATER, T0, site

from redis_constructs import PropError
from redis_constructs.migration.binding import MigrationPhase
from redis_constructs.migration.decommission_gate import PROGRAM_PATH, DecommissionGate, GateJobRun

Obj = dict[str, Any]
URL = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"


def gate_objects(phase: MigrationPhase) -> list[Obj]:
    return [o for o in site(phase)["beersystem-migration"] if "gate" in o["metadata"]["name"]]


def test_decommissioned_renders_the_gate_as_pre_sync_hooks_in_the_migration_unit() -> None:
    objects = gate_objects(MigrationPhase.DECOMMISSIONED)
    kinds = {o["kind"]: o for o in objects}
    assert sorted(kinds) == ["ConfigMap", "Job", "NetworkPolicy"]
    for o in objects:
        annotations = o["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/hook"] == "PreSync"
        assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
        assert o["metadata"]["namespace"] == "beersystem"
    # Program and policy first (wave -1), then the Job (wave 0).
    assert kinds["ConfigMap"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"
    assert kinds["Job"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "0"
    assert kinds["Job"]["metadata"]["name"].startswith("beersystem-redis-decommission-gate-")
    assert kinds["ConfigMap"]["data"]["gate_program.py"] == PROGRAM_PATH.read_text()
    # Egress: DNS and Prometheus's namespace on 9090 only.
    egress = kinds["NetworkPolicy"]["spec"]["egress"]
    assert egress[1]["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert egress[1]["ports"] == [{"port": 9090, "protocol": "TCP"}]


def test_the_jobs_arguments_cover_the_whole_time_since_the_cutover() -> None:
    (job,) = [o for o in gate_objects(MigrationPhase.DECOMMISSIONED) if o["kind"] == "Job"]
    cmd = job["spec"]["template"]["spec"]["containers"][0]["command"]
    args = dict(zip(cmd[2::2], cmd[3::2], strict=True))
    assert args == {
        "--prometheus-url": URL,
        "--cutover-time": str(int(T0.timestamp())),
        "--min-hours": "24",
        "--app-namespace": "beersystem",
        "--validation-jobs": "beersystem-redis-validate-[0-9a-f]{8}",
        "--app-pods": "beersystem-[a-z0-9]{6,10}-[a-z0-9]{5}",
        "--redis-namespace": "redis",
        "--check-jobs": "redis-shared-check-.+",
        "--alert": "Redis.+",
    }
    assert job["spec"]["backoffLimit"] == 0


@pytest.mark.parametrize("phase", [p for p in MigrationPhase if p is not MigrationPhase.DECOMMISSIONED])
def test_no_gate_in_other_phases(phase: MigrationPhase) -> None:
    cutover = None if phase in (MigrationPhase.BEFORE_CUTOVER, MigrationPhase.SCALED_DOWN) else T0
    assert [
        o
        for o in site(phase, cutover_time=cutover, now=LATER)["beersystem-migration"]
        if "gate" in o["metadata"]["name"]
    ] == []


def test_the_gate_rejects_nothing_the_synth_time_check_already_refuses() -> None:
    with pytest.raises(PropError, match="cutover_time"):
        site(MigrationPhase.DECOMMISSIONED, now=T0 + dt.timedelta(hours=23))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"prometheus_url": "kube-prometheus-stack-prometheus:9090"}, r"^decommission_gate\.prometheus_url: got"),
        ({"prometheus_url": "ftp://prom:9090"}, r"^decommission_gate\.prometheus_url: got"),
        ({"prometheus_url": URL + "?x=1"}, r"^decommission_gate\.prometheus_url: got"),
        ({"min_hours": 23}, r"^decommission_gate\.min_hours: got 23; expected a number from 24 to 8760"),
        ({"prometheus_namespace": "Monitoring"}, r"^decommission_gate\.prometheus_namespace: got 'Monitoring'"),
        ({"job": "fast"}, r"^decommission_gate\.job: got 'fast'; expected a GateJobRun"),
    ],
)
def test_fails_gate_rules(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(PropError, match=message):
        DecommissionGate(**({"prometheus_url": URL} | kw))


def test_fails_job_rules() -> None:
    with pytest.raises(
        PropError, match=r"^decommission_gate\.job\.active_deadline_seconds: got 10; expected an integer from 30 to 900"
    ):
        GateJobRun(active_deadline_seconds=10)


def test_port_follows_the_url() -> None:
    assert DecommissionGate(prometheus_url=URL).prometheus_port == 9090
    assert DecommissionGate(prometheus_url="https://prom.example").prometheus_port == 443
