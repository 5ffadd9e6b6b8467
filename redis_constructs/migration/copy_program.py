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
3. Conflict check before anything is written (pass 1): a key that exists in the target with another value is a
   conflict; any conflict fails with the first few names and changes nothing. A key that exists with an equal
   value (an earlier, interrupted run) counts as already copied: a rerun completes. A conflicting key is in both
   keyspaces, so the check walks the smaller one (DBSIZE) with SCAN and asks the other with one multi-key
   ``EXISTS`` per page (the source whenever every source key must be seen: ``--tenant-prefix``, a restore of
   some patterns).
4. The copy streams (pass 2): a second SCAN, page by page; ``MEMORY USAGE`` sizes each page into groups of at
   most a few MiB; ``PTTL`` + ``DUMP`` from the source, ``RESTORE key ttl payload`` (never ``REPLACE``) into the
   target. A reader thread keeps the source busy while the main thread writes into the target, and at most a
   few groups are in memory: memory does not grow with the key count. A key that expires meanwhile is skipped,
   not an error; a key read with 0 ms left is restored with 1 ms (RESTORE's 0 would mean no expiry).
5. Verify every key right after its RESTORE, in the same pipeline: the target's ``DUMP`` equals the source's
   byte for byte, or before the RDB version footer (another Redis version), or as sorted elements (a hash-table
   set or hash lists them in table order); otherwise type and a digest of the logical value on both sides (not
   the DUMP bytes: another Redis version may encode the same value differently). The remaining TTL must match
   within a tolerance. Any difference fails loudly. A key the target already holds when its RESTORE arrives
   (``BUSYKEY``) is already copied if equal, and a conflict (created during the copy) if not.
   A progress line (keys done of the total, MB, keys/s, ETA) every ``--progress-seconds``.
6. Check again that no other client connected to the source, then SET the marker and print the summary.

With ``--tenant-prefix P`` (a key-confined tenant, ``Tenant.key_prefix``) every source key must start with ``P``:
one that does not refuses the copy (exit 5) before anything is written, naming the first few; the marker must
start with ``P`` too (the tenant's keyspace is all the copy may touch).

``reverse`` (the opt-in rollback copy): redis-shared -> old Redis, only keys matching ``--match`` patterns,
``RESTORE ... REPLACE`` (the old values are stale by design), then the same verification. An older Redis (the
site's old 6.2) refuses a newer version's payloads: each such key is replaced with commands instead (MULTI, DEL,
SET/HSET/RPUSH/SADD/ZADD, PEXPIRE) and verified by its logical value; a stream refuses (exit 1).

``restore`` (a backup back into redis-shared): the source is a throwaway redis-server that loaded the snapshot
(inside the restore Job's pod, no password), the target redis-shared; only keys matching ``--match`` (default
every key). Database 0 only (refused otherwise). No waiting for clients: other tenants keep working. Conflicts
are refused as in ``copy`` (an equal value counts as already restored); ``--replace`` (which needs patterns, not
``*``) restores the matched keys with ``RESTORE ... REPLACE`` instead. The memory check counts the matched keys
only. Keys the snapshot doesn't hold are left alone: a restore deletes nothing. The marker makes a rerun exit 0.
``--skip-prefix P`` (any mode; RedisRestore passes ``redis-shared:``) leaves keys under ``P`` out of every pass:
the snapshot's copies of the running system's own keys (the backup's report, the checks' keys, markers) are
older than the live ones and would refuse a full restore as conflicts.

The source is only read (SCAN, DBSIZE, EXISTS, MEMORY USAGE, TYPE, PTTL, DUMP and read commands; CLIENT
LIST/SETNAME on the connection): nothing there is deleted or changed. The source is read at copy time: in ``copy``
mode no other client is connected to it from start to end (checked at both), so it holds then what it held when
read. Exit codes: 0 done, 2 conflict, 3 other clients connected, 4 verification found differences, 5 refused
(databases, memory), 1 anything else (connection, protocol).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import hashlib
import json
import queue
import socket
import sys
import threading
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
        self._opened = (host, port, timeout)
        self._setup: list[tuple[Arg, ...]] = []
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

    def send(self, data: bytes) -> None:
        """Encoded commands, sent now; their replies are read later (:meth:`read_int`, :meth:`read_bulk`, ...)."""
        self.wfile.write(data)
        self.wfile.flush()

    def _unexpected(self, line: bytes, expected: str) -> RespError:
        if line[:1] == b"-" and line.endswith(b"\r\n"):
            return RespError(line[1:-2].decode(errors="replace"))
        raise ProtocolError(f"{self.address}: expected {expected}, got {line[:80]!r}")

    def read_scan(self) -> tuple[bytes, list[bytes]]:
        """One SCAN reply: the next cursor and the page of keys."""
        line = self.rfile.readline()
        if line != b"*2\r\n":
            raise self._unexpected(line, "a SCAN reply")
        cursor = self.read_bulk()
        line = self.rfile.readline()
        if cursor is None or line[:1] != b"*" or not line.endswith(b"\r\n"):
            raise ProtocolError(f"{self.address}: expected a SCAN reply, got {line[:80]!r}")
        keys = []
        for _ in range(int(line[1:-2])):
            key = self.read_bulk()
            assert key is not None
            keys.append(key[:-2])
        return cursor[:-2], keys

    def read_int(self, nil: int | None = None) -> int | RespError:
        """One integer reply (the copy's hot path: no generic parsing); ``nil`` stands for a nil reply if given
        (MEMORY USAGE of a key gone meanwhile)."""
        line = self.rfile.readline()
        if line[:1] == b":" and line.endswith(b"\r\n"):
            return int(line[1:-2])
        if nil is not None and line == b"$-1\r\n":
            return nil
        return self._unexpected(line, "an integer")

    def read_status(self) -> RespError | None:
        """One ``+...`` reply (None) or an error reply (returned)."""
        line = self.rfile.readline()
        if line[:1] == b"+" and line.endswith(b"\r\n"):
            return None
        return self._unexpected(line, "a status")

    def read_bulk(self) -> bytes | None:
        """One bulk-string reply as its body *with* the trailing CRLF (so it is forwarded without a copy), or None
        for nil. An error reply raises :class:`RespError`."""
        line = self.rfile.readline()
        if line[:1] == b"$" and line.endswith(b"\r\n"):
            n = int(line[1:-2])
            if n < 0:
                return None
            body = self.rfile.read(n + 2)
            if len(body) != n + 2 or not body.endswith(b"\r\n"):
                raise ProtocolError(f"{self.address}: truncated bulk string")
            return body
        raise self._unexpected(line, "a bulk string")

    def auth(self, user: str | None, password_file: str) -> None:
        """AUTH with the password read from ``password_file`` (a trailing newline is not part of it)."""
        with open(password_file, "rb") as f:
            secret = f.read().rstrip(b"\r\n")
        command: tuple[Arg, ...] = ("AUTH", user, secret) if user else ("AUTH", secret)
        try:
            self.call(*command)
        except RespError as e:
            raise CopyError(1, f"{self.address}: authentication failed: {e}") from None
        self._setup.append(command)

    def set_name(self, name: str) -> None:
        """CLIENT SETNAME: how :func:`other_clients` tells this program's connections from others."""
        self.call("CLIENT", "SETNAME", name)
        self._setup.append(("CLIENT", "SETNAME", name))

    def clone(self) -> Connection:
        """Another connection to the same server, authenticated and named like this one."""
        host, port, timeout = self._opened
        other = Connection(host, port, timeout=timeout)
        for command in self._setup:
            other.call(*command)
        other._setup = list(self._setup)
        return other

    def close(self) -> None:
        # The socket's fd stays open until its file objects are closed too.
        for f in (self.wfile, self.rfile):
            with contextlib.suppress(OSError):
                f.close()
        self.sock.close()


def show(key: bytes) -> str:
    """A key name printable on one log line whatever bytes it holds (spaces, newlines, non-UTF-8)."""
    return ascii(key)[1:]


def first_keys(keys: Sequence[bytes], count: int | None = None) -> str:
    """The first :data:`SHOW_KEYS` of ``keys`` and how many more there are of ``count`` (default: ``len(keys)``)."""
    count = len(keys) if count is None else count
    more = f" and {count - SHOW_KEYS} more" if count > SHOW_KEYS else ""
    return ", ".join(show(k) for k in keys[:SHOW_KEYS]) + more


def pairs(
    keys: Iterable[bytes], first: Callable[[bytes], Command], second: Callable[[bytes], Command]
) -> list[Command]:
    """``first(k), second(k)`` for each key, interleaved: one pipeline, replies at even and odd indices."""
    return [c for k in keys for c in (first(k), second(k))]


def sized_groups(keys: Iterable[bytes], sizes: Iterable[int], budget: int) -> Iterator[tuple[list[bytes], int]]:
    """Groups of keys whose estimated sizes add up to at most ``budget`` (a larger key goes alone), each with
    its total."""
    group: list[bytes] = []
    total = 0
    for key, size in zip(keys, sizes, strict=True):
        if group and total + size > budget:
            yield group, total
            group, total = [], 0
        group.append(key)
        total += size
    if group:
        yield group, total


def by_size(keys: Sequence[bytes], sizes: Sequence[int], budget: int) -> Iterator[list[bytes]]:
    """The groups of :func:`sized_groups`, without their totals."""
    for group, _ in sized_groups(keys, sizes, budget):
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
    #: Keys under ``--skip-prefix`` (and the marker) the copy left alone.
    skipped: int = 0

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
    #: Seconds between progress lines. Default: 5.
    progress_seconds: float = 5.0
    #: Keys under these prefixes are neither checked nor copied (the restore's ``redis-shared:``: the running
    #: system's own keys). Default: none.
    skip_prefixes: tuple[bytes, ...] = ()

    @property
    def marker_key(self) -> bytes | None:
        """The marker as a key name: never copied, verified or counted."""
        return self.marker.encode() if self.marker else None

    def wanted(self, keys: Sequence[bytes]) -> list[bytes]:
        """``keys`` without the marker and the keys under :attr:`skip_prefixes`."""
        marker, skip = self.marker_key, self.skip_prefixes
        return [k for k in keys if k != marker and not (skip and k.startswith(skip))]


def key_arg(key: bytes) -> bytes:
    """``key`` as one RESP2 bulk-string argument: encoded once, reused in every command that names it."""
    return b"$%d\r\n%b\r\n" % (len(key), key)


# Commands as RESP2 prefixes: the key argument (and for RESTORE the TTL and the payload) follow.
_EXISTS_ONE = b"*2\r\n$6\r\nEXISTS\r\n"
_MEMORY_USAGE = b"*3\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n"
_PTTL = b"*2\r\n$4\r\nPTTL\r\n"
_DUMP = b"*2\r\n$4\r\nDUMP\r\n"
_RESTORE = b"*4\r\n$7\r\nRESTORE\r\n"
_RESTORE_REPLACE = b"*5\r\n$7\r\nRESTORE\r\n"
_REPLACE = b"$7\r\nREPLACE\r\n"
_NO_TTL = b"$1\r\n0\r\n"
#: A DUMP payload ends with the RDB version (2 bytes) and a CRC64 (8 bytes); the reply body adds CRLF. Two Redis
#: versions serialize an equal value to equal bytes before that footer unless its encoding changed
#: (src/cluster.c createDumpPayload).
_FOOTER = 10 + 2


#: RDB object types whose DUMP lists unordered elements in hash-table order (src/rdb.h): equal sets and hashes may
#: serialize their elements in another order after a RESTORE.
_RDB_SET, _RDB_HASH = 2, 4


def _rdb_length(data: bytes, at: int) -> tuple[int, int, bool]:
    """An RDB length at ``at``: (value, next offset, whether it is a special string encoding) (src/rdb.c
    rdbLoadLenByRef)."""
    first = data[at]
    kind = first >> 6
    if kind == 0:
        return first & 0x3F, at + 1, False
    if kind == 1:
        return ((first & 0x3F) << 8) | data[at + 1], at + 2, False
    if kind == 3:
        return first & 0x3F, at + 1, True
    if first == 0x80:
        return int.from_bytes(data[at + 1 : at + 5], "big"), at + 5, False
    if first == 0x81:
        return int.from_bytes(data[at + 1 : at + 9], "big"), at + 9, False
    raise ValueError(first)


def _rdb_string(data: bytes, at: int) -> tuple[bytes, int]:
    """An RDB string at ``at`` (plain or integer-encoded; an LZF-compressed one raises ValueError)."""
    n, at, special = _rdb_length(data, at)
    if not special:
        return data[at : at + n], at + n
    width = {0: 1, 1: 2, 2: 4}.get(n)
    if width is None:
        raise ValueError("lzf")
    return b"%d" % int.from_bytes(data[at : at + width], "little", signed=True), at + width


def unordered_elements(body: bytes) -> list[bytes] | None:
    """The sorted elements (set) or field-value pairs (hash) of a DUMP reply body of a hash-table encoded set or
    hash; None for any other type or encoding (the caller then compares logical values over the wire)."""
    try:
        if body[0] not in (_RDB_SET, _RDB_HASH):
            return None
        count, at, special = _rdb_length(body, 1)
        if special:
            return None
        items: list[bytes] = []
        for _ in range(count * (2 if body[0] == _RDB_HASH else 1)):
            item, at = _rdb_string(body, at)
            items.append(item)
        if at != len(body) - _FOOTER:
            return None
    except (ValueError, IndexError):
        return None
    if body[0] == _RDB_HASH:
        pairs = sorted(zip(items[::2], items[1::2], strict=True))
        return [x for p in pairs for x in p]
    return sorted(items)


def scan_pages(conn: Connection, patterns: Sequence[str], count: int) -> Iterator[list[bytes]]:
    """SCAN pages of keys matching each of ``patterns`` in turn: the copy's unit of work, so its memory is one page
    however many keys there are. SCAN returns every key present throughout at least once; a key may come twice
    (the source's table was resized meanwhile), or under two patterns (the copy makes a second one a no-op)."""
    for pattern in patterns:
        cursor = b"0"
        while True:
            conn.send(b"".join(encode(["SCAN", cursor, "MATCH", pattern, "COUNT", count])))
            cursor, page = conn.read_scan()
            if page:
                yield page
            if cursor == b"0":
                break


class Progress:
    """A line every ``interval`` seconds: keys done of the total (estimated by DBSIZE, then counted by the
    conflict check), megabytes, rate and ETA."""

    def __init__(self, phase: str, total: int, interval: float) -> None:
        self.phase, self.total, self.interval = phase, total, interval
        self.start = self.last = time.monotonic()

    def tick(self, done: int, nbytes: int = 0) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        total = max(self.total, done)
        eta = f"{(total - done) / rate:.0f}s" if rate else "?"
        size = f", {nbytes / 1e6:.1f} MB" if nbytes else ""
        print(
            f"{self.phase}: {done}/{total} keys ({100 * done // max(total, 1)}%){size}, {rate:.0f} keys/s, ETA {eta}",
            flush=True,
        )


class Bounded:
    """The first :data:`SHOW_KEYS` of many (keys, or keys with a reason) and how many there were: what a failure
    message names, in memory that does not grow with the key count."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[bytes] = []

    def add(self, item: bytes) -> None:
        self.count += 1
        if len(self.first) < SHOW_KEYS:
            self.first.append(item)

    def __str__(self) -> str:
        return first_keys(self.first, self.count)


@dataclasses.dataclass(slots=True)
class Checked:
    """What the conflict check found: the source's key count (counted if it walked the source, else DBSIZE), the
    keys outside the tenant's prefix, the keys in conflict, how many are already present with an equal value, and
    the incoming memory (restore mode)."""

    keys: int
    walked: str = ""
    outside: Bounded = dataclasses.field(default_factory=Bounded)
    conflicts: Bounded = dataclasses.field(default_factory=Bounded)
    already_present: int = 0
    incoming_bytes: int = 0


def conflict_check(src: Connection, dst: Connection, o: Options, estimate: int) -> Checked:
    """Pass 1, before anything is written: keys outside ``--tenant-prefix``, the incoming memory (restore mode),
    and keys that exist in the target with another value (unless REPLACE).

    A key in conflict is in both keyspaces, so the check walks the smaller one (DBSIZE) and asks the other side:
    a copy into an empty redis-shared walks nothing. It walks the source whenever every source key must be seen:
    the tenant-prefix rule, and a restore of some patterns (their memory). One multi-key ``EXISTS`` per page;
    only a page with a hit is looked at key by key."""
    c = Checked(keys=estimate)
    prefix = o.tenant_prefix if o.mode == "copy" else None
    conflicts = not (o.mode == "reverse" or o.replace)
    sized = o.mode == "restore" and o.patterns != ("*",)
    if o.mode == "restore" and not sized:
        c.incoming_bytes = int(info_field(src, "memory", "used_memory_dataset") or 0)
    if prefix is None and not sized:
        if not conflicts:
            return c
        target_keys = dst.call("DBSIZE")
        assert isinstance(target_keys, int)
        if target_keys < estimate:
            c.walked = f"{dst.address} ({target_keys} keys, fewer than the source's {estimate})"
            walk(dst, src, o, c, estimate=target_keys, walked_is_source=False)
            return c
    c.keys = 0
    c.walked = src.address
    walk(src, dst, o, c, estimate=estimate, walked_is_source=True, prefix=prefix, sized=sized, conflicts=conflicts)
    return c


def walk(
    walked: Connection,
    other: Connection,
    o: Options,
    c: Checked,
    *,
    estimate: int,
    walked_is_source: bool,
    prefix: bytes | None = None,
    sized: bool = False,
    conflicts: bool = True,
) -> None:
    """SCAN ``walked`` for ``o.patterns`` and check each page against ``other`` (see :func:`conflict_check`)."""
    progress = Progress("conflict check", estimate, o.progress_seconds)
    done = 0
    for page in scan_pages(walked, o.patterns, o.batch):
        keys = o.wanted(page)
        done += len(keys)
        if walked_is_source:
            c.keys += len(keys)
        if prefix is not None:
            for k in keys:
                if not k.startswith(prefix):
                    c.outside.add(k)
        if sized:
            walked.send(b"".join([_MEMORY_USAGE + key_arg(k) for k in keys]))
            c.incoming_bytes += sum(n for n in (walked.read_int() for _ in keys) if isinstance(n, int))
        if conflicts and keys and other.call("EXISTS", *keys) != 0:
            found = other.pipeline([["EXISTS", k] for k in keys])
            both = [k for k, e in zip(keys, found, strict=True) if e == 1]
            src, dst = (walked, other) if walked_is_source else (other, walked)
            for k, a, b in zip(both, states(src, both), states(dst, both), strict=True):
                if a.kind == b"none" or compare(a, b, o.tolerance_ms) is None:
                    c.already_present += 1
                else:
                    c.conflicts.add(k)
        progress.tick(done)


@dataclasses.dataclass(slots=True)
class Sent:
    """One key read from the source and sent to the target (``RESTORE``, then ``DUMP`` and ``PTTL`` to read it
    back): what the target's replies are compared with."""

    #: The key as a RESP argument (:func:`key_arg`).
    arg: bytes
    pttl: int
    #: The source's DUMP reply body: the payload and CRLF (forwarded to RESTORE as it came).
    body: bytes

    @property
    def key(self) -> bytes:
        return self.arg[self.arg.index(b"\r\n") + 2 : -2]


@dataclasses.dataclass(slots=True)
class Group:
    """Keys read from the source together (None: expired meanwhile), and their names as RESP arguments."""

    sent: list[Sent | None]
    args: list[bytes]


#: Groups read from the source that may wait for the target: the copy's memory is about this many times
#: :attr:`Copier.budget`, whatever the key count.
QUEUED_GROUPS = 2


#: How a Redis refuses a DUMP payload of a newer RDB version than its own (src/cluster.c verifyDumpPayload, 6.2 and
#: 7.x): what an older target answers to RESTORE.
OLDER_TARGET = "ERR DUMP payload version or checksum are wrong"
#: Elements per write command when a value is written logically (HSET/RPUSH/SADD/ZADD arguments).
LOGICAL_CHUNK = 1000


def logical_writes(kind: bytes, key: bytes, value: Reply) -> list[Command]:
    """The commands that recreate ``key``'s value (the reply of its :func:`value_commands` read) in an empty key:
    SET for a string (a HyperLogLog is one), HSET, RPUSH, SADD or ZADD (score first) in chunks."""
    if kind == b"string":
        assert isinstance(value, bytes)
        return [["SET", key, value]]
    assert isinstance(value, list)
    items = cast("list[bytes]", value)
    if kind == b"zset":
        items = [x for member, score in zip(items[::2], items[1::2], strict=True) for x in (score, member)]
    verb, width = {b"hash": ("HSET", 2), b"list": ("RPUSH", 1), b"set": ("SADD", 1), b"zset": ("ZADD", 2)}[kind]
    step = LOGICAL_CHUNK * width
    return [[verb, key, *items[i : i + step]] for i in range(0, len(items), step)]


def ttl_difference(src: int, dst: int | RespError, tolerance_ms: int) -> str | None:
    """Why the target's PTTL ``dst`` is not the source's ``src`` (-1: none) within the tolerance; None if it is."""
    if not isinstance(dst, int):
        return f"PTTL: {dst}"
    if (src < 0 or dst < 0) and src != dst:
        return f"ttl {src} ms != {dst} ms"
    if abs(src - dst) > tolerance_ms:
        return f"ttl {src} ms vs {dst} ms (tolerance {tolerance_ms} ms)"
    return None


def same_value(a: bytes, b: bytes) -> bool:
    """Whether two DUMP reply bodies hold the same value although their bytes differ: equal before the footer
    (another RDB version), or a hash-table set or hash with its elements in another order."""
    if len(a) == len(b) and memoryview(a)[:-_FOOTER] == memoryview(b)[:-_FOOTER]:
        return True
    elements = unordered_elements(a)
    return elements is not None and elements == unordered_elements(b)


class ReaderStoppedError(Exception):
    """The main thread stopped the copy: the reader thread ends without reading further."""


class SourceReader:
    """Reads the source for the copy, keeping it busy: while the program parses one reply the source already works
    on the next request. Requests in flight, in order: SCAN pages (the next one asked as soon as the cursor is
    known, while at most two pages of keys wait), MEMORY USAGE of each page's keys, then PTTL + DUMP groups of at
    most ``budget`` estimated bytes, with at most ``budget`` bytes of DUMP replies outstanding (a larger key goes
    alone): the source's output buffer and this program's memory stay bounded whatever the key count."""

    def __init__(self, src: Connection, o: Options, budget: int, put: Callable[[Group], None], s: Summary) -> None:
        self.src, self.o, self.budget, self.put, self.s = src, o, budget, put, s
        self.expect: collections.deque[tuple[str, list[bytes], int]] = collections.deque()
        #: Groups of keys (their RESP arguments) sized but not requested yet, with their estimated bytes.
        self.ready: collections.deque[tuple[list[bytes], int]] = collections.deque()
        self.waiting_keys = 0
        self.outstanding = 0
        self.patterns = list(o.patterns)
        self.cursor: bytes | None = b"0"
        self.scanning = False

    def run(self) -> None:
        self.pump()
        while self.expect:
            kind, args, size = self.expect.popleft()
            if kind == "scan":
                self.scanning = False
                self.scanned()
            elif kind == "size":
                self.sized(args)
            else:
                self.outstanding -= size
                self.waiting_keys -= len(args)
                self.put(self.dumps(args))
            self.pump()

    def pump(self) -> None:
        """Send every request the bounds allow now."""
        if not self.scanning and self.cursor is not None and self.waiting_keys < 2 * self.o.batch:
            self.src.send(b"".join(encode(["SCAN", self.cursor, "MATCH", self.patterns[0], "COUNT", self.o.batch])))
            self.expect.append(("scan", [], 0))
            self.scanning = True
        while self.ready and (self.outstanding == 0 or self.outstanding + self.ready[0][1] <= self.budget):
            args, size = self.ready.popleft()
            self.src.send(b"".join([b for a in args for b in (_PTTL + a, _DUMP + a)]))
            self.expect.append(("dump", args, size))
            self.outstanding += size

    def scanned(self) -> None:
        cursor, page = self.src.read_scan()
        if cursor != b"0":
            self.cursor = cursor
        elif len(self.patterns) > 1:
            self.patterns.pop(0)
            self.cursor = b"0"
        else:
            self.cursor = None
        keys = self.o.wanted(page)
        self.s.skipped += len(page) - len(keys)
        args = [key_arg(k) for k in keys]
        if args:
            self.src.send(b"".join([_MEMORY_USAGE + a for a in args]))
            self.expect.append(("size", args, 0))
            self.waiting_keys += len(args)

    def sized(self, args: list[bytes]) -> None:
        """The page's MEMORY USAGE replies: its keys as groups of at most ``budget`` bytes, ready to request."""
        self.ready.extend(sized_groups(args, (self.size() for _ in args), self.budget))

    def size(self) -> int:
        size = self.src.read_int(nil=0)
        if isinstance(size, RespError):
            raise size
        return size

    def dumps(self, args: list[bytes]) -> Group:
        """The PTTL and DUMP replies of one group (None for a key that expired meanwhile)."""
        read_int, read_bulk = self.src.read_int, self.src.read_bulk
        sent: list[Sent | None] = []
        for arg in args:
            pttl = read_int()
            body = read_bulk()
            if isinstance(pttl, RespError):
                raise pttl
            if pttl == -2 or body is None:
                self.s.expired += 1
                sent.append(None)
            else:
                sent.append(Sent(arg, pttl, body))
        return Group(sent, args)


class Copier:
    """Pass 2: the copy streams page by page. A reader thread takes the source's pages (SCAN → MEMORY USAGE →
    PTTL + DUMP in groups of at most :attr:`budget` bytes) while the main thread writes the groups before it into
    the target (RESTORE, read back with DUMP and PTTL in the same pipeline): both servers and the program work at
    once. At most :data:`QUEUED_GROUPS` groups wait between the two, so memory does not grow with the key count.

    Each key is verified right after its RESTORE: the target's DUMP must equal the source's byte for byte (or
    before the version footer, when the versions differ, or as sorted elements for a hash-table set or hash), its
    TTL within the tolerance. A key whose bytes differ otherwise (another encoding of an equal value, e.g. an older
    RDB version's ziplist) is compared by its logical value (:func:`states`, on connections of its own). A key the
    target already holds (``BUSYKEY``: an earlier, interrupted run, or SCAN returning a key twice) counts as
    already present if equal, and is a conflict otherwise (it was created during the copy: the conflict check
    found none)."""

    def __init__(self, src: Connection, dst: Connection, o: Options, s: Summary, total: int) -> None:
        self.src, self.dst, self.o, self.s = src, dst, o, s
        self.replace = o.mode == "reverse" or o.replace
        # Two groups' read-back replies may wait in the target's output buffer: together under the budget.
        self.budget = min(o.batch_bytes, READ_BUDGET_BYTES) // 2
        self.queue: queue.Queue[Group | BaseException | None] = queue.Queue(QUEUED_GROUPS)
        self.stop = threading.Event()
        self.verifiers: tuple[Connection, Connection] | None = None
        self.differences = Bounded()
        self.reasons: list[str] = []
        self.progress = Progress("copy", total, o.progress_seconds)

    def run(self) -> None:
        reader = threading.Thread(target=self.read_source, name="source", daemon=True)
        reader.start()
        try:
            pending: Group | None = None
            while (group := self.next_group()) is not None:
                self.restore(group)
                if pending is not None:
                    self.finish(pending)
                pending = group
                self.progress.tick(self.s.copied + self.s.already_present + self.s.expired, self.s.bytes)
            if pending is not None:
                self.finish(pending)
        finally:
            self.stop.set()
            # The reader stops at its next group; a source that stopped answering is given up on (daemon thread).
            reader.join(timeout=10)
            if self.verifiers is not None:
                for c in self.verifiers:
                    c.close()
        self.s.differences = self.differences.count
        if self.differences.count:
            shown = "; ".join(self.reasons)
            raise CopyError(EXIT_DIFFERENT, f"verification found {self.differences.count} difference(s): {shown}")

    def next_group(self) -> Group | None:
        item = self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def read_source(self) -> None:
        """The reader thread: every group of the source's keys into the queue, then None (or the error)."""
        try:
            SourceReader(self.src, self.o, self.budget, self.put, self.s).run()
            self.put(None)
        except ReaderStoppedError:
            return
        except BaseException as e:
            with contextlib.suppress(ReaderStoppedError):
                self.put(e)

    def put(self, item: Group | BaseException | None) -> None:
        """Hand ``item`` to the main thread; :class:`ReaderStoppedError` once the main thread has stopped (an error there):
        the reader then reads no further."""
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise ReaderStoppedError

    def restore(self, group: Group) -> None:
        """RESTORE each key read (never REPLACE unless told), then DUMP and PTTL it back, in one pipeline."""
        head = _RESTORE_REPLACE if self.replace else _RESTORE
        tail = _REPLACE if self.replace else b""
        parts: list[bytes] = []
        for item, arg in zip(group.sent, group.args, strict=True):
            if item is None:
                continue
            # PTTL -1: no TTL (RESTORE's 0). A TTL of 0 ms still expires: 1, never 0.
            ttl = _NO_TTL if item.pttl < 0 else b"$%d\r\n%d\r\n" % (len(b"%d" % max(item.pttl, 1)), max(item.pttl, 1))
            parts += (head, arg, ttl, b"$%d\r\n" % (len(item.body) - 2), item.body, tail, _DUMP + arg, _PTTL + arg)
        if parts:
            self.dst.send(b"".join(parts))

    def finish(self, group: Group) -> None:
        """Read the target's replies for a group sent and verify each key against what was read from the source."""
        slow: list[tuple[bytes, bool]] = []
        rewrite: list[bytes] = []
        for item in group.sent:
            if item is None:
                continue
            restored = self.dst.read_status()
            body = self.dst.read_bulk()
            pttl = self.dst.read_int()
            existed = False
            if isinstance(restored, RespError):
                if self.replace and str(restored).startswith(OLDER_TARGET):
                    rewrite.append(item.key)  # an older Redis: written logically below, then compared logically
                    continue
                if not str(restored).startswith("BUSYKEY") or self.replace:
                    raise CopyError(1, f"RESTORE {show(item.key)} into {self.dst.address}: {restored}")
                existed = True
            else:
                self.s.copied += 1
                self.s.bytes += len(item.body) - 2
            why = self.why_different(item, body, pttl)
            if why is None:
                if existed:
                    self.s.already_present += 1
            elif why == "":
                slow.append((item.key, existed))
            elif existed:
                raise CopyError(
                    EXIT_CONFLICT, f"key {show(item.key)} was created in {self.dst.address} during the copy"
                )
            else:
                self.differ(item.key, why)
        if rewrite:
            slow += [(key, False) for key in self.write_logically(rewrite)]
        if slow:
            self.compare_logically(slow)

    def write_logically(self, keys: Sequence[bytes]) -> list[bytes]:
        """Replace ``keys`` in the target with commands instead of RESTORE (the target refused the payloads: an
        older Redis, e.g. the rollback copy into a 6.2 old Redis, whose RESTORE takes no newer RDB version): per
        key one MULTI of DEL, the type's own writes and PEXPIRE, over connections of their own. The keys written
        (one gone from the source meanwhile counts as expired); a stream refuses (its consumer groups and pending
        entries have no faithful logical copy)."""
        if self.verifiers is None:
            self.verifiers = (self.src.clone(), self.dst.clone())
        src, dst = self.verifiers
        reads: list[Command] = []
        for k in keys:
            reads += [["TYPE", k], ["PTTL", k]]
        head = src.pipeline(reads)
        present: list[tuple[bytes, bytes, int]] = []
        for key, kind, pttl in zip(keys, head[::2], head[1::2], strict=True):
            assert isinstance(kind, bytes) and isinstance(pttl, int)
            if kind == b"none" or pttl == -2:
                self.s.expired += 1
            elif kind == b"stream":
                raise CopyError(
                    1,
                    f"key {show(key)}: {self.dst.address} refuses this Redis's DUMP payloads (an older version) and a "
                    "stream has no logical copy here (its consumer groups and pending entries); copy it by hand",
                )
            else:
                present.append((key, kind, pttl))
        # One read of every value (a single command per type but streams), then one pipeline of the writes.
        values = src.pipeline([value_commands(kind, key)[0] for key, kind, _ in present])
        commands: list[Command] = []
        written: list[bytes] = []
        for (key, kind, pttl), value in zip(present, values, strict=True):
            if value is None or value == []:  # expired between the two reads
                self.s.expired += 1
                continue
            expire: list[Command] = [["PEXPIRE", key, pttl]] if pttl > 0 else []
            commands += [["MULTI"], ["DEL", key], *logical_writes(kind, key, value), *expire, ["EXEC"]]
            written.append(key)
        for reply in dst.pipeline(commands):
            if isinstance(reply, RespError) or (
                isinstance(reply, list) and any(isinstance(r, RespError) for r in reply)
            ):
                raise CopyError(1, f"writing into {self.dst.address} without RESTORE: {reply}")
        self.s.copied += len(written)
        return written

    def why_different(self, item: Sent, body: bytes | None, pttl: int | RespError) -> str | None:
        """None if the target's DUMP and PTTL show a faithful copy of ``item``; a reason if not; ``""`` if the
        bytes differ and only the logical values can tell."""
        tolerance = self.o.tolerance_ms
        if body is None or pttl == -2:
            return None if 0 <= item.pttl <= tolerance else "missing"
        why = ttl_difference(item.pttl, pttl, tolerance)
        if why is not None:
            return why
        if body == item.body or same_value(body, item.body):
            return None
        return ""

    def compare_logically(self, slow: Sequence[tuple[bytes, bool]]) -> None:
        """Keys whose DUMP bytes differed (and whether the target held them before), compared by type, logical
        value and TTL over connections of their own (the copy's are mid-pipeline)."""
        if self.verifiers is None:
            self.verifiers = (self.src.clone(), self.dst.clone())
        src, dst = self.verifiers
        keys = [k for k, _ in slow]
        for (key, existed), a, b in zip(slow, states(src, keys), states(dst, keys), strict=True):
            why = compare(a, b, self.o.tolerance_ms)
            if why is None:
                self.s.already_present += existed
            elif existed:
                raise CopyError(EXIT_CONFLICT, f"key {show(key)} was created in {self.dst.address} during the copy")
            else:
                self.differ(key, why)

    def differ(self, key: bytes, why: str) -> None:
        if self.differences.count < SHOW_KEYS:
            self.reasons.append(f"{show(key)}: {why}")
        self.differences.add(key)


def check_memory(src: Connection, dst: Connection, incoming: int | None = None) -> None:
    """Refuse a copy that would push the target past its maxmemory (its eviction would hit other tenants).

    ``incoming``: the bytes the copy adds (the matched keys' MEMORY USAGE on the source); default: the source's
    whole dataset (INFO)."""
    maxmemory = int(info_field(dst, "memory", "maxmemory") or 0)
    if maxmemory == 0:
        return
    used = int(info_field(dst, "memory", "used_memory") or 0)
    if incoming is None:
        incoming = int(info_field(src, "memory", "used_memory_dataset") or 0)
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
    estimate = src.call("DBSIZE")
    assert isinstance(estimate, int)
    c = conflict_check(src, dst, o, estimate)
    walked = f"; walked {c.walked} in {time.monotonic() - start:.1f}s" if c.walked else ""
    print(f"source {src.address}: {c.keys} keys{walked}", flush=True)
    if c.outside.count:
        raise CopyError(
            EXIT_REFUSED,
            f"{c.outside.count} key(s) of {src.address} lie outside the tenant's prefix "
            f"{(o.tenant_prefix or b'').decode(errors='replace')!r}: {c.outside}; nothing was written "
            "(rename them in the old Redis, or declare the tenant without key_prefix)",
        )
    if o.mode == "restore":
        check_memory(src, dst, c.incoming_bytes)
    if c.conflicts.count:
        raise CopyError(
            EXIT_CONFLICT,
            f"{c.conflicts.count} key(s) already exist in {dst.address} with other values: {c.conflicts}; "
            "nothing was written",
        )
    if o.mode == "reverse" or o.replace:
        print(f"replacing: {c.keys} keys matching {', '.join(o.patterns)}", flush=True)
    else:
        print(
            f"conflict check: none; {c.keys - c.already_present} to copy, {c.already_present} already present",
            flush=True,
        )
    Copier(src, dst, o, s, c.keys).run()
    s.keys = s.copied + s.already_present + s.expired
    print(f"copied {s.copied} keys ({s.bytes} bytes) in {time.monotonic() - start:.1f}s; {s.expired} expired meanwhile")
    if o.skip_prefixes:
        shown = ", ".join(p.decode(errors="replace") for p in o.skip_prefixes)
        print(f"left alone: {s.skipped} source key(s) under {shown} (and the marker)", flush=True)
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
    p.add_argument(
        "--skip-prefix",
        action="append",
        default=None,
        help="neither check nor copy keys under this prefix (repeatable)",
    )
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--batch-bytes", type=int, default=32 << 20)
    p.add_argument("--ttl-tolerance-ms", type=int, default=2000)
    p.add_argument("--wait-clients-seconds", type=float, default=120.0)
    p.add_argument("--connect-seconds", type=float, default=60.0)
    p.add_argument("--progress-seconds", type=float, default=5.0, help="seconds between progress lines")
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
        progress_seconds=args.progress_seconds,
        skip_prefixes=tuple(p.encode() for p in args.skip_prefix or ()),
    )
    conns: dict[str, Connection] = {}
    try:
        # The target first: once its marker is there, a later run needs nothing of the source.
        for side in ("target", "source"):
            c = connect(getattr(args, f"{side}_host"), getattr(args, f"{side}_port"), args.connect_seconds)
            conns[side] = c
            if getattr(args, f"{side}_password_file"):
                c.auth(getattr(args, f"{side}_user"), getattr(args, f"{side}_password_file"))
            c.set_name(CLIENT_NAME)
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
