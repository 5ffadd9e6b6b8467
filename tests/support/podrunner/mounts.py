"""Plan the mount-namespace setup of one container as a list of shell lines.

The container shares the host's root filesystem (the image's binaries are the host's), so the plan has to
(1) make every ``mountPath`` exist without writing to the host's directories, (2) get past host directories
the container's UID cannot traverse (Debian's ``/etc/redis`` is 0750 redis:redis) and (3) bind each volume.
It simulates the namespace as it goes, so later decisions see earlier mounts.

- missing path under ``/``: the runner creates the top-level dir on the host (recorded, removed at cleanup)
  and a tmpfs is mounted over it when more has to be created below;
- missing path under another dir: an overlay (tmpfs upper) over that dir, so its contents stay visible;
- ancestor the UID cannot traverse: a tmpfs over it (its host contents are not the image's anyway);
- a host dir at a mount path of the pod's other containers (``/opt/redis-shared/secrets`` on a host that
  happens to have one): whited out by an overlay on its parent, so the container does not see it, as in a real
  pod whose image has no such dir. Top-level paths (``/data``) cannot be hidden that way (no overlay on ``/``):
  they stay as the host has them.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class BindSpec:
    target: str  # absolute path inside the container
    source: Path  # host path, dir or file
    readonly: bool


@dataclass
class _Mount:
    kind: str  # tmpfs | overlay | bind
    source: Path | None = None
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclass
class MountPlan:
    lines: list[str] = field(default_factory=list)
    late_lines: list[str] = field(default_factory=list)  # read-only remounts, after every bind
    host_mkdirs: list[Path] = field(default_factory=list)
    own_mounts: list[str] = field(default_factory=list)  # tmpfs/overlay roots we made (remounted ro if RO root)

    def script(self) -> list[str]:
        return self.lines + self.late_lines


def _q(text: str | Path) -> str:
    return shlex.quote(str(text))


class MountPlanner:
    def __init__(self, *, uid: int, gids: set[int], stage: Path, translate: Callable[[Path], Path]) -> None:
        """``stage``: an empty dir for overlay upper dirs; ``translate``: host path → path the script uses."""
        self.uid = uid
        self.translate = translate
        self.gids = gids
        self.stage = stage
        self.plan = MountPlan()
        self.mounts: dict[str, _Mount] = {}
        self.created: set[str] = set()
        self.hidden: set[str] = set()
        self.staged = False
        self.overlays = 0

    # -- the simulated view ------------------------------------------------------------------------------
    def _cover(self, path: str) -> tuple[str, _Mount] | None:
        p = PurePosixPath(path)
        for cand in [p, *p.parents]:
            m = self.mounts.get(str(cand))
            if m is not None:
                return str(cand), m
        return None

    def exists(self, path: str) -> bool:
        if path in self.created:
            return True
        if any(str(cand) in self.hidden for cand in [PurePosixPath(path), *PurePosixPath(path).parents]):
            return False
        cover = self._cover(path)
        if cover is None:
            return os.path.exists(path)
        root, m = cover
        if m.kind == "tmpfs":
            return path == root
        if m.kind == "bind" and m.source is not None:
            rel = os.path.relpath(path, root)
            return os.path.exists(m.source / rel) if rel != "." else m.source.exists()
        return os.path.exists(path)

    def _owner_mode(self, path: str) -> tuple[int, int, int, bool]:
        """(mode, uid, gid, is_dir) as the container would see it."""
        if path in self.created:
            return 0o755, 0, 0, True
        cover = self._cover(path)
        if cover is not None:
            root, m = cover
            if m.kind == "tmpfs" and path == root:
                return m.mode, m.uid, m.gid, True
            if m.kind == "bind" and m.source is not None:
                rel = os.path.relpath(path, root)
                st = os.stat(m.source if rel == "." else m.source / rel)
                return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, stat.S_ISDIR(st.st_mode)
        st = os.stat(path)
        return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, stat.S_ISDIR(st.st_mode)

    def traversable(self, path: str) -> bool:
        if self.uid == 0:
            return True
        mode, uid, gid, _ = self._owner_mode(path)
        if uid == self.uid:
            return bool(mode & 0o100)
        if gid in self.gids:
            return bool(mode & 0o010)
        return bool(mode & 0o001)

    # -- actions -----------------------------------------------------------------------------------------
    def _ensure_stage(self) -> None:
        if not self.staged:
            self.plan.lines.append(f"mount -t tmpfs -o mode=0700 rsh-stage {_q(self.stage)}")
            self.staged = True

    def tmpfs(self, path: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        self.plan.lines.append(f"mount -t tmpfs -o mode={mode:04o},uid={uid},gid={gid} rsh-tmpfs {_q(path)}")
        self.mounts[path] = _Mount("tmpfs", mode=mode, uid=uid, gid=gid)
        self.created = {c for c in self.created if not c.startswith(path.rstrip("/") + "/")}
        self.plan.own_mounts.append(path)

    def _overlay(self, path: str) -> None:
        self._ensure_stage()
        self.overlays += 1
        upper, work = self.stage / f"o{self.overlays}u", self.stage / f"o{self.overlays}w"
        self.plan.lines.append(f"mkdir {_q(upper)} {_q(work)}")
        self.plan.lines.append(
            f"mount -t overlay rsh-overlay -o lowerdir={_q(path)},upperdir={_q(upper)},workdir={_q(work)} {_q(path)}"
        )
        self.mounts[path] = _Mount("overlay")
        self.plan.own_mounts.append(path)

    def hide(self, paths: Iterable[str]) -> None:
        """Make the host's dirs or files at ``paths`` absent in the container; call before any other action.

        Each parent gets an overlay whose (tmpfs) upper dir holds a whiteout (a 0:0 character device) per hidden
        name: the host's own files are never touched.
        """
        by_parent: dict[str, list[str]] = {}
        for path in sorted(set(paths)):
            p = PurePosixPath(path)
            if str(p.parent) == "/" or not os.path.lexists(path) or any(str(a) in self.hidden for a in p.parents):
                continue
            by_parent.setdefault(str(p.parent), []).append(p.name)
            self.hidden.add(path)
        for parent, names in by_parent.items():
            self._ensure_stage()
            self.overlays += 1
            upper, work = self.stage / f"o{self.overlays}u", self.stage / f"o{self.overlays}w"
            self.plan.lines.append(f"mkdir {_q(upper)} {_q(work)}")
            self.plan.lines.extend(f"mknod {_q(upper / name)} c 0 0" for name in names)
            self.plan.lines.append(
                f"mount -t overlay rsh-overlay -o lowerdir={_q(parent)},upperdir={_q(upper)},workdir={_q(work)} "
                f"{_q(parent)}"
            )
            self.mounts[parent] = _Mount("overlay")
            self.plan.own_mounts.append(parent)

    def _unblock_ancestors(self, target: str) -> None:
        parts = PurePosixPath(target).parts[1:]
        for i in range(1, len(parts)):
            anc = "/" + "/".join(parts[:i])
            if not self.exists(anc):
                return
            if not self.traversable(anc):
                self.tmpfs(anc)

    def ensure(self, target: str, *, is_file: bool = False) -> None:
        """Make ``target`` exist in the container (a dir, or an empty file for a file bind)."""
        self._unblock_ancestors(target)
        if self.exists(target):
            return
        p = PurePosixPath(target)
        missing: list[str] = []
        cur = p
        while not self.exists(str(cur)):
            missing.append(str(cur))
            cur = cur.parent
        existing = str(cur)
        missing.reverse()  # outermost first
        if existing == "/":
            top = Path(missing[0])
            self.plan.host_mkdirs.append(top)
            rest = missing[1:]
            if not rest and not is_file:
                self.created.add(missing[0])
                return
            # A host dir we just made: cover it with a tmpfs before creating anything below it.
            self.tmpfs(missing[0])
            missing = rest
        elif self._cover(existing) is None:
            # Inside one of our tmpfs/overlays, or inside a volume (containerd creates sub-mount-points
            # in the volume too), mkdir is fine; on the host's own filesystem it must go to an overlay.
            self._overlay(existing)
        for i, path in enumerate(missing):
            last = i == len(missing) - 1
            if last and is_file:
                self.plan.lines.append(f": > {_q(path)}")
            else:
                self.plan.lines.append(f"mkdir {_q(path)}")
            self.created.add(path)

    def bind(self, spec: BindSpec) -> None:
        is_file = spec.source.is_file()
        self.ensure(spec.target, is_file=is_file)
        self.plan.lines.append(f"mount --bind {_q(self.translate(spec.source))} {_q(spec.target)}")
        self.mounts[spec.target] = _Mount("bind", source=spec.source)
        self.created = {c for c in self.created if not c.startswith(spec.target.rstrip("/") + "/")}
        if spec.readonly:
            self.plan.late_lines.append(f"mount -o remount,bind,ro {_q(spec.target)}")

    def read_only_root(self, keep_writable: set[str]) -> None:
        """readOnlyRootFilesystem: the root mount and our own tmpfs/overlays become read-only."""
        self.plan.late_lines.append("mount -o remount,bind,ro /")
        if os.path.ismount("/run/netns"):
            self.plan.late_lines.append("mount -o remount,bind,ro /run/netns")
        for path in self.plan.own_mounts:
            if path not in keep_writable:
                self.plan.late_lines.append(f"mount -o remount,ro {_q(path)}")
