"""No client can push the rendered primary past its memory limit; its files are its own (tests/support/podrunner).

The primary pod of dist/redis-shared/manifests.yaml runs in its memory cgroup (the rendered 1Gi limit). Each
abuse is bounded in count and time; after each, Redis must be alive, never OOM-killed, its anonymous memory
below the limit, and a client connected beforehand must still work.
"""

from __future__ import annotations

import os
import resource
import socket
import ssl
import stat
import time
from collections.abc import Iterator

import pytest
import redis
from podrunner import Cluster, Pod, load_manifests
from redis_pods import (
    ADMIN_PW,
    ADMIN_USER,
    CLIENT_PW,
    CLIENT_USER,
    MANIFESTS,
    PASSWORDS_BY_FILE,
    PORT,
    PRIMARY,
    TLS_PORT,
    connect,
    out_of_band_secrets,
    resp,
)

from redis_constructs.server.redis_conf import CONNECTION_BUDGET_BYTES, SCRIPTS_DIR, derive_client_limits

pytestmark = pytest.mark.runtime

MiB = 1024**2


@pytest.fixture(scope="module")
def primary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    objects = load_manifests(MANIFESTS)
    with Cluster(
        objects,
        tmp_path_factory.mktemp("redis-hardening"),
        secrets=out_of_band_secrets(objects, PASSWORDS_BY_FILE),
        cgroup_limits=True,
    ) as c:
        c.start([PRIMARY], wait_ready=True, timeout=30)
        yield c.pod(PRIMARY)


def server_stats(admin: redis.Redis) -> dict[str, int]:
    out: dict[str, int] = {}
    for section in ("clients", "stats"):
        out.update({k: v for k, v in admin.info(section).items() if isinstance(v, int)})
    return out


def assert_unharmed(pod: Pod, bystander: redis.Redis) -> None:
    stats = pod.memory_stats("redis")
    assert pod.running("redis")
    assert stats.oom_kills == 0, stats
    assert stats.rss_bytes < stats.limit_bytes, stats
    assert bystander.ping()
    assert bystander.set("bystander", "still here")
    assert bystander.get("bystander") == "still here"


def flood_until_closed(sock: socket.socket, payload: bytes, *, max_sends: int, timeout: float) -> bool:
    """Send ``payload`` repeatedly without reading a byte; True once the server has closed the connection."""
    sock.setblocking(False)
    deadline = time.monotonic() + timeout
    sent = 0
    while time.monotonic() < deadline:
        try:
            if sent < max_sends:
                sock.send(payload)
                sent += 1
            else:
                time.sleep(0.05)
            # A closed connection shows as a reset on send, or as EOF once the unread replies are discarded.
        except BlockingIOError:
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            return True
        if sent >= max_sends:
            try:
                while sock.recv(1 << 20):
                    pass
                return True  # EOF: closed by the server
            except BlockingIOError:
                pass
            except ConnectionResetError:
                return True
    return False


def authenticated_socket(pod: Pod) -> tuple[socket.socket, int]:
    sock = socket.create_connection((pod.ip, PORT), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(resp("AUTH", CLIENT_USER, CLIENT_PW) + resp("CLIENT", "ID"))
    buf = b""
    while buf.count(b"\r\n") < 2:
        buf += sock.recv(4096)
    ok, client_id = buf.split(b"\r\n")[:2]
    assert ok == b"+OK", buf
    return sock, int(client_id.lstrip(b":"))


def test_a_client_pipelining_big_replies_without_reading_them_is_dropped(primary: Pod) -> None:
    with connect(primary, CLIENT_USER, CLIENT_PW) as bystander, connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        bystander.set("big", "x" * MiB)
        before = server_stats(admin)
        sock, client_id = authenticated_socket(primary)
        with sock:
            # 2,000 x 1 MiB of replies: twice the pod's memory limit if Redis kept them all.
            assert flood_until_closed(sock, resp("GET", "big") * 50, max_sends=40, timeout=15)
        assert admin.execute_command("CLIENT", "LIST", "ID", str(client_id)) in ([], "")
        assert_unharmed(primary, bystander)
        after = server_stats(admin)
        assert after["connected_clients"] <= before["connected_clients"]
    assert "overcoming of output buffer limits" in primary.logs("redis")


def test_an_unauthenticated_client_that_never_reads_its_errors_is_dropped(primary: Pod) -> None:
    with connect(primary, CLIENT_USER, CLIENT_PW) as bystander:
        with socket.create_connection((primary.ip, PORT), timeout=5) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            # Each PING costs 14 bytes to send and returns a 34-byte -NOAUTH error: the replies pile up.
            assert flood_until_closed(sock, resp("PING") * 20000, max_sends=120, timeout=20)
        assert_unharmed(primary, bystander)


def test_a_subscriber_that_never_reads_is_dropped(primary: Pod) -> None:
    with connect(primary, CLIENT_USER, CLIENT_PW) as bystander:
        sock, _ = authenticated_socket(primary)
        with sock:
            sock.sendall(resp("SUBSCRIBE", "news"))
            time.sleep(0.2)
            message = "m" * MiB
            delivered = 0
            for _ in range(100):  # 100 MiB to a subscriber whose hard limit is 32 MiB
                delivered += int(bystander.publish("news", message))
                if delivered and not bystander.execute_command("PUBSUB", "NUMSUB", "news")[1]:
                    break
            assert bystander.execute_command("PUBSUB", "NUMSUB", "news")[1] == 0
            assert delivered < 100
        assert_unharmed(primary, bystander)


def test_a_value_over_the_bulk_limit_is_refused_before_it_is_buffered(primary: Pod) -> None:
    with connect(primary, CLIENT_USER, CLIENT_PW) as bystander, connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        bulk = int(admin.config_get("proto-max-bulk-len")["proto-max-bulk-len"])
        limit = primary.memory_limit("redis")
        assert limit is not None
        assert bulk == derive_client_limits(limit).proto_max_bulk_bytes == 64 * MiB
        sock, _ = authenticated_socket(primary)
        with sock:
            sock.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$%d\r\n" % (bulk + 1))
            reply = sock.recv(4096)
        assert reply.startswith(b"-ERR Protocol error: invalid bulk length"), reply
        assert_unharmed(primary, bystander)


def test_thousands_of_idle_unauthenticated_connections_are_capped_at_maxclients(primary: Pod) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with connect(primary, CLIENT_USER, CLIENT_PW) as bystander, connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        bystander.ping()
        admin.ping()
        maxclients = int(admin.config_get("maxclients")["maxclients"])
        limit = primary.memory_limit("redis")
        assert limit is not None
        # The value derived from the pod's memory limit took effect (no fd limit lowered it).
        assert maxclients == derive_client_limits(limit).maxclients == 4096  # the site figure at 1 Gi, a literal
        extra = 300
        assert hard > maxclients + extra + 100, f"the test needs RLIMIT_NOFILE > {maxclients + extra + 100}"
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        admin.execute_command("MEMORY", "PURGE")  # what earlier tests freed is not counted against this one
        time.sleep(0.2)
        rss_before = primary.memory_stats("redis").rss_bytes
        before = server_stats(admin)
        sockets: list[socket.socket] = []
        try:
            started = time.monotonic()
            for _ in range(maxclients + extra):
                sockets.append(socket.create_connection((primary.ip, PORT), timeout=5))
                assert time.monotonic() - started < 30
            # Redis accepts every connection, then closes those beyond maxclients with an error.
            refused = sockets[-1].recv(4096)
            assert refused.startswith(b"-ERR max number of clients reached"), refused
            after = server_stats(admin)
            assert after["connected_clients"] <= maxclients
            assert after["rejected_connections"] - before["rejected_connections"] >= extra
            stats = primary.memory_stats("redis")
            per_connection = (stats.rss_bytes - rss_before) / maxclients
            assert stats.rss_bytes < stats.limit_bytes // 4, (stats, per_connection)
            print(f"{maxclients} idle connections: {per_connection / 1024:.1f} KiB of Redis memory each")
            assert_unharmed(primary, bystander)
            # "Full" is not "dead" (docs/resilience.md): the probes' own connection is refused too, yet liveness
            # passes (a restart would drop every tenant) and readiness fails with the reason.
            assert primary.probe("redis", "liveness") and primary.probe("redis", "startup")
            assert not primary.probe("redis", "readiness")
            why = primary.exec("redis", ["sh", f"{SCRIPTS_DIR}/probe.sh", "readiness"]).stdout
            assert why.startswith("readiness: Redis is full (maxclients)"), why
        finally:
            for s in sockets:
                s.close()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    deadline = time.monotonic() + 10
    while True:  # the slots come back once Redis has seen the closes
        try:
            with connect(primary, CLIENT_USER, CLIENT_PW) as fresh:
                assert fresh.ping()
                break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "no connection slot came back within 10 s"
            time.sleep(0.2)


def test_idle_tls_connections_fit_the_per_connection_budget(primary: Pod) -> None:
    """OpenSSL's buffers live outside jemalloc: maxmemory and maxmemory-clients don't see them, and the LAN
    reaches the TLS port without a password. maxclients is sized at CONNECTION_BUDGET_BYTES each."""
    count = 1000  # enough to measure, a few seconds of handshakes
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard > count + 100, f"the test needs RLIMIT_NOFILE > {count + 100}"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # memory, not trust, is under test (tests/runtime/test_tls_runtime.py does trust)
    with connect(primary, CLIENT_USER, CLIENT_PW) as bystander, connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        limits = derive_client_limits(int(admin.config_get("maxmemory")["maxmemory"]) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        admin.execute_command("MEMORY", "PURGE")  # what earlier tests freed is not counted against this one
        time.sleep(0.2)
        rss_before = primary.memory_stats("redis").rss_bytes
        used_before = int(admin.info("memory")["used_memory"])
        sockets: list[ssl.SSLSocket] = []
        try:
            started = time.monotonic()
            for _ in range(count):
                raw = socket.create_connection((primary.ip, TLS_PORT), timeout=5)
                sockets.append(ctx.wrap_socket(raw))  # handshake done, no AUTH: an idle LAN device
                assert time.monotonic() - started < 30
            time.sleep(0.5)  # Redis has read the last Finished and sent its session tickets
            stats = primary.memory_stats("redis")
            per_connection = (stats.rss_bytes - rss_before) / count
            counted = (int(admin.info("memory")["used_memory"]) - used_before) / count
            print(
                f"{count} idle TLS connections: {per_connection / 1024:.1f} KiB of Redis memory each,"
                f" {counted / 1024:.1f} KiB of it counted in used_memory"
            )
            assert 1024 < per_connection <= CONNECTION_BUDGET_BYTES, (stats, per_connection)
            assert limits.maxclients * per_connection < stats.limit_bytes // 8
            assert_unharmed(primary, bystander)
        finally:
            for s in sockets:
                s.close()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_data_files_are_readable_by_their_owner_only(primary: Pod) -> None:
    with connect(primary, CLIENT_USER, CLIENT_PW) as c:
        c.set("umask", "probe")
    with connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        admin.execute_command("BGREWRITEAOF")  # a rewrite creates fresh base and incr files
        deadline = time.monotonic() + 10
        while admin.info("persistence")["aof_rewrite_in_progress"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    data = primary.pvc_path("data")
    files = [p for p in (data / "appendonlydir").rglob("*")] + [data / "appendonlydir"]
    assert any(p.name.endswith(".manifest") for p in files), files
    loose = {str(p.relative_to(data)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077}
    assert loose == {}, f"group/other bits set (umask 077 missing?): {loose}"


def test_a_value_of_tens_of_mb_round_trips_through_set_get_dump_and_restore(primary: Pod) -> None:
    # 48 MiB: over the former 32 MiB bulk and output limits, under the 64/65 MiB ones (the data copy RESTOREs
    # DUMP payloads of the app's largest values with its own user; admin stands in for it here).
    value = os.urandom(48 * MiB)  # incompressible: the DUMP payload is as large as the value
    with connect(primary, CLIENT_USER, CLIENT_PW) as bystander, connect(primary, ADMIN_USER, ADMIN_PW) as admin:
        raw = connect(primary, ADMIN_USER, ADMIN_PW, socket_timeout=30, decode_responses=False)  # bytes values
        with raw:
            assert raw.set("large", value)
            assert raw.get("large") == value
            payload = raw.dump("large")
            assert isinstance(payload, bytes) and len(payload) > 48 * MiB
            assert raw.restore("large-copy", 0, payload)
            assert raw.get("large-copy") == value
            assert raw.delete("large", "large-copy") == 2
        assert admin.ping()
        assert_unharmed(primary, bystander)
