"""The streaming copy's own paths against real redis-servers (#23 part 4): where its fast checks end and what then.

The copy verifies a key by comparing the target's ``DUMP`` with the source's. Equal values can serialize to other
bytes: a hash-table set or hash lists its elements in table order, and a compressed member hides them. Those keys
must still verify (by sorted elements, or by their logical values over connections of their own), and a real
difference in them must still fail. The conflict check walks the smaller keyspace; both ways must refuse and write
nothing. A key created in the target during the copy is a conflict; keys an earlier run left are already present.
The program runs as a local process between two loopback redis-servers (tests/support/copy_servers.py).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from copy_servers import MARKER, Command, call, run_copy, servers, start_proxy

from redis_constructs.migration.copy_program import Command as Cmd
from redis_constructs.migration.copy_program import Connection, same_value, unordered_elements

pytestmark = pytest.mark.runtime

__all__ = ["servers"]  # the fixture, used by name
EXIT_CONFLICT, EXIT_DIFFERENT = 2, 4  # the program's documented exit codes
Servers = tuple[int, int, Path]


def connect(port: int) -> Connection:
    conn = Connection("127.0.0.1", port)
    conn.call("AUTH", "copy-Verify_0123456789")
    return conn


def load(port: int, commands: Sequence[Cmd]) -> None:
    conn = connect(port)
    replies = conn.pipeline(commands)
    conn.close()
    assert not [r for r in replies if isinstance(r, Exception)], replies[:3]


def dump(port: int, key: bytes) -> bytes:
    conn = connect(port)
    body = conn.call("DUMP", key)
    conn.close()
    assert isinstance(body, bytes)
    return body + b"\r\n"  # as the program holds it: the reply body with its CRLF


def reordered_set_and_hash() -> Sequence[Cmd]:
    """A set and a hash past the listpack limits (512 entries by default), so hash tables, grown and shrunk so
    that a fresh table built from their DUMP lists the elements in another order."""
    members = [b"member-%d" % i for i in range(600)]
    return [
        ["SADD", b"big:set", *members],
        ["SREM", b"big:set", *members[::3]],
        ["HSET", b"big:hash", *(x for i in range(1200) for x in (b"field-%d" % i, b"%d" % (i * 7)))],
        ["HDEL", b"big:hash", *(b"field-%d" % i for i in range(0, 1200, 4))],
    ]


def compressible_set() -> Sequence[Cmd]:
    """A hash-table set whose members RDB stores LZF-compressed (long, repetitive): no sorted-elements shortcut."""
    return [
        ["SADD", b"lzf:set", *(b"x" * 200 + b"%d" % i for i in range(300))],
        ["SREM", b"lzf:set", b"x" * 200 + b"7"],
    ]


def test_sets_and_hashes_in_another_table_order_verify_by_their_elements(servers: Servers) -> None:
    source, target, password_file = servers
    load(source, [*reordered_set_and_hash(), ["SET", b"plain", b"v"]])
    out = run_copy(source, target, password_file)
    assert out.returncode == 0, out.stdout + out.stderr
    for key in (b"big:set", b"big:hash"):
        a, b = dump(source, key), dump(target, key)
        # The case this test is for: other bytes, the same value, recognised without a logical read.
        assert a != b, f"{key!r} serialized identically; the test data no longer reorders"
        assert unordered_elements(a) is not None and same_value(a, b)
    assert call(target, "SCARD", "big:set") == b":400\r\n"
    assert call(target, "HLEN", "big:hash") == b":900\r\n"


def test_compressed_members_are_compared_by_their_logical_value(servers: Servers) -> None:
    source, target, password_file = servers
    load(source, compressible_set())
    out = run_copy(source, target, password_file)
    assert out.returncode == 0, out.stdout + out.stderr
    a, b = dump(source, b"lzf:set"), dump(target, b"lzf:set")
    assert unordered_elements(a) is None  # compressed: only the logical comparison can tell
    assert a != b, "the set serialized identically; the test data no longer reorders"
    assert call(target, "SCARD", "lzf:set") == b":299\r\n"


def test_a_difference_in_a_compressed_set_still_fails(servers: Servers) -> None:
    """The logical fallback is a verification, not a pass: a member added right after the RESTORE is found."""
    source, target, password_file = servers
    load(source, compressible_set())

    def add_member(command: Command) -> list[Command]:
        if command[:2] == [b"RESTORE", b"lzf:set"]:
            return [command, [b"SADD", b"lzf:set", b"intruder"]]
        return [command]

    out = run_copy(source, start_proxy(target, add_member), password_file)
    assert out.returncode == EXIT_DIFFERENT, out.stdout + out.stderr
    assert "lzf:set" in out.stderr and "value differs" in out.stderr
    assert call(target, "EXISTS", MARKER) == b":0\r\n"


@pytest.mark.parametrize(
    ("target_keys", "walked"),
    [(3, "target"), (200, "source")],
    ids=["target-smaller", "source-smaller"],
)
def test_a_conflict_is_found_walking_either_side_and_nothing_is_written(
    servers: Servers, target_keys: int, walked: str
) -> None:
    source, target, password_file = servers
    load(source, [["SET", f"app:{i}", f"value-{i}"] for i in range(100)])
    load(target, [["SET", f"other:{i}", "x"] for i in range(target_keys - 1)] + [["SET", "app:42", "not the same"]])
    out = run_copy(source, target, password_file)
    assert out.returncode == EXIT_CONFLICT, out.stdout + out.stderr
    assert "app:42" in out.stderr and "nothing was written" in out.stderr
    port = {"target": target, "source": source}[walked]
    assert f"walked 127.0.0.1:{port}" in out.stdout, out.stdout
    assert call(target, "DBSIZE") == b":%d\r\n" % target_keys
    assert call(target, "GET", "app:42") == b"$12\r\nnot the same\r\n"


def test_a_key_created_in_the_target_during_the_copy_is_a_conflict(servers: Servers) -> None:
    source, target, password_file = servers
    load(source, [["SET", f"app:{i}", f"value-{i}"] for i in range(100)])

    def write_first(command: Command) -> list[Command]:
        if command[:2] == [b"RESTORE", b"app:7"]:
            call(target, "SET", "app:7", "written by someone else")  # after the conflict check, before the RESTORE
        return [command]

    out = run_copy(source, start_proxy(target, write_first), password_file)
    assert out.returncode == EXIT_CONFLICT, out.stdout + out.stderr
    assert "app:7" in out.stderr and "during the copy" in out.stderr
    assert call(target, "GET", "app:7") == b"$23\r\nwritten by someone else\r\n"
    assert call(target, "EXISTS", MARKER) == b":0\r\n"


def test_a_rerun_counts_what_an_earlier_run_left_and_reports_progress(servers: Servers) -> None:
    source, target, password_file = servers
    load(source, [["SET", f"app:{i}", f"value-{i}", "PX", 3_600_000] for i in range(3000)])
    # An earlier run that stopped half-way: the first 1,500 keys are there, equal, TTLs within the tolerance.
    load(target, [["SET", f"app:{i}", f"value-{i}", "PX", 3_600_000] for i in range(1500)])
    out = run_copy(source, target, password_file, "--progress-seconds", "0", "--batch", "100")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "keys=3000 copied=1500 already_present=1500 expired=0" in out.stdout, out.stdout
    progress = re.findall(r"^copy: (\d+)/3000 keys \(\d+%\), [\d.]+ MB, \d+ keys/s, ETA \d+s$", out.stdout, re.M)
    assert progress and int(progress[-1]) >= 2900, out.stdout
    # The target holds fewer keys: the conflict check walks its 1,500.
    assert re.search(r"^conflict check: \d+/1500 keys", out.stdout, re.M), out.stdout
    assert call(target, "DBSIZE") == b":3001\r\n"  # the keys and the marker


def test_a_key_expiring_during_the_copy_is_skipped_not_restored_forever(servers: Servers) -> None:
    """A TTL of 0 or 1 ms read from the source must not become RESTORE's 0 (no expiry) in the target."""
    source, target, password_file = servers
    load(source, [["SET", f"short:{i}", "x", "PX", 1 + i % 40] for i in range(2000)])
    load(source, [["SET", f"long:{i}", "y"] for i in range(2000)])
    out: subprocess.CompletedProcess[str] = run_copy(source, target, password_file)
    assert out.returncode == 0, out.stdout + out.stderr
    call(target, "PING")
    conn = connect(target)
    left = conn.call("KEYS", "short:*")
    assert isinstance(left, list)
    persistent = [k for k in left if isinstance(k, bytes) and conn.call("PTTL", k) == -1]
    conn.close()
    assert persistent == []


def test_a_failure_stops_the_reader_at_once(servers: Servers) -> None:
    """A conflict found by the main thread ends the copy: the reader thread reads no further into the source."""
    source, target, password_file = servers
    load(source, [["SET", f"app:{i}", f"value-{i}"] for i in range(20_000)])
    first: list[bytes] = []

    def conflict_on_first(command: Command) -> list[Command]:
        if command[:1] == [b"RESTORE"] and not first:
            first.append(command[1])
            call(target, "SET", command[1].decode(), "written by someone else")
        return [command]

    out = run_copy(source, start_proxy(target, conflict_on_first), password_file)
    assert out.returncode == EXIT_CONFLICT, out.stdout + out.stderr
    dumps = re.search(rb"cmdstat_dump:calls=(\d+)", call(source, "INFO", "commandstats"))
    # A few groups ahead at most (two queued, one outstanding, one being read: ~2,000 keys), not all 20,000.
    assert dumps and int(dumps.group(1)) <= 5000, dumps


def test_a_full_restore_leaves_the_systems_own_keys_alone(servers: Servers) -> None:
    """A snapshot holds the backup report of the run before it; the live one differs. Restoring everything must not
    refuse on it (nor overwrite it): RedisRestore passes --skip-prefix redis-shared:."""
    source, target, password_file = servers
    load(
        source,
        [["SET", f"app:{i}", f"value-{i}"] for i in range(50)] + [["SET", "redis-shared:backup:last-keys", "50"]],
    )
    load(target, [["SET", "redis-shared:backup:last-keys", "51"]])
    refused = run_copy(source, target, password_file, mode="restore")
    assert refused.returncode == EXIT_CONFLICT and "redis-shared:backup:last-keys" in refused.stderr, refused.stderr
    out = run_copy(source, target, password_file, "--skip-prefix", "redis-shared:", mode="restore")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "left alone: 1 source key(s) under redis-shared:" in out.stdout
    assert "keys=50 copied=50" in out.stdout
    assert call(target, "GET", "redis-shared:backup:last-keys") == b"$2\r\n51\r\n"
    assert call(target, "GET", "app:49") == b"$8\r\nvalue-49\r\n"


def older_redis(command: Command) -> list[Command] | bytes:
    """What Redis 6.2 answers to RESTORE of a 7.x payload (src/cluster.c verifyDumpPayload: RDB version 12 > 9): the
    rollback's target is the old redis:6.2.14 (apps/beersystem/redis.yaml); every other command passes."""
    if command[:1] == [b"RESTORE"]:
        return b"-ERR DUMP payload version or checksum are wrong\r\n"
    return [command]


def test_the_reverse_copy_into_an_older_redis_writes_each_type_with_its_own_commands(servers: Servers) -> None:
    """The reverse copy (redis-shared 7.4 -> the old 6.2) cannot RESTORE: it replaces each key with DEL and the
    type's writes in a MULTI, with its TTL, and verifies it by logical value. Old values are replaced."""
    source, target, password_file = servers
    members = [b"m%d" % i for i in range(2500)]  # more than one write command's chunk
    load(
        source,
        [
            ["SET", b"beer:s", b"\x00bin\xff", "PX", 600_000],
            ["HSET", b"beer:h", b"f", b"1", b"g", b"\x00"],
            ["RPUSH", b"beer:l", b"b", b"a", b"b"],
            ["SADD", b"beer:set", *members],
            ["ZADD", b"beer:z", "1.5", b"x", "-2", b"y", "3e-7", b"z"],
            ["PFADD", b"beer:hll", b"a", b"b", b"c"],
            ["SET", b"other:tenant", b"not matched"],
        ],
    )
    load(target, [["SET", b"beer:s", b"stale"], ["RPUSH", b"beer:l", b"stale"], ["SET", b"beer:only-old", b"kept"]])
    out = run_copy(source, start_proxy(target, older_redis), password_file, "--match", "beer:*", mode="reverse")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "keys=6 copied=6" in out.stdout, out.stdout
    assert call(target, "GET", "beer:s") == b"$5\r\n\x00bin\xff\r\n"
    assert 590_000 < int(call(target, "PTTL", "beer:s")[1:-2]) <= 600_000
    assert call(target, "PTTL", "beer:h") == b":-1\r\n"
    assert call(target, "LRANGE", "beer:l", "0", "-1") == b"*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert call(target, "SCARD", "beer:set") == b":2500\r\n"
    assert call(target, "ZRANGE", "beer:z", "0", "-1", "WITHSCORES") == call(
        source, "ZRANGE", "beer:z", "0", "-1", "WITHSCORES"
    )
    assert call(target, "PFCOUNT", "beer:hll") == b":3\r\n"
    assert call(target, "GET", "beer:only-old") == b"$4\r\nkept\r\n"  # the reverse copy deletes nothing
    assert call(target, "EXISTS", "other:tenant") == b":0\r\n"


def test_a_stream_cannot_go_back_to_an_older_redis_and_says_so(servers: Servers) -> None:
    source, target, password_file = servers
    load(source, [["XADD", b"beer:events", "1-1", b"f", b"v"]])
    out = run_copy(source, start_proxy(target, older_redis), password_file, "--match", "beer:*", mode="reverse")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "beer:events" in out.stderr and "stream has no logical copy" in out.stderr
