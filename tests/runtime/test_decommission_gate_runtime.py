"""The rendered decommission gate Job against a real Prometheus loaded with a day of series (promtool, loopback).

The site is rendered in DECOMMISSIONED; the gate Job's command (the program from its ConfigMap, its rendered
arguments) runs as a local process with ``--prometheus-url`` pointed at a Prometheus of the test's own (started on
127.0.0.1 from blocks promtool made) and ``--now`` at the end of the data. Scenarios: a clean 25 h passes; a fired
RedisDown refuses; a beersystem restart refuses; a failed check run refuses; a validation Job that never completed
refuses; data starting after the cutover refuses (coverage); pending or other-namespace alerts, and alerts before
the cutover, do not refuse; Prometheus unreachable refuses with exit 3. About half a second per Prometheus.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_tsdb import Series, instant, loaded_prometheus, openmetrics

import main
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration import gate_program as gp
from redis_constructs.migration.binding import MigrationPhase
from redis_constructs.migration.decommission_gate import PROGRAM_PATH

pytestmark = pytest.mark.runtime

Obj = dict[str, Any]
END = (int(time.time()) // 60) * 60 - 600  # the data ends 10 min ago (blocks must not reach into the future)
CUTOVER = END - 25 * 3600
START = CUTOVER - 3600
APP_POD = "beersystem-7d9f8c6b5d-k9w2z"


@pytest.fixture(scope="module")
def gate_job() -> Obj:
    at = dt.datetime.fromtimestamp(END, dt.UTC)
    charts = chart_objects(
        main.build_app(
            phase=MigrationPhase.DECOMMISSIONED,
            cutover_time=dt.datetime.fromtimestamp(CUTOVER, dt.UTC),
            now=lambda: at,
        )
    )
    objects = charts["beersystem-migration"]
    (job,) = [o for o in objects if o["kind"] == "Job"]
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    (program,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert program["data"]["gate_program.py"] == PROGRAM_PATH.read_text()
    return job


def run_gate(job: Obj, url: str, **over: str) -> tuple[int, str]:
    """The Job's command, the program from the repo (the ConfigMap's text), Prometheus at ``url``."""
    command = list(job["spec"]["template"]["spec"]["containers"][0]["command"])
    assert command[:2] == ["python3", "/opt/redis-shared/gate/gate_program.py"]
    args = command[2:]
    for flag, value in {"--prometheus-url": url, **over}.items():
        args[args.index(flag) + 1] = value
    proc = subprocess.run(
        [sys.executable, str(PROGRAM_PATH), *args, "--now", str(END)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def clean_day(ksm_from: int = START) -> list[Series]:
    on = lambda t: 1  # noqa: E731
    val = {"namespace": "beersystem", "job_name": "beersystem-redis-validate-1a2b3c4d"}
    out = [
        Series("up", {"job": "kube-state-metrics", "instance": "10.42.0.9:8080"}, ksm_from, END, on),
        Series("kube_job_complete", {**val, "condition": "true"}, CUTOVER + 120, END, on),
        Series("kube_job_failed", {**val, "condition": "true"}, CUTOVER + 120, END, lambda t: 0),
        Series(
            "kube_pod_container_status_restarts_total",
            {"namespace": "beersystem", "pod": APP_POD, "container": "beersystem"},
            CUTOVER,
            END,
            lambda t: 0,
        ),
        # The old Redis's pod restarted after the cutover: not the app, must not count.
        Series(
            "kube_pod_container_status_restarts_total",
            {"namespace": "beersystem", "pod": "beersystem-redis-5c6d7f8b9c-aaaaa", "container": "redis"},
            CUTOVER,
            END,
            lambda t: 0 if t < CUTOVER + 3600 else 2,
        ),
    ]
    for hour in range(25):  # the hourly check runs
        t0 = CUTOVER + hour * 3600 + 60
        chk = {"namespace": "redis", "job_name": f"redis-shared-check-scheduled-{t0 // 60}"}
        out += [
            Series("kube_job_complete", {**chk, "condition": "true"}, t0 + 30, END, on),
            Series("kube_job_failed", {**chk, "condition": "true"}, t0, END, lambda t: 0),
        ]
    return out


def day_with(*extra: Series, ksm_from: int = START) -> contextlib.AbstractContextManager[str]:
    return loaded_prometheus(openmetrics(clean_day(ksm_from) + list(extra)))


@pytest.fixture(scope="module")
def clean() -> Iterator[str]:
    with day_with() as url:
        yield url


def test_a_clean_day_passes(gate_job: Obj, clean: str) -> None:
    code, out = run_gate(gate_job, clean)
    assert code == 0, out
    assert out.count("ok   ") == 7 and "decommissioning may proceed" in out, out


def test_a_fired_redis_alert_refuses(gate_job: Obj) -> None:
    fired = {"alertname": "RedisDown", "namespace": "redis", "pod": "redis-shared-replicas-0", "severity": "critical"}
    at = CUTOVER + 5 * 3600
    with day_with(Series("ALERTS", {**fired, "alertstate": "firing"}, at, at + 600, lambda t: 1)) as url:
        code, out = run_gate(gate_job, url)
    assert code == gp.EXIT_REFUSED and "FAIL alerts" in out and 'alertname="RedisDown"' in out, out


def test_pending_other_namespace_and_pre_cutover_alerts_do_not_refuse(gate_job: Obj) -> None:
    pending = {"alertname": "RedisDown", "namespace": "redis", "alertstate": "pending", "severity": "critical"}
    other = {"alertname": "RedisDown", "namespace": "other-redis", "alertstate": "firing", "severity": "critical"}
    before = {"alertname": "RedisDown", "namespace": "redis", "alertstate": "firing", "severity": "critical"}
    at = CUTOVER + 5 * 3600
    with day_with(
        Series("ALERTS", pending, at, at + 60, lambda t: 1),
        Series("ALERTS", other, at, at + 600, lambda t: 1),
        Series("ALERTS", before, START, CUTOVER - 600, lambda t: 1),
    ) as url:
        code, out = run_gate(gate_job, url)
    assert code == 0, out


def test_a_beersystem_restart_refuses(gate_job: Obj) -> None:
    app = {"namespace": "beersystem", "pod": "beersystem-6c8d9f7b4a-p2x7q", "container": "beersystem"}
    restarted = Series(
        "kube_pod_container_status_restarts_total", app, CUTOVER, END, lambda t: 0 if t < CUTOVER + 10 * 3600 else 1
    )
    with day_with(restarted) as url:
        code, out = run_gate(gate_job, url)
    assert code == gp.EXIT_REFUSED and "FAIL restarts" in out and 'pod="beersystem-6c8d9f7b4a-p2x7q"' in out, out


def test_a_failed_check_run_refuses(gate_job: Obj) -> None:
    failed = {"namespace": "redis", "job_name": "redis-shared-check-1a2b3c4d", "condition": "true"}
    with day_with(Series("kube_job_failed", failed, CUTOVER + 3 * 3600, CUTOVER + 5 * 3600, lambda t: 1)) as url:
        code, out = run_gate(gate_job, url)
    assert code == gp.EXIT_REFUSED and "FAIL checks-failed" in out and "ok   checks-completed" in out, out


def test_no_completed_validation_refuses(gate_job: Obj, clean: str) -> None:
    code, out = run_gate(gate_job, clean, **{"--validation-jobs": "someapp-redis-validate-.+"})
    assert code == gp.EXIT_REFUSED and "FAIL validation-completed" in out, out


def test_metrics_that_start_after_the_cutover_refuse(gate_job: Obj) -> None:
    with day_with(ksm_from=CUTOVER + 6 * 3600) as url:
        code, out = run_gate(gate_job, url)
    assert code == gp.EXIT_REFUSED and "FAIL coverage" in out, out


def test_an_unreachable_prometheus_refuses_with_exit_3(gate_job: Obj) -> None:
    code, out = run_gate(gate_job, "http://127.0.0.1:9")
    assert code == gp.EXIT_UNREACHABLE and "the old Redis stays" in out, out


def test_the_queries_parse_in_prometheus(clean: str) -> None:
    sel = gp.Selectors(
        app_namespace="a", validation_jobs=".+", redis_namespace="r", check_jobs=".+", alert_names=("Redis.+",)
    )
    for c in gp.conditions(sel, 90000):
        instant(clean, c.query, END)  # raises on HTTP 400 (a parse error)
