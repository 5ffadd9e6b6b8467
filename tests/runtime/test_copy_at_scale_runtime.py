"""A million keys through the rendered copy Job, inside its rendered memory limit (#23 part 4).

The site's CUTOVER render runs in the pod runner with cgroup limits on: the redis-shared primary, beersystem's old
Redis (its limit raised to hold the data: this test is about the copy Job's limit, not the old Redis's) and the
copy Job's pod, whose container runs in a cgroup with the Job's rendered memory limit. The old Redis holds
1,000,000 small keys plus a few hundred with TTLs; the Job must copy and verify every one, and its peak memory
(the cgroup's ``memory.max_usage_in_bytes``) must stay far below what holding the key names would take: the copy
streams, so its memory does not grow with the key count. Time is a benchmark's business (benchmarks/copy_bench.py).
"""

from __future__ import annotations

import datetime as dt
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from copy_data import copy_world, cutover_secrets
from podrunner import Cluster
from podrunner.k8s import memory_bytes
from redis_pods import tls_secrets

import main
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration.binding import MigrationPhase
from redis_constructs.migration.copy_program import Connection

pytestmark = pytest.mark.runtime

Obj = dict[str, Any]
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
KEYS = 1_000_000
WITH_TTL = 500
OLD_PW = "scale-Old_0123456789abc"
CLIENT_PW = "scale-Client_0123456789"
SYSTEM = {key: f"scale-{key}-0123456789" for key in main.SYSTEM_KEYS}
SECRETS = cutover_secrets(OLD_PW, CLIENT_PW, SYSTEM)
PRIMARY, OLD, JOB = "redis-shared-master-0", "beersystem-redis-0", "copy-0"
#: What the streaming copy may use at most, whatever the key count: the interpreter (~10 MiB), the socket buffers
#: (4 x 1 MiB) and a few groups of at most 4 MiB (one being read, one outstanding, two queued, one being
#: restored). Holding a million key names alone (bytes objects in a list) would take ~60 MiB more.
STREAMING_BOUND = 32 << 20


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Obj]]:
    charts = chart_objects(main.build_app(phase=MigrationPhase.CUTOVER, cutover_time=T0, now=lambda: T0))
    scaled = chart_objects(main.build_app(phase=MigrationPhase.SCALED_DOWN, cutover_time=T0, now=lambda: T0))
    objects, job = copy_world(charts, scaled, old_memory="512Mi")
    secrets = SECRETS | tls_secrets(charts["redis-shared"])
    with Cluster(objects, tmp_path_factory.mktemp("copy-scale"), secrets=secrets, cgroup_limits=True) as c:
        c.start([PRIMARY, OLD], wait_ready=True, timeout=120)
        yield c, job


def load_million(host: str) -> None:
    """1,000,000 small strings in MSETs of 1,000 (encoded once, sent in large writes over a socket of the test's
    own, not the program's), and WITH_TTL more with an hour's TTL."""
    with socket.create_connection((host, 6379), timeout=60) as sock:
        replies = sock.makefile("rb")
        sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(OLD_PW), OLD_PW.encode()))
        assert replies.readline() == b"+OK\r\n"
        for first in range(0, KEYS, 100_000):
            chunk = []
            for start in range(first, first + 100_000, 1000):
                names = [b"beer:s:%d" % i for i in range(start, start + 1000)]
                args = b"".join(
                    b"$%d\r\n%s\r\n$6\r\nv%05d\r\n" % (len(n), n, i % 100_000) for i, n in enumerate(names, start)
                )
                chunk.append(b"*2001\r\n$4\r\nMSET\r\n" + args)
            sock.sendall(b"".join(chunk))
            assert [replies.readline() for _ in chunk] == [b"+OK\r\n"] * len(chunk)
        for i in range(WITH_TTL):
            key = b"beer:ttl:%d" % i
            sock.sendall(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nt\r\n$2\r\nPX\r\n$7\r\n3600000\r\n" % (len(key), key))
        assert [replies.readline() for _ in range(WITH_TTL)] == [b"+OK\r\n"] * WITH_TTL
        sock.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
        assert replies.readline() == b":%d\r\n" % (KEYS + WITH_TTL)


def test_a_million_keys_copy_and_verify_inside_the_jobs_memory_limit(world: tuple[Cluster, Obj]) -> None:
    cluster, job = world
    load_million(cluster.pod(OLD).ip)

    pod = cluster.pod(JOB)
    pod.start()
    code = pod.wait_exit(600)
    log = pod.logs()
    assert code == 0, log[-3000:]
    stats = pod.memory_stats("copy")
    limit = memory_bytes(job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"])
    assert stats.limit_bytes == limit  # the rendered limit was in force
    assert stats.oom_kills == 0
    # The program before streaming peaked at 104 MiB here; the streaming one at about 13 MiB.
    assert stats.max_usage_bytes < STREAMING_BOUND, f"peak {stats.max_usage_bytes >> 20} MiB"

    verified = re.search(r"verified: keys=(\d+) copied=(\d+) already_present=0 expired=0 .* differences=0", log)
    assert verified and int(verified.group(1)) == int(verified.group(2)) == KEYS + WITH_TTL, log[-3000:]
    assert re.search(r"^copy: \d+/\d+ keys \(\d+%\), [\d.]+ MB, \d+ keys/s, ETA \d+s$", log, re.M), log[-3000:]

    shared = Connection(cluster.pod(PRIMARY).ip, 6379)
    shared.call("AUTH", "admin", SYSTEM["admin-password"])
    assert shared.call("DBSIZE") == KEYS + WITH_TTL + 1  # every key and the marker
    assert shared.call("GET", "beer:s:999999") == b"v99999"
    pttl = shared.call("PTTL", "beer:ttl:7")
    assert isinstance(pttl, int) and 3_500_000 < pttl <= 3_600_000
    shared.close()
