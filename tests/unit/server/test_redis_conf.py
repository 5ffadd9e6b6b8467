"""Pure renderers (redis.conf, ACL template, scripts, maxmemory): checked as text and by the real programs."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from redis_constructs.core.errors import PropError
from redis_constructs.server.redis_conf import (
    ACL_USERS,
    EvictionPolicy,
    MiB,
    Role,
    ServerSettings,
    TenantCommands,
    derive_grace_period,
    derive_maxmemory,
    render_acl_template,
    render_common_conf,
    render_role_conf,
)
from redis_constructs.server.scripts import render_scripts

SETTINGS = ServerSettings(
    port=6379,
    maxmemory_bytes=512 * MiB,
    eviction_policy=EvictionPolicy.ALLKEYS_LRU,
    shutdown_timeout_seconds=10,
    primary_host="redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local",
)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(1024 * MiB, 512 * MiB), (64 * MiB, 32 * MiB), (3 * 1024 * MiB + 1, 1536 * MiB), (100 * MiB + 123, 50 * MiB)],
)
def test_maxmemory_is_half_the_limit_in_whole_mib(limit: int, expected: int) -> None:
    assert derive_maxmemory(limit) == expected


def test_fails_maxmemory_below_the_minimum() -> None:
    with pytest.raises(PropError, match=r"memory_limit: got '63Mi'; expected at least 64Mi"):
        derive_maxmemory(63 * MiB)


@pytest.mark.parametrize(
    ("maxmemory", "shutdown", "expected"),
    # A full maxmemory rewritten at 32 MiB/s (whole seconds, rounded up), the shutdown timeout, 10 s for the fsync.
    [(512 * MiB, 10, 16 + 10 + 10), (512 * MiB, 300, 16 + 300 + 10), (2048 * MiB, 10, 64 + 20), (33 * MiB, 1, 2 + 11)],
)
def test_the_grace_period_covers_a_full_initial_rewrite_then_the_shutdown(
    maxmemory: int, shutdown: int, expected: int
) -> None:
    assert derive_grace_period(maxmemory, shutdown) == expected


def test_eviction_policy_parses_redis_spelling_only() -> None:
    assert EvictionPolicy.parse("p", "volatile-ttl") is EvictionPolicy.VOLATILE_TTL
    with pytest.raises(PropError, match=r"p: got 'LRU'; expected one of allkeys-lru"):
        EvictionPolicy.parse("p", "LRU")


def test_only_the_replica_role_replicates() -> None:
    assert "replicaof" not in render_role_conf(Role.PRIMARY, SETTINGS)
    assert render_role_conf(Role.REPLICA, SETTINGS).splitlines()[-1] == f"replicaof {SETTINGS.primary_host} 6379"


def test_acl_template_has_one_line_per_user_and_no_comment() -> None:
    lines = render_acl_template().splitlines()
    assert [line.split()[1] for line in lines] == [u.name for u in ACL_USERS]
    assert all(line.startswith("user ") for line in lines)  # an aclfile takes no comments


def test_scripts_pass_shellcheck_as_posix_sh(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is required (apt-get install shellcheck; .ci/run installs it)"
    for name, text in render_scripts().items():
        path = tmp_path / name
        path.write_text(text)
        result = subprocess.run(
            [shellcheck, "--shell=sh", "--severity=warning", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{name}:\n{result.stdout}"
        assert subprocess.run(["sh", "-n", str(path)], capture_output=True).returncode == 0


def _start(server: str, conf: Path, sock: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [server, str(conf), "--port", "0", "--unixsocket", str(sock)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for _ in range(100):
        if sock.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    return proc


def test_real_redis_server_accepts_the_rendered_config(tmp_path: Path) -> None:
    """redis-server 7 loads the rendered files (paths moved into tmp_path), ACL users included."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    assert server and cli, "redis-server and redis-cli are required (apt-get install redis-server redis-tools)"
    acl = render_acl_template()
    for user in ACL_USERS:
        acl = acl.replace(user.placeholder, "#" + hashlib.sha256(f"{user.name}-pw".encode()).hexdigest())
    # users.acl = the system users + the tenants' lines (acl-reload.sh render); here one tenant on `default`.
    acl += f"user default reset on #{hashlib.sha256(b'default-pw').hexdigest()} {TenantCommands().rules()}\n"
    (tmp_path / "users.acl").write_text(acl)
    (tmp_path / "auth.conf").write_text("masteruser replication\nmasterauth replication-pw\n")
    common = (
        render_common_conf(SETTINGS).replace("/run/redis-shared", str(tmp_path)).replace("dir /data", f"dir {tmp_path}")
    )
    (tmp_path / "common.conf").write_text(common)
    conf = tmp_path / "master.conf"
    conf.write_text(render_role_conf(Role.PRIMARY, SETTINGS).replace("/opt/redis-shared/conf", str(tmp_path)))
    sock = tmp_path / "redis.sock"
    proc = _start(server, conf, sock)
    try:

        def ask(user: str, *args: str) -> str:
            argv = [cli, "-s", str(sock), "--user", user, "--pass", f"{user}-pw", "--no-auth-warning", *args]
            return subprocess.run(argv, capture_output=True, text=True, timeout=5).stdout.strip()

        assert ask("admin", "CONFIG", "GET", "maxmemory").splitlines() == ["maxmemory", str(512 * MiB)]
        assert ask("admin", "ACL", "USERS").splitlines() == sorted([*(u.name for u in ACL_USERS), "default"])
        assert ask("default", "SET", "k", "v") == "OK"
        assert "NOPERM" in ask("default", "FLUSHALL")
        # The data-copy user reads, restores and sets its marker; it cannot delete, flush or reconfigure.
        # RESTORE is permitted (the bogus payload is refused by Redis itself, not by the ACL).
        assert "payload version or checksum are wrong" in ask("migration", "RESTORE", "copied", "0", "junk")
        assert ask("migration", "TYPE", "k") == "string"
        assert ask("migration", "SET", "marker", "1") == "OK"
        for denied in (["DEL", "k"], ["FLUSHALL"], ["CONFIG", "GET", "*"], ["ACL", "LIST"], ["UNLINK", "k"]):
            assert "NOPERM" in ask("migration", *denied), denied
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    (tmp_path / "common.conf").write_text(common + "appendfsync sometimes\n")
    bad = _start(server, conf, tmp_path / "bad.sock")
    assert bad.wait(timeout=10) != 0
    assert bad.stdout is not None and "appendfsync" in bad.stdout.read()
