"""Host-side plumbing: the test bridge, per-pod network namespaces, cgroup v1 groups, leftover cleanup.

Every object made here carries the ``rsh-`` prefix so a crashed earlier run can be cleaned up by name.
Pods live on 198.18.0.0/24 (RFC 2544 benchmarking range) on a bridge with no uplink: pods get no default
route, so they can reach each other and the host's bridge address and nothing else.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PREFIX = "rsh-"
BRIDGE = "rsh-br"
SUBNET = "198.18.0"
HOST_IP = f"{SUBNET}.254"
CGROUP_ROOT = Path("/sys/fs/cgroup")
STATE_DIR = Path("/run/rsh-podrunner")
LOCK_PATH = Path("/run/rsh-podrunner.lock")
CREATED_DIRS = STATE_DIR / "created-dirs"
DECOY_DIRS = STATE_DIR / "decoy-dirs"
_HELD = False


class HostError(RuntimeError):
    """A host command (ip, mount, cgroup write) failed."""


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise HostError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


@contextlib.contextmanager
def host_lock(timeout: float = 180.0) -> Iterator[None]:
    """One runner per host at a time: leftovers are cleaned by prefix, so two runs would fight."""
    global _HELD  # noqa: PLW0603 - one flag per process
    if _HELD:
        raise HostError("a Cluster is already open in this process; close it before opening another")
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise HostError(f"another pod runner holds {LOCK_PATH} (waited {timeout:.0f} s)") from exc
                time.sleep(0.2)
        _HELD = True
        yield
    finally:
        _HELD = False
        os.close(fd)


def kill_pids(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def netns_pids(netns: str) -> list[int]:
    proc = run(["ip", "netns", "pids", netns], check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def list_netns() -> list[str]:
    proc = run(["ip", "-o", "netns", "list"], check=False)
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def list_links() -> list[str]:
    proc = run(["ip", "-o", "link", "show"], check=False)
    names = []
    for line in proc.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@")[0])
    return names


def list_cgroups() -> list[Path]:
    out: list[Path] = []
    for ctrl in ("cpu", "memory"):
        base = CGROUP_ROOT / ctrl
        if base.is_dir():
            out += sorted(base.glob(PREFIX + "*"))
    return out


def record_created_dir(path: Path) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with CREATED_DIRS.open("a") as fh:
        fh.write(f"{path}\n")


def remove_created_dirs() -> None:
    """Remove host mount-point dirs made for a container (only if still empty; deepest first)."""
    if not CREATED_DIRS.exists():
        return
    paths = {Path(p) for p in CREATED_DIRS.read_text().splitlines() if p.strip()}
    for path in sorted(paths, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(FileNotFoundError, OSError):
            path.rmdir()
    CREATED_DIRS.unlink(missing_ok=True)


def remove_cgroup(path: Path, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while path.exists():
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return
        kill_pids(pids)
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise HostError(f"cannot remove cgroup {path}: {exc}") from exc
            time.sleep(0.05)


def cleanup_leftovers() -> None:
    """Remove everything a previous (crashed) run left: processes, netns, links, cgroups, dirs."""
    for ns in list_netns():
        if ns.startswith(PREFIX):
            kill_pids(netns_pids(ns))
    for cg in list_cgroups():
        remove_cgroup(cg)
    for ns in list_netns():
        if ns.startswith(PREFIX):
            run(["ip", "netns", "del", ns], check=False)
    for link in list_links():
        if link.startswith(PREFIX):
            run(["ip", "link", "del", link], check=False)
    remove_created_dirs()
    remove_decoy_dirs()


@contextlib.contextmanager
def decoy_dirs(paths: Sequence[Path]) -> Iterator[None]:
    """For hermeticity tests: a dir holding a file ``decoy`` at each of ``paths`` the host lacks, removed after.

    Only under the host lock, so no other runner on the host ever sees them; recorded so that
    :func:`cleanup_leftovers` removes them after a crash. Paths the host already has are left alone.
    """
    if not _HELD:
        raise HostError("decoy dirs need the host lock: open a Cluster first")
    try:
        for path in paths:
            if path.exists():
                continue
            top = next(a for a in [*reversed(path.parents), path] if not a.exists())
            STATE_DIR.mkdir(parents=True, exist_ok=True)
            with DECOY_DIRS.open("a") as fh:
                fh.write(f"{top}\n")
            path.mkdir(parents=True)
            (path / "decoy").write_text("a host file no container may see\n")
        yield
    finally:
        remove_decoy_dirs()


def remove_decoy_dirs() -> None:
    if not DECOY_DIRS.exists():
        return
    for line in DECOY_DIRS.read_text().splitlines():
        if line.strip():
            shutil.rmtree(line.strip(), ignore_errors=True)
    DECOY_DIRS.unlink(missing_ok=True)


def setup_bridge() -> None:
    run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "addr", "add", f"{HOST_IP}/24", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def add_pod_netns(netns: str, ip: str) -> None:
    """A netns with loopback up and eth0 (veth onto the bridge) at ``ip``/24; no default route."""
    host_if, peer = f"{netns}h", f"{netns}p"
    if len(host_if) > 15:
        raise HostError(f"interface name {host_if!r} is longer than 15 characters")
    run(["ip", "netns", "add", netns])
    run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer])
    run(["ip", "link", "set", peer, "netns", netns])
    run(["ip", "link", "set", host_if, "master", BRIDGE])
    run(["ip", "link", "set", host_if, "up"])
    run(["ip", "-n", netns, "link", "set", peer, "name", "eth0"])
    run(["ip", "-n", netns, "addr", "add", f"{ip}/24", "dev", "eth0"])
    run(["ip", "-n", netns, "link", "set", "eth0", "up"])
    run(["ip", "-n", netns, "link", "set", "lo", "up"])


def delete_pod_netns(netns: str) -> None:
    kill_pids(netns_pids(netns))
    run(["ip", "netns", "del", netns], check=False)
    run(["ip", "link", "del", f"{netns}h"], check=False)


@dataclass(frozen=True)
class MemoryStats:
    limit_bytes: int
    usage_bytes: int
    max_usage_bytes: int
    failcnt: int  # times usage hit the limit (page cache reclaim counts too; not an OOM by itself)
    oom_kills: int
    under_oom: bool
    rss_bytes: int  # anonymous memory (incl. huge pages) of the processes, without page cache
    cache_bytes: int


class Cgroup:
    """A cgroup v1 pair (cpu + memory) named ``rsh-<pod>-<container>``."""

    def __init__(self, name: str, *, cpu_cores: float | None, memory_bytes: int | None) -> None:
        if not name.startswith(PREFIX):
            raise HostError(f"cgroup name {name!r} must start with {PREFIX!r}")
        self.name = name
        self.cpu_cores = cpu_cores
        self.memory_bytes = memory_bytes
        self.paths: list[Path] = []

    def create(self) -> None:
        cpu = CGROUP_ROOT / "cpu" / self.name
        mem = CGROUP_ROOT / "memory" / self.name
        for path in (cpu, mem):
            if path.exists():
                remove_cgroup(path)
            path.mkdir()
            self.paths.append(path)
        if self.cpu_cores is not None:
            period = 100_000
            (cpu / "cpu.cfs_period_us").write_text(str(period))
            (cpu / "cpu.cfs_quota_us").write_text(str(max(1000, int(self.cpu_cores * period))))
        if self.memory_bytes is not None:
            (mem / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
            # No swap for the container, like the kubelet (may be absent without swap accounting).
            with contextlib.suppress(OSError):
                (mem / "memory.memsw.limit_in_bytes").write_text(str(self.memory_bytes))

    def procs_files(self) -> list[str]:
        return [str(p / "cgroup.procs") for p in self.paths]

    def pids(self) -> list[int]:
        out: set[int] = set()
        for p in self.paths:
            with contextlib.suppress(FileNotFoundError):
                out.update(int(x) for x in (p / "cgroup.procs").read_text().split())
        return sorted(out)

    def memory_stats(self) -> MemoryStats:
        mem = CGROUP_ROOT / "memory" / self.name

        def read(name: str) -> str:
            return (mem / name).read_text()

        oom = dict(line.split() for line in read("memory.oom_control").splitlines() if line.strip())
        stat = {k: int(v) for k, v in (line.split() for line in read("memory.stat").splitlines() if line.strip())}
        return MemoryStats(
            limit_bytes=int(read("memory.limit_in_bytes")),
            usage_bytes=int(read("memory.usage_in_bytes")),
            max_usage_bytes=int(read("memory.max_usage_in_bytes")),
            failcnt=int(read("memory.failcnt")),
            oom_kills=int(oom.get("oom_kill", "0")),
            under_oom=oom.get("under_oom", "0") == "1",
            rss_bytes=stat.get("rss", 0),
            cache_bytes=stat.get("cache", 0),
        )

    def remove(self) -> None:
        for p in self.paths:
            remove_cgroup(p)
        self.paths = []


def add_self_to(procs_files: Sequence[str]) -> None:
    """For ``preexec_fn``: move the forked child into the container's cgroups before it execs."""
    pid = str(os.getpid())
    for f in procs_files:
        with open(f, "w") as fh:
            fh.write(pid)
