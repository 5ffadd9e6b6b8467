"""The decommission gate: ask Prometheus whether the whole time since the cutover was healthy (SC-010).

Pure standard library; :mod:`redis_constructs.migration.decommission_gate` renders this file into a ConfigMap and
runs it in a Job before DECOMMISSIONED removes anything (an ArgoCD PreSync hook; in the migration's Flux unit,
which the app's unit depends on). The window is ``now - --cutover-time``, at least ``--min-hours`` (24): the same
24 h the binding checks at synth time, now checked against what happened.

Each condition is one instant PromQL query (``/api/v1/query``) over the window ``[<seconds>s]``; any series in the
result is a reason to refuse, printed with its labels and value:

* ``coverage``: Prometheus holds kube-state-metrics samples from the window's start (a Prometheus that was down,
  or whose retention is shorter than the window, cannot vouch for it);
* ``validation``: some run of the app's validation Job completed, and none failed;
* ``checks``: some run of redis-shared's check Job completed (after a sync or on its schedule), and none failed;
* ``alerts``: none of redis-shared's alerts fired (``ALERTS{alertstate="firing"}``);
* ``restarts``: no container of the app restarted.

Output: one line per condition (``ok   <name>: ...`` / ``FAIL <name>: ...``) and a verdict. Exit codes: 0 healthy,
1 refused (a condition failed), 3 Prometheus could not be asked (refused too: the gate fails closed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import IO, Any

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3
#: Series printed per condition; the count says how many more there are.
SHOW_SERIES = 5
#: Coverage slack: the oldest kube-state-metrics sample may be this much younger than the window's start.
COVERAGE_SLACK_SECONDS = 3600


class PrometheusError(Exception):
    """Prometheus did not answer, or answered with an error."""


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Condition:
    """One query; ``refuse_if_any``: a series in the result refuses; otherwise an empty result refuses."""

    name: str
    query: str
    refuse_if_any: bool
    says: str


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Selectors:
    """What the conditions select: namespaces, Job name regexes, alert names, the kube-state-metrics job."""

    app_namespace: str
    validation_jobs: str
    redis_namespace: str
    check_jobs: str
    alert_names: Sequence[str]
    app_pods: str = ".+"
    ksm_job: str = "kube-state-metrics"


def conditions(s: Selectors, window_s: int) -> list[Condition]:
    """The gate's PromQL, evaluated at now over ``[window_s]``."""
    w = f"{window_s}s"
    val = f'namespace="{s.app_namespace}",job_name=~"{s.validation_jobs}"'
    chk = f'namespace="{s.redis_namespace}",job_name=~"{s.check_jobs}"'
    alerts = "|".join(s.alert_names)
    app = f'namespace="{s.app_namespace}",pod=~"{s.app_pods}"'
    return [
        Condition(
            name="coverage",
            # The oldest kube-state-metrics sample in the window, seconds after the window's start.
            query=(
                f'(min(min_over_time(timestamp(up{{job="{s.ksm_job}"}})[{w}:5m])) - (time() - {window_s}))'
                f' > {COVERAGE_SLACK_SECONDS} or absent(up{{job="{s.ksm_job}"}})'
            ),
            refuse_if_any=True,
            says="Prometheus holds kube-state-metrics samples from the cutover on",
        ),
        Condition(
            name="validation-completed",
            query=f'max by (namespace, job_name) (max_over_time(kube_job_complete{{{val},condition="true"}}[{w}]))'
            " == 1",
            refuse_if_any=False,
            says="a run of the validation Job completed",
        ),
        Condition(
            name="validation-failed",
            query=f'max by (namespace, job_name) (max_over_time(kube_job_failed{{{val},condition="true"}}[{w}])) == 1',
            refuse_if_any=True,
            says="no run of the validation Job failed",
        ),
        Condition(
            name="checks-completed",
            query=f'max by (namespace, job_name) (max_over_time(kube_job_complete{{{chk},condition="true"}}[{w}]))'
            " == 1",
            refuse_if_any=False,
            says="a run of the cluster checks completed",
        ),
        Condition(
            name="checks-failed",
            query=f'max by (namespace, job_name) (max_over_time(kube_job_failed{{{chk},condition="true"}}[{w}])) == 1',
            refuse_if_any=True,
            says="no run of the cluster checks failed",
        ),
        Condition(
            name="alerts",
            query=(
                "max by (alertname, namespace, pod) (max_over_time(ALERTS{"
                f'alertstate="firing",namespace="{s.redis_namespace}",alertname=~"{alerts}"}}[{w}])) == 1'
            ),
            refuse_if_any=True,
            says="no redis-shared alert fired",
        ),
        Condition(
            name="restarts",
            query=(
                f"sum by (namespace, pod, container) "
                f"(increase(kube_pod_container_status_restarts_total{{{app}}}[{w}])) > 0"
            ),
            refuse_if_any=True,
            says="no container of the app restarted",
        ),
    ]


def query(url: str, expr: str, at: float, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The instant vector ``expr`` evaluates to at ``at`` (PrometheusError on any failure)."""
    q = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/v1/query?{q}", timeout=timeout) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")[:300]
        raise PrometheusError(f"HTTP {e.code}: {detail}") from None
    except (OSError, ValueError) as e:
        raise PrometheusError(str(getattr(e, "reason", e))) from None
    if body.get("status") != "success" or body["data"]["resultType"] != "vector":
        raise PrometheusError(f"unexpected answer: {str(body)[:300]}")
    return list(body["data"]["result"])


def describe(series: dict[str, Any]) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(series["metric"].items()))
    return f"{{{labels}}} {series['value'][1]}"


def evaluate(url: str, conds: Sequence[Condition], at: float, out: IO[str]) -> list[str]:
    """Print one line per condition; return the names of those that refuse."""
    refused = []
    for c in conds:
        result = query(url, c.query, at)
        bad = bool(result) if c.refuse_if_any else not result
        more = len(result) - SHOW_SERIES
        shown = "; ".join(describe(s) for s in result[:SHOW_SERIES]) + (f" and {more} more" if more > 0 else "")
        if bad:
            refused.append(c.name)
            print(f"FAIL {c.name}: not {c.says}: {shown or 'no such series'}", file=out, flush=True)
        else:
            print(f"ok   {c.name}: {c.says}" + (f" ({shown})" if shown else ""), file=out, flush=True)
    return refused


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--prometheus-url", required=True)
    p.add_argument("--cutover-time", type=float, required=True, help="Unix seconds")
    p.add_argument("--min-hours", type=float, default=24.0)
    p.add_argument("--now", type=float, default=None, help="Default: - the clock (tests pass a time)")
    p.add_argument("--app-namespace", required=True)
    p.add_argument("--validation-jobs", required=True, help="regex of the validation Jobs' names")
    p.add_argument("--app-pods", default=".+", help="regex of the app's pod names (not the old Redis's)")
    p.add_argument("--redis-namespace", required=True)
    p.add_argument("--check-jobs", required=True, help="regex of the check Jobs' names")
    p.add_argument("--alert", action="append", required=True, help="a redis-shared alert name (repeatable)")
    p.add_argument("--ksm-job", default="kube-state-metrics")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None, out: IO[str] = sys.stdout) -> int:
    a = parse_args(sys.argv[1:] if argv is None else argv)
    now = time.time() if a.now is None else a.now
    window = int(now - a.cutover_time)
    if window < a.min_hours * 3600:
        print(f"FAIL window: the cutover was {window / 3600:.1f} h ago; at least {a.min_hours:g} h", file=out)
        return EXIT_REFUSED
    s = Selectors(
        app_namespace=a.app_namespace,
        validation_jobs=a.validation_jobs,
        redis_namespace=a.redis_namespace,
        check_jobs=a.check_jobs,
        alert_names=tuple(a.alert),
        app_pods=a.app_pods,
        ksm_job=a.ksm_job,
    )
    print(f"window: {window / 3600:.1f} h since the cutover, asking {a.prometheus_url}", file=out, flush=True)
    try:
        refused = evaluate(a.prometheus_url, conditions(s, window), now, out)
    except PrometheusError as e:
        print(f"FAIL prometheus: {a.prometheus_url}: {e}; the old Redis stays", file=out, flush=True)
        return EXIT_UNREACHABLE
    if refused:
        print(
            f"REFUSED: {', '.join(refused)}; the old Redis stays (docs/checks.md#decommission-gate)",
            file=out,
            flush=True,
        )
        return EXIT_REFUSED
    print("healthy since the cutover: decommissioning may proceed", file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
