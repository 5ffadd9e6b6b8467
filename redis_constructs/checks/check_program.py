"""Check that redis-shared meets its success criteria, on the live system: the program the check Job runs.

Pure standard library (a minimal RESP2 client over a socket or TLS), so it runs in a stock ``python:3-slim``
image, as a local process in the tests, and as ``redis-shared check`` on a LAN host (the package's console
script imports this module). Passwords are read from files, never from argv or the environment.

``cluster`` (the Job in Redis's namespace, after every sync and on a schedule) checks, as the check user that is
confined to its own keys (``--key-prefix``):

* ``noauth`` / ``wrongpass`` (SC-008): a connection without a password gets ``NOAUTH``, a wrong one ``WRONGPASS``;
* ``plain`` / ``tls``: AUTH + PING on the plaintext port, and on the TLS port with the certificate verified against
  ``--ca-file`` for ``--tls-name`` (the name, or IP address, LAN clients use);
* ``replication``: a key written through the master Service is read back through the replicas Service within
  ``--replication-seconds``; ``replica-link``: the replica reports ``master_link_status:up``; ``replica-lag``:
  the primary's ``slaveN:...lag=`` of every replica at most ``--max-lag-seconds`` and as many replicas as
  ``--replicas`` say;
* ``exporter`` (SC-005): every ``--exporter-url`` answers ``redis_up 1``;
* ``load`` (SC-001/SC-006): ``--load-seconds`` of pipelined SET/GET on ``--load-connections`` connections, the
  measured ops/s at least ``--min-ops`` and the p95 latency at most ``--max-p95-ms``;
* ``persistence``: the primary and the replica have ``aof_enabled:1`` and ``aof_last_write_status:ok``;
* ``primary``: the master Service reaches a pod acting as primary, not fenced (start.sh's FENCED: writes refused
  until a replica follows), and not empty while its replica holds keys (what start.sh's empty-primary guard
  exists to prevent).

``lan`` (``redis-shared check`` on a LAN host) checks SC-003 (TLS handshake with verification, AUTH, p95 of
``--rounds`` PING round trips at most ``--max-p95-ms``, default 100) and SC-008; with ``--expect-refused`` it
checks SC-004 instead: a host outside the LAN must get no answer (refused, timed out or unreachable passes; an
accepted connection fails).

Output: one line per check, ``ok   <check>: <measured figure>`` or ``FAIL <check>: <figure or reason>``, then a
summary line. Every check runs even after one failed (the operator sees them all). Exit codes: 0 every check
passed, 1 at least one failed, 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import math
import os
import secrets
import socket
import ssl
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TypeAlias, cast

EXIT_FAILED = 1
CLIENT_NAME = "redis-shared-check"
#: The ACL user the check Job runs as (server/redis_conf.py renders it, confined to ``redis-shared:check:*``).
CHECK_USERNAME = "check"

Arg: TypeAlias = bytes | str | int
Reply: TypeAlias = "bytes | int | RespError | list[Reply] | None"


class RespError(Exception):
    """An error reply (``-ERR ...``); returned inside pipelines, raised by :meth:`Connection.call`."""


class ProtocolError(Exception):
    """The server sent something that is not RESP2, or closed the connection."""


class CheckError(Exception):
    """A check's reason to fail; the message is its figure."""


def encode(args: Sequence[Arg]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out += [b"$%d\r\n" % len(b), b, b"\r\n"]
    return b"".join(out)


def read_reply(f: IO[bytes]) -> Reply:
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ProtocolError(f"connection closed or truncated reply: {line[:80]!r}")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        return RespError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        if len(data) != n + 2:
            raise ProtocolError("truncated bulk string")
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise ProtocolError(f"unexpected reply type {line[:80]!r}")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Endpoint:
    """Where and how to connect: ``tls`` set means a TLS connection verified against its CA for its name."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    #: The name (or IP address) the certificate must carry. Default: - ``host``.
    tls_name: str | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}" + (" (TLS)" if self.tls else "")


def tls_context(ca_file: str) -> ssl.SSLContext:
    """A client context trusting only ``ca_file``, checking the name, TLS 1.2 at least."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class Connection:
    """A RESP2 connection; ``handshake_ms`` is the TCP connect + TLS handshake time."""

    def __init__(self, ep: Endpoint, *, timeout: float = 5.0) -> None:
        self.endpoint = ep
        start = time.perf_counter()
        sock = socket.create_connection((ep.host, ep.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ep.tls is not None:
            try:
                sock = ep.tls.wrap_socket(sock, server_hostname=ep.tls_name or ep.host)
            except BaseException:
                sock.close()
                raise
        self.handshake_ms = (time.perf_counter() - start) * 1000
        self.tls_version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
        self.sock = sock
        self.rfile = cast("IO[bytes]", sock.makefile("rb", buffering=1 << 16))

    def send(self, commands: Sequence[Sequence[Arg]]) -> None:
        self.sock.sendall(b"".join(encode(c) for c in commands))

    def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Reply]:
        self.send(commands)
        return [read_reply(self.rfile) for _ in commands]

    def call(self, *args: Arg) -> Reply:
        (reply,) = self.pipeline([args])
        if isinstance(reply, RespError):
            raise reply
        return reply

    def info(self, section: str) -> dict[str, str]:
        reply = self.call("INFO", section)
        assert isinstance(reply, bytes)
        out: dict[str, str] = {}
        for line in reply.decode(errors="replace").splitlines():
            if ":" in line and not line.startswith("#"):
                k, _, v = line.partition(":")
                out[k] = v
        return out

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.rfile.close()
        with contextlib.suppress(OSError):
            self.sock.close()


def read_password(path: str) -> bytes:
    """The password in ``path`` (one trailing newline is not part of it)."""
    with open(path, "rb") as f:
        return f.read().rstrip(b"\r\n")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Credential:
    user: str
    secret: bytes


def login(ep: Endpoint, cred: Credential, *, timeout: float = 5.0) -> Connection:
    """A connection authenticated as ``cred`` and named :data:`CLIENT_NAME` (CheckError on a refused AUTH)."""
    conn = Connection(ep, timeout=timeout)
    try:
        conn.call("AUTH", cred.user, cred.secret)
        conn.call("CLIENT", "SETNAME", CLIENT_NAME)
    except RespError as e:
        conn.close()
        raise CheckError(f"{ep}: AUTH as {cred.user} refused: {e}") from None
    except BaseException:
        conn.close()
        raise
    return conn


@contextlib.contextmanager
def logged_in(ep: Endpoint, cred: Credential, *, timeout: float = 5.0) -> Iterator[Connection]:
    conn = login(ep, cred, timeout=timeout)
    try:
        yield conn
    finally:
        conn.close()


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p`` percentile (0 < p <= 100) of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# --- checks ----------------------------------------------------------------------------------------------------


class Report:
    """Runs checks, prints one line each, remembers the failures."""

    def __init__(self, out: IO[str] = sys.stdout) -> None:
        self.out = out
        self.failed: list[str] = []
        self.passed = 0

    def run(self, name: str, check: Callable[[], str]) -> bool:
        try:
            figure = check()
        except CheckError as e:
            return self._fail(name, str(e))
        except ssl.SSLCertVerificationError as e:
            return self._fail(name, f"certificate not trusted: {e.verify_message}")
        except (OSError, ProtocolError, RespError) as e:
            return self._fail(name, f"{type(e).__name__}: {e}")
        self.passed += 1
        print(f"ok   {name}: {figure}", file=self.out, flush=True)
        return True

    def _fail(self, name: str, why: str) -> bool:
        self.failed.append(name)
        print(f"FAIL {name}: {why}", file=self.out, flush=True)
        return False

    def finish(self) -> int:
        total = self.passed + len(self.failed)
        if self.failed:
            print(f"{len(self.failed)} of {total} checks FAILED: {', '.join(self.failed)}", file=self.out, flush=True)
            return EXIT_FAILED
        print(f"all {total} checks passed", file=self.out, flush=True)
        return 0


def check_noauth(ep: Endpoint) -> str:
    """SC-008: a command before AUTH is refused with NOAUTH."""
    conn = Connection(ep)
    try:
        (reply,) = conn.pipeline([["PING"]])
    finally:
        conn.close()
    if isinstance(reply, RespError) and str(reply).startswith("NOAUTH"):
        return f"{ep}: PING without a password -> {reply}"
    raise CheckError(f"{ep}: PING without a password answered {reply!r}, expected NOAUTH")


def check_wrongpass(ep: Endpoint, user: str) -> str:
    """SC-008: AUTH with a wrong password is refused with WRONGPASS."""
    conn = Connection(ep)
    try:
        (reply,) = conn.pipeline([["AUTH", user, "wrong-" + secrets.token_hex(16)]])
    finally:
        conn.close()
    if isinstance(reply, RespError) and str(reply).startswith("WRONGPASS"):
        return f"{ep}: AUTH {user} <wrong> -> {reply}"
    raise CheckError(f"{ep}: AUTH {user} with a wrong password answered {reply!r}, expected WRONGPASS")


def check_ping(ep: Endpoint, cred: Credential) -> str:
    with logged_in(ep, cred) as conn:
        start = time.perf_counter()
        reply = conn.call("PING")
        ping_ms = (time.perf_counter() - start) * 1000
        if reply != b"PONG":
            raise CheckError(f"{ep}: PING answered {reply!r}")
        tls = f", {conn.tls_version}, certificate verified for {ep.tls_name or ep.host}" if ep.tls else ""
        return f"{ep}: AUTH as {cred.user} ok, connect {conn.handshake_ms:.1f} ms, PING {ping_ms:.2f} ms{tls}"


def check_replication(master: Endpoint, replicas: Endpoint, cred: Credential, prefix: str, bound_s: float) -> str:
    """A write through the master Service is read back through the replicas Service within ``bound_s``."""
    key = f"{prefix}replication:{secrets.token_hex(8)}"
    token = secrets.token_hex(16).encode()
    with logged_in(master, cred) as m, logged_in(replicas, cred) as r:
        m.call("SET", key, token, "EX", 300)
        start = time.perf_counter()
        try:
            while True:
                got = r.call("GET", key)
                waited = time.perf_counter() - start
                if got == token:
                    return f"written via {master.host}, read back via {replicas.host} after {waited * 1000:.1f} ms"
                if waited > bound_s:
                    raise CheckError(f"{key} not on {replicas.host} {bound_s:g} s after the write via {master.host}")
                time.sleep(0.005)
        finally:
            m.call("DEL", key)


def check_replica_link(replicas: Endpoint, cred: Credential) -> str:
    with logged_in(replicas, cred) as r:
        info = r.info("replication")
    role, link = info.get("role"), info.get("master_link_status")
    if role != "slave" or link != "up":
        raise CheckError(
            f"{replicas.host}: role {role}, master_link_status {link}"
            f" (down for {info.get('master_link_down_since_seconds', '?')} s)"
        )
    return f"{replicas.host}: master_link_status up, last I/O {info.get('master_last_io_seconds_ago')} s ago"


def replica_lines(info: dict[str, str]) -> list[dict[str, str]]:
    """The primary's ``slaveN:ip=...,state=online,offset=...,lag=0`` lines as dicts."""
    out = []
    for k, v in info.items():
        if k.startswith("slave") and k[5:].isdigit():
            out.append(dict(part.partition("=")[::2] for part in v.split(",")))
    return out


def check_replica_lag(master: Endpoint, cred: Credential, replicas: int, max_lag_s: int) -> str:
    with logged_in(master, cred) as m:
        info = m.info("replication")
    attached = replica_lines(info)
    online = [s for s in attached if s.get("state") == "online"]
    lags = [int(s.get("lag", "-1")) for s in online]
    figure = f"{len(online)} of {replicas} replica(s) online, lag {', '.join(f'{x} s' for x in lags) or '-'}"
    if len(online) < replicas:
        raise CheckError(figure)
    if any(lag < 0 or lag > max_lag_s for lag in lags):
        raise CheckError(f"{figure} (at most {max_lag_s} s allowed)")
    return figure


def fetch_metrics(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return cast(bytes, resp.read()).decode(errors="replace")


def check_exporter(url: str) -> str:
    """SC-005: the exporter answers and reaches its Redis (``redis_up 1``)."""
    start = time.perf_counter()
    try:
        text = fetch_metrics(url)
    except OSError as e:
        raise CheckError(f"{url}: {getattr(e, 'reason', e)}") from None
    ms = (time.perf_counter() - start) * 1000
    values = [line.split()[-1] for line in text.splitlines() if line.startswith("redis_up ")]
    if values != ["1"]:
        raise CheckError(f"{url}: redis_up {values[0] if values else 'missing'} (scrape {ms:.0f} ms)")
    return f"{url}: redis_up 1 (scrape {ms:.0f} ms)"


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class LoadResult:
    ops: int
    seconds: float
    #: One per pipelined batch (each op of a batch took its batch's time; batches are of equal size).
    latencies_ms: tuple[float, ...]

    @property
    def ops_per_second(self) -> float:
        return self.ops / self.seconds

    def p(self, pct: float) -> float:
        return percentile(self.latencies_ms, pct)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Load:
    """The load check's shape and bounds (SC-001: 10k ops/s; SC-006: p95 10 ms)."""

    seconds: float = 3.0
    connections: int = 4
    depth: int = 16
    keys: int = 1000
    min_ops: int = 10_000
    max_p95_ms: float = 10.0


def generate_load(ep: Endpoint, cred: Credential, prefix: str, load: Load) -> LoadResult:
    """Pipelined SET/GET (half each) over ``keys`` keys of 64 bytes, ``connections`` sockets kept busy in turn.

    Each round writes one batch of ``load.depth`` commands to every connection, then reads the replies connection by
    connection; an operation's latency is the time from its batch's write to the read of that batch's last reply
    (every op of a batch gets the batch's time: an upper bound, as redis-benchmark -P counts a pipeline).
    """
    seconds, connections, depth, keys = load.seconds, load.connections, load.depth, load.keys
    value = b"x" * 64
    names = [f"{prefix}load:{i}".encode() for i in range(keys)]
    conns = [login(ep, cred) for _ in range(connections)]
    latencies: list[float] = []
    ops = 0
    i = 0
    try:
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            sent: list[float] = []
            for c in conns:
                batch: list[Sequence[Arg]] = []
                for _ in range(depth // 2):
                    k = names[i % keys]
                    i += 1
                    batch += [("SET", k, value, "EX", 60), ("GET", k)]
                sent.append(time.perf_counter())
                c.send(batch)
            for c, t in zip(conns, sent, strict=True):
                for _ in range(depth // 2 * 2):
                    reply = read_reply(c.rfile)
                    if isinstance(reply, RespError):
                        raise CheckError(f"{ep}: {reply}")
                # One entry per batch: every batch holds the same number of ops, so percentiles over batches
                # are the percentiles over ops (each op of a batch has the batch's time).
                latencies.append((time.perf_counter() - t) * 1000)
                ops += depth // 2 * 2
        elapsed = time.perf_counter() - start
        for chunk in range(0, keys, 500):
            conns[0].call("DEL", *names[chunk : chunk + 500])
    finally:
        for c in conns:
            c.close()
    return LoadResult(ops=ops, seconds=elapsed, latencies_ms=tuple(latencies))


def check_load(ep: Endpoint, cred: Credential, prefix: str, load: Load) -> str:
    r = generate_load(ep, cred, prefix, load)
    figure = (
        f"{r.ops_per_second:,.0f} ops/s (at least {load.min_ops:,}), p95 {r.p(95):.2f} ms"
        f" (at most {load.max_p95_ms:g}), p50 {r.p(50):.2f} ms, {r.ops:,} ops in {r.seconds:.1f} s"
        f" on {load.connections} connections, pipeline {load.depth}"
    )
    if r.ops_per_second < load.min_ops or r.p(95) > load.max_p95_ms:
        raise CheckError(figure)
    return figure


def check_persistence(eps: Sequence[Endpoint], cred: Credential) -> str:
    figures, bad = [], []
    for ep in eps:
        with logged_in(ep, cred) as c:
            info = c.info("persistence")
        f = (
            f"{ep.host}: aof_enabled {info.get('aof_enabled')},"
            f" aof_last_write_status {info.get('aof_last_write_status')}"
        )
        figures.append(f)
        if info.get("aof_enabled") != "1" or info.get("aof_last_write_status") != "ok":
            bad.append(f)
    if bad:
        raise CheckError("; ".join(bad))
    return "; ".join(figures)


def keys_in(info: dict[str, str]) -> int:
    """Keys in every database from ``INFO keyspace`` (``db0:keys=3,expires=0,...``)."""
    return sum(int(v.split(",")[0].removeprefix("keys=")) for k, v in info.items() if k.startswith("db"))


def check_primary(master: Endpoint, replicas: Endpoint, cred: Credential) -> str:
    """The master Service reaches a writable primary that is not empty while its replica holds keys."""
    with logged_in(master, cred) as m:
        repl = m.info("replication")
        primary_keys = keys_in(m.info("keyspace"))
    with logged_in(replicas, cred) as r:
        replica_keys = keys_in(r.info("keyspace"))
    role = repl.get("role")
    # min_slaves_good_slaves is reported only while min-replicas-to-write is set (start.sh's FENCED start).
    good = repl.get("min_slaves_good_slaves")
    figure = f"role {role}, {primary_keys} keys (replica {replica_keys})" + (
        f", min_slaves_good_slaves {good}" if good is not None else ""
    )
    if role != "master":
        raise CheckError(f"{master.host}: {figure}: the master Service reaches a pod that is not the primary")
    if good == "0":
        raise CheckError(
            f"{figure}: fenced, writes refused until a replica follows (docs/operations.md#failover-manual-one-commit)"
        )
    if primary_keys == 0 and replica_keys > 0:
        raise CheckError(
            f"{figure}: the primary is empty while its replica holds keys (docs/operations.md#failover-manual-one-commit)"
        )
    return figure


def check_round_trips(ep: Endpoint, cred: Credential, rounds: int, max_p95_ms: float) -> str:
    """SC-003: ``rounds`` sequential PINGs, p95 at most ``max_p95_ms``."""
    with logged_in(ep, cred) as c:
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            if c.call("PING") != b"PONG":
                raise CheckError(f"{ep}: PING did not answer PONG")
            times.append((time.perf_counter() - start) * 1000)
    figure = (
        f"{rounds} round trips: p50 {percentile(times, 50):.2f} ms, p95 {percentile(times, 95):.2f} ms"
        f" (at most {max_p95_ms:g}), max {max(times):.2f} ms"
    )
    if percentile(times, 95) > max_p95_ms:
        raise CheckError(figure)
    return figure


def check_refused(host: str, port: int, timeout: float) -> str:
    """SC-004: no answer from outside the LAN (refused, timed out, unreachable); a connection is a failure."""
    start = time.perf_counter()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        return f"{host}:{port}: no answer within {timeout:g} s"
    except OSError as e:
        return f"{host}:{port}: {e.strerror or e} after {(time.perf_counter() - start) * 1000:.0f} ms"
    sock.close()
    raise CheckError(f"{host}:{port} accepted a connection from this host; it must be unreachable from here")


# --- command line ----------------------------------------------------------------------------------------------


def add_credentials(p: argparse.ArgumentParser, user_default: str | None) -> None:
    p.add_argument(
        "--user", default=user_default, help="ACL user" + (f" (default {user_default})" if user_default else "")
    )
    p.add_argument("--password-file", help="file holding the user's password (never on the command line)")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    # No abbreviations: ``--password secret`` must be refused, not read as ``--password-file secret``.
    p = argparse.ArgumentParser(
        prog="redis-shared check", description=(__doc__ or "").splitlines()[0], allow_abbrev=False
    )
    sub = p.add_subparsers(dest="mode", required=True)

    c = sub.add_parser("cluster", help="the check Job in Redis's namespace", allow_abbrev=False)
    c.add_argument("--master-host", required=True)
    c.add_argument("--replicas-host", required=True)
    c.add_argument("--port", type=int, default=6379)
    c.add_argument("--tls-port", type=int, default=None, help="Default: - no TLS check")
    c.add_argument("--ca-file", default=None)
    c.add_argument("--tls-name", default=None, help="name or IP address the certificate must carry")
    add_credentials(c, CHECK_USERNAME)
    c.add_argument("--key-prefix", default="redis-shared:check:")
    c.add_argument("--replicas", type=int, default=1)
    c.add_argument("--replication-seconds", type=float, default=2.0)
    c.add_argument("--max-lag-seconds", type=int, default=10)
    c.add_argument("--exporter-url", action="append", default=[])
    c.add_argument("--load-seconds", type=float, default=3.0)
    c.add_argument("--load-connections", type=int, default=4)
    c.add_argument("--load-pipeline", type=int, default=16)
    c.add_argument("--min-ops", type=int, default=10_000)
    c.add_argument("--max-p95-ms", type=float, default=10.0)
    c.add_argument("--connect-seconds", type=float, default=30.0)

    add_lan_arguments(
        sub.add_parser("lan", help="from a LAN host: SC-003 and SC-008; --expect-refused: SC-004", allow_abbrev=False)
    )
    args = p.parse_args(argv)

    if args.mode == "cluster":
        if args.tls_port is not None and not (args.ca_file and args.tls_name):
            p.error("--tls-port needs --ca-file and --tls-name")
        if not args.password_file:
            p.error("--password-file is required")
    elif (problem := lan_usage_error(args)) is not None:
        p.error(problem)
    return args


def add_lan_arguments(lan: argparse.ArgumentParser) -> None:
    """The ``lan`` mode's options (also ``redis-shared check``'s, :mod:`redis_constructs.checks.cli`)."""
    lan.add_argument("--host", required=True, help="Redis's LAN address, e.g. the LoadBalancer IP")
    lan.add_argument("--port", type=int, default=6380, help="the TLS port (default 6380)")
    lan.add_argument("--ca", default=None, help="the CA certificate (ca.crt) Redis's certificate is issued by")
    lan.add_argument("--tls-name", default=None, help="the name the certificate must carry. Default: - --host")
    add_credentials(lan, None)
    lan.add_argument("--rounds", type=int, default=100, help="PING round trips for the p95 (default 100)")
    lan.add_argument("--max-p95-ms", type=float, default=100.0, help="SC-003's bound (default 100 ms)")
    lan.add_argument(
        "--expect-refused",
        action="store_true",
        help="SC-004, from a host outside the LAN: pass when the port refuses or never answers",
    )
    lan.add_argument("--timeout", type=float, default=3.0, help="connect timeout in seconds (default 3)")


def lan_usage_error(args: argparse.Namespace) -> str | None:
    """What is missing for the ``lan`` checks, or None."""
    if not args.expect_refused and not (args.ca and args.user and args.password_file):
        return "lan needs --ca, --user and --password-file (or --expect-refused)"
    return None


def wait_for(ep: Endpoint, seconds: float) -> None:
    """Retry the first connection for ``seconds``: a NetworkPolicy or a Service may take a moment to admit us."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            Connection(ep, timeout=2).close()
            return
        except OSError as e:
            if time.monotonic() >= deadline:
                return  # the checks report it
            print(f"waiting for {ep}: {e}", flush=True)
            time.sleep(1)


def run_cluster(a: argparse.Namespace, report: Report) -> None:
    cred = Credential(user=a.user, secret=read_password(a.password_file))
    master = Endpoint(host=a.master_host, port=a.port)
    replicas = Endpoint(host=a.replicas_host, port=a.port)
    wait_for(master, a.connect_seconds)
    report.run("noauth", lambda: check_noauth(master))
    report.run("wrongpass", lambda: check_wrongpass(master, a.user))
    report.run("plain", lambda: check_ping(master, cred))
    if a.tls_port is not None:
        tls = Endpoint(host=a.master_host, port=a.tls_port, tls=tls_context(a.ca_file), tls_name=a.tls_name)
        report.run("tls", lambda: check_ping(tls, cred))
    report.run("primary", lambda: check_primary(master, replicas, cred))
    report.run("replication", lambda: check_replication(master, replicas, cred, a.key_prefix, a.replication_seconds))
    report.run("replica-link", lambda: check_replica_link(replicas, cred))
    report.run("replica-lag", lambda: check_replica_lag(master, cred, a.replicas, a.max_lag_seconds))
    report.run("persistence", lambda: check_persistence([master, replicas], cred))
    for url in a.exporter_url:
        report.run("exporter", functools.partial(check_exporter, url))
    load = Load(
        seconds=a.load_seconds,
        connections=a.load_connections,
        depth=a.load_pipeline,
        min_ops=a.min_ops,
        max_p95_ms=a.max_p95_ms,
    )
    report.run("load", lambda: check_load(master, cred, a.key_prefix, load))


def run_lan(a: argparse.Namespace, report: Report) -> None:
    if a.expect_refused:
        report.run("refused", lambda: check_refused(a.host, a.port, a.timeout))
        return
    ep = Endpoint(host=a.host, port=a.port, tls=tls_context(a.ca), tls_name=a.tls_name)
    cred = Credential(user=a.user, secret=read_password(a.password_file))
    if report.run("tls", lambda: check_ping(ep, cred)):
        report.run("noauth", lambda: check_noauth(ep))
        report.run("wrongpass", lambda: check_wrongpass(ep, a.user))
        report.run("round-trips", lambda: check_round_trips(ep, cred, a.rounds, a.max_p95_ms))


def main(argv: Sequence[str] | None = None, out: IO[str] = sys.stdout) -> int:
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    report = Report(out)
    try:
        (run_cluster if args.mode == "cluster" else run_lan)(args, report)
    except OSError as e:  # the password file
        print(f"FAIL setup: {e}", file=out, flush=True)
        return EXIT_FAILED
    return report.finish()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
