"""The copy's verification against real redis-servers whose target lies: every run here must fail with exit 4.

The other copy runtime tests only run copies that come out right, so a verification that ignored TTLs (or values,
or missing keys) passed them all (#23 part 6). Here the copy program (the rendered file, run as a local process)
copies between two loopback redis-servers; its target is reached through a small RESP proxy that breaks one rule
while the program writes:

* every ``RESTORE``'s TTL becomes 0: the values match, the TTLs do not;
* one key's ``RESTORE`` is answered ``+OK`` and never reaches Redis: the key is missing;
* one key gets an ``APPEND`` right after its ``RESTORE``: the TTLs match, the value does not.

The proxy changes only the target, never the program: whatever the program's batching or read-back, its
verification must see what the target really holds, name the key, and set no marker.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from copy_servers import MARKER, Command, call, run_copy, servers, start_proxy

pytestmark = pytest.mark.runtime

__all__ = ["servers"]  # the fixture, used by name
EXIT_DIFFERENT = 4  # the program's documented exit code for differences found by the verification


def load_source(port: int) -> None:
    for i in range(50):
        call(port, "SET", f"plain:{i}", f"value-{i}")
    call(port, "SET", "expiring", "2", "PX", 600_000)
    call(port, "HSET", "hash", "f", "1", "g", "2")


def is_restore_of(command: Command, key: bytes) -> bool:
    return len(command) > 1 and command[0].upper() == b"RESTORE" and command[1] == key


# -- the faults ----------------------------------------------------------------------------------------------
def drop_ttls(command: Command) -> list[Command]:
    if command and command[0].upper() == b"RESTORE":
        command = [*command[:2], b"0", *command[3:]]
    return [command]


def lose_key(command: Command) -> list[Command] | bytes:
    return b"+OK\r\n" if is_restore_of(command, b"plain:7") else [command]


def change_value(command: Command) -> list[Command]:
    if is_restore_of(command, b"plain:7"):
        return [command, [b"APPEND", b"plain:7", b"!"]]
    return [command]


def assert_fails_naming(out: subprocess.CompletedProcess[str], key: str, target: int, *, also: str = "") -> None:
    assert out.returncode == EXIT_DIFFERENT, out.stdout + out.stderr
    assert key in out.stderr and also in out.stderr, out.stderr
    assert "plain:1'" not in out.stderr  # only the broken key is named
    assert call(target, "EXISTS", MARKER) == b":0\r\n"  # no marker: the next sync runs the copy again


def test_a_target_that_drops_ttls_fails_verification(servers: tuple[int, int, Path]) -> None:
    source, target, password_file = servers
    load_source(source)
    out = run_copy(source, start_proxy(target, drop_ttls), password_file)
    assert call(target, "GET", "expiring") == b"$1\r\n2\r\n"  # the value arrived: only its TTL is wrong
    assert call(target, "PTTL", "expiring") == b":-1\r\n"
    assert_fails_naming(out, "expiring", target, also="ttl")


def test_a_target_that_loses_a_key_fails_verification(servers: tuple[int, int, Path]) -> None:
    source, target, password_file = servers
    load_source(source)
    out = run_copy(source, start_proxy(target, lose_key), password_file)
    assert call(target, "EXISTS", "plain:7") == b":0\r\n"
    assert_fails_naming(out, "plain:7", target)


def test_a_target_that_changes_a_value_fails_verification(servers: tuple[int, int, Path]) -> None:
    source, target, password_file = servers
    load_source(source)
    out = run_copy(source, start_proxy(target, change_value), password_file)
    assert call(target, "GET", "plain:7") == b"$8\r\nvalue-7!\r\n"
    assert_fails_naming(out, "plain:7", target)


def test_the_same_copy_through_an_honest_proxy_passes(servers: tuple[int, int, Path]) -> None:
    """The control: the proxy itself loses nothing, so the failures above are the faults'."""
    source, target, password_file = servers
    load_source(source)
    out = run_copy(source, start_proxy(target, lambda c: [c]), password_file)
    assert out.returncode == 0, out.stdout + out.stderr
    assert call(target, "EXISTS", MARKER) == b":1\r\n"
    assert 590_000 < int(call(target, "PTTL", "expiring")[1:-2]) <= 600_000
