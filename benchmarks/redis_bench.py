"""redis-benchmark against the rendered primary pod and a stock redis-server, in the same run.

Runs the synthesized redis-shared pods as local processes (tests/support/podrunner: a network namespace per pod,
the rendered config, ACL users, AOF and an attached replica), then, inside the primary pod's network
namespace over loopback:

1. the rendered primary in a CPU cgroup at its rendered CPU limit — SC-001 (p95 < 10 ms) and SC-006
   (>= 10,000 ops/s), with the client user's credentials;
2. the rendered primary and a stock ``redis-server`` (no config file) both unconstrained: the ratio of
   throughputs (target >= 0.9x), once with the replica attached (on this 2-core machine it competes with
   the primary for CPU, which it does not on the cluster, where it runs on another node) and once with the
   replica pod stopped (the configuration's own cost).

Every figure is the median of ``ROUNDS`` runs of ``redis-benchmark -t set,get -c 50 -n REQUESTS``.
Prints a table; exits non-zero only if the harness fails, never on a figure.
"""

from __future__ import annotations

import csv
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

from podrunner import Cluster, Pod, load_manifests  # noqa: E402
from redis_pods import out_of_band_secrets  # noqa: E402

MANIFESTS = ROOT / "dist" / "redis-shared" / "manifests.yaml"
PRIMARY, REPLICA = "redis-shared-master-0", "redis-shared-replicas-0"
CLIENT_PW = "bench-Client_0123456789"
PASSWORDS = {
    "client-password": CLIENT_PW,
    "replication-password": "bench-Repl_0123456789",
    "exporter-password": "bench-Exporter_0123456",
    "admin-password": "bench-Admin_0123456789",
    "migration-password": "bench-Migration_012345",
    "backup-password": "bench-Backup_0123456789",
    "check-password": "bench-Check_01234567890",
}
STOCK_PORT = 6390
CLIENTS = 50
REQUESTS = 100_000
ROUNDS = 5


@dataclass(frozen=True)
class Figures:
    """One test's median figures."""

    rps: float
    p50: float
    p95: float
    p99: float


def run_benchmark(pod: Pod, targets: dict[str, tuple[int, list[str]]]) -> dict[str, dict[str, Figures]]:
    """Median SET and GET figures per target (name -> port, auth args), rounds interleaved across targets.

    Interleaving spreads any drift of the machine (other load, thermal) evenly over the targets compared.
    """
    runs: dict[str, dict[str, list[Figures]]] = {name: {"SET": [], "GET": []} for name in targets}
    for _ in range(ROUNDS):
        for name, (port, auth) in targets.items():
            argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), *auth]
            argv += ["-t", "set,get", "-c", str(CLIENTS), "-n", str(REQUESTS), "-r", "100000", "--csv"]
            proc = pod.netns_exec(argv, timeout=300)
            if proc.returncode != 0 or "NOAUTH" in proc.stdout + proc.stderr:
                raise RuntimeError(f"redis-benchmark failed: {proc.stdout[-500:]} {proc.stderr[-500:]}")
            for row in csv.DictReader(io.StringIO(proc.stdout)):
                runs[name][row["test"]].append(
                    Figures(
                        float(row["rps"]),
                        float(row["p50_latency_ms"]),
                        float(row["p95_latency_ms"]),
                        float(row["p99_latency_ms"]),
                    )
                )
    return {
        name: {
            test: Figures(*(statistics.median(getattr(f, k) for f in figs) for k in ("rps", "p50", "p95", "p99")))
            for test, figs in tests.items()
        }
        for name, tests in runs.items()
    }


def with_cluster(cgroup_limits: bool, work: Path, measure: Callable[[Cluster], None]) -> None:
    objects = load_manifests(MANIFESTS)
    with Cluster(
        objects, work, secrets=out_of_band_secrets(objects, PASSWORDS), cgroup_limits=cgroup_limits
    ) as cluster:
        cluster.start(wait_ready=True, timeout=60)
        replica = cluster.pod(REPLICA)
        deadline = time.monotonic() + 30
        while (
            "master_link_status:up"
            not in replica.netns_exec(
                [
                    "redis-cli",
                    "--no-auth-warning",
                    "--user",
                    "admin",
                    "-a",
                    PASSWORDS["admin-password"],
                    "INFO",
                    "replication",
                ]
            ).stdout
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the replica never synced")
            time.sleep(0.2)
        measure(cluster)


def main() -> int:
    client_auth = ["-a", CLIENT_PW]  # the client user is Redis's `default`: AUTH <password>
    results: dict[str, dict[str, Figures]] = {}
    limits: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="redis-bench-") as tmp:

        def constrained(cluster: Cluster) -> None:
            primary = cluster.pod(PRIMARY)
            limits["cpu"] = primary.cpu_limit("redis")
            results.update(run_benchmark(primary, {"rendered primary, CPU limit": (6379, client_auth)}))

        def unconstrained(cluster: Cluster) -> None:
            primary = cluster.pod(PRIMARY)
            stock_dir = Path(tmp) / "stock"
            stock_dir.mkdir()
            start = ["redis-server", "--port", str(STOCK_PORT), "--dir", str(stock_dir), "--daemonize", "yes"]
            primary.netns_exec([*start, "--pidfile", str(stock_dir / "pid"), "--logfile", str(stock_dir / "log")])
            try:
                time.sleep(0.5)
                results.update(
                    run_benchmark(
                        primary,
                        {
                            "rendered primary, no limit": (6379, client_auth),
                            "stock redis-server, no limit": (STOCK_PORT, []),
                        },
                    )
                )
                # On the cluster the replica runs on another node (required anti-affinity); here it shares
                # the two cores with the primary and the client. Without it, the ratio is the config's own
                # cost (AOF everysec, ACL users, maxmemory) against stock.
                cluster.pod(REPLICA).stop(grace=15)
                results.update(
                    run_benchmark(
                        primary,
                        {
                            "rendered primary, no limit, no replica": (6379, client_auth),
                            "stock redis-server, no limit, again": (STOCK_PORT, []),
                        },
                    )
                )
            finally:
                primary.netns_exec(["redis-cli", "-p", str(STOCK_PORT), "shutdown", "nosave"])

        with_cluster(True, Path(tmp) / "limited", constrained)
        with_cluster(False, Path(tmp) / "free", unconstrained)

    print(f"redis-benchmark -c {CLIENTS} -n {REQUESTS} -r 100000, median of {ROUNDS} runs; loopback in the pod's netns")
    print(f"rendered CPU limit: {limits['cpu']} CPU; replica attached; AOF everysec; ACL client user")
    print(f"{'target':40} {'test':4} {'ops/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for target, tests in results.items():
        for test, f in tests.items():
            print(f"{target:40} {test:4} {f.rps:10.0f} {f.p50:8.3f} {f.p95:8.3f} {f.p99:8.3f}")
    limited = results["rendered primary, CPU limit"]
    free, stock = results["rendered primary, no limit"], results["stock redis-server, no limit"]
    alone, stock2 = results["rendered primary, no limit, no replica"], results["stock redis-server, no limit, again"]
    for test in ("SET", "GET"):
        print(
            f"{test}: SC-006 {limited[test].rps:.0f} ops/s = {limited[test].rps / 10_000:.1f}x the 10,000 target; "
            f"SC-001 p95 {limited[test].p95:.3f} ms = {10 / max(limited[test].p95, 0.001):.0f}x under 10 ms; "
            f"rendered/stock unconstrained = {free[test].rps / stock[test].rps:.2f}x with the replica on the same "
            f"2 cores, {alone[test].rps / stock2[test].rps:.2f}x without it"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
