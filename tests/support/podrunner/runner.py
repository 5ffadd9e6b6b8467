"""Run the pods of rendered StatefulSets as local processes: one netns per pod, one mount ns per container.

Usage::

    with Cluster(objects, tmp_path, secrets={("redis", "redis-shared-auth"): {"client": "pw"}}) as cluster:
        cluster.start(wait_ready=True)
        primary = cluster.pod("redis-shared-primary-0")
        primary.exec("redis", ["redis-cli", "PING"])

What is emulated and what is not:
- the image's binaries are the host's; only ``IMAGE_BINARIES`` (e.g. ``/redis_exporter``) are remapped;
  ``command`` is required (no ENTRYPOINT emulation); ``$(VAR)`` expansion as the kubelet does it;
- volumes: configMap, secret, projected (secret/configMap/downwardAPI), downwardAPI, emptyDir, the
  StatefulSet's volumeClaimTemplates (a persistent dir per pod, mode 0777 like local-path) and a Job pod's
  persistentVolumeClaim (one dir per claim in the cluster, kept across runs);
- Jobs and CronJobs: ``run_job`` runs one pod of the template to completion (init containers, native sidecars —
  init containers with ``restartPolicy: Always``, started in order, each past its startup probe, stopped with
  SIGTERM once the main containers exited); pod anti-affinity is recorded (``Pod.kept_off``), not scheduled;
- names: a hosts file per pod (no DNS server); a Service name resolves to the first pod its selector matches
  (ClusterIPs cannot be emulated) and names do not disappear while a pod is not Ready;
- no automatic container restarts (restartPolicy) and no probe loop: tests call ``probe()`` and ``restart()``;
- a recreated pod (``restart()``) re-runs init containers and gets fresh emptyDirs; PVC dirs and the IP stay;
- readOnlyRootFilesystem: the root mount is read-only in the container's mount namespace (/dev/shm stays rw);
- not enforced: NetworkPolicy, seccomp, emptyDir sizeLimit (medium Memory is a plain dir), PDBs, scheduling.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Any, Literal

import yaml

from . import host
from .k8s import (
    ManifestError,
    Obj,
    Objects,
    PodIdentity,
    SecretData,
    container_env,
    cpu_cores,
    expand,
    memory_bytes,
    name_of,
    ns_of,
    selector_matches,
    service_link_env,
    volume_contents,
)
from .mounts import BindSpec, MountPlanner

PATH = "/usr/local/bin:/usr/bin:/bin"
# The image's own binaries that the host has under another path. Nothing else is remapped.
IMAGE_BINARIES: dict[str, str] = {
    "/redis_exporter": "/usr/bin/prometheus-redis-exporter",
    "/usr/local/sbin/haproxy": "/usr/sbin/haproxy",
}
# Image WORKDIR (and its owner) where it matters; everything else runs in "/".
IMAGE_WORKDIRS: dict[str, tuple[str, int, int]] = {"redis": ("/data", 999, 999)}
SRC_MOUNT = Path("/.rsh-podrunner")
#: Where a Job pod's persistentVolumeClaim dirs (outside the pod dir: they outlive it) are bound likewise.
CLAIMS_MOUNT = Path("/.rsh-podrunner-claims")
_NS_EXEC = ("ip", "netns", "exec")
_UNSHARE = ("unshare", "--mount", "--uts", "--propagation", "private")
ProbeKind = Literal["liveness", "readiness", "startup"]


class PodError(RuntimeError):
    """A pod or container did not do what the test needed (the message carries the log tail)."""


def load_manifests(path: Path) -> list[dict[str, Any]]:
    """Every object of every ``*.yaml``/``*.yml`` file under ``path`` (sorted by file name)."""
    files = [path] if path.is_file() else sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")])
    out: list[dict[str, Any]] = []
    for f in files:
        docs = [d for d in yaml.safe_load_all(f.read_text()) if d]
        # kustomization.yaml is build configuration, not an object of the cluster.
        out += [d for d in docs if not str(d.get("apiVersion", "")).startswith("kustomize.config.k8s.io/")]
    return out


def k8s_exit_code(returncode: int) -> int:
    """Popen's -SIG for a signal death becomes 128+SIG, as ``kubectl`` reports it."""
    return 128 - returncode if returncode < 0 else returncode


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _image_repo(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


@dataclass
class _Identity:
    uid: int
    gid: int
    groups: tuple[int, ...]
    drop_all_caps: bool
    read_only_root: bool

    def setpriv(self) -> list[str]:
        argv = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}"]
        argv.append("--groups=" + ",".join(str(g) for g in self.groups) if self.groups else "--clear-groups")
        argv.append("--no-new-privs")
        if self.drop_all_caps:
            argv += ["--inh-caps=-all", "--bounding-set=-all"]
        return argv


class Container:
    """One container of a pod: its resolved spec, env, identity and (while it runs) its process."""

    def __init__(self, pod: Pod, spec: Obj, *, init: bool) -> None:
        self.pod = pod
        self.spec = spec
        self.name = str(spec["name"])
        self.init = init
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.previous_log: Path | None = None
        self.cgroup: host.Cgroup | None = None
        self.runs = 0
        self.env: dict[str, str] = {}
        self.identity = self._identity()
        image = str(spec.get("image", ""))
        default_wd = IMAGE_WORKDIRS.get(_image_repo(image))
        self.image_workdir = default_wd
        self.workdir = str(spec.get("workingDir") or (default_wd[0] if default_wd else "/"))
        limits = (spec.get("resources") or {}).get("limits") or {}
        self.cpu_limit: float | None = cpu_cores(limits["cpu"]) if "cpu" in limits else None
        self.memory_limit: int | None = memory_bytes(limits["memory"]) if "memory" in limits else None

    def _identity(self) -> _Identity:
        psc = self.pod.spec.get("securityContext") or {}
        csc = self.spec.get("securityContext") or {}

        def pick(key: str) -> Any:
            return csc[key] if key in csc else psc.get(key)

        uid = int(pick("runAsUser") or 0)
        gid = int(pick("runAsGroup") or 0)
        if pick("runAsNonRoot") and uid == 0:
            raise PodError(
                f"pod {self.pod.name} container {self.name}: runAsNonRoot is set but the container would run as "
                "root (no runAsUser); the kubelet refuses to start it"
            )
        groups = [int(g) for g in psc.get("supplementalGroups") or []]
        if psc.get("fsGroup") is not None:
            groups.insert(0, int(psc["fsGroup"]))
        caps = (csc.get("capabilities") or {}).get("drop") or []
        return _Identity(
            uid=uid,
            gid=gid,
            groups=tuple(dict.fromkeys(groups)),
            drop_all_caps="ALL" in caps,
            read_only_root=bool(csc.get("readOnlyRootFilesystem", False)),
        )

    # -- process -----------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise PodError(f"{self.pod.name}/{self.name} was never started")
        return self.proc.pid

    def argv(self) -> list[str]:
        command = self.spec.get("command")
        if not command:
            raise PodError(
                f"pod {self.pod.name} container {self.name}: no command; the pod runner does not emulate image "
                "entrypoints (the project always sets command)"
            )
        args = [str(a) for a in command] + [str(a) for a in self.spec.get("args") or []]
        args = [expand(a, self.env.get) for a in args]
        args[0] = IMAGE_BINARIES.get(args[0], args[0])
        return args

    def env_argv(self, extra: Mapping[str, str] | None = None) -> list[str]:
        env = dict(self.env)
        env.update(extra or {})
        return ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items())]

    def launch(self) -> None:
        pod = self.pod
        self.runs += 1
        self.env = pod.env_for(self.spec)
        argv = self.argv()

        # Volume sources live under the pod dir, which a mountPath (an emptyDir at /tmp) could hide: the
        # script first binds the pod dir at SRC_MOUNT and unmounts it again (lazily) before the exec.
        claims_root = pod.cluster.workdir / "claims"

        def translate(path: Path) -> Path:
            if path.is_relative_to(claims_root):
                return CLAIMS_MOUNT / path.relative_to(claims_root)
            return SRC_MOUNT / path.relative_to(pod.dir)

        planner = MountPlanner(
            uid=self.identity.uid,
            gids={self.identity.gid, *self.identity.groups},
            stage=translate(pod.stage_dir(self.name)),
            translate=translate,
        )
        # What the host has at the other containers' mount paths is in no image: hidden (mounts.py). Paths on
        # the same branch as one of this container's own mounts are left to the mount itself.
        own = [PurePosixPath(str(vm["mountPath"])) for vm in self.spec.get("volumeMounts") or []]
        others = {
            PurePosixPath(str(vm["mountPath"]))
            for c in [*pod.init_containers, *pod.containers]
            for vm in c.spec.get("volumeMounts") or []
        }
        planner.hide(str(p) for p in others if not any(p == o or p in o.parents or o in p.parents for o in own))
        for vm in self.spec.get("volumeMounts") or []:
            src = pod.volume_dir(str(vm["name"]))
            sub = str(vm.get("subPath") or "")
            if sub:
                src = (src / sub).resolve() if (src / sub).is_symlink() else src / sub
                if not src.exists():
                    src.mkdir(parents=True)
            planner.bind(BindSpec(str(vm["mountPath"]), src, bool(vm.get("readOnly", False))))
        mounted = {str(vm["mountPath"]) for vm in self.spec.get("volumeMounts") or []}
        if self.image_workdir and self.workdir == self.image_workdir[0] and self.workdir not in mounted:
            # The image's WORKDIR exists in the image, owned by the image's user.
            planner.ensure(self.workdir)
            planner.tmpfs(self.workdir, mode=0o755, uid=self.image_workdir[1], gid=self.image_workdir[2])
        elif not planner.exists(self.workdir):
            planner.ensure(self.workdir)
        planner.bind(BindSpec("/etc/hosts", pod.hosts_path, False))
        planner.bind(BindSpec("/etc/resolv.conf", pod.resolv_path, False))
        if self.identity.read_only_root:
            planner.read_only_root(keep_writable=set())
        plan = planner.plan
        for d in plan.host_mkdirs:
            host.make_host_dir(d)
        uses_claims = bool(pod.claim_volumes)
        for mount_point in (SRC_MOUNT, *([CLAIMS_MOUNT] if uses_claims else [])):
            host.make_host_dir(mount_point, 0o700)
        claims = [f"mount --rbind {shlex.quote(str(claims_root))} {CLAIMS_MOUNT}"] if uses_claims else []
        lines = [
            "set -eu",
            f"mount --rbind {shlex.quote(str(pod.dir))} {SRC_MOUNT}",
            *claims,
            *plan.script(),
            *([f"umount -l {CLAIMS_MOUNT}"] if uses_claims else []),
            f"umount -l {SRC_MOUNT}",
            f"hostname {shlex.quote(pod.name)}",
            f"cd {shlex.quote(self.workdir)}",
        ]
        lines.append("exec " + shlex.join([*self.identity.setpriv(), *self.env_argv(), *argv]))
        script = pod.run_dir / f"{self.name}.sh"
        script.write_text("\n".join(lines) + "\n")
        pod.stage_dir(self.name).mkdir(parents=True, exist_ok=True)

        if self.log_path is not None:
            self.previous_log = self.log_path
        self.log_path = pod.log_dir / f"{self.name}.{self.runs}.log"
        procs: list[str] = []
        if pod.cluster.cgroup_limits:
            if self.cgroup is not None:
                self.cgroup.remove()
            self.cgroup = host.Cgroup(
                f"{host.PREFIX}{pod.name}-{self.name}", cpu_cores=self.cpu_limit, memory_bytes=self.memory_limit
            )
            self.cgroup.create()
            procs = self.cgroup.procs_files()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*_NS_EXEC, pod.netns, *_UNSHARE, "/bin/sh", str(script)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=(lambda: host.add_self_to(procs)) if procs else None,  # noqa: PLW1509
            )

    def logs(self, *, previous: bool = False) -> str:
        path = self.previous_log if previous else self.log_path
        if path is None:
            return ""
        return path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines) if self.log_path else "(never started)"

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> int:
        if self.proc is None:
            raise PodError(f"{self.pod.name}/{self.name} was never started")
        try:
            return k8s_exit_code(self.proc.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            raise TimeoutError(
                f"{self.pod.name}/{self.name} still running after {timeout} s; log tail:\n{self.log_tail()}"
            ) from None

    def hard_kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def nsenter_argv(self, argv: Sequence[str], *, env: Mapping[str, str] | None, as_root: bool = False) -> list[str]:
        if not self.running:
            raise PodError(f"{self.pod.name}/{self.name} is not running; log tail:\n{self.log_tail()}")
        pid = self.pid
        ns = [f"--net=/proc/{pid}/ns/net", f"--mount=/proc/{pid}/ns/mnt", f"--uts=/proc/{pid}/ns/uts"]
        priv = ["setpriv", "--reuid=0", "--regid=0", "--clear-groups"] if as_root else self.identity.setpriv()
        return ["nsenter", *ns, f"--wdns={self.workdir}", *priv, *self.env_argv(env), *argv]


class Pod:
    """One StatefulSet pod: its network namespace, volumes, containers and lifecycle."""

    def __init__(self, cluster: Cluster, sts: Obj, ordinal: int, index: int) -> None:
        self.cluster = cluster
        self.statefulset = sts
        self.ordinal = ordinal
        self.name = f"{name_of(sts)}-{ordinal}"
        self.namespace = ns_of(sts)
        template = sts["spec"]["template"]
        self.spec: Obj = template["spec"]
        self.labels: dict[str, str] = dict((template.get("metadata") or {}).get("labels") or {})
        self.annotations: dict[str, str] = dict((template.get("metadata") or {}).get("annotations") or {})
        self.subdomain = str(sts["spec"].get("serviceName") or "")
        self.index = index
        #: Set by :meth:`Cluster.lose_node`: the pod has left the endpoints of its Services.
        self.node_lost = False
        self.netns = f"{host.PREFIX}{index}"
        self.ip = f"{host.SUBNET}.{index}"
        self.dir = cluster.workdir / "pods" / self.name
        self.run_dir = self.dir / "run"
        self.log_dir = self.dir / "logs"
        self.hosts_path = self.dir / "hosts"
        self.resolv_path = self.dir / "resolv.conf"
        self.claims = [name_of(t) for t in sts["spec"].get("volumeClaimTemplates") or []]
        #: Volume name -> claim name of the pod's ``persistentVolumeClaim`` volumes (a Job's pod).
        self.claim_volumes = {
            str(vol["name"]): str(vol["persistentVolumeClaim"]["claimName"])
            for vol in self.spec.get("volumes") or []
            if "persistentVolumeClaim" in vol
        }
        #: Pods this one's required anti-affinity keeps it away from (recorded by ``Cluster.run_job``).
        self.kept_off: list[str] = []
        #: The init container that failed and its exit code, once one did.
        self.init_failed: tuple[str, int] | None = None
        #: Exit codes of the init containers that ran to completion at the last start.
        self.init_codes: dict[str, int] = {}
        self.grace_seconds = float(self.spec.get("terminationGracePeriodSeconds", 30))
        self.init_containers = [Container(self, c, init=True) for c in self.spec.get("initContainers") or []]
        self.containers = [Container(self, c, init=False) for c in self.spec["containers"]]
        self.netns_ready = False
        self.identity = PodIdentity(
            self.name,
            self.namespace,
            self.ip,
            self.labels,
            self.annotations,
            str(self.spec.get("serviceAccountName", "default")),
        )

    def __repr__(self) -> str:
        return f"Pod({self.name} {self.ip})"

    # -- lookups -----------------------------------------------------------------------------------------
    def container(self, name: str | None = None) -> Container:
        if name is None:
            return self.containers[0]
        for c in self.containers + self.init_containers:
            if c.name == name:
                return c
        raise KeyError(f"pod {self.name} has no container {name!r}; has {[c.name for c in self.containers]}")

    def _container_spec(self, name: str) -> Obj:
        return self.container(name or None).spec

    def volume_dir(self, volume: str) -> Path:
        if volume in self.claims:
            return self.pvc_path(volume)
        if volume in self.claim_volumes:
            return self.cluster.claim_path(self.namespace, self.claim_volumes[volume])
        names = [str(v["name"]) for v in self.spec.get("volumes") or []]
        if volume not in names:
            raise ManifestError(f"pod {self.name}: volumeMount of unknown volume {volume!r} (volumes: {names})")
        return self.dir / "volumes" / volume

    def pvc_path(self, claim: str) -> Path:
        if claim not in self.claims:
            raise KeyError(f"pod {self.name} has no volumeClaimTemplate {claim!r}; has {self.claims}")
        return self.dir / "pvc" / claim

    def stage_dir(self, container: str) -> Path:
        return self.run_dir / f"{container}.stage"

    def env_for(self, spec: Obj) -> dict[str, str]:
        base = {"PATH": PATH, "HOSTNAME": self.name, "HOME": "/"}
        if self.spec.get("enableServiceLinks", True):
            base.update(service_link_env(self.cluster.objects, self.namespace, self.cluster.service_ip))
        return container_env(self.cluster.objects, self.spec, spec, self.identity, base)

    # -- volumes -----------------------------------------------------------------------------------------
    def _fs_group(self) -> int | None:
        g = (self.spec.get("securityContext") or {}).get("fsGroup")
        return int(g) if g is not None else None

    def _render_volumes(self, *, keep_empty_dirs: bool) -> None:
        fs_group = self._fs_group()
        for claim in self.claims:
            path = self.pvc_path(claim)
            if not path.exists():
                path.mkdir(parents=True)
                path.chmod(0o777)  # local-path: 0777, fsGroup not applied
        for vol in self.spec.get("volumes") or []:
            name = str(vol["name"])
            path = self.dir / "volumes" / name
            if "persistentVolumeClaim" in vol:
                claim_dir = self.cluster.claim_path(self.namespace, str(vol["persistentVolumeClaim"]["claimName"]))
                if not claim_dir.exists():
                    claim_dir.mkdir(parents=True)
                    claim_dir.chmod(0o777)  # local-path: 0777, fsGroup not applied
                continue
            if "emptyDir" in vol:
                if keep_empty_dirs and path.exists():
                    continue
                if path.exists():
                    shutil.rmtree(path)
                path.mkdir(parents=True)
                path.chmod(0o777)
                if fs_group is not None:
                    os.chown(path, 0, fs_group)
                    path.chmod(0o2777)
                continue
            contents = volume_contents(self.cluster.objects, self.identity, vol, self._container_spec)
            if contents is None:
                raise ManifestError(f"pod {self.name} volume {name}: unsupported volume type {sorted(vol)}")
            if path.exists():
                shutil.rmtree(path)
            self._atomic_write(path, contents.files, fs_group)

    def refresh_volumes(self) -> None:
        """What the kubelet does for a running pod's ConfigMap, Secret and projected volumes (not env, not
        subPath): the current contents, keys added and keys removed (its AtomicWriter drops their symlinks)."""
        fs_group = self._fs_group()
        for vol in self.spec.get("volumes") or []:
            if not any(kind in vol for kind in ("configMap", "secret", "projected")):
                continue
            contents = volume_contents(self.cluster.objects, self.identity, vol, self._container_spec)
            if contents is None:
                continue
            path = self.dir / "volumes" / str(vol["name"])
            # The kubelet's AtomicWriter update: a new timestamped dir, then ``..data`` swapped by rename, so a
            # container's mount of ``path`` stays valid.
            staging = path.parent / f".{vol['name']}.refresh"
            if staging.exists():
                shutil.rmtree(staging)
            self._atomic_write(staging, contents.files, fs_group)
            old_dir = os.readlink(path / "..data")
            new_dir = f"..{time.time_ns()}"
            (staging / "..2026_01_01_00_00_00.000000000").rename(path / new_dir)
            (path / "..data_tmp").symlink_to(new_dir)
            os.rename(path / "..data_tmp", path / "..data")
            shutil.rmtree(path / old_dir)
            current = {entry.name for entry in staging.iterdir() if entry.name != "..data"}
            for entry in path.iterdir():
                if entry.is_symlink() and not entry.name.startswith("..") and entry.name not in current:
                    entry.unlink()  # a key that is gone
            for name in current:
                if not (path / name).is_symlink():
                    (path / name).symlink_to(f"..data/{name}")
            shutil.rmtree(staging)

    def refresh_config_maps(self) -> None:
        """Kept for the callers that name it: every refreshable volume (:meth:`refresh_volumes`)."""
        self.refresh_volumes()

    @staticmethod
    def _atomic_write(path: Path, files: Iterable[Any], fs_group: int | None) -> None:
        """The kubelet's AtomicWriter layout (``..data`` symlink) and its fsGroup ownership rules."""
        ts = path / "..2026_01_01_00_00_00.000000000"
        ts.mkdir(parents=True)
        tops: set[str] = set()
        for f in files:
            target = ts / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.data)
            target.chmod(f.mode)
            tops.add(Path(f.path).parts[0])
        (path / "..data").symlink_to(ts.name)
        for top in sorted(tops):
            (path / top).symlink_to(f"..data/{top}")
        if fs_group is None:
            return
        for root, dirs, names in os.walk(path):
            for entry in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, n) for n in names)]:
                os.lchown(entry, 0, fs_group)
                if os.path.islink(entry):
                    continue
                mode = os.stat(entry).st_mode & 0o7777
                if os.path.isdir(entry):
                    os.chmod(entry, mode | 0o440 | 0o110 | 0o2000)
                else:
                    os.chmod(entry, mode | 0o440)

    # -- lifecycle ---------------------------------------------------------------------------------------
    def ensure_netns(self) -> None:
        if not self.netns_ready:
            host.add_pod_netns(self.netns, self.ip)
            self.netns_ready = True

    def start(self, *, keep_empty_dirs: bool = False, init_timeout: float = 60.0) -> None:
        """Create the pod: volumes, init containers (each must exit 0), then the containers in the background."""
        if any(c.running for c in self.containers):
            raise PodError(f"pod {self.name} is already running")
        self.ensure_netns()
        for d in (self.run_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.hosts_path.write_text(self.cluster.hosts_file(self))
        self.resolv_path.write_text(
            f"search {self.namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
            "nameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n"
        )
        self._render_volumes(keep_empty_dirs=keep_empty_dirs)
        self.init_failed = None
        self.init_codes = {}
        for c in self.init_containers:
            c.launch()
            if c.spec.get("restartPolicy") == "Always":
                self._wait_sidecar_started(c, init_timeout)
                continue
            try:
                code = c.wait(init_timeout)
            except TimeoutError:
                c.hard_kill()
                raise PodError(
                    f"pod {self.name}: init container {c.name} still running after {init_timeout} s; "
                    f"log tail:\n{c.log_tail()}"
                ) from None
            finally:
                if c.cgroup is not None:
                    c.cgroup.remove()
                    c.cgroup = None
            self.init_codes[c.name] = code
            if code != 0:
                self.init_failed = (c.name, code)
                raise PodError(f"pod {self.name}: init container {c.name} exited {code}; log tail:\n{c.log_tail()}")
        for c in self.containers:
            c.launch()

    def _wait_sidecar_started(self, c: Container, timeout: float) -> None:
        """A native sidecar: the next container starts once its startup probe passes (at once without one)."""
        spec = c.spec.get("startupProbe")
        deadline = time.monotonic() + timeout
        period = float((spec or {}).get("periodSeconds", 10))
        while spec is not None and not self.probe(c.name, "startup"):
            if not c.running:
                self.init_failed = (c.name, c.wait(1))
                raise PodError(f"pod {self.name}: sidecar {c.name} exited {self.init_failed[1]}:\n{c.log_tail()}")
            if time.monotonic() > deadline:
                raise PodError(f"pod {self.name}: sidecar {c.name} not started after {timeout} s:\n{c.log_tail()}")
            time.sleep(min(period, 0.2))

    def run_to_completion(self, timeout: float) -> dict[str, int]:
        """A Job's pod: start it, wait for every main container to exit, stop the native sidecars (SIGTERM, then
        SIGKILL after the grace period); the exit code of each container that ran (an init container that failed
        ends the pod there, as with ``restartPolicy: Never``)."""
        deadline = time.monotonic() + timeout
        codes: dict[str, int] = {}
        try:
            self.start(init_timeout=timeout)
        except PodError:
            if self.init_failed is None:
                raise
            codes.update(self.init_codes)
            codes[self.init_failed[0]] = self.init_failed[1]
        else:
            codes.update(self.init_codes)
            for c in self.containers:
                codes[c.name] = c.wait(max(0.1, deadline - time.monotonic()))
        sidecars = [c for c in self.init_containers if c.spec.get("restartPolicy") == "Always" and c.proc]
        for c in reversed(sidecars):
            c.signal(signal.SIGTERM)
        for c in sidecars:
            try:
                codes[c.name] = c.wait(self.grace_seconds)
            except TimeoutError:
                c.hard_kill()
                codes[c.name] = 137
        self._kill_leftovers()
        return codes

    def restart(self, *, keep_empty_dirs: bool = False, grace: float | None = None) -> None:
        """Recreate the pod: stop what still runs, then start again with the same PVC dirs and IP."""
        self.stop(grace)
        self.start(keep_empty_dirs=keep_empty_dirs)

    def kill(self, sig: int = signal.SIGKILL, container: str | None = None) -> None:
        """Send ``sig`` to a container's process (default: the first container)."""
        self.container(container).signal(sig)

    def wait_exit(self, timeout: float, container: str | None = None) -> int:
        """Wait for a container to exit; its exit code, 128+N for death by signal N."""
        return self.container(container).wait(timeout)

    def running(self, container: str | None = None) -> bool:
        return self.container(container).running

    def stop(self, grace: float | None = None) -> dict[str, int]:
        """Like pod deletion: preStop hooks, SIGTERM, SIGKILL after the grace period; exit codes."""
        grace = self.grace_seconds if grace is None else grace
        deadline = time.monotonic() + grace
        for c in self.containers:
            hook = ((c.spec.get("lifecycle") or {}).get("preStop") or {}).get("exec")
            if hook and c.running:
                with contextlib.suppress(subprocess.TimeoutExpired, PodError):
                    self.exec(c.name, [str(a) for a in hook["command"]], timeout=max(0.1, deadline - time.monotonic()))
        for c in self.containers:
            c.signal(signal.SIGTERM)
        codes: dict[str, int] = {}
        for c in self.containers:
            if c.proc is None:
                continue
            try:
                codes[c.name] = c.wait(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                c.hard_kill()
                codes[c.name] = k8s_exit_code(c.proc.returncode if c.proc.returncode is not None else -9)
        self._kill_leftovers()
        return codes

    def _kill_leftovers(self) -> None:
        """Sandbox teardown: anything still alive in the pod's netns or cgroups (forked children)."""
        for c in self.containers + self.init_containers:
            c.hard_kill()
        if self.netns_ready:
            host.kill_pids(host.netns_pids(self.netns))
        for c in self.containers + self.init_containers:
            if c.cgroup is not None:
                host.kill_pids(c.cgroup.pids())

    def destroy(self) -> None:
        self._kill_leftovers()
        for c in self.containers + self.init_containers:
            if c.cgroup is not None:
                c.cgroup.remove()
                c.cgroup = None
        if self.netns_ready:
            host.delete_pod_netns(self.netns)
            self.netns_ready = False

    def wipe_pvc(self, claim: str) -> None:
        """Empty a PVC dir (the pod must not be running), e.g. to simulate a lost volume."""
        if any(c.running for c in self.containers):
            raise PodError(f"pod {self.name} is running; stop it before wiping {claim}")
        path = self.pvc_path(claim)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        path.chmod(0o777)

    # -- exec, probes ------------------------------------------------------------------------------------
    def exec(
        self,
        container: str | None,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        input: str | None = None,
        as_root: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl exec``: argv in the container's namespaces, as its user, with its env (plus ``env``).

        Raises ``subprocess.TimeoutExpired`` when the command outlives ``timeout`` (it is killed).
        """
        c = self.container(container)
        full = c.nsenter_argv(argv, env=env, as_root=as_root)
        procs = c.cgroup.procs_files() if c.cgroup is not None else []
        proc = subprocess.Popen(
            full,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=(lambda: host.add_self_to(procs)) if procs else None,  # noqa: PLW1509
        )
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(list(argv), timeout, out, err) from None
        return subprocess.CompletedProcess(list(argv), k8s_exit_code(proc.returncode), out, err)

    def netns_exec(self, argv: Sequence[str], *, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """A host binary (e.g. curl) in the pod's network namespace only: root, host filesystem, clean env."""
        if not self.netns_ready:
            raise PodError(f"pod {self.name} has no network namespace")
        env = {"PATH": PATH}  # no proxy variables: a request must not leave for a proxy
        return subprocess.run(
            [*_NS_EXEC, self.netns, *argv], capture_output=True, text=True, timeout=timeout, env=env, check=False
        )

    def probe_spec(self, container: str | None, kind: ProbeKind) -> Obj:
        c = self.container(container)
        spec = c.spec.get(f"{kind}Probe")
        if spec is None:
            raise PodError(f"pod {self.name} container {c.name} has no {kind}Probe")
        return dict(spec)

    def probe(self, container: str | None, kind: ProbeKind) -> bool:
        """Evaluate the rendered probe once, as the kubelet does (timeoutSeconds enforced)."""
        spec = self.probe_spec(container, kind)
        c = self.container(container)
        if not c.running:
            return False
        timeout = float(spec.get("timeoutSeconds", 1))
        if "exec" in spec:
            return self._probe_exec(c, [str(a) for a in spec["exec"]["command"]], timeout)
        if "tcpSocket" in spec:
            return self._probe_tcp(c, spec["tcpSocket"], timeout)
        if "httpGet" in spec:
            return self._probe_http(c, spec["httpGet"], timeout)
        raise PodError(f"pod {self.name} container {c.name}: unsupported {kind}Probe {sorted(spec)}")

    def _probe_exec(self, c: Container, argv: list[str], timeout: float) -> bool:
        try:
            return self.exec(c.name, argv, timeout=timeout).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _probe_tcp(self, c: Container, spec: Obj, timeout: float) -> bool:
        try:
            with socket.create_connection((self._probe_host(spec), self._port(c, spec["port"])), timeout=timeout):
                return True
        except OSError:
            return False

    def _probe_http(self, c: Container, get: Obj, timeout: float) -> bool:
        if str(get.get("scheme", "HTTP")).upper() != "HTTP":
            raise PodError(f"pod {self.name}: only HTTP httpGet probes are emulated")
        conn = http.client.HTTPConnection(self._probe_host(get), self._port(c, get["port"]), timeout=timeout)
        try:
            headers = {str(h["name"]): str(h["value"]) for h in get.get("httpHeaders") or []}
            conn.request("GET", str(get.get("path", "/")), headers=headers)
            return 200 <= conn.getresponse().status < 400
        except OSError:
            return False
        finally:
            conn.close()

    def _probe_host(self, spec: Obj) -> str:
        target = str(spec.get("host") or self.ip)
        if target != self.ip:
            raise PodError(f"pod {self.name}: probe host {target!r}; only the pod IP is allowed in tests")
        return target

    @staticmethod
    def _port(c: Container, port: int | str) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for p in c.spec.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
        raise PodError(f"container {c.name} has no port named {port!r}")

    def ready(self) -> bool:
        """Every container running and passing its readiness probe (startup probe first, if any)."""
        for c in self.containers:
            if not c.running:
                return False
            kinds: tuple[ProbeKind, ...] = ("startup", "readiness")
            for kind in kinds:
                if c.spec.get(f"{kind}Probe") and not self.probe(c.name, kind):
                    return False
        return True

    def wait_ready(self, timeout: float = 30.0, interval: float = 0.2) -> float:
        """Poll until ready(); seconds it took. Raises with logs when a container exits or time runs out."""
        start = time.monotonic()
        while True:
            for c in self.containers:
                if c.proc is not None and not c.running:
                    raise PodError(
                        f"pod {self.name}: container {c.name} exited {k8s_exit_code(c.proc.returncode or 0)}; "
                        f"log tail:\n{c.log_tail()}"
                    )
            if self.ready():
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                tails = "\n".join(f"--- {c.name}:\n{c.log_tail()}" for c in self.containers)
                raise PodError(f"pod {self.name} not ready after {timeout} s\n{tails}")
            time.sleep(interval)

    def logs(self, container: str | None = None, *, previous: bool = False) -> str:
        return self.container(container).logs(previous=previous)

    # -- cgroups -----------------------------------------------------------------------------------------
    def memory_stats(self, container: str | None = None) -> host.MemoryStats:
        c = self.container(container)
        if c.cgroup is None:
            raise PodError(f"{self.name}/{c.name} has no cgroup (Cluster(cgroup_limits=True) creates them)")
        return c.cgroup.memory_stats()

    def cpu_limit(self, container: str | None = None) -> float | None:
        return self.container(container).cpu_limit

    def memory_limit(self, container: str | None = None) -> int | None:
        return self.container(container).memory_limit


class Cluster:
    """Every StatefulSet pod of ``objects``, on a private bridge. A context manager that cleans up all."""

    def __init__(
        self,
        objects: Iterable[Obj],
        workdir: Path,
        *,
        secrets: SecretData | None = None,
        cgroup_limits: bool = False,
    ) -> None:
        self.objects = Objects(objects, secrets)
        self._secrets = secrets
        #: Pods whose StatefulSet template changed in :meth:`apply`, with their new StatefulSet.
        self.pending: dict[str, Obj] = {}
        self.workdir = workdir
        self.cgroup_limits = cgroup_limits
        self.pods: dict[str, Pod] = {}
        index = 0
        for sts in self.objects.of_kind("StatefulSet"):
            for ordinal in range(int(sts["spec"].get("replicas", 1))):
                index += 1
                if index > 250:
                    raise ManifestError("more than 250 pods")
                pod = Pod(self, sts, ordinal, index)
                self.pods[pod.name] = pod
        self._lock: contextlib.ExitStack | None = None
        self._bridge = False
        self._next_index = index + 1
        self._job_runs = 0

    # -- names -------------------------------------------------------------------------------------------
    def pod(self, name: str) -> Pod:
        try:
            return self.pods[name]
        except KeyError:
            raise KeyError(f"no pod {name!r}; pods: {sorted(self.pods)}") from None

    def service_pods(self, svc: Obj) -> list[Pod]:
        spec = svc.get("spec") or {}
        selector = spec.get("selector")
        return [
            p
            for p in self.pods.values()
            if p.namespace == ns_of(svc)
            and selector_matches(selector, p.labels)
            and not (p.node_lost and not spec.get("publishNotReadyAddresses"))
        ]

    def claim_path(self, namespace: str, claim: str) -> Path:
        """The dir of a PersistentVolumeClaim a Job's pod mounts (created on first use, kept until :meth:`close`)."""
        return self.workdir / "claims" / namespace / claim

    def run_job(self, obj: Obj, *, timeout: float = 120.0) -> tuple[Pod, dict[str, int]]:
        """Run one pod of a Job's (or a CronJob's job template's) pod template to completion, as the Job
        controller would create it: the pod and its containers' exit codes (:meth:`Pod.run_to_completion`).

        The pod is named ``<job>-<n>-0`` and gets the next free IP; its required pod anti-affinity terms are
        recorded in ``Pod.kept_off`` (the pods here they would keep it away from; there is one host).
        """
        if obj.get("kind") == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
        elif obj.get("kind") == "Job":
            template = obj["spec"]["template"]
        else:
            raise ManifestError(f"run_job: a Job or CronJob, not {obj.get('kind')!r}")
        self._job_runs += 1
        fake = {
            "metadata": {"name": f"{name_of(obj)}-{self._job_runs}", "namespace": ns_of(obj)},
            "spec": {"template": template, "replicas": 1},
        }
        pod = Pod(self, fake, 0, self._next_index)
        self._next_index += 1
        if self._next_index > 250:
            raise ManifestError("more than 250 pods")
        self.pods[pod.name] = pod
        anti = ((pod.spec.get("affinity") or {}).get("podAntiAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or []
        pod.kept_off = sorted(
            p.name
            for term in anti
            for p in self.pods.values()
            if p is not pod and p.namespace == pod.namespace and selector_matches(term.get("labelSelector"), p.labels)
        )
        return pod, pod.run_to_completion(timeout)

    def lose_node(self, name: str) -> None:
        """The node of pod ``name`` became unreachable: its processes are left as they are, but the node
        controller marks the pod not Ready, so it leaves every Service without ``publishNotReadyAddresses``
        (until :meth:`roll` recreates it)."""
        self.pod(name).node_lost = True

    def service_ip(self, svc: Obj) -> str | None:
        pods = self.service_pods(svc)
        return pods[0].ip if pods else None

    def names(self, namespace: str) -> dict[str, str]:
        """Every resolvable name (as seen from ``namespace``) → IP."""
        table: dict[str, str] = {}

        def add(fqdn_parts: list[str], ns: str, ip: str) -> None:
            base = ".".join([*fqdn_parts, ns])
            for name in (f"{base}.svc.cluster.local", f"{base}.svc", base):
                table.setdefault(name, ip)
            if ns == namespace:
                table.setdefault(".".join(fqdn_parts), ip)

        for svc in self.objects.of_kind("Service"):
            ns = ns_of(svc)
            pods = self.service_pods(svc)
            headless = (svc.get("spec") or {}).get("clusterIP") == "None"
            for p in pods if headless else []:
                if p.subdomain == name_of(svc):
                    add([p.name, name_of(svc)], ns, p.ip)
            if pods:
                add([name_of(svc)], ns, pods[0].ip)
        return table

    def resolve(self, name: str, namespace: str = "default") -> str:
        """The IP a pod in ``namespace`` would get for ``name`` (for test clients in the host netns)."""
        table = self.names(namespace)
        if name in table:
            return table[name]
        raise KeyError(f"{name!r} does not resolve; known: {sorted(table)}")

    def hosts_file(self, pod: Pod) -> str:
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        own = [pod.name]
        if pod.subdomain:
            own.insert(0, f"{pod.name}.{pod.subdomain}.{pod.namespace}.svc.cluster.local")
        lines.append(f"{pod.ip}\t{' '.join(own)}")
        by_ip: dict[str, list[str]] = {}
        for name, ip in self.names(pod.namespace).items():
            by_ip.setdefault(ip, []).append(name)
        lines += [f"{ip}\t{' '.join(names)}" for ip, names in by_ip.items()]
        return "\n".join(lines) + "\n"

    # -- lifecycle ---------------------------------------------------------------------------------------
    def __enter__(self) -> Cluster:
        stack = contextlib.ExitStack()
        stack.enter_context(host.host_lock())
        self._lock = stack
        try:
            host.cleanup_leftovers()
            self.workdir.mkdir(parents=True, exist_ok=True)
            host.setup_bridge()
            self._bridge = True
            for p in self.pods.values():
                p.ensure_netns()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(suppress=exc is not None)

    def close(self, *, suppress: bool = False) -> None:
        """Kill every process, remove cgroups, netns, veths, the bridge and host mount-point dirs."""
        errors: list[str] = []
        for p in self.pods.values():
            try:
                p.destroy()
            except Exception as exc:
                errors.append(f"{p.name}: {exc}")
        if self._bridge:
            host.run(["ip", "link", "del", host.BRIDGE], check=False)
            self._bridge = False
        try:
            host.cleanup_leftovers()
        except Exception as exc:
            errors.append(str(exc))
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if errors and not suppress:
            raise host.HostError("cleanup failed: " + "; ".join(errors))

    def apply(self, objects: Iterable[Obj]) -> list[str]:
        """Replace the objects, as a sync would (Services, ConfigMaps, StatefulSets); names of changed pods.

        Running pods keep their old spec (and a pod started again with ``pod.start()`` too, like a kubelet that
        has not heard of the change); :meth:`roll` recreates a changed pod from the new template, as the
        StatefulSet controller does. The StatefulSets and their replica counts must stay the same.
        """
        new = Objects(objects, self._secrets)
        for sts in new.of_kind("StatefulSet"):
            for ordinal in range(int(sts["spec"].get("replicas", 1))):
                name = f"{name_of(sts)}-{ordinal}"
                if name not in self.pods:
                    raise ManifestError(f"apply: new pod {name!r}; only changed templates are emulated")
                if sts["spec"]["template"] != self.pods[name].statefulset["spec"]["template"]:
                    self.pending[name] = sts
                else:
                    self.pending.pop(name, None)
        self.objects = new
        for pod in self.pods.values():
            if any(c.running for c in pod.containers):
                pod.refresh_volumes()
        return sorted(self.pending)

    def set_secret(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        """Replace an out-of-band Secret's data (a controller unsealing a new value); running pods see it on
        :meth:`refresh_volumes`, as after the kubelet's next sync."""
        self._secrets = {**(self._secrets or {}), (namespace, name): dict(data)}
        self.objects = Objects(list(self.objects.all), self._secrets)

    def roll(self, name: str, *, grace: float | None = None) -> Pod:
        """Delete pod ``name`` (grace period honoured) and create it from its new template (:meth:`apply`).

        As the StatefulSet controller with ``podManagementPolicy: OrderedReady`` (pkg/controller/statefulset,
        processReplica): a pod that exists but is not Ready (running unready, or stopped on a lost node) is
        not replaced; that raises :class:`PodError`. A pod with no running container on a live node (deleted)
        is recreated.
        """
        old = self.pod(name)
        sts = self.pending[name]
        policy = sts["spec"].get("podManagementPolicy", "OrderedReady")
        running = any(c.running for c in old.containers)
        if policy == "OrderedReady" and (running or old.node_lost) and not (running and old.ready()):
            raise PodError(
                f"roll {name}: the pod is not Ready; the StatefulSet controller (OrderedReady) does not replace it"
            )
        del self.pending[name]
        old.stop(grace)
        for c in old.containers + old.init_containers:
            if c.cgroup is not None:
                c.cgroup.remove()
                c.cgroup = None
        pod = Pod(self, sts, old.ordinal, old.index)
        pod.netns_ready = old.netns_ready
        self.pods[name] = pod
        pod.start()
        return pod

    def start(self, pods: Sequence[str] | None = None, *, wait_ready: bool = True, timeout: float = 60.0) -> None:
        """Start pods (default: all, in manifest order); with wait_ready, each must become Ready in time."""
        chosen = [self.pod(n) for n in pods] if pods is not None else list(self.pods.values())
        for p in chosen:
            p.start()
        if wait_ready:
            for p in chosen:
                p.wait_ready(timeout)


def b64(text: str) -> str:
    """Base64 for hand-written Secret fixtures."""
    return base64.b64encode(text.encode()).decode()


def log_to(stream: IO[str], cluster: Cluster) -> None:
    """Write every container's log tail (handy in a failing test's teardown)."""
    for p in cluster.pods.values():
        for c in p.init_containers + p.containers:
            stream.write(f"=== {p.name}/{c.name}\n{c.log_tail()}\n")
