"""The data copy for a confined tenant: refuses (changing nothing) when a source key lies outside its prefix."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

PROGRAM = Path(__file__).resolve().parents[2] / "redis_constructs" / "migration" / "copy_program.py"


def _server(tmp: Path, name: str) -> tuple[subprocess.Popen[bytes], int]:
    assert shutil.which("redis-server"), "apt-get install redis-server"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = tmp / name
    d.mkdir()
    (d / "pw").write_text("pw-0123456789abcdef")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--requirepass",
            "pw-0123456789abcdef",
            "--dir",
            str(d),
            "--logfile",
            str(d / "log"),
        ]
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, password="pw-0123456789abcdef").ping()
            return proc, port
        except redis.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[redis.Redis, redis.Redis, list[str]]]:
    (src, sport), (dst, dport) = _server(tmp_path, "src"), _server(tmp_path, "dst")
    args = [
        sys.executable,
        str(PROGRAM),
        "copy",
        "--source-host",
        "127.0.0.1",
        "--source-port",
        str(sport),
        "--source-password-file",
        str(tmp_path / "src" / "pw"),
        "--target-host",
        "127.0.0.1",
        "--target-port",
        str(dport),
        "--target-password-file",
        str(tmp_path / "dst" / "pw"),
        "--wait-clients-seconds",
        "5",
        "--connect-seconds",
        "5",
    ]
    yield (
        redis.Redis(port=sport, password="pw-0123456789abcdef"),
        redis.Redis(port=dport, password="pw-0123456789abcdef"),
        args,
    )
    for p in (src, dst):
        p.terminate()
        p.wait()


def test_refuses_out_of_prefix_key_and_writes_nothing(pair: tuple[redis.Redis, redis.Redis, list[str]]) -> None:
    source, target, args = pair
    source.set("shop:cart:1", "a")
    source.set("sessions:1", "b")  # not shop's
    source.close()
    r = subprocess.run([*args, "--marker", "shop:copied", "--tenant-prefix", "shop:"], capture_output=True, text=True)
    assert r.returncode == 5, r.stdout + r.stderr
    assert "outside the tenant's prefix 'shop:': 'sessions:1'; nothing was written" in r.stderr
    assert target.dbsize() == 0


def test_copies_a_tenant_whose_keys_all_share_the_prefix(pair: tuple[redis.Redis, redis.Redis, list[str]]) -> None:
    source, target, args = pair
    source.set("shop:cart:1", "a")
    source.set("shop:cart:2", "b", ex=600)
    source.close()
    r = subprocess.run([*args, "--marker", "shop:copied", "--tenant-prefix", "shop:"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert target.get("shop:cart:2") == b"b" and target.exists("shop:copied")


def test_marker_outside_the_prefix_is_a_usage_error(pair: tuple[redis.Redis, redis.Redis, list[str]]) -> None:
    _, _, args = pair
    r = subprocess.run([*args, "--marker", "copied", "--tenant-prefix", "shop:"], capture_output=True, text=True)
    assert r.returncode == 2 and "--marker must start with --tenant-prefix" in r.stderr


def test_without_prefix_copies_every_key_as_before(pair: tuple[redis.Redis, redis.Redis, list[str]]) -> None:
    source, target, args = pair
    source.set("sessions:1", "b")
    source.set("beer:cache:1", "c")
    source.close()
    r = subprocess.run([*args, "--marker", "redis-shared:migrated"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert target.get("sessions:1") == b"b" and target.get("beer:cache:1") == b"c"
