"""Two loopback redis-servers and a lying RESP proxy for the copy program's runtime tests.

The program runs as a local process (the rendered file) between a source and a target redis-server; the proxy
(the tests' own minimal RESP2 code, not the program's, which is under test) sits in front of the target and passes
every command through a fault.
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

PROGRAM = Path(copy_program.__file__)
PASSWORD = "copy-Verify_0123456789"
MARKER = "copy:done"

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


def run_copy(
    source: int, target: int, password_file: Path, *extra: str, mode: str = "copy", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The program between the two (or a proxy), ``extra`` arguments appended; its exit code and output."""
    side = ["--source-host", "127.0.0.1", "--source-port", str(source), "--source-password-file", str(password_file)]
    side += ["--target-host", "127.0.0.1", "--target-port", str(target), "--target-password-file", str(password_file)]
    return subprocess.run(
        [sys.executable, str(PROGRAM), mode, *side, "--marker", MARKER, "--wait-clients-seconds", "5", *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
