"""The tenants' user against the real redis-server: no single command empties or carries off the keyspace.

The rendered ACL template and common.conf (paths moved into tmp_path) are loaded by the host's redis-server
7.0 on a unix socket; every verdict comes from Redis itself (``ACL DRYRUN`` and real calls).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.exceptions import NoPermissionError, ResponseError

from redis_constructs.server.redis_conf import (
    ACL_USERS,
    CLIENT_DENIED_COMMANDS,
    EvictionPolicy,
    MiB,
    Role,
    ServerSettings,
    TenantCommands,
    derive_client_limits,
    render_acl_template,
    render_common_conf,
    render_role_conf,
)
from redis_constructs.server.tenants import Tenant

SETTINGS = ServerSettings(
    port=6379,
    maxmemory_bytes=512 * MiB,
    eviction_policy=EvictionPolicy.ALLKEYS_LRU,
    shutdown_timeout_seconds=10,
    primary_host="redis-shared-master-0.redis-shared-headless.redis.svc.cluster.local",
    client_limits=derive_client_limits(1024 * MiB),
)

# Reviewed members of @dangerous/@admin/@scripting the tenant keeps, each with why it cannot empty the keyspace
# or administer Redis. A new dangerous command in a newer Redis fails the sweep until it is reviewed here.
TENANT_KEEPS = {
    "info": "read-only statistics; apps and client libraries read it",
    "keys": "read-only; can block Redis on a large keyspace (SCAN is the polite form), empties nothing",
    "sort": "writes only its STORE destination key",
    "sort_ro": "read-only",
}


class Server:
    """redis-server with the rendered files, and clients for the tenant and the admin."""

    def __init__(self, tmp_path: Path, tenant: TenantCommands) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is required (apt-get install redis-server)"
        acl = render_acl_template(tenant)
        for user in ACL_USERS:
            acl = acl.replace(user.placeholder, "#" + hashlib.sha256(f"{user.name}-pw".encode()).hexdigest())
        # The tenant on `default`, as acl-reload.sh renders its line from the tenants file.
        rules = Tenant(namespace="app", password_only=True, commands=tenant).rules()
        acl += f"user default reset on #{hashlib.sha256(b'default-pw').hexdigest()} {rules}\n"
        (tmp_path / "users.acl").write_text(acl)
        (tmp_path / "auth.conf").write_text("masteruser replication\nmasterauth replication-pw\n")
        common = render_common_conf(SETTINGS).replace("/run/redis-shared", str(tmp_path))
        (tmp_path / "common.conf").write_text(common.replace("dir /data", f"dir {tmp_path}"))
        conf = tmp_path / "master.conf"
        conf.write_text(render_role_conf(Role.PRIMARY, SETTINGS).replace("/opt/redis-shared/conf", str(tmp_path)))
        self.sock = tmp_path / "redis.sock"
        self.proc = subprocess.Popen(
            [server, str(conf), "--port", "0", "--unixsocket", str(self.sock)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.sock.exists():
            assert self.proc.poll() is None, "redis-server refused the rendered config"
            assert time.monotonic() < deadline, "redis-server did not open its socket in 10 s"
            time.sleep(0.05)

    def client(self, user: str) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=str(self.sock), username=user, password=f"{user}-pw", protocol=2, decode_responses=True
        )

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path, TenantCommands())
    yield s
    s.close()


@pytest.fixture
def permissive(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path, TenantCommands(allow_scripting=True, allow_restore=True))
    yield s
    s.close()


def allowed(admin: redis.Redis, *command: str) -> bool:
    verdict = str(admin.execute_command("ACL", "DRYRUN", "default", *command))  # type: ignore[no-untyped-call]
    assert verdict == "OK" or "no permissions" in verdict, verdict
    return verdict == "OK"


def dummy_args(admin: redis.Redis, name: str) -> list[str]:
    """``name`` (``cmd`` or ``cmd|sub``) with as many placeholder arguments as its arity needs."""
    parts = name.split("|")
    conn = admin.connection_pool.get_connection()
    try:  # the raw reply: redis-py reshapes COMMAND INFO and drops the subcommands' arity
        conn.send_command("COMMAND", "INFO", parts[0])  # type: ignore[no-untyped-call]
        info = conn.read_response()[0]
    finally:
        admin.connection_pool.release(conn)
    arity = int(info[1])
    if len(parts) == 2:
        subs = {str(s[0]).lower(): int(s[1]) for s in info[9]} if len(info) > 9 else {}
        arity = subs.get(name, -2)
    needed = abs(arity) - len(parts)
    return [*parts, *["0"] * max(needed, 0)]


def test_every_dangerous_admin_or_scripting_command_is_denied_to_the_tenant_unless_reviewed(strict: Server) -> None:
    with strict.client("admin") as admin:
        names = set()
        for category in ("dangerous", "admin", "scripting"):
            names |= {str(n).lower() for n in admin.execute_command("ACL", "CAT", category)}
        assert {"swapdb", "flushall", "flushdb", "migrate", "restore", "eval", "debug"} <= names
        kept = sorted(n for n in names if allowed(admin, *dummy_args(admin, n)))
    assert kept == sorted(TENANT_KEEPS), kept


@pytest.mark.parametrize(
    "command",
    [
        ("FLUSHALL",),
        ("FLUSHDB", "ASYNC"),
        ("SWAPDB", "0", "1"),
        ("MIGRATE", "127.0.0.1", "1", "", "0", "1000", "KEYS", "k"),
        ("RESTORE", "k", "0", "payload", "REPLACE"),
        ("RESTORE-ASKING", "k", "0", "payload"),
        ("EVAL", "return redis.call('flushall')", "0"),
        ("EVALSHA", "0" * 40, "0"),
        ("FCALL", "f", "0"),
        ("FUNCTION", "FLUSH"),
        ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() return 1 end)"),
        ("SCRIPT", "FLUSH"),
        ("CLIENT", "KILL", "TYPE", "normal"),
        ("CLIENT", "NO-EVICT", "on"),
        ("CLIENT", "PAUSE", "1000"),
        ("DEBUG", "RELOAD"),
        ("CONFIG", "SET", "maxmemory-clients", "0"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_tenant_cannot_empty_the_keyspace_or_escape_its_limits_in_one_command(
    strict: Server, command: tuple[str, ...]
) -> None:
    with strict.client("default") as tenant, strict.client("admin") as admin:
        for db in (0, 1):
            admin.execute_command("SELECT", str(db))
            admin.set(f"other-tenant:{db}", "kept")
        tenant.set("k", "v")
        with pytest.raises(ResponseError) as refused:
            tenant.execute_command(*command)
        if command[0] != "DEBUG":  # refused before the ACL (enable-debug-command no); DRYRUN below checks it
            assert isinstance(refused.value, NoPermissionError), refused.value
        assert not allowed(admin, *command)
        admin.execute_command("SELECT", "0")
        assert admin.get("other-tenant:0") == "kept"
        assert admin.dbsize() == 2


def test_the_denials_do_not_depend_on_categories_alone() -> None:
    rules = TenantCommands().rules().split()
    for command in ("flushall", "flushdb", "swapdb", "migrate", "eval", "evalsha", "fcall", "function", "script"):
        assert "-" + command in rules
    assert [r for r in rules if r.startswith("-restore")] == ["-restore", "-restore-asking"]
    assert "-swapdb" in (("-" + c) for c in CLIENT_DENIED_COMMANDS)


def test_allowing_scripting_and_restore_keeps_the_flush_commands_denied_inside_scripts(permissive: Server) -> None:
    with permissive.client("default") as tenant, permissive.client("admin") as admin:
        admin.set("other-tenant", "kept")
        assert tenant.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, "s", "1") == "OK"
        for call in ("redis.call('flushall')", "redis.call('flushdb')", "redis.call('swapdb', 0, 1)"):
            with pytest.raises(ResponseError, match="can't run this command"):
                tenant.eval(f"return {call}", 0)
        tenant.set("copy-src", "payload", ex=600)
        dumped = tenant.dump("copy-src")
        assert tenant.restore("copy-dst", 0, dumped, replace=True)
        assert tenant.get("copy-dst") == "payload"
        assert admin.get("other-tenant") == "kept"
        # Key by key stays possible for every tenant (README "Security"): a script may delete what it names.
        assert tenant.eval("return redis.call('del', KEYS[1])", 1, "other-tenant") == 1


def test_the_strict_default_still_does_what_beersystem_needs(strict: Server) -> None:
    with strict.client("default") as tenant:
        assert tenant.ping()
        assert tenant.set("beersystem:session:1", "data", ex=86400)
        assert 0 < tenant.ttl("beersystem:session:1") <= 86400
        assert tenant.get("beersystem:session:1") == "data"
        tenant.hset("beersystem:cache:h", mapping={"f": "v"})
        assert tenant.expire("beersystem:cache:h", 60)
        assert tenant.delete("beersystem:session:1", "beersystem:cache:h") == 2
        assert "redis_version" in tenant.info("server")


def test_the_client_limits_are_loaded_as_rendered(strict: Server) -> None:
    limits = SETTINGS.client_limits
    assert limits is not None
    with strict.client("admin") as admin:
        got = admin.config_get("*")
    assert int(got["maxclients"]) == limits.maxclients
    assert int(got["maxmemory-clients"]) == limits.maxmemory_clients_bytes
    assert int(got["client-query-buffer-limit"]) == limits.query_buffer_bytes
    assert int(got["proto-max-bulk-len"]) == limits.proto_max_bulk_bytes
    obl = got["client-output-buffer-limit"].split()
    assert obl == [
        "normal",
        *map(str, limits.normal_output),
        "slave",
        *map(str, limits.replica_output),
        "pubsub",
        *map(str, limits.pubsub_output),
    ]
