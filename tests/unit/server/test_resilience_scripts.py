"""probe.sh tells "full" from "dead" and repairs the AOF; pre-stop.sh waits out an initial AOF rewrite;
tls-reload.sh's check; the #23 redis.conf lines.

The scripts run for real under /bin/sh against a fake ``redis-cli`` (and ``date``) on PATH that answers what a
real Redis 7.0 answers in each state (transcripts in docs/resilience.md); the flag and heartbeat paths are
moved into tmp_path.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from redis_constructs.core.errors import PropError
from redis_constructs.server.redis_conf import DATA_DIR, SECRETS_DIR, EvictionPolicy, ServerSettings, render_common_conf
from redis_constructs.server.scripts import (
    AOF_REWRITE_ASKED_FLAG,
    AOF_WRITE_FAILED_FLAG,
    DATASET_MARKER,
    FENCED_FLAG,
    INITIAL_REWRITE_INCR_FILE,
    STARTED_WITH_DATA_FLAG,
    render_scripts,
)
from redis_constructs.server.tls import RELOAD_RUN_DIR, ExistingTlsSecret, Tls, render_reload_script

FULL = "AUTH failed: ERR max number of clients reached"
REFUSED = "Could not connect to Redis at 127.0.0.1:6379: Connection refused"
MISCONF = "MISCONF Errors writing to the AOF file: No space left on device"


def fake_bin(tmp_path: Path, name: str, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text("#!/bin/sh\n" + body)
    tool.chmod(0o755)
    return bin_dir


def probe(tmp_path: Path, mode: str, replies: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """probe.sh MODE with redis-cli answering ``replies[first argument]``; BGREWRITEAOF calls are recorded."""
    script = render_scripts()["probe.sh"]
    for flag in (AOF_WRITE_FAILED_FLAG, AOF_REWRITE_ASKED_FLAG, f"{DATA_DIR}/{DATASET_MARKER}"):
        script = script.replace(flag, str(tmp_path / Path(flag).name))
    script = script.replace(f"{SECRETS_DIR}/exporter-password", str(tmp_path / "exporter-password"))
    (tmp_path / "exporter-password").write_text("pw")
    (tmp_path / "probe.sh").write_text(script)
    cases = "\n".join(f"  *' {cmd}'*) printf '%s\\n' '{reply}' ;;" for cmd, reply in replies.items())
    bin_dir = fake_bin(
        tmp_path,
        "redis-cli",
        f'echo "$*" >> "{tmp_path}/calls"\ncase " $*" in\n{cases}\n  *) echo "ERR unknown" ;;\nesac\n',
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "REDIS_PORT": "6379", "REDIS_ROLE": "replica"}
    return subprocess.run(["sh", str(tmp_path / "probe.sh"), mode], capture_output=True, text=True, env=env, timeout=20)


def test_a_full_redis_is_alive_but_unready_with_the_reason(tmp_path: Path) -> None:
    assert probe(tmp_path, "liveness", {"PING": FULL}).returncode == 0
    assert probe(tmp_path, "startup", {"PING": FULL}).returncode == 0
    ready = probe(tmp_path, "readiness", {"PING": FULL})
    assert ready.returncode == 1
    assert ready.stdout.startswith("readiness: Redis is full (maxclients)")


def test_a_dead_or_hung_redis_fails_liveness(tmp_path: Path) -> None:
    assert probe(tmp_path, "liveness", {"PING": REFUSED}).returncode == 1
    assert probe(tmp_path, "liveness", {"PING": ""}).returncode == 1  # timeout: redis-cli killed, no output


def test_a_replica_that_cannot_persist_stays_ready_and_alive(tmp_path: Path) -> None:
    replies = {"PING": MISCONF, "INFO": "role:slave"}
    assert probe(tmp_path, "liveness", replies).returncode == 0
    assert probe(tmp_path, "readiness", replies).returncode == 0
    assert (tmp_path / Path(AOF_WRITE_FAILED_FLAG).name).exists()
    primary = probe(tmp_path, "readiness", {"PING": MISCONF, "INFO": "role:master"})
    assert primary.returncode == 1 and "refuses writes" in primary.stdout


def test_a_replica_marks_its_volume_synced_only_once_the_rewrite_after_the_sync_has_ended(tmp_path: Path) -> None:
    """Until the AOF rewrite that follows a full sync ends, the manifest names the pre-sync files: a replica killed
    then restarts on those, so its volume must not count as holding the synced dataset yet (an empty replica
    with the marker is Ready at once on a restart, serving nothing)."""
    marker = tmp_path / DATASET_MARKER
    linked = "role:slave\nmaster_link_status:up\nmaster_link_down_since_seconds:0"
    for busy in (
        "aof_rewrite_in_progress:1\naof_rewrite_scheduled:0",
        "aof_rewrite_in_progress:0\naof_rewrite_scheduled:1",
    ):
        assert probe(tmp_path, "readiness", {"PING": "PONG", "INFO": f"{linked}\n{busy}"}).returncode == 0
        assert not marker.exists()
    done = "aof_rewrite_in_progress:0\naof_rewrite_scheduled:0"
    assert probe(tmp_path, "readiness", {"PING": "PONG", "INFO": f"{linked}\n{done}"}).returncode == 0
    assert marker.exists()


def test_after_a_failed_write_one_rewrite_is_asked_and_the_flag_cleared_once_it_completed(tmp_path: Path) -> None:
    (tmp_path / Path(AOF_WRITE_FAILED_FLAG).name).touch()
    before = (
        "role:master\naof_rewrite_in_progress:0\naof_rewrite_scheduled:0\naof_last_bgrewrite_status:ok\naof_rewrites:3"
    )
    first = probe(
        tmp_path,
        "readiness",
        {"PING": "PONG", "INFO": before, "BGREWRITEAOF": "Background append only file rewriting started"},
    )
    assert first.returncode == 1 and "rewriting it (BGREWRITEAOF)" in first.stdout
    assert (tmp_path / "calls").read_text().count("BGREWRITEAOF") == 1
    assert (tmp_path / Path(AOF_REWRITE_ASKED_FLAG).name).read_text() == "3"
    running = before.replace("in_progress:0", "in_progress:1")
    assert probe(tmp_path, "readiness", {"PING": "PONG", "INFO": running}).returncode == 1
    assert (tmp_path / "calls").read_text().count("BGREWRITEAOF") == 1  # asked once
    done = before.replace("aof_rewrites:3", "aof_rewrites:4")
    assert probe(tmp_path, "readiness", {"PING": "PONG", "INFO": done}).returncode == 0
    assert not (tmp_path / Path(AOF_WRITE_FAILED_FLAG).name).exists()


def test_a_failed_rewrite_is_asked_again(tmp_path: Path) -> None:
    (tmp_path / Path(AOF_WRITE_FAILED_FLAG).name).touch()
    (tmp_path / Path(AOF_REWRITE_ASKED_FLAG).name).write_text("3")
    failed = "role:master\naof_rewrite_in_progress:0\naof_last_bgrewrite_status:err\naof_rewrites:3"
    assert probe(tmp_path, "readiness", {"PING": "PONG", "INFO": failed}).returncode == 1
    assert not (tmp_path / Path(AOF_REWRITE_ASKED_FLAG).name).exists()


def pre_stop(tmp_path: Path, *, rewriting_for: int, grace: int = 20) -> subprocess.CompletedProcess[str]:
    """pre-stop.sh GRACE against a Redis whose INFO says a rewrite is in progress for its first ``rewriting_for``
    answers (then done); each INFO call is recorded in ``calls``."""
    script = render_scripts()["pre-stop.sh"]
    script = script.replace(INITIAL_REWRITE_INCR_FILE, str(tmp_path / "temp-appendonly.aof.incr"))
    script = script.replace(f"{SECRETS_DIR}/exporter-password", str(tmp_path / "exporter-password"))
    (tmp_path / "exporter-password").write_text("pw")
    (tmp_path / "pre-stop.sh").write_text(script)
    bin_dir = fake_bin(
        tmp_path,
        "redis-cli",
        f"""echo "$*" >> "{tmp_path}/calls"
n=$(wc -l < "{tmp_path}/calls")
if [ "$n" -le {rewriting_for} ]; then busy=1; else busy=0; fi
printf 'aof_enabled:1\r\naof_rewrite_in_progress:%s\r\naof_rewrite_scheduled:0\r\n' "$busy"
""",
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "REDIS_PORT": "6379"}
    return subprocess.run(
        ["sh", str(tmp_path / "pre-stop.sh"), str(grace)], capture_output=True, text=True, env=env, timeout=30
    )


def info_calls(tmp_path: Path) -> int:
    calls = tmp_path / "calls"
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def test_pre_stop_returns_at_once_without_an_initial_rewrite(tmp_path: Path) -> None:
    # An ordinary rewrite (no temp incr file) ends with the SIGTERM: no need to ask Redis.
    assert pre_stop(tmp_path, rewriting_for=100).returncode == 0
    assert info_calls(tmp_path) == 0


def test_pre_stop_waits_until_the_initial_rewrite_has_ended(tmp_path: Path) -> None:
    (tmp_path / "temp-appendonly.aof.incr").touch()
    run = pre_stop(tmp_path, rewriting_for=3)
    assert run.returncode == 0, run.stderr
    assert info_calls(tmp_path) == 4  # three answers "in progress", the fourth "done"
    assert all(c.endswith("INFO persistence") for c in (tmp_path / "calls").read_text().splitlines())


def test_pre_stop_gives_up_at_the_grace_period(tmp_path: Path) -> None:
    (tmp_path / "temp-appendonly.aof.incr").touch()
    run = pre_stop(tmp_path, rewriting_for=10_000, grace=1)
    assert run.returncode == 0, run.stderr
    assert 1 <= info_calls(tmp_path) < 10_000  # stopped asking while the rewrite still ran


def test_start_removes_what_a_killed_rewrite_or_sync_left_and_keeps_the_aof(tmp_path: Path) -> None:
    """start.sh as a replica (data dir and flags moved into tmp_path; redis-server a fake that only records)."""
    data = tmp_path / "data"
    aof = data / "appendonlydir"
    aof.mkdir(parents=True)
    kept = ["appendonlydir/appendonly.aof.2.base.rdb", "appendonlydir/appendonly.aof.2.incr.aof"]
    kept += ["appendonlydir/appendonly.aof.manifest", "redis-shared-dataset"]
    # A rewrite SIGKILLed with Redis: its child's file and, an initial rewrite, the temp incr file; a disk-based
    # sync's orphan and its dump.rdb.
    leftovers = ["temp-rewriteaof-4242.aof", "temp-rewriteaof-bg-4241.aof", "appendonlydir/temp-appendonly.aof.incr"]
    leftovers += ["temp-1700000000.12.rdb", "dump.rdb"]
    for name in kept + leftovers:
        (data / name).write_text("x")
    script = render_scripts()["start.sh"].replace(f'"{DATA_DIR}', f'"{data}')
    for flag in (STARTED_WITH_DATA_FLAG, FENCED_FLAG):
        script = script.replace(flag, str(tmp_path / Path(flag).name))
    (tmp_path / "start.sh").write_text(script)
    bin_dir = fake_bin(tmp_path, "redis-server", f'echo "$*" > "{tmp_path}/server"\n')
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "REDIS_ROLE": "replica"}
    run = subprocess.run(["sh", str(tmp_path / "start.sh")], capture_output=True, text=True, env=env, timeout=20)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "server").read_text().strip().endswith("/replica.conf")
    assert sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file()) == sorted(kept)
    assert (tmp_path / Path(STARTED_WITH_DATA_FLAG).name).exists()


def test_the_conf_keeps_a_replica_alive_on_disk_errors_and_syncs_at_once() -> None:
    conf = render_common_conf(
        ServerSettings(
            port=6379,
            maxmemory_bytes=512 * 1024 * 1024,
            eviction_policy=EvictionPolicy.ALLKEYS_LRU,
            shutdown_timeout_seconds=10,
            primary_host="p",
            replicas=2,
        )
    ).splitlines()
    assert "replica-ignore-disk-write-errors yes" in conf
    assert "repl-diskless-sync-max-replicas 2" in conf


def tls_check(tmp_path: Path, heartbeat: str, now: int) -> subprocess.CompletedProcess[str]:
    script = render_reload_script().replace(RELOAD_RUN_DIR, str(tmp_path))
    (tmp_path / "tls-reload.sh").write_text(script)
    (tmp_path / "heartbeat").write_text(heartbeat + "\n")
    bin_dir = fake_bin(tmp_path, "date", f"echo {now}\n")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "TLS_RELOAD_INTERVAL_SECONDS": "60",
        "TLS_RELOAD_MAX_PENDING_SECONDS": "600",
    }
    return subprocess.run(
        ["sh", str(tmp_path / "tls-reload.sh"), "check"], capture_output=True, text=True, env=env, timeout=20
    )


def test_tls_reload_check_passes_on_a_fresh_round_with_nothing_pending(tmp_path: Path) -> None:
    assert tls_check(tmp_path, "1000 abc 0", 1150).returncode == 0  # 150 s <= 3 * 60 + 10


def test_tls_reload_check_fails_on_a_stalled_loop(tmp_path: Path) -> None:
    run = tls_check(tmp_path, "1000 abc 0", 1191)
    assert run.returncode == 1 and "loop stalled (last round 191 s ago)" in run.stdout


def test_tls_reload_check_fails_when_the_mounted_certificate_stays_unloaded(tmp_path: Path) -> None:
    assert tls_check(tmp_path, "2000 abc 1400", 2000).returncode == 0  # pending 600 s: at the bound
    run = tls_check(tmp_path, "2000 abc 1399", 2000)
    assert run.returncode == 1 and "not loaded for 601 s (bound 600 s)" in run.stdout


def test_fails_reload_max_pending_below_three_rounds_and_the_kubelet_sync() -> None:
    tls = Tls(
        certificates=ExistingTlsSecret(secret_name="s"), reload_interval_seconds=60, reload_max_pending_seconds=200
    )
    with pytest.raises(
        PropError,
        match=r"^tls\.reload_max_pending_seconds: got 200; expected an integer from 3 \* tls\.reload_interval_seconds \+ 90 \(270\) to 86400$",
    ):
        tls.validate(6379)
