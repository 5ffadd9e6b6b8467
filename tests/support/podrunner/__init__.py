"""Run rendered Kubernetes pods as local processes (netns per pod, mount ns per container).

API (see ``runner.py`` for what is and is not emulated)::

    objects = load_manifests(Path("dist/redis-shared/manifests.yaml"))
    with Cluster(objects, tmp_path, secrets={("redis", "name"): {"key": "value"}}, cgroup_limits=True) as c:
        c.start(wait_ready=True, timeout=30)      # or c.start(["pod-0"]), pod.start() + pod.wait_ready()
        pod = c.pod("redis-shared-master-0")
        pod.ip                                      # 198.18.0.N, reachable from the test process
        pod.exec("redis", ["redis-cli", "PING"])    # kubectl exec: its UID, env, mounts; CompletedProcess
        pod.probe("redis", "readiness")            # the rendered exec/tcpSocket/httpGet probe, timeout enforced
        pod.kill(signal.SIGKILL); pod.wait_exit(5)  # 128+N for death by signal N
        pod.restart(); pod.stop()                   # same IP and PVC dirs; grace period honoured
        pod.logs("redis", previous=True); pod.memory_stats("redis"); pod.pvc_path("data"); pod.wipe_pvc("data")
        pod.netns_exec(["curl", ...])               # a host binary in the pod's netns only
        c.resolve("name.ns.svc.cluster.local")      # what the pods' hosts files say
        c.apply(objects2); c.roll("pod-0")          # a sync: changed pods recreated from the new template
        c.lose_node("pod-1")                        # its node unreachable: out of its Services' endpoints

One Cluster per host at a time (a lock; a second one in the same process is an error), or with
``PODRUNNER_SLOT=<n>`` one per slot, side by side on bridges and subnets of their own (``host.py``). Everything
it makes is named ``rsh-*`` (``rsh<n>-*``) and removed on exit, also after a failure or a crashed earlier run (the
host dirs made as mount points once no other slot runs).
"""

from __future__ import annotations

from .host import HOST_IP, PREFIX, HostError, MemoryStats
from .k8s import ManifestError, cpu_cores, memory_bytes, parse_quantity
from .runner import Cluster, Container, Pod, PodError, b64, k8s_exit_code, load_manifests, log_to

__all__ = [
    "HOST_IP",
    "PREFIX",
    "Cluster",
    "Container",
    "HostError",
    "ManifestError",
    "MemoryStats",
    "Pod",
    "PodError",
    "b64",
    "cpu_cores",
    "k8s_exit_code",
    "load_manifests",
    "log_to",
    "memory_bytes",
    "parse_quantity",
]
