"""Pure helpers over Kubernetes manifest dicts: lookups, quantities, env resolution, volume contents.

Nothing here touches the host; the runner (``runner.py``) turns the results into processes and mounts.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from redis_constructs.core.validation import quantity_value

Obj = Mapping[str, Any]
SecretData = Mapping[tuple[str, str], Mapping[str, str]]


class ManifestError(ValueError):
    """The manifests ask for something the runner (or Kubernetes) cannot do."""


def ns_of(obj: Obj) -> str:
    ns = obj.get("metadata", {}).get("namespace")
    return str(ns) if ns else "default"


def name_of(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


class Objects:
    """An index of manifests by (kind, namespace, name) plus the out-of-band Secret data."""

    def __init__(self, objects: Iterable[Obj], extra_secrets: SecretData | None = None) -> None:
        self.all: tuple[Obj, ...] = tuple(o for o in objects if o)
        self._by_key: dict[tuple[str, str, str], Obj] = {}
        for obj in self.all:
            key = (str(obj.get("kind")), ns_of(obj), name_of(obj))
            if key in self._by_key:
                raise ManifestError(f"duplicate object {key}")
            self._by_key[key] = obj
        self.extra_secrets: dict[tuple[str, str], dict[str, bytes]] = {
            key: {k: v.encode() for k, v in data.items()} for key, data in (extra_secrets or {}).items()
        }

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.all if o.get("kind") == kind]

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self._by_key.get((kind, namespace, name))

    def secret_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        """The decoded data of a Secret: from the manifests, else from the test-supplied extra data."""
        obj = self.get("Secret", namespace, name)
        if obj is None:
            extra = self.extra_secrets.get((namespace, name))
            return dict(extra) if extra is not None else None
        out = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        out.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
        return out

    def configmap_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        obj = self.get("ConfigMap", namespace, name)
        if obj is None:
            return None
        out = {k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()}
        out.update({k: str(v).encode() for k, v in (obj.get("data") or {}).items()})
        return out


# --- quantities -------------------------------------------------------------------------------------------


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource.Quantity ("500m", "1.5", "256Mi", "1e3") as an exact Decimal (the package's rule)."""
    quantity = quantity_value(value)
    if quantity is None:
        raise ManifestError(f"quantity: got {value!r}; expected a Kubernetes quantity such as 500m or 256Mi")
    return quantity


def memory_bytes(value: str | int | float) -> int:
    q = parse_quantity(value)
    return int(q.to_integral_value(rounding="ROUND_CEILING"))


def cpu_cores(value: str | int | float) -> float:
    return float(parse_quantity(value))


# --- selectors, env expansion -----------------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A Service selector (plain map) or a LabelSelector (matchLabels/matchExpressions)."""
    if not selector:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        for k, v in (selector.get("matchLabels") or {}).items():
            if labels.get(k) != v:
                return False
        for expr in selector.get("matchExpressions") or []:
            key, op, values = expr["key"], expr["operator"], expr.get("values") or []
            if op == "In":
                ok = labels.get(key) in values
            elif op == "NotIn":
                ok = labels.get(key) not in values
            elif op == "Exists":
                ok = key in labels
            elif op == "DoesNotExist":
                ok = key not in labels
            else:
                raise ManifestError(f"matchExpressions operator: got {op!r}; expected In/NotIn/Exists/DoesNotExist")
            if not ok:
                return False
        return True
    return all(labels.get(k) == v for k, v in selector.items())


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Kubernetes ``$(VAR)`` expansion: defined vars are substituted, ``$$`` is an escaped ``$``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    value = lookup(name)
                    out.append(value if value is not None else text[i : end + 1])
                    i = end + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


# --- pods -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodIdentity:
    """What a pod knows about itself (for fieldRef / downwardAPI)."""

    name: str
    namespace: str
    ip: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    service_account: str = "default"
    node_name: str = "podrunner"

    def field(self, path: str) -> str:
        simple = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "status.podIP": self.ip,
            "status.podIPs": self.ip,
            "status.hostIP": "198.18.0.254",
            "spec.nodeName": self.node_name,
            "spec.serviceAccountName": self.service_account,
            "metadata.uid": f"podrunner-{self.namespace}-{self.name}",
        }
        if path in simple:
            return simple[path]
        if path == "metadata.labels":
            return "\n".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        if path == "metadata.annotations":
            return "\n".join(f'{k}="{v}"' for k, v in sorted(self.annotations.items()))
        m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
        if m:
            src = self.labels if m.group(1) == "labels" else self.annotations
            return src.get(m.group(2), "")
        raise ManifestError(f"fieldRef.fieldPath: got {path!r}; not supported by the pod runner")


def resource_field(container: Obj, ref: Obj) -> str:
    resource = str(ref["resource"])
    kind, _, name = resource.partition(".")
    value = (container.get("resources") or {}).get(kind, {}).get(name)
    divisor = parse_quantity(ref.get("divisor", "1"))
    if value is None:
        raise ManifestError(f"resourceFieldRef: {resource} is not set on container {container['name']!r}")
    q = parse_quantity(value) / divisor
    return str(int(q.to_integral_value(rounding="ROUND_CEILING")))


def _key_ref(objects: Objects, namespace: str, ref: Obj, kind: str, where: str) -> str | None:
    """The referenced value; None when it is missing and the reference is optional."""
    getter = objects.secret_data if kind == "Secret" else objects.configmap_data
    data = getter(namespace, str(ref["name"]))
    optional = bool(ref.get("optional", False))
    if data is None or ref["key"] not in data:
        if optional:
            return None
        what = "missing" if data is None else f"has no key {ref['key']!r}"
        raise ManifestError(f"{where}: {kind} {namespace}/{ref['name']} {what}")
    return data[ref["key"]].decode()


def service_link_env(objects: Objects, namespace: str, service_ip: Callable[[Obj], str | None]) -> dict[str, str]:
    """The docker-links style env the kubelet injects for every Service of the namespace."""
    env: dict[str, str] = {}
    for svc in objects.of_kind("Service"):
        if ns_of(svc) != namespace:
            continue
        spec = svc.get("spec") or {}
        if spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName":
            continue
        ip = service_ip(svc)
        ports = spec.get("ports") or []
        if ip is None or not ports:
            continue
        prefix = name_of(svc).upper().replace("-", "_")
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for p in ports:
            proto = str(p.get("protocol", "TCP"))
            if p.get("name"):
                env[f"{prefix}_SERVICE_PORT_{str(p['name']).upper().replace('-', '_')}"] = str(p["port"])
            base = f"{prefix}_PORT_{p['port']}_{proto}"
            env[base] = f"{proto.lower()}://{ip}:{p['port']}"
            env[f"{base}_PROTO"] = proto.lower()
            env[f"{base}_PORT"] = str(p["port"])
            env[f"{base}_ADDR"] = ip
        env[f"{prefix}_PORT"] = f"{str(ports[0].get('protocol', 'TCP')).lower()}://{ip}:{ports[0]['port']}"
    return env


def container_env(
    objects: Objects,
    pod_spec: Obj,
    container: Obj,
    me: PodIdentity,
    base: Mapping[str, str],
) -> dict[str, str]:
    """The environment the kubelet would give this container (``base`` = image env + service links)."""
    env: dict[str, str] = dict(base)
    where = f"pod {me.name} container {container['name']}"
    for src in container.get("envFrom") or []:
        prefix = str(src.get("prefix", ""))
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key not in src:
                continue
            ref = src[key]
            getter = objects.secret_data if kind == "Secret" else objects.configmap_data
            data = getter(me.namespace, str(ref["name"]))
            if data is None:
                if ref.get("optional"):
                    continue
                raise ManifestError(f"{where}: envFrom {kind} {me.namespace}/{ref['name']} missing")
            for k, v in data.items():
                env[prefix + k] = v.decode()
    for item in container.get("env") or []:
        name = str(item["name"])
        if "value" in item:
            env[name] = expand(str(item["value"]), env.get)
            continue
        vf = item.get("valueFrom")
        if vf is None:
            env[name] = ""
            continue
        value: str | None
        if "secretKeyRef" in vf:
            value = _key_ref(objects, me.namespace, vf["secretKeyRef"], "Secret", f"{where} env {name}")
        elif "configMapKeyRef" in vf:
            value = _key_ref(objects, me.namespace, vf["configMapKeyRef"], "ConfigMap", f"{where} env {name}")
        elif "fieldRef" in vf:
            value = me.field(str(vf["fieldRef"]["fieldPath"]))
        elif "resourceFieldRef" in vf:
            value = resource_field(container, vf["resourceFieldRef"])
        else:
            raise ManifestError(f"{where} env {name}: unsupported valueFrom {sorted(vf)}")
        if value is not None:
            env[name] = value
    return env


# --- volume contents --------------------------------------------------------------------------------------


@dataclass
class FileEntry:
    path: str  # relative path inside the volume
    data: bytes
    mode: int


@dataclass
class VolumeContents:
    """A configMap/secret/projected/downwardAPI volume as files (written atomically by the runner)."""

    files: list[FileEntry] = field(default_factory=list)


def _items(
    data: Mapping[str, bytes],
    items: Sequence[Obj] | None,
    mode: int,
    what: str,
    optional: bool,
) -> list[FileEntry]:
    if not items:
        return [FileEntry(k, v, mode) for k, v in sorted(data.items())]
    out: list[FileEntry] = []
    for it in items:
        key = str(it["key"])
        if key not in data:
            if optional:
                continue
            raise ManifestError(f"{what} has no key {key!r}")
        out.append(FileEntry(str(it["path"]), data[key], int(it.get("mode", mode))))
    return out


def _source_files(
    objects: Objects, me: PodIdentity, kind: str, spec: Obj, *, mode: int, where: str
) -> list[FileEntry] | None:
    name = str(spec.get("secretName" if kind == "Secret" and "secretName" in spec else "name"))
    optional = bool(spec.get("optional", False))
    getter = objects.secret_data if kind == "Secret" else objects.configmap_data
    data = getter(me.namespace, name)
    what = f"{where}: {kind} {me.namespace}/{name}"
    if data is None:
        if optional:
            return None
        raise ManifestError(f"{what} missing (pass it as extra secret data if it is created out of band)")
    return _items(data, spec.get("items"), mode, what, optional)


def _downward_files(
    container_of: Callable[[str], Obj], me: PodIdentity, items: Sequence[Obj], mode: int
) -> list[FileEntry]:
    out: list[FileEntry] = []
    for it in items:
        if "fieldRef" in it:
            value = me.field(str(it["fieldRef"]["fieldPath"]))
        else:
            ref = it["resourceFieldRef"]
            value = resource_field(container_of(str(ref.get("containerName", ""))), ref)
        out.append(FileEntry(str(it["path"]), value.encode(), int(it.get("mode", mode))))
    return out


def volume_contents(
    objects: Objects, me: PodIdentity, volume: Obj, container_of: Callable[[str], Obj]
) -> VolumeContents | None:
    """Files for configMap/secret/projected/downwardAPI volumes; None for other kinds."""
    where = f"pod {me.name} volume {volume['name']}"
    if "configMap" in volume or "secret" in volume:
        kind = "ConfigMap" if "configMap" in volume else "Secret"
        spec = volume["configMap" if kind == "ConfigMap" else "secret"]
        files = _source_files(objects, me, kind, spec, mode=int(spec.get("defaultMode", 0o644)), where=where)
        return VolumeContents(files or [])
    if "downwardAPI" in volume:
        spec = volume["downwardAPI"]
        return VolumeContents(
            _downward_files(container_of, me, spec.get("items") or [], int(spec.get("defaultMode", 0o644)))
        )
    if "projected" in volume:
        spec = volume["projected"]
        mode = int(spec.get("defaultMode", 0o644))
        contents = VolumeContents()
        for src in spec.get("sources") or []:
            if "secret" in src:
                contents.files += _source_files(objects, me, "Secret", src["secret"], mode=mode, where=where) or []
            elif "configMap" in src:
                contents.files += (
                    _source_files(objects, me, "ConfigMap", src["configMap"], mode=mode, where=where) or []
                )
            elif "downwardAPI" in src:
                contents.files += _downward_files(container_of, me, src["downwardAPI"].get("items") or [], mode)
            else:
                raise ManifestError(f"{where}: unsupported projected source {sorted(src)}")
        return contents
    return None
