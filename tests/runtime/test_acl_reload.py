"""acl-reload.sh against the host's redis-server: tenants added, rotated, removed in a running Redis.

Loopback only. The script runs as it does in the pod (dash), with its paths pointed into tmp_path; the tenants
file comes from render_tenants_file. In the library this moves onto tests/support/redis_pods (the pod runner,
with Secret-volume refresh); here it is self-contained.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ConnectionError, NoPermissionError, ResponseError
from redis.retry import Retry

from redis_constructs.server.tenants import Tenant, render_tenants_file

SCRIPT = Path(__file__).resolve().parents[2] / "redis_constructs" / "server" / "acl_reload.sh"
ADMIN_PW = "admin-password-0123456789"
BEER_PW = "beer-password-0123456789"
SHOP_PW = "shop-password-0123456789"
SHOP_PW2 = "shop-password-NEW-456789"
BLOG_PW = "blog-password-0123456789"
BEER = Tenant(namespace="beersystem", password_only=True)
SHOP = Tenant(namespace="shop", key_prefix="shop:")
BLOG = Tenant(namespace="blog", key_prefix="blog:")


class World:
    """A redis-server started from what the init container renders, and the sidecar's inputs."""

    def __init__(self, tmp: Path) -> None:
        assert shutil.which("redis-server") and shutil.which("redis-cli"), "apt-get install redis-server"
        self.tmp = tmp
        self.run = tmp / "run"
        self.secrets = tmp / "tenant-secrets"
        for d in (self.run, self.secrets):
            d.mkdir()
        (tmp / "admin-password").write_text(ADMIN_PW)
        h = hashlib.sha256(ADMIN_PW.encode()).hexdigest()
        (self.run / "system.acl").write_text(f"user admin reset on #{h} ~* &* +@all\n")
        self.tenants([BEER, SHOP], {"beersystem.password": BEER_PW, "shop.password": SHOP_PW})
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.script("render")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--aclfile",
                str(self.run / "users.acl"),
                "--dir",
                str(tmp),
                "--logfile",
                str(tmp / "redis.log"),
            ]
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.admin().ping()
                break
            except (ConnectionError, OSError):
                assert time.monotonic() < deadline, (tmp / "redis.log").read_text()
                time.sleep(0.05)
        self.pid = self.admin().info("server")["process_id"]

    def env(self) -> dict[str, str]:
        return os.environ | {
            "ACL_RUN_DIR": str(self.run),
            "ACL_TENANTS_FILE": str(self.tmp / "tenants.conf"),
            "ACL_TENANT_SECRETS_DIR": str(self.secrets),
            "ACL_ADMIN_PASSWORD_FILE": str(self.tmp / "admin-password"),
            "REDIS_PORT": str(getattr(self, "port", 6379)),
        }

    def script(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["dash", str(SCRIPT), *args], env=self.env(), capture_output=True, text=True, check=False)

    def tenants(self, tenants: list[Tenant], secrets: dict[str, str]) -> None:
        """What the kubelet's refresh of the ConfigMap and the Secret volume leaves on disk."""
        (self.tmp / "tenants.conf").write_text(render_tenants_file(tenants))
        for f in self.secrets.iterdir():
            f.unlink()
        for key, value in secrets.items():
            (self.secrets / key).write_text(value)

    def reload(self) -> None:
        r = self.script("once")
        assert r.returncode == 0, r.stderr

    def client(self, user: str | None, password: str) -> redis.Redis:
        c = redis.Redis(
            port=self.port, username=user, password=password, single_connection_client=True, retry=Retry(NoBackoff(), 0)
        )
        c.ping()
        return c

    def admin(self) -> redis.Redis:
        return redis.Redis(port=self.port, username="admin", password=ADMIN_PW)

    def same_process(self) -> bool:
        return bool(self.admin().info("server")["process_id"] == self.pid)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.proc.terminate()
    w.proc.wait()


def test_tenants_reach_their_own_keys_only(world: World) -> None:
    beer = world.client(None, BEER_PW)  # password only: `default`
    shop = world.client("shop", SHOP_PW)
    beer.set("session:1", "x")
    shop.set("shop:cart:1", "y")
    assert beer.get("shop:cart:1") == b"y"  # unconfined: README says so
    for call in (
        lambda: shop.get("session:1"),
        lambda: shop.publish("beer:events", "x"),
        lambda: shop.keys("*"),
        shop.randomkey,
        shop.flushall,
        lambda: shop.swapdb(0, 1),
        lambda: shop.execute_command("SELECT", 1),  # type: ignore[no-untyped-call]
    ):
        with pytest.raises(NoPermissionError):
            call()
    with pytest.raises(AuthenticationError):
        world.client("shop", BEER_PW)  # another tenant's password
    with pytest.raises(AuthenticationError):
        world.client(None, SHOP_PW)  # shop's password does not open `default`


def test_tenant_added_to_running_redis_logs_in_and_others_keep_connections(world: World) -> None:
    shop = world.client("shop", SHOP_PW)
    beer = world.client(None, BEER_PW)
    world.tenants(
        [BEER, SHOP, BLOG], {"beersystem.password": BEER_PW, "shop.password": SHOP_PW, "blog.password": BLOG_PW}
    )
    world.reload()
    world.client("blog", BLOG_PW).set("blog:post:1", "z")
    assert shop.ping() and beer.ping()  # connections of unchanged tenants survive
    assert world.same_process()


def test_rotation_in_two_commits(world: World) -> None:
    old = world.client("shop", SHOP_PW)
    # Commit 1: the new password is current, the old one previous: both log in.
    world.tenants(
        [BEER, SHOP], {"beersystem.password": BEER_PW, "shop.password": SHOP_PW2, "shop.previous-password": SHOP_PW}
    )
    world.reload()
    world.client("shop", SHOP_PW)
    new = world.client("shop", SHOP_PW2)
    assert old.ping()
    # Commit 2: the previous password is gone: only the new one logs in.
    world.tenants([BEER, SHOP], {"beersystem.password": BEER_PW, "shop.password": SHOP_PW2})
    world.reload()
    with pytest.raises(AuthenticationError):
        world.client("shop", SHOP_PW)
    assert new.ping()
    assert old.ping()  # authenticated before: Redis keeps it until it reconnects (README "Rotate")
    assert world.same_process()


def test_removed_tenant_is_deleted_and_disconnected(world: World) -> None:
    world.tenants(
        [BEER, SHOP, BLOG], {"beersystem.password": BEER_PW, "shop.password": SHOP_PW, "blog.password": BLOG_PW}
    )
    world.reload()
    blog = world.client("blog", BLOG_PW)
    shop = world.client("shop", SHOP_PW)
    world.tenants([BEER, SHOP], {"beersystem.password": BEER_PW, "shop.password": SHOP_PW})
    world.reload()
    with pytest.raises(ConnectionError):
        blog.ping()
    assert shop.ping()
    assert "blog" not in world.admin().acl_users()


def test_default_is_off_without_a_holder_and_never_nopass(world: World) -> None:
    beer = world.client(None, BEER_PW)
    world.tenants([SHOP], {"shop.password": SHOP_PW})
    world.reload()
    with pytest.raises(NoPermissionError):
        beer.get("x")  # `reset off` took every permission from the connected client
    with pytest.raises(AuthenticationError):
        world.client(None, BEER_PW)
    # A declared tenant whose password has not arrived yet is off, and Redis never got a nopass `default`.
    world.tenants([BEER, SHOP], {"shop.password": SHOP_PW})
    world.reload()
    raw = redis.Redis(port=world.port, retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.exceptions.AuthenticationError):
        raw.get("x")
    assert any(u.startswith("user default off") for u in cast(list[str], world.admin().acl_list()))


def test_refused_rules_change_nothing_and_stay_pending(world: World) -> None:
    before = (world.run / "users.acl").read_text()
    (world.tmp / "tenants.conf").write_text(render_tenants_file([BEER, SHOP]) + "shop2 shop2 ~* +nosuchcommand\n")
    (world.secrets / "shop2.password").write_text("shop2-password-0123456789")
    r = world.script("once")
    assert r.returncode == 1 and "ACL SETUSER shop2 failed" in r.stderr
    assert (world.run / "users.acl").read_text() == before
    with pytest.raises((AuthenticationError, ResponseError)):
        world.client("shop2", "shop2-password-0123456789")


def test_users_acl_after_reloads_is_what_a_restart_loads(world: World, tmp_path: Path) -> None:
    world.tenants(
        [BEER, SHOP, BLOG],
        {
            "beersystem.password": BEER_PW,
            "shop.password": SHOP_PW2,
            "shop.previous-password": SHOP_PW,
            "blog.password": BLOG_PW,
        },
    )
    world.reload()
    live = acl_words(cast(list[str], world.admin().acl_list()))
    # A second server (unix socket) loading the same users.acl, as a restarted Redis would.
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            "0",
            "--unixsocket",
            str(tmp_path / "check.sock"),
            "--save",
            "",
            "--aclfile",
            str(world.run / "users.acl"),
            "--logfile",
            str(tmp_path / "check.log"),
            "--dir",
            str(tmp_path),
        ]
    )
    try:
        c = redis.Redis(unix_socket_path=str(tmp_path / "check.sock"), username="admin", password=ADMIN_PW)
        deadline = time.monotonic() + 10
        while True:
            try:
                restarted = acl_words(cast(list[str], c.acl_list()))
                break
            except (ConnectionError, FileNotFoundError):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert restarted == live
    finally:
        proc.terminate()
        proc.wait()


def acl_words(lines: list[str]) -> dict[str, frozenset[str]]:
    """ACL LIST as user -> set of rules (Redis lists denied commands in hash order)."""
    return {line.split()[1]: frozenset(line.split()[2:]) for line in lines}
