"""Copy every key of one Redis into another, verified: the program the data-copy Job runs.

Pure standard library (a minimal RESP2 client over a socket), so it runs in a stock ``python:3-slim`` image
and as a local process in the tests. :mod:`redis_constructs.data_copy` renders this file into a ConfigMap;
the Job runs ``python3 copy_program.py <mode> ...``. Passwords are read from mounted files, never from argv
or the environment.

``copy`` (the cutover): old Redis -> redis-shared, database 0 only.

1. If the target holds the marker key, the copy already completed and was verified: exit 0 at once (later
   syncs re-run the Job; they must not copy again over what the app has written since).
2. Refuse if the source holds keys outside database 0, and wait (bounded) until no other client is connected
   to the source: the proof that no app pod writes while the copy runs.
3. SCAN every key; conflict check before anything is written: a key that exists in the target with another
   value is a conflict; any conflict fails with the first few names and changes nothing. A key that exists
   with an equal value (an earlier, interrupted run) counts as already copied: a rerun completes.
4. ``PTTL`` + ``DUMP`` from the source, ``RESTORE key ttl payload`` (never ``REPLACE``) into the target, in
   pipelined batches. A key that expires meanwhile is skipped, not an error.
5. Verify every key: type, a digest of its logical value (not the DUMP bytes: another Redis version encodes
   the same value differently), and the remaining TTL within a tolerance. Any difference fails loudly.
6. Check again that no other client connected to the source, then SET the marker and print the summary.

With ``--tenant-prefix P`` (a key-confined tenant, ``Tenant.key_prefix``) every source key must start with ``P``:
one that does not refuses the copy (exit 5) before anything is written, naming the first few; the marker must
start with ``P`` too (the tenant's keyspace is all the copy may touch).

``reverse`` (the opt-in rollback copy): redis-shared -> old Redis, only keys matching ``--match`` patterns,
``RESTORE ... REPLACE`` (the old values are stale by design), then the same verification.

``restore`` (a backup back into redis-shared): the source is a throwaway redis-server that loaded the snapshot
(inside the restore Job's pod, no password), the target redis-shared; only keys matching ``--match`` (default
every key). Database 0 only (refused otherwise). No waiting for clients: other tenants keep working. Conflicts
are refused as in ``copy`` (an equal value counts as already restored); ``--replace`` (which needs patterns, not
``*``) restores the matched keys with ``RESTORE ... REPLACE`` instead. The memory check counts the matched keys
only. Keys the snapshot doesn't hold are left alone: a restore deletes nothing. The marker makes a rerun exit 0.

The source is only read (SCAN, TYPE, PTTL, DUMP and read commands; CLIENT LIST/SETNAME on the connection):
nothing there is deleted or changed. Exit codes: 0 done, 2 conflict, 3 other clients connected, 4 verification
found differences, 5 refused (databases, memory), 1 anything else (connection, protocol).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, TypeAlias, cast

EXIT_CONFLICT = 2
EXIT_CLIENTS = 3
EXIT_DIFFERENT = 4
EXIT_REFUSED = 5
CLIENT_NAME = "redis-shared-copy"
#: Keys shown in a failure message; the count says how many more there are.
SHOW_KEYS = 5


class RespError(Exception):
    """An error reply (``-ERR ...``); returned inside pipelines, raised by :meth:`Connection.call`."""


Arg: TypeAlias = bytes | str | int
Command: TypeAlias = Sequence[Arg]
Reply: TypeAlias = bytes | int | RespError | list["Reply"] | None


class ProtocolError(Exception):
    """The server sent something that is not RESP2."""


class CopyError(Exception):
    """A reason to stop with ``code``; the message is printed as ``FAIL: ...``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def encode(args: Sequence[Arg]) -> list[bytes]:
    """One command as RESP2 pieces (kept separate so a large payload is not copied)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out += [b"$%d\r\n" % len(b), b, b"\r\n"]
    return out


def read_reply(f: IO[bytes]) -> Reply:  # noqa: PLR0911
    """One RESP2 reply from a buffered binary stream."""
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
        if len(data) != n + 2 or not data.endswith(b"\r\n"):
            raise ProtocolError("truncated bulk string")
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [read_reply(f) for _ in range(n)]
    raise ProtocolError(f"unexpected reply type {line[:80]!r}")


class Connection:
    """A RESP2 connection: ``call`` for one command, ``pipeline`` for many (errors returned, not raised)."""

    def __init__(self, host: str, port: int, *, timeout: float = 60.0) -> None:
        self.address = f"{host}:{port}"
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # 1 MiB buffers: a DUMP payload of tens of MB is read in few system calls.
        self.rfile = cast("IO[bytes]", self.sock.makefile("rb", buffering=1 << 20))
        self.wfile = cast("IO[bytes]", self.sock.makefile("wb", buffering=1 << 20))

    def pipeline(self, commands: Sequence[Command]) -> list[Reply]:
        for c in commands:
            self.wfile.writelines(encode(c))
        self.wfile.flush()
        return [read_reply(self.rfile) for _ in commands]

    def call(self, *args: Arg) -> Reply:
        (reply,) = self.pipeline([args])
        if isinstance(reply, RespError):
            raise reply
        return reply

    def auth(self, user: str | None, password_file: str) -> None:
        """AUTH with the password read from ``password_file`` (a trailing newline is not part of it)."""
        with open(password_file, "rb") as f:
            secret = f.read().rstrip(b"\r\n")
        try:
            self.call(*(("AUTH", user, secret) if user else ("AUTH", secret)))
        except RespError as e:
            raise CopyError(1, f"{self.address}: authentication failed: {e}") from None

    def close(self) -> None:
        # The socket's fd stays open until its file objects are closed too.
        for f in (self.wfile, self.rfile):
            with contextlib.suppress(OSError):
                f.close()
        self.sock.close()


def show(key: bytes) -> str:
    """A key name printable on one log line whatever bytes it holds (spaces, newlines, non-UTF-8)."""
    return ascii(key)[1:]


def first_keys(keys: Sequence[bytes]) -> str:
    more = f" and {len(keys) - SHOW_KEYS} more" if len(keys) > SHOW_KEYS else ""
    return ", ".join(show(k) for k in keys[:SHOW_KEYS]) + more


def pairs(
    keys: Iterable[bytes], first: Callable[[bytes], Command], second: Callable[[bytes], Command]
) -> list[Command]:
    """``first(k), second(k)`` for each key, interleaved: one pipeline, replies at even and odd indices."""
    return [c for k in keys for c in (first(k), second(k))]


def chunks(items: Sequence[bytes], size: int) -> Iterator[Sequence[bytes]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def by_size(keys: Sequence[bytes], sizes: Sequence[int], budget: int) -> Iterator[list[bytes]]:
    """Groups of keys whose estimated sizes add up to at most ``budget`` (a larger key goes alone)."""
    group: list[bytes] = []
    total = 0
    for key, size in zip(keys, sizes, strict=True):
        if group and total + size > budget:
            yield group
            group, total = [], 0
        group.append(key)
        total += size
    if group:
        yield group


def scan(conn: Connection, patterns: Sequence[str] = ("*",), count: int = 1000) -> list[bytes]:
    """Every key matching any of ``patterns``, each once, in SCAN order."""
    seen: dict[bytes, None] = {}
    for pattern in patterns:
        cursor: bytes = b"0"
        while True:
            reply = conn.call("SCAN", cursor, "MATCH", pattern, "COUNT", count)
            assert isinstance(reply, list) and isinstance(reply[0], bytes) and isinstance(reply[1], list)
            cursor = reply[0]
            for k in reply[1]:
                assert isinstance(k, bytes)
                seen[k] = None
            if cursor == b"0":
                break
    return list(seen)


def _feed(h: hashlib._Hash, value: Reply) -> None:
    if isinstance(value, list):
        h.update(b"*%d:" % len(value))
        for v in value:
            _feed(h, v)
    elif value is None:
        h.update(b"_")
    elif isinstance(value, int):
        h.update(b":%d" % value)
    elif isinstance(value, RespError):
        h.update(b"-" + str(value).encode())
    else:
        h.update(b"$%d:" % len(value) + value)


def digest(kind: bytes, parts: Sequence[Reply]) -> str:
    """A SHA-256 of a key's logical value; unordered collections are sorted first, so order cannot differ."""
    h = hashlib.sha256(kind + b"\n")
    for part in parts:
        if kind in (b"set", b"hash") and isinstance(part, list):
            items: list[Reply] = list(part)
            if kind == b"hash":
                pairs = sorted(zip(items[::2], items[1::2], strict=True), key=lambda p: p[0] or b"")  # type: ignore[arg-type,return-value]
                items = [x for p in pairs for x in p]
            else:
                items = sorted(items, key=lambda x: x if isinstance(x, bytes) else b"")
            _feed(h, items)
        else:
            _feed(h, part)
    return h.hexdigest()


def value_commands(kind: bytes, key: bytes) -> list[list[Arg]]:
    """The read commands whose replies make up ``key``'s value (for :func:`digest`)."""
    if kind == b"string":
        return [["GET", key]]
    if kind == b"hash":
        return [["HGETALL", key]]
    if kind == b"list":
        return [["LRANGE", key, 0, -1]]
    if kind == b"set":
        return [["SMEMBERS", key]]
    if kind == b"zset":
        return [["ZRANGE", key, 0, -1, "WITHSCORES"]]
    if kind == b"stream":
        return [["XRANGE", key, "-", "+"], ["XINFO", "GROUPS", key]]
    raise CopyError(1, f"key {show(key)}: type {kind.decode(errors='replace')} is not supported")


def _field(info: Reply, name: bytes) -> Reply:
    if isinstance(info, list):
        for k, val in zip(info[::2], info[1::2], strict=True):
            if k == name:
                return val
    return None


def stream_groups(conn: Connection, key: bytes, groups: Reply) -> list[Reply]:
    """Per consumer group (by name): last-delivered-id, pending count, its pending entries (id, consumer,
    delivery count) and its consumers (name, pending count).

    Only fields Redis 6.2 and 7.x both report, and no idle times, so an old 6.2 source compares equal to a 7.4
    target a moment later.
    """
    if not isinstance(groups, list):
        return [groups]
    named: dict[bytes, Reply] = {}
    for g in groups:
        name = _field(g, b"name")
        assert isinstance(name, bytes)
        named[name] = g
    names = sorted(named)
    replies = conn.pipeline(
        pairs(names, lambda n: ["XPENDING", key, n, "-", "+", 1 << 30], lambda n: ["XINFO", "CONSUMERS", key, n])
    )
    out: list[Reply] = []
    for n, pending, consumers in zip(names, replies[::2], replies[1::2], strict=True):
        pel: list[Reply] = (
            [[p[0], p[1], p[3]] if isinstance(p, list) else p for p in pending]
            if isinstance(pending, list)
            else [pending]
        )
        cons: list[Reply] = (
            sorted(([_field(c, b"name"), _field(c, b"pending")] for c in consumers), key=repr)
            if isinstance(consumers, list)
            else [consumers]
        )
        out.append([n, _field(named[n], b"last-delivered-id"), _field(named[n], b"pending"), pel, cons])
    return out


@dataclasses.dataclass(slots=True)
class KeyState:
    """What one side holds for a key: type (``b"none"`` if missing), remaining TTL in ms, value digest."""

    kind: bytes
    pttl: int
    digest: str


#: The most reply bytes one pipelined read asks for (estimated with MEMORY USAGE; a larger key is read alone):
#: well under redis-shared's output-buffer limit for normal clients, which disconnects a client whose unread
#: replies pass it.
READ_BUDGET_BYTES = 8 << 20


def states(conn: Connection, keys: Sequence[bytes], budget: int = READ_BUDGET_BYTES) -> list[KeyState]:
    """TYPE, PTTL and the value digest of each key: pipelined, each read of values at most ``budget`` bytes
    (by MEMORY USAGE), plus one round trip per stream."""
    head_commands: list[list[Arg]] = []
    for k in keys:
        head_commands += [["TYPE", k], ["PTTL", k], ["MEMORY", "USAGE", k]]
    head = conn.pipeline(head_commands)
    kinds = [r for r in head[::3]]
    sizes = {k: n if isinstance(n, int) else 0 for k, n in zip(keys, head[2::3], strict=True)}
    commands: dict[bytes, list[list[Arg]]] = {}
    for key, kind in zip(keys, kinds, strict=True):
        assert isinstance(kind, bytes), kind
        commands[key] = [] if kind == b"none" else value_commands(kind, key)
    replies: dict[bytes, list[Reply]] = {}
    present = [k for k in keys if commands[k]]
    for group in by_size(present, [sizes[k] for k in present], budget):
        flat = conn.pipeline([c for k in group for c in commands[k]])
        at = 0
        for k in group:
            replies[k] = flat[at : at + len(commands[k])]
            at += len(commands[k])
    out = []
    for key, kind, pttl in zip(keys, kinds, head[1::3], strict=True):
        assert isinstance(kind, bytes) and isinstance(pttl, int)
        parts = replies.get(key, [])
        if kind == b"stream":
            parts = [parts[0], *stream_groups(conn, key, parts[1])]
        out.append(KeyState(kind=kind, pttl=pttl, digest=digest(kind, parts) if kind != b"none" else ""))
    return out


def compare(src: KeyState, dst: KeyState, tolerance_ms: int) -> str | None:  # noqa: PLR0911
    """Why ``dst`` is not a faithful copy of ``src`` (None if it is). A key expired on the source is fine."""
    if src.kind == b"none":
        # Expired (or never there) on the source: whatever is left on the target carries the same TTL.
        return None if dst.kind == b"none" or 0 <= dst.pttl <= tolerance_ms else "gone from the source"
    if dst.kind == b"none":
        return None if 0 <= src.pttl <= tolerance_ms else "missing"
    if src.kind != dst.kind:
        return f"type {src.kind.decode()} != {dst.kind.decode()}"
    if src.digest != dst.digest:
        return "value differs"
    if (src.pttl < 0 or dst.pttl < 0) and src.pttl != dst.pttl:
        return f"ttl {src.pttl} ms != {dst.pttl} ms"
    if abs(src.pttl - dst.pttl) > tolerance_ms:
        return f"ttl {src.pttl} ms vs {dst.pttl} ms (tolerance {tolerance_ms} ms)"
    return None


def other_clients(conn: Connection, own_name: str = CLIENT_NAME) -> list[str]:
    """``addr`` of every connection on the server except the ones named ``own_name`` (this program's)."""
    reply = conn.call("CLIENT", "LIST")
    assert isinstance(reply, bytes)
    out = []
    for line in reply.decode(errors="replace").splitlines():
        fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
        if fields.get("name") != own_name:
            out.append(fields.get("addr", "?"))
    return out


def wait_alone(conn: Connection, seconds: float, *, poll: float = 1.0) -> None:
    """Return once no other client is connected; CopyError(EXIT_CLIENTS) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        others = other_clients(conn)
        if not others:
            return
        if time.monotonic() >= deadline:
            raise CopyError(
                EXIT_CLIENTS,
                f"{conn.address}: {len(others)} other client(s) still connected ({', '.join(others[:SHOW_KEYS])}); "
                "the app must be scaled to 0 before the copy (README runbook)",
            )
        time.sleep(poll)


def info_field(conn: Connection, section: str, name: str) -> str | None:
    reply = conn.call("INFO", section)
    assert isinstance(reply, bytes)
    for line in reply.decode(errors="replace").splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def databases_with_keys(conn: Connection) -> list[str]:
    reply = conn.call("INFO", "keyspace")
    assert isinstance(reply, bytes)
    return [line.split(":", 1)[0] for line in reply.decode().splitlines() if line.startswith("db")]


@dataclasses.dataclass(slots=True)
class Summary:
    keys: int = 0
    copied: int = 0
    already_present: int = 0
    expired: int = 0
    bytes: int = 0
    differences: int = 0

    def line(self, seconds: float) -> str:
        return (
            f"keys={self.keys} copied={self.copied} already_present={self.already_present} "
            f"expired={self.expired} bytes={self.bytes} seconds={seconds:.1f} differences={self.differences}"
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Options:
    mode: str
    batch: int
    batch_bytes: int
    tolerance_ms: int
    wait_seconds: float
    marker: str | None
    patterns: tuple[str, ...]
    replace: bool = False
    #: Default: - no prefix rule (an unconfined tenant, e.g. one on ``default``).
    tenant_prefix: bytes | None = None


def conflict_check(src: Connection, dst: Connection, keys: Sequence[bytes], o: Options, s: Summary) -> list[bytes]:
    """The keys still to copy; CopyError(EXIT_CONFLICT) if any key exists in the target with another value."""
    todo: list[bytes] = []
    conflicts: list[bytes] = []
    for batch in chunks(keys, o.batch):
        exists = dst.pipeline([["EXISTS", k] for k in batch])
        present = [k for k, e in zip(batch, exists, strict=True) if e == 1]
        todo += [k for k, e in zip(batch, exists, strict=True) if e != 1]
        if present:
            for k, a, b in zip(present, states(src, present), states(dst, present), strict=True):
                if a.kind == b"none" or compare(a, b, o.tolerance_ms) is None:
                    s.already_present += 1
                else:
                    conflicts.append(k)
    if conflicts:
        raise CopyError(
            EXIT_CONFLICT,
            f"{len(conflicts)} key(s) already exist in {dst.address} with other values: {first_keys(conflicts)}; "
            "nothing was written",
        )
    return todo


def copy_keys(src: Connection, dst: Connection, keys: Sequence[bytes], o: Options, s: Summary) -> None:
    replace = o.mode == "reverse" or o.replace
    for batch in chunks(keys, o.batch):
        sizes = src.pipeline([["MEMORY", "USAGE", k] for k in batch])
        for group in by_size(batch, [n if isinstance(n, int) else 0 for n in sizes], o.batch_bytes):
            dumped = src.pipeline(pairs(group, lambda k: ["PTTL", k], lambda k: ["DUMP", k]))
            restores: list[list[Arg]] = []
            for k, pttl, payload in zip(group, dumped[::2], dumped[1::2], strict=True):
                if not isinstance(pttl, int) or pttl == -2 or not isinstance(payload, bytes):
                    s.expired += 1
                    continue
                restores.append(["RESTORE", k, max(pttl, 0), payload, *(["REPLACE"] if replace else [])])
                s.bytes += len(payload)
            for cmd, reply in zip(restores, dst.pipeline(restores) if restores else [], strict=True):
                if isinstance(reply, RespError):
                    key = cmd[1]
                    assert isinstance(key, bytes)
                    if str(reply).startswith("BUSYKEY"):
                        raise CopyError(EXIT_CONFLICT, f"key {show(key)} was created in {dst.address} during the copy")
                    raise CopyError(1, f"RESTORE {show(key)} into {dst.address}: {reply}")
                s.copied += 1


def verify(src: Connection, dst: Connection, keys: Sequence[bytes], o: Options, s: Summary) -> None:
    bad: list[tuple[bytes, str]] = []
    for batch in chunks(keys, o.batch):
        for k, a, b in zip(batch, states(src, batch), states(dst, batch), strict=True):
            why = compare(a, b, o.tolerance_ms)
            if why is not None:
                bad.append((k, why))
    s.differences = len(bad)
    if bad:
        shown = "; ".join(f"{show(k)}: {why}" for k, why in bad[:SHOW_KEYS])
        raise CopyError(EXIT_DIFFERENT, f"verification found {len(bad)} difference(s): {shown}")


def check_memory(src: Connection, dst: Connection, keys: Sequence[bytes] | None = None) -> None:
    """Refuse a copy that would push the target past its maxmemory (its eviction would hit other tenants).

    ``keys``: count only these (MEMORY USAGE on the source); default: the source's whole dataset."""
    maxmemory = int(info_field(dst, "memory", "maxmemory") or 0)
    if maxmemory == 0:
        return
    used = int(info_field(dst, "memory", "used_memory") or 0)
    if keys is None:
        incoming = int(info_field(src, "memory", "used_memory_dataset") or 0)
    else:
        incoming = sum(
            n if isinstance(n, int) else 0
            for batch in chunks(keys, 1000)
            for n in src.pipeline([["MEMORY", "USAGE", k] for k in batch])
        )
    if used + incoming > maxmemory * 0.9:
        raise CopyError(
            EXIT_REFUSED,
            f"{dst.address}: used {used} + incoming ~{incoming} bytes exceeds 90% of maxmemory {maxmemory}; "
            "raise redis-shared's memory first",
        )


def already_done(dst: Connection, o: Options) -> bool:
    """True if the target holds the marker (a copy completed and verified): print so and do nothing more."""
    if o.mode not in ("copy", "restore") or not o.marker:
        return False
    done = dst.call("GET", o.marker)
    if isinstance(done, bytes):
        print(f"already copied and verified ({o.marker}): {done.decode(errors='replace')}; nothing to do")
        return True
    return False


def run(src: Connection, dst: Connection, o: Options) -> Summary:
    """The whole copy (module docstring); prints progress to stdout and returns the summary."""
    start = time.monotonic()
    s = Summary()
    if o.mode in ("copy", "restore"):
        dbs = databases_with_keys(src)
        if any(d != "db0" for d in dbs):
            raise CopyError(EXIT_REFUSED, f"{src.address} holds keys in {', '.join(dbs)}; only db0 is copied")
    if o.mode == "copy":
        wait_alone(src, o.wait_seconds)
        check_memory(src, dst)
    elif o.mode == "reverse":
        wait_alone(dst, o.wait_seconds)
    keys = scan(src, o.patterns)
    if o.marker:
        keys = [k for k in keys if k != o.marker.encode()]
    s.keys = len(keys)
    print(f"scanned {src.address}: {s.keys} keys")
    if o.tenant_prefix is not None and o.mode == "copy":
        outside = [k for k in keys if not k.startswith(o.tenant_prefix)]
        if outside:
            raise CopyError(
                EXIT_REFUSED,
                f"{len(outside)} key(s) of {src.address} lie outside the tenant's prefix "
                f"{o.tenant_prefix.decode(errors='replace')!r}: {first_keys(outside)}; nothing was written "
                "(rename them in the old Redis, or declare the tenant without key_prefix)",
            )
    if o.mode == "restore":
        check_memory(src, dst, keys)
    if o.mode == "reverse" or o.replace:
        todo = keys
        print(f"replacing: {len(todo)} keys matching {', '.join(o.patterns)}")
    else:
        todo = conflict_check(src, dst, keys, o, s)
        print(f"conflict check: none; {len(todo)} to copy, {s.already_present} already present")
    copy_keys(src, dst, todo, o, s)
    copied_at = time.monotonic()
    print(f"copied {s.copied} keys ({s.bytes} bytes) in {copied_at - start:.1f}s; {s.expired} expired meanwhile")
    verify(src, dst, keys, o, s)
    if o.mode == "copy":
        wait_alone(src, 0)
    seconds = time.monotonic() - start
    if o.marker:
        dst.call("SET", o.marker, json.dumps({"at": int(time.time()), "keys": s.keys, "bytes": s.bytes}))
    print(f"verified: {s.line(seconds)}")
    return s


def connect(host: str, port: int, seconds: float) -> Connection:
    """A connection, retried for ``seconds`` (a NetworkPolicy or a Service may take a moment to admit the pod)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return Connection(host, port)
        except OSError as e:
            if time.monotonic() >= deadline:
                raise
            print(f"waiting for {host}:{port}: {e}", flush=True)
            time.sleep(2)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("mode", choices=("copy", "reverse", "restore"))
    for side in ("source", "target"):
        p.add_argument(f"--{side}-host", required=True)
        p.add_argument(f"--{side}-port", type=int, default=6379)
        p.add_argument(f"--{side}-user", default=None, help="ACL user; default: AUTH with the password alone")
        p.add_argument(
            f"--{side}-password-file",
            required=side == "target",
            help="default (source only): no AUTH — the restore's throwaway server on the pod's loopback",
        )
    p.add_argument("--marker", default=None, help="key set in the target once verified (copy mode)")
    p.add_argument("--match", action="append", default=None, help="SCAN MATCH pattern (repeatable)")
    p.add_argument("--replace", action="store_true", help="restore: RESTORE ... REPLACE the matched keys")
    p.add_argument("--tenant-prefix", default=None, help="refuse (exit 5) if a source key lies outside this prefix")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--batch-bytes", type=int, default=32 << 20)
    p.add_argument("--ttl-tolerance-ms", type=int, default=2000)
    p.add_argument("--wait-clients-seconds", type=float, default=120.0)
    p.add_argument("--connect-seconds", type=float, default=60.0)
    args = p.parse_args(argv)
    if args.mode == "copy" and not args.marker:
        p.error("copy needs --marker")
    if args.mode == "restore" and not args.marker:
        p.error("restore needs --marker")
    if args.replace and (args.mode != "restore" or not args.match or "*" in args.match):
        p.error("--replace is for restore with explicit --match patterns (not '*': that would overwrite every tenant)")
    if args.tenant_prefix is not None and args.marker and not args.marker.startswith(args.tenant_prefix):
        p.error(
            f"--marker must start with --tenant-prefix {args.tenant_prefix!r} (the tenant may touch only those keys)"
        )
    if args.mode == "reverse" and not args.match:
        p.error("reverse needs at least one --match pattern (only the app's keys go back)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    o = Options(
        mode=args.mode,
        batch=args.batch,
        batch_bytes=args.batch_bytes,
        tolerance_ms=args.ttl_tolerance_ms,
        wait_seconds=args.wait_clients_seconds,
        marker=args.marker,
        patterns=tuple(args.match or ("*",)),
        replace=args.replace,
        tenant_prefix=args.tenant_prefix.encode() if args.tenant_prefix is not None else None,
    )
    conns: dict[str, Connection] = {}
    try:
        # The target first: once its marker is there, a later run needs nothing of the source.
        for side in ("target", "source"):
            c = connect(getattr(args, f"{side}_host"), getattr(args, f"{side}_port"), args.connect_seconds)
            conns[side] = c
            if getattr(args, f"{side}_password_file"):
                c.auth(getattr(args, f"{side}_user"), getattr(args, f"{side}_password_file"))
            c.call("CLIENT", "SETNAME", CLIENT_NAME)
            if side == "target" and already_done(c, o):
                return 0
        run(conns["source"], conns["target"], o)
        return 0
    except CopyError as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        return e.code
    except (OSError, ProtocolError, RespError) as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        for c in conns.values():
            c.close()


if __name__ == "__main__":
    sys.exit(main())
