"""Exposure and Pod Security checks over objects, as a reviewer would make them (shared by test modules).

Each check returns a list of problems, so tests can show it failing; ``test_security`` runs them over the site and
``test_props_fuzz``/``test_binding`` over generated props and every migration phase.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from netpol import Peer, Target, admits

Obj = dict[str, Any]

#: Kinds whose ``spec.template`` is a pod template; CronJob and Pod are handled beside them.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "ReplicationController")
#: Pod Security Standards v1.28, ``restricted``.
RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
    }
)
ALLOWED_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
OPEN_TO_ALL = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def pod_templates(objects: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """``(where, pod metadata, pod spec)`` of every pod the objects would create, whatever the workload kind."""
    for obj in objects:
        kind, spec = obj.get("kind"), obj.get("spec") or {}
        where = f"{kind} {obj['metadata'].get('namespace', 'default')}/{obj['metadata']['name']}"
        if kind in WORKLOAD_KINDS:
            template = spec.get("template") or {}
        elif kind == "CronJob":
            template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        elif kind == "Pod":
            template = obj
        else:
            continue
        yield where, template.get("metadata") or {}, template.get("spec") or {}


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in pod.get(key) or []:
            yield key, c


# -- Pod Security restricted, field by field ---------------------------------------------------------------
def pod_security_problems(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every violation of Pod Security ``restricted`` (v1.28) in every pod template."""
    problems: list[str] = []
    for where, meta, pod in pod_templates(objects):
        psc = pod.get("securityContext") or {}
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(field):
                problems.append(f"{where}: {field} is set")
        if psc.get("runAsUser") == 0:
            problems.append(f"{where}: pod runAsUser is 0")
        if (psc.get("windowsOptions") or {}).get("hostProcess"):
            problems.append(f"{where}: hostProcess")
        for sysctl in psc.get("sysctls") or []:
            if sysctl["name"] not in SAFE_SYSCTLS:
                problems.append(f"{where}: unsafe sysctl {sysctl['name']}")
        for vol in pod.get("volumes") or []:
            kinds = set(vol) - {"name"}
            if not kinds <= RESTRICTED_VOLUME_TYPES:
                problems.append(f"{where}: volume {vol['name']!r} of type {sorted(kinds - RESTRICTED_VOLUME_TYPES)}")
        for key, value in (meta.get("annotations") or {}).items():
            if key.startswith("container.apparmor.security.beta.kubernetes.io/") and value not in (
                "runtime/default",
                *(v for v in [value] if v.startswith("localhost/")),
            ):
                problems.append(f"{where}: AppArmor {key}={value}")
        problems += _selinux_problems(where, psc)
        for section, c in _containers(pod):
            cwhere = f"{where}: {section} {c['name']!r}"
            sc = c.get("securityContext") or {}
            if sc.get("privileged"):
                problems.append(f"{cwhere}: privileged")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cwhere}: allowPrivilegeEscalation is not false")
            if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
                problems.append(f"{cwhere}: runAsNonRoot is not true")
            if sc.get("runAsUser", psc.get("runAsUser")) == 0:
                problems.append(f"{cwhere}: runAsUser is 0")
            seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                problems.append(f"{cwhere}: seccompProfile {seccomp!r} is not RuntimeDefault or Localhost")
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                problems.append(f"{cwhere}: capabilities do not drop ALL")
            if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
                problems.append(f"{cwhere}: capabilities add {sorted(set(caps['add']) - {'NET_BIND_SERVICE'})}")
            if sc.get("procMount", "Default") != "Default":
                problems.append(f"{cwhere}: procMount {sc['procMount']}")
            if (sc.get("windowsOptions") or {}).get("hostProcess"):
                problems.append(f"{cwhere}: hostProcess")
            problems += _selinux_problems(cwhere, sc)
            for port in c.get("ports") or []:
                if port.get("hostPort"):
                    problems.append(f"{cwhere}: hostPort {port['hostPort']}")
    return problems


def _selinux_problems(where: str, sc: Mapping[str, Any]) -> list[str]:
    opts = sc.get("seLinuxOptions") or {}
    problems = [f"{where}: seLinuxOptions.{k} is set" for k in ("user", "role") if opts.get(k)]
    if opts.get("type", "") not in ALLOWED_SELINUX_TYPES:
        problems.append(f"{where}: seLinuxOptions.type {opts['type']!r}")
    return problems


def bounds_problems(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """Containers without cpu/memory requests and limits; long-running containers without probes.

    Jobs run to completion behind no Service, so their containers need no probes (as in checkov). An object
    whose checkov skips name CKV_K8S_9 excuses the readiness probe of its ``acl-reload``, ``tls-reload`` and
    ``lan-proxy`` sidecars only (the containers that skip's reason covers; checkov itself would excuse every container).
    """
    problems: list[str] = []
    for obj in objects:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        skipped = {str(v).split("=")[0] for k, v in annotations.items() if k.startswith("checkov.io/skip")}
        for where, _, pod in pod_templates([obj]):
            runs_to_completion = obj.get("kind") in ("Job", "CronJob")
            for section, c in _containers(pod):
                cwhere = f"{where}: {section} {c['name']!r}"
                resources = c.get("resources") or {}
                for bound in ("requests", "limits"):
                    missing = {"cpu", "memory"} - set(resources.get(bound) or {})
                    if missing:
                        problems.append(f"{cwhere}: no {bound} for {sorted(missing)}")
                if section == "containers" and not runs_to_completion:
                    for probe in ("livenessProbe", "readinessProbe"):
                        if not c.get(probe) and not (
                            probe == "readinessProbe"
                            and "CKV_K8S_9" in skipped
                            and c["name"] in ("acl-reload", "tls-reload", "lan-proxy")
                        ):
                            problems.append(f"{cwhere}: no {probe}")
    return problems


# -- exposure ----------------------------------------------------------------------------------------------
def _labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def exposure_problems(
    objects: Sequence[Mapping[str, Any]],
    *,
    primary: str,
    source_ranges: Sequence[str] | None,
    allow_any_source: bool = False,
) -> list[str]:
    """What reaches the pods from outside the cluster, against what was configured.

    ``primary`` names the primary StatefulSet; ``source_ranges`` is None when no LoadBalancer was asked for.
    """
    problems: list[str] = []
    services = [o for o in objects if o.get("kind") == "Service"]
    load_balancers = [s for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer"]
    expected = 0 if source_ranges is None else 1
    if len(load_balancers) != expected:
        problems.append(f"{len(load_balancers)} LoadBalancer Services; expected {expected}")
    for svc in services:
        spec = svc.get("spec") or {}
        name = svc["metadata"]["name"]
        if spec.get("type") == "NodePort" or any("nodePort" in p for p in spec.get("ports") or []):
            problems.append(f"Service {name}: opens a NodePort")
        if spec.get("externalIPs"):
            problems.append(f"Service {name}: externalIPs {spec['externalIPs']}")
    for svc in load_balancers:
        spec = svc["spec"]
        name = svc["metadata"]["name"]
        namespace = svc["metadata"].get("namespace", "default")
        selected = sorted(
            where
            for where, meta, _ in pod_templates(objects)
            if where.split(" ")[1].split("/")[0] == namespace
            and _labels_match(spec.get("selector") or {}, meta.get("labels") or {})
        )
        if selected != [f"StatefulSet {namespace}/{primary}"]:
            problems.append(f"Service {name}: selects {selected}; expected only the primary {primary}")
        ranges = list(spec.get("loadBalancerSourceRanges") or [])
        if ranges != list(source_ranges or []):
            problems.append(f"Service {name}: loadBalancerSourceRanges {ranges}; expected {list(source_ranges or [])}")
        if not allow_any_source:
            for r in ranges:
                if ipaddress.ip_network(r, strict=False) in OPEN_TO_ALL:
                    problems.append(f"Service {name}: loadBalancerSourceRanges admits every address ({r})")
        if spec.get("externalTrafficPolicy") != "Local":
            problems.append(f"Service {name}: externalTrafficPolicy is not Local; pods would see node addresses")
        if spec.get("allocateLoadBalancerNodePorts") is not False:
            problems.append(f"Service {name}: allocates node ports")
    return problems


def admission_problems(
    objects: Sequence[Mapping[str, Any]], targets: Sequence[Target], cases: Sequence[tuple[Peer, int, bool]]
) -> list[str]:
    """Each ``(peer, port, expected)`` judged by the NetworkPolicy evaluator against every target pod."""
    problems = []
    for target in targets:
        for peer, port, expected in cases:
            if admits(objects, target, peer, port) != expected:
                verb = "admitted" if not expected else "refused"
                problems.append(f"{peer.description} → {target.labels} port {port}: {verb}")
    return problems


def redis_targets(objects: Sequence[Mapping[str, Any]], namespace: str) -> list[Target]:
    """Every Redis pod template (StatefulSets in the Redis namespace) as a NetworkPolicy target."""
    targets = []
    for where, meta, pod in pod_templates(objects):
        if where.startswith(f"StatefulSet {namespace}/"):
            names = {
                p["name"]: p["containerPort"] for c in pod["containers"] for p in c.get("ports") or [] if "name" in p
            }
            targets.append(Target(namespace=namespace, labels=dict(meta["labels"]), port_names=names))
    return targets
