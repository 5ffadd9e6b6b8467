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

import contextlib
import io
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from redis_constructs.migration import copy_program

pytestmark = pytest.mark.runtime

PROGRAM = Path(copy_program.__file__)
PASSWORD = "copy-Verify_0123456789"
MARKER = "copy:done"
EXIT_DIFFERENT = 4  # the program's documented exit code for differences found by the verification

Command = list[bytes]


# -- a minimal RESP2 reader/writer of the test's own (not the program's, which is what is under test) ----------
def read_value(f: io.BufferedReader) -> object:
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise EOFError
    kind, body = line[:1], line[1:-2]
    if kind in (b"+", b"-", b":"):
        return line  # kept raw: forwarded as it came
    if kind == b"$":
        n = int(body)
        return line if n < 0 else line + f.read(n + 2)
    if kind == b"*":
        n = int(body)
        return [read_value(f) for _ in range(max(n, 0))] if n >= 0 else line
    raise EOFError


def read_command(f: io.BufferedReader) -> Command:
    """One client command as a list of its arguments (clients always send arrays of bulk strings)."""
    line = f.readline()
    if not line.startswith(b"*"):
        raise EOFError
    args = []
    for _ in range(int(line[1:-2])):
        size = f.readline()
        args.append(f.read(int(size[1:-2]) + 2)[:-2])
    return args


def encode(args: Command) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def raw(reply: object) -> bytes:
    if isinstance(reply, list):
        return b"*%d\r\n" % len(reply) + b"".join(raw(r) for r in reply)
    assert isinstance(reply, bytes)
    return reply


#: What a fault does with one command on its way to the target: the commands to send instead (their replies are
#: read; the first one's goes back to the client), or ``b"+OK\r\n"`` to answer without sending anything.
Fault = Callable[[Command], list[Command] | bytes]


def start_proxy(upstream: int, fault: Fault) -> int:
    """A RESP proxy on loopback in front of ``upstream`` that passes every command through ``fault``."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", upstream)) as up:
            cf, uf = client.makefile("rb"), up.makefile("rb")
            while True:
                try:
                    command = read_command(cf)
                except (EOFError, OSError, ValueError):
                    return
                instead = fault(command)
                if isinstance(instead, bytes):
                    client.sendall(instead)
                    continue
                up.sendall(b"".join(encode(c) for c in instead))
                replies = [read_value(uf) for _ in instead]
                client.sendall(raw(replies[0]))

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return int(listener.getsockname()[1])


# -- two redis-servers ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(port: int, *args: str | int) -> bytes:
    """One command on a fresh authenticated connection; the raw reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        s.sendall(encode([b"AUTH", PASSWORD.encode()]) + encode([str(a).encode() for a in args]))
        assert read_value(f) == b"+OK\r\n"
        return raw(read_value(f))


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    """A source and a target redis-server on loopback (no persistence), and the password file both use."""
    ports = (free_port(), free_port())
    settings = ["--bind", "127.0.0.1", "--requirepass", PASSWORD, "--save", "", "--appendonly", "no"]
    procs = [
        subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(p),
                *settings,
                "--dir",
                str(tmp_path),
                "--logfile",
                str(tmp_path / f"{p}.log"),
            ]
        )
        for p in ports
    ]
    try:
        deadline = time.monotonic() + 10
        for p in ports:
            while True:
                with contextlib.suppress(OSError, AssertionError, EOFError):
                    if call(p, "PING") == b"+PONG\r\n":
                        break
                assert time.monotonic() < deadline, f"redis-server on {p} did not start"
                time.sleep(0.05)
        password_file = tmp_path / "password"
        password_file.write_text(PASSWORD + "\n")
        yield ports[0], ports[1], password_file
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def run_copy(source: int, target: int, password_file: Path) -> subprocess.CompletedProcess[str]:
    side = ["--source-host", "127.0.0.1", "--source-port", str(source), "--source-password-file", str(password_file)]
    side += ["--target-host", "127.0.0.1", "--target-port", str(target), "--target-password-file", str(password_file)]
    return subprocess.run(
        [sys.executable, str(PROGRAM), "copy", *side, "--marker", MARKER, "--wait-clients-seconds", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )


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
