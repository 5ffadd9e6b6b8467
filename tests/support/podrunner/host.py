"""Host-side plumbing: the test bridge, per-pod network namespaces, cgroup v1 groups, leftover cleanup.

Every object made here carries the ``rsh-`` prefix so a crashed earlier run can be cleaned up by name.
Pods live on 198.18.0.0/24 (RFC 2544 benchmarking range) on a bridge with no uplink: pods get no default
route, so they can reach each other and the host's bridge address and nothing else.

Runners side by side: by default a Cluster has the host to itself (the lock below). A process started with
``PODRUNNER_SLOT=<n>`` (one digit; ``make test`` runs its runtime tests as two such processes) shares the host
with the other slots instead: names of its own (prefix ``rsh<n>-``, ``rsh-`` for slot 0), its own bridge and
subnet 198.18.<n>.0/24, one Cluster per slot at a time. What the slots share stays as it is while another slot
may use it, and only a runner with the host to itself touches it: the host dirs made as mount points (removing one
detaches the mounts on it in every other mount namespace, Linux >= 3.18), decoy dirs, other slots' leftovers.
:func:`exclusive_host` takes the host for a block (in the tests: a module marked ``host_exclusive``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


class HostError(RuntimeError):
    """A host command (ip, mount, cgroup write) failed."""


def _slot() -> int | None:
    value = os.environ.get("PODRUNNER_SLOT")
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]", value):
        raise HostError(f"PODRUNNER_SLOT: got {value!r}; expected one digit (0-9), or unset for the host to itself")
    return int(value)


#: This process's slot, or None: every Cluster then has the host to itself.
SLOT = _slot()
SHARED = SLOT is not None
PREFIX = "rsh-" if not SLOT else f"rsh{SLOT}-"
BRIDGE = f"{PREFIX}br"
SUBNET = f"198.18.{SLOT or 0}"
HOST_IP = f"{SUBNET}.254"
CGROUP_ROOT = Path("/sys/fs/cgroup")
STATE_DIR = Path("/run/rsh-podrunner")
#: Shared by the slots' Clusters, exclusive for a runner with the host to itself (also a runner of before the slots).
LOCK_PATH = Path("/run/rsh-podrunner.lock")
#: Held while waiting for LOCK_PATH: a runner waiting for the host to itself lets no new shared holder in meanwhile.
TURNSTILE_PATH = Path("/run/rsh-podrunner.turnstile")
SLOT_LOCK_PATH = Path(f"/run/rsh-podrunner.slot{SLOT or 0}.lock")
CREATED_DIRS = STATE_DIR / "created-dirs"
DECOY_DIRS = STATE_DIR / "decoy-dirs"
_ANY_SLOT = re.compile(r"rsh[0-9]?-")
_HELD = False
#: The lock this process holds: "exclusive", "shared", or None.
_HOLDS: str | None = None
#: exclusive_host() is open in this process: its Clusters take no lock of their own.
_RESERVED = False


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise HostError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def _flock(path: Path, mode: int, deadline: float, timeout: float) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise HostError(f"another pod runner holds {path} (waited {timeout:.0f} s)") from exc
                time.sleep(0.2)
    except BaseException:
        os.close(fd)
        raise


def _acquire(*, exclusive: bool, timeout: float) -> list[int]:
    """The host lock, exclusive or shared with the other slots (then also this slot's own lock); fds, main first."""
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    slot: list[int] = []
    try:
        if not exclusive:
            slot.append(_flock(SLOT_LOCK_PATH, fcntl.LOCK_EX, deadline, timeout))
        gate = _flock(TURNSTILE_PATH, fcntl.LOCK_EX, deadline, timeout)
        try:
            main = _flock(LOCK_PATH, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH, deadline, timeout)
        finally:
            os.close(gate)
    except BaseException:
        for fd in slot:
            os.close(fd)
        raise
    return [main, *slot]


def _release(fds: list[int], *, shared: bool) -> None:
    """Close the lock; a shared holder that finds itself alone (nothing else holds the lock) removes the host dirs
    the slots made as mount points meanwhile."""
    try:
        if shared and fds:
            with contextlib.suppress(OSError):
                fcntl.flock(fds[0], fcntl.LOCK_EX | fcntl.LOCK_NB)
                remove_created_dirs()
    finally:
        for fd in fds:
            os.close(fd)


@contextlib.contextmanager
def host_lock(timeout: float = 180.0) -> Iterator[None]:
    """One Cluster per process; one per host without ``PODRUNNER_SLOT``, else one per slot (leftovers are cleaned by
    prefix, so two runs with the same names would fight). Within :func:`exclusive_host` it takes no lock."""
    global _HELD, _HOLDS
    if _HELD:
        raise HostError("a Cluster is already open in this process; close it before opening another")
    exclusive = not SHARED or _RESERVED
    fds = [] if _RESERVED else _acquire(exclusive=exclusive, timeout=timeout)
    _HELD, _HOLDS = True, "exclusive" if exclusive else "shared"
    try:
        yield
    finally:
        _HELD, _HOLDS = False, "exclusive" if _RESERVED else None
        _release(fds, shared=not exclusive)


def holds_host() -> bool:
    """This process has the host to itself now (no Cluster of another slot or process runs)."""
    return _HOLDS == "exclusive"


@contextlib.contextmanager
def exclusive_host(timeout: float = 300.0) -> Iterator[None]:
    """The host to this process alone for a block: no Cluster of another slot or process runs meanwhile, and the
    Clusters opened inside take no lock of their own. For decoy dirs and checks of what is left on the host.
    Leftovers of earlier runs (every slot's) are removed first."""
    global _RESERVED, _HOLDS
    if _RESERVED or _HELD:
        raise HostError("exclusive_host: this process already holds the host lock")
    fds = _acquire(exclusive=True, timeout=timeout)
    _RESERVED, _HOLDS = True, "exclusive"
    try:
        cleanup_leftovers()
        yield
    finally:
        _RESERVED, _HOLDS = False, None
        _release(fds, shared=False)


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


def list_cgroups(*, everything: bool = False) -> list[Path]:
    """This slot's cgroups (``everything``: every slot's)."""
    out: list[Path] = []
    for ctrl in ("cpu", "memory"):
        base = CGROUP_ROOT / ctrl
        if base.is_dir():
            out += sorted(p for p in base.glob("rsh*") if _ours(p.name, everything))
    return out


def make_host_dir(path: Path, mode: int = 0o755) -> None:
    """A dir on the host (a mount point for the containers) unless one is there; recorded for the cleanup."""
    try:
        path.mkdir(mode=mode)
    except FileExistsError:
        return
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with CREATED_DIRS.open("a") as fh:  # one short append: whole lines also with other slots appending
        fh.write(f"{path}\n")


def remove_created_dirs() -> None:
    """Remove host mount-point dirs made for a container (only if still empty; deepest first). Only with the host
    to oneself: another slot's containers may have mounts on them."""
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


def _ours(name: str, everything: bool) -> bool:
    return bool(_ANY_SLOT.match(name)) if everything else name.startswith(PREFIX)


def cleanup_leftovers() -> None:
    """Remove what a previous (crashed) run left: processes, netns, links, cgroups. With the host to itself (every
    Cluster without ``PODRUNNER_SLOT``), every slot's and the host dirs made as mount points and the decoys too;
    shared with other slots, only this slot's."""
    everything = holds_host()
    for ns in list_netns():
        if _ours(ns, everything):
            kill_pids(netns_pids(ns))
    for cg in list_cgroups(everything=everything):
        remove_cgroup(cg)
    for ns in list_netns():
        if _ours(ns, everything):
            run(["ip", "netns", "del", ns], check=False)
    for link in list_links():
        if _ours(link, everything):
            run(["ip", "link", "del", link], check=False)
    if everything:
        remove_created_dirs()
        remove_decoy_dirs()


@contextlib.contextmanager
def decoy_dirs(paths: Sequence[Path]) -> Iterator[None]:
    """For hermeticity tests: a dir holding a file ``decoy`` at each of ``paths`` the host lacks, removed after.

    Only with the host to oneself, so no other runner on the host ever sees them; recorded so that
    :func:`cleanup_leftovers` removes them after a crash. Paths the host already has are left alone.
    """
    if not (_HELD and holds_host()):
        raise HostError(
            "decoy dirs need the host to this process alone: open a Cluster first, without PODRUNNER_SLOT or within "
            "exclusive_host() (in the tests: mark the module host_exclusive)"
        )
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
