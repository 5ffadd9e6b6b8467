"""RedisChecks and CheckJobRun: the post-sync Job, its name, mounts and policies, the CronJob, every prop rule."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import cdk8s
import pytest
from conftest import find, of_kind

from redis_constructs import (
    CheckJobRun,
    LoadBalancer,
    PropError,
    RedisChecks,
    RedisChecksProps,
    RedisCredentials,
    RedisShared,
    RedisSharedProps,
    SecretKeyRef,
    Tls,
)
from redis_constructs.checks.check_job import program_text
from redis_constructs.server.tls import CertManagerSelfSignedCa

Obj = dict[str, Any]
CHECK_REF = SecretKeyRef(name="redis-shared-system", key="check-password")


def render(run: CheckJobRun | None = None, **redis_props: Any) -> tuple[list[Obj], RedisChecks]:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "c", disable_resource_name_hashes=True)
    props: dict[str, Any] = {"credentials": RedisCredentials(check=CHECK_REF)} | redis_props
    redis = RedisShared(chart, "Redis", RedisSharedProps(**props))
    checks = RedisChecks(chart, "Checks", RedisChecksProps(redis=redis, **({"run": run} if run else {})))
    return list(chart.to_json()), checks


def job_of(objects: list[Obj]) -> Obj:
    (job,) = of_kind(objects, "Job")
    return job


def command(objects: list[Obj]) -> list[str]:
    return list(job_of(objects)["spec"]["template"]["spec"]["containers"][0]["command"])


def arg(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_the_job_is_a_post_sync_hook_replaced_before_the_next_run() -> None:
    objects, checks = render()
    job = job_of(objects)
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PostSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert job["metadata"]["name"] == checks.job_name
    assert checks.job_name.startswith("redis-shared-check-") and len(checks.job_name) == len("redis-shared-check-") + 8
    assert of_kind(objects, "CronJob") == []


def test_the_check_user_is_rendered_with_its_credential() -> None:
    objects, _ = render()
    acl = find(objects, "ConfigMap", "redis-shared-configuration")["data"]["users.acl.tmpl"]
    (line,) = [line for line in acl.splitlines() if line.split()[1] == "check"]
    assert "~redis-shared:check:* resetchannels -@all" in line
    assert "+@" not in line and "~*" not in line


def test_no_password_in_the_command_or_env_and_only_the_ca_is_mounted() -> None:
    objects, _ = render(
        tls=Tls(certificates=CertManagerSelfSignedCa()),
        load_balancer=LoadBalancer(ip="192.168.4.203", source_ranges=("192.168.4.0/24",)),
    )
    spec = job_of(objects)["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container.get("env", []) == []
    cmd = container["command"]
    assert "--password" not in cmd and arg(cmd, "--password-file") == "/var/run/secrets/redis-shared/password"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["credentials"]["secret"]["items"] == [{"key": "check-password", "path": "password"}]
    assert volumes["tls-ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    # The TLS check verifies the name LAN clients dial: the LoadBalancer's IP.
    assert arg(cmd, "--tls-name") == "192.168.4.203" and arg(cmd, "--tls-port") == "6380"
    assert container["securityContext"]["runAsUser"] == 65534
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_without_tls_no_tls_check_and_the_exporters_of_every_pod() -> None:
    objects, _ = render(replicas=2)
    cmd = command(objects)
    assert "--tls-port" not in cmd and "--ca-file" not in cmd
    urls = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--exporter-url"]
    assert urls == [
        "http://redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local:9121/metrics",
        "http://redis-shared-replicas-0.redis-shared-headless.redis.svc.cluster.local:9121/metrics",
        "http://redis-shared-replicas-1.redis-shared-headless.redis.svc.cluster.local:9121/metrics",
    ]
    assert arg(cmd, "--replicas") == "2"


def test_the_program_is_the_config_map_file() -> None:
    objects, _ = render()
    assert find(objects, "ConfigMap", "redis-shared-check-program")["data"]["check_program.py"] == program_text()
    assert command(objects)[:3] == ["python3", "/opt/redis-shared/check/check_program.py", "cluster"]


def test_the_network_policies_admit_the_check_to_redis_exporter_and_tls_only() -> None:
    objects, _ = render(tls=Tls(certificates=CertManagerSelfSignedCa()))
    own = find(objects, "NetworkPolicy", "redis-shared-check")
    assert own["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in own["spec"]
    ports = {p["port"] for p in own["spec"]["egress"][1]["ports"]}
    assert ports == {6379, 6380, 9121}
    ingress = find(objects, "NetworkPolicy", "redis-shared-check-ingress")
    sts = find(objects, "StatefulSet", "redis-shared-master")
    assert (
        ingress["spec"]["podSelector"]["matchLabels"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
    )
    (rule,) = ingress["spec"]["ingress"]
    assert {p["port"] for p in rule["ports"]} == {6379, 6380, 9121}
    assert rule["from"] == [{"podSelector": {"matchLabels": job_of(objects)["spec"]["template"]["metadata"]["labels"]}}]


def test_the_name_follows_the_spec_the_program_the_credentials_and_the_chart() -> None:
    base, _ = render()
    again, _ = render()
    assert job_of(base)["metadata"]["name"] == job_of(again)["metadata"]["name"]
    # Another Redis spec (any other object of the chart): a new Job, which Flux runs.
    bigger, _ = render(storage_size="16Gi")
    assert job_of(bigger)["metadata"]["name"] != job_of(base)["metadata"]["name"]
    # The Job's own spec.
    slower, _ = render(CheckJobRun(load_seconds=5))
    assert job_of(slower)["metadata"]["name"] != job_of(base)["metadata"]["name"]
    # The credentials' version.
    rotated, _ = render(credentials=RedisCredentials(check=CHECK_REF, version="2"))
    assert job_of(rotated)["metadata"]["name"] != job_of(base)["metadata"]["name"]


def test_the_schedule_adds_a_cron_job_with_the_same_pod_and_no_hook() -> None:
    objects, checks = render(CheckJobRun(schedule="17 * * * *"))
    cron = find(objects, "CronJob", "redis-shared-check-scheduled")
    assert checks.cronjob_name == "redis-shared-check-scheduled"
    assert "argocd.argoproj.io/hook" not in (cron["metadata"].get("annotations") or {})
    assert cron["spec"]["schedule"] == "17 * * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["jobTemplate"]["spec"] == job_of(objects)["spec"]


def test_flux_objects_name_every_object() -> None:
    objects, checks = render(CheckJobRun(schedule="@hourly"))
    rendered = {
        (o["kind"], o["metadata"]["name"]) for o in objects if o["metadata"]["name"].startswith("redis-shared-check")
    }
    assert set(checks.flux_objects()) == rendered


def test_bounds_reach_the_program() -> None:
    objects, _ = render(CheckJobRun(min_ops_per_second=20_000, max_p95_ms=2.5, load_seconds=2, replication_seconds=0.5))
    cmd = command(objects)
    assert (arg(cmd, "--min-ops"), arg(cmd, "--max-p95-ms"), arg(cmd, "--load-seconds")) == ("20000", "2.5", "2")
    assert arg(cmd, "--replication-seconds") == "0.5"
    resources = job_of(objects)["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"]["cpu"] == "1" and resources["requests"]["cpu"] == "250m"


def test_fails_without_the_check_credential() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    redis = RedisShared(chart, "Redis", RedisSharedProps())
    with pytest.raises(
        PropError, match=r"^redis: got 'c/Redis'; expected a RedisShared whose credentials.check is set"
    ):
        RedisChecksProps(redis=redis)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("schedule", "every hour", "expected a cron schedule"),
        ("schedule", "60 * * * *", r"the minute field from 0 to 59"),
        ("schedule", "* * * *", "expected a cron schedule"),
        ("schedule", "*/0 * * * *", "a step of at least 1"),
        ("min_ops_per_second", 0, "an integer from 1 to 10000000"),
        ("max_p95_ms", 0, "a number from 0.01 to 10000"),
        ("load_seconds", 31, "a number from 1 to 30"),
        ("replication_seconds", 0.05, "a number from 0.1 to 60"),
        ("max_lag_seconds", -1, "an integer from 0 to 3600"),
        ("active_deadline_seconds", 29, "an integer from 30 to 900"),
        ("load_seconds", True, "a number from 1 to 30"),
    ],
)
def test_fails_run_rules(field: str, value: object, message: str) -> None:
    with pytest.raises(PropError, match=rf"^run\.{field}: got {value!r}; ".replace("*", r"\*") + ".*" + message):
        CheckJobRun(**{field: value})  # type: ignore[arg-type]


def test_valid_schedules() -> None:
    for schedule in ("17 * * * *", "*/15 0-6,22-23 1 1-12/2 0", "@hourly", "0 3 * * 7"):
        assert CheckJobRun(schedule=schedule).schedule == schedule


def test_site_checks_hourly_and_the_job_runs_in_the_master_unit(site_objects: list[Obj]) -> None:
    cron = find(site_objects, "CronJob", "redis-shared-check-scheduled")
    assert cron["spec"]["schedule"] == "17 * * * *"
    (job,) = [o for o in of_kind(site_objects, "Job") if o["metadata"]["namespace"] == "redis"]
    assert json.dumps(job).count("check-password") == 1
    assert dataclasses.is_dataclass(CheckJobRun())
