"""Checks over synthesized manifests (plain dicts), run before anything is written to dist/.

* every object strictly against the Kubernetes 1.28 schema (unknown fields are errors);
* every custom resource against its CRD's openAPIV3Schema, made strict the same way;
* cross-references: selectors match pod labels, referenced ConfigMaps/Secrets/keys, volumes, ports,
  ServiceAccounts and Services exist, or are declared external;
* no Secret with plaintext data and no ConfigMap that holds a password.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import k8s_schema

KUBERNETES_VERSION = "1.28.0"
#: The CRDs this project renders objects of, copied from their upstream releases; shipped inside the package
#: (next to their ``cdk8s import`` bindings) so an installed wheel validates custom resources too.
CRD_DIR = Path(__file__).resolve().parent.parent / "_imports" / "crds"
#: In ``CRD_DIR``: the strict schemas :func:`crd_schemas_from_yaml` makes of its CRD files, as compact JSON with
#: the digest of the files they were made from (``make imports`` writes it: :func:`write_crd_schema_cache`).
#: Parsing ~1 MB of CRD YAML costs 0.1 s per synth with libyaml and about 1 s without; this loads in milliseconds.
CRD_SCHEMA_CACHE = "strict-schemas.json"

Obj = Mapping[str, Any]
#: libyaml's parser when PyYAML has it (10x faster on the CRD files), else the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, kw_only=True, slots=True)
class ExternalRefs:
    """Objects the manifests reference but do not contain: they exist in the cluster already.

    ``secrets`` maps ``(namespace, name)`` to the keys the Secret is known to hold.
    """

    secrets: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    config_maps: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    service_accounts: frozenset[tuple[str, str]] = frozenset()
    namespaces: frozenset[str] = frozenset()


def label(kind: object, namespace: object, name: object) -> str:
    """``Kind namespace/name`` (``Kind name`` when cluster-scoped): how every message names an object."""
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def describe(obj: Obj) -> str:
    """:func:`label` of a manifest."""
    meta = obj.get("metadata") or {}
    return label(obj.get("kind"), meta.get("namespace"), meta.get("name"))


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


# -- schemas -----------------------------------------------------------------------------------------------
def schema_errors(obj: Obj, crd_schemas: Mapping[tuple[str, str], dict[str, Any]]) -> list[str]:
    """Strict schema errors for one object (built-in kinds or CRD kinds)."""
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    if key in crd_schemas:
        validator = jsonschema.Draft7Validator(crd_schemas[key])
        return [
            f"{describe(obj)}: {_path(e.absolute_path)}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
        ]
    try:
        error = k8s_schema.first_error(dict(obj), KUBERNETES_VERSION)
    except k8s_schema.SchemaNotFoundError:
        return [
            f"{describe(obj)}: apiVersion/kind {key[0]}/{key[1]} is neither Kubernetes {KUBERNETES_VERSION} nor a known CRD"
        ]
    return [f"{describe(obj)}: {_path(error.path)}: {error.message}"] if error else []


def _strict(schema: Any) -> Any:
    """Make a structural schema reject unknown fields, as the API server would prune them silently."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def crd_schemas_from_yaml(crd_dir: Path = CRD_DIR) -> dict[tuple[str, str], dict[str, Any]]:
    """``(apiVersion, kind)`` → strict JSON schema, parsed from every CRD file in ``crd_dir``."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in _crd_files(crd_dir):
        for crd in yaml.load_all(path.read_text(), Loader=_YAML_LOADER):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group = crd["spec"]["group"]
            kind = crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                props = schema.setdefault("properties", {})
                props.setdefault("apiVersion", {"type": "string"})
                props.setdefault("kind", {"type": "string"})
                # metadata is validated by the API server's ObjectMeta; require a name like kubectl does.
                props["metadata"] = {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "namespace": {"type": "string"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                }
                schemas[(f"{group}/{version['name']}", kind)] = _strict(schema)
    return schemas


def _crd_files(crd_dir: Path) -> list[Path]:
    return sorted(crd_dir.glob("*.yaml"))


def crd_files_digest(crd_dir: Path = CRD_DIR) -> str:
    """sha256 over the names and bytes of the CRD files in ``crd_dir``: what a schema cache was made from."""
    digest = hashlib.sha256()
    for path in _crd_files(crd_dir):
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def write_crd_schema_cache(crd_dir: Path = CRD_DIR) -> Path:
    """Write :data:`CRD_SCHEMA_CACHE` in ``crd_dir`` from its CRD files; returns its path."""
    entries = [
        {"apiVersion": api_version, "kind": kind, "schema": schema}
        for (api_version, kind), schema in crd_schemas_from_yaml(crd_dir).items()
    ]
    path = crd_dir / CRD_SCHEMA_CACHE
    body = json.dumps({"digest": crd_files_digest(crd_dir), "schemas": entries}, separators=(",", ":"))
    path.write_text(body + "\n")
    return path


@functools.cache
def load_crd_schemas(crd_dir: Path = CRD_DIR) -> dict[tuple[str, str], dict[str, Any]]:
    """``(apiVersion, kind)`` → strict JSON schema, from every CRD file in ``crd_dir``.

    Read from :data:`CRD_SCHEMA_CACHE` when it was made from exactly these files (same digest), else parsed
    from the YAML (:func:`crd_schemas_from_yaml`, the same schemas, only slower). A cache that is missing,
    unreadable or malformed (a truncated file, a merge conflict in it) counts as stale.
    """
    try:
        cache = json.loads((crd_dir / CRD_SCHEMA_CACHE).read_text())
        if isinstance(cache, dict) and cache.get("digest") == crd_files_digest(crd_dir):
            return {(e["apiVersion"], e["kind"]): e["schema"] for e in cache["schemas"]}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return crd_schemas_from_yaml(crd_dir)


# -- cross-references --------------------------------------------------------------------------------------
_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}


def _pod_templates(objects: Sequence[Obj]) -> list[tuple[Obj, Mapping[str, Any], Mapping[str, Any]]]:
    """``(owner, pod metadata, pod spec)`` for every workload and CronJob."""
    out = []
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj.get("kind") in _WORKLOADS:
            tpl = spec.get("template") or {}
            out.append((obj, tpl.get("metadata") or {}, tpl.get("spec") or {}))
        elif obj.get("kind") == "CronJob":
            tpl = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
            out.append((obj, tpl.get("metadata") or {}, tpl.get("spec") or {}))
    return out


def _matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if (op == "In" and value not in expr.get("values", [])) or (op == "NotIn" and value in expr.get("values", [])):
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def _ns(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "default")


_NO_EXTERNAL = ExternalRefs()


PodTemplate = tuple[Obj, Mapping[str, Any], Mapping[str, Any]]


class _References:
    """The objects of one synth, indexed by kind and name, and every reference check over them.

    Each ``*_errors`` method checks one kind of reference and returns its messages; :func:`reference_errors`
    lists them in a fixed order.
    """

    def __init__(self, objects: Sequence[Obj], external: ExternalRefs) -> None:
        self.objects = objects
        self.external = external
        self.by_kind: dict[str, dict[tuple[str, str], Obj]] = {}
        for obj in objects:
            self.by_kind.setdefault(str(obj.get("kind")), {})[(_ns(obj), obj["metadata"]["name"])] = obj
        self.pods = _pod_templates(objects)

    # -- what a Secret or ConfigMap holds ------------------------------------------------------------------
    def keys_of(self, kind: str, ns: str, name: str) -> frozenset[str] | None:
        obj = self.by_kind.get(kind, {}).get((ns, name))
        if obj is not None:
            return frozenset((obj.get("data") or {}) | (obj.get("stringData") or {}) | (obj.get("binaryData") or {}))
        if kind in {"SealedSecret", "ExternalSecret"}:
            return None
        ext = self.external.secrets if kind == "Secret" else self.external.config_maps
        return ext.get((ns, name))

    def _external_secret(self, ns: str, name: str) -> Obj | None:
        """The ExternalSecret named ``name``, or the one whose target Secret is ``name``."""
        found = self.by_kind.get("ExternalSecret", {}).get((ns, name))
        for candidate in self.by_kind.get("ExternalSecret", {}).values() if found is None else ():
            target = ((candidate.get("spec") or {}).get("target") or {}).get("name")
            if _ns(candidate) == ns and target == name:
                found = candidate
        return found

    def secret_keys(self, ns: str, name: str) -> frozenset[str] | None:
        """The keys Secret ``ns/name`` will hold: rendered, sealed, external, cert-manager's, or declared."""
        keys = self.keys_of("Secret", ns, name)
        if keys is not None:
            return keys
        sealed = self.by_kind.get("SealedSecret", {}).get((ns, name))
        if sealed is not None:
            return frozenset((sealed.get("spec") or {}).get("encryptedData") or {})
        ext_secret = self._external_secret(ns, name)
        if ext_secret is not None:
            return frozenset(d["secretKey"] for d in (ext_secret.get("spec") or {}).get("data") or [])
        for cert in self.by_kind.get("Certificate", {}).values():  # cert-manager writes a kubernetes.io/tls Secret
            if _ns(cert) == ns and (cert.get("spec") or {}).get("secretName") == name:
                return frozenset({"tls.crt", "tls.key", "ca.crt"})
        return None

    def key_errors(self, where: str, kind: str, ns: str, name: str, key: str | None, *, optional: bool) -> list[str]:
        keys = self.secret_keys(ns, name) if kind == "Secret" else self.keys_of("ConfigMap", ns, name)
        if keys is None:
            return [] if optional else [f"{where}: {kind} {ns}/{name} is neither rendered nor declared external"]
        if key is not None and key not in keys:
            return [f"{where}: {kind} {ns}/{name} has no key {key!r} (has {sorted(keys)})"]
        return []

    def _items_errors(self, where: str, kind: str, ns: str, source: Mapping[str, Any], name: str) -> list[str]:
        """Each ``items`` key of a volume source (or the whole object when it lists none)."""
        optional = bool(source.get("optional"))
        return [
            error
            for item in source.get("items") or [{"key": None}]
            for error in self.key_errors(where, kind, ns, name, item["key"], optional=optional)
        ]

    # -- the checks ----------------------------------------------------------------------------------------
    def namespace_errors(self) -> list[str]:
        namespaces = {o["metadata"]["name"] for o in self.objects if o.get("kind") == "Namespace"}
        namespaces |= set(self.external.namespaces)
        errors = []
        for obj in self.objects:
            ns = (obj.get("metadata") or {}).get("namespace")
            if ns and obj.get("kind") != "Namespace" and ns not in namespaces:
                errors.append(f"{describe(obj)}: metadata.namespace {ns!r} is neither rendered nor declared external")
        return errors

    def workload_errors(self, owner: Obj, pod_meta: Mapping[str, Any], pod: Mapping[str, Any]) -> list[str]:
        """The owner's selector and serviceName, and the pod's service account."""
        where, ns, errors = describe(owner), _ns(owner), []
        labels = pod_meta.get("labels") or {}
        if owner.get("kind") in {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"} and not _matches(
            owner["spec"].get("selector"), labels
        ):
            errors.append(f"{where}: spec.selector does not match spec.template.metadata.labels")
        if owner.get("kind") == "StatefulSet":
            svc = owner["spec"].get("serviceName")
            if (ns, svc) not in self.by_kind.get("Service", {}):
                errors.append(f"{where}: spec.serviceName {svc!r} is not a rendered Service")
        sa = pod.get("serviceAccountName")
        if (
            sa
            and (ns, sa) not in self.by_kind.get("ServiceAccount", {})
            and (ns, sa) not in self.external.service_accounts
        ):
            errors.append(f"{where}: serviceAccountName {sa!r} is neither rendered nor declared external")
        return errors

    def volume_errors(self, owner: Obj, pod: Mapping[str, Any]) -> list[str]:
        """The Secrets and ConfigMaps (and their keys) the pod's volumes name."""
        where, ns, errors = describe(owner), _ns(owner), []
        for vol in pod.get("volumes") or []:
            vwhere = f"{where}: volume {vol['name']!r}"
            if "configMap" in vol:
                errors += self._items_errors(vwhere, "ConfigMap", ns, vol["configMap"], vol["configMap"]["name"])
            if "secret" in vol:
                errors += self._items_errors(vwhere, "Secret", ns, vol["secret"], vol["secret"]["secretName"])
            for source in (vol.get("projected") or {}).get("sources") or []:
                for kind, src_key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                    if src_key in source:
                        errors += self._items_errors(vwhere, kind, ns, source[src_key], source[src_key]["name"])
        return errors

    def container_errors(self, owner: Obj, pod: Mapping[str, Any]) -> list[str]:
        """Each container's volume mounts, env references and named probe ports."""
        where, ns, errors = describe(owner), _ns(owner), []
        volume_names = {vol["name"] for vol in pod.get("volumes") or []}
        volume_names |= {t["metadata"]["name"] for t in (owner.get("spec") or {}).get("volumeClaimTemplates") or []}
        for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            cwhere = f"{where}: container {c['name']!r}"
            for mount in c.get("volumeMounts") or []:
                if mount["name"] not in volume_names:
                    errors.append(f"{cwhere}: volumeMount {mount['name']!r} names no volume")
            for env in c.get("env") or []:
                ref = env.get("valueFrom") or {}
                for kind, ref_key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if ref_key in ref:
                        r = ref[ref_key]
                        optional = bool(r.get("optional"))
                        errors += self.key_errors(
                            f"{cwhere}: env {env['name']}", kind, ns, r["name"], r["key"], optional=optional
                        )
            for env_from in c.get("envFrom") or []:
                for kind, src_key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                    if src_key in env_from:
                        r = env_from[src_key]
                        optional = bool(r.get("optional"))
                        errors += self.key_errors(f"{cwhere}: envFrom", kind, ns, r["name"], None, optional=optional)
            errors += _probe_port_errors(cwhere, c)
        return errors

    def pods_selected(self, ns: str, selector: Mapping[str, Any]) -> list[PodTemplate]:
        return [t for t in self.pods if _ns(t[0]) == ns and _matches(selector, t[1].get("labels") or {})]

    def service_errors(self) -> list[str]:
        """Each Service selects a pod template, and its named target ports exist there."""
        errors = []
        for (ns, _name), svc in self.by_kind.get("Service", {}).items():
            spec = svc.get("spec") or {}
            selector = spec.get("selector")
            if not selector:
                continue
            selected = self.pods_selected(ns, {"matchLabels": selector})
            if not selected:
                errors.append(f"{describe(svc)}: spec.selector {selector} matches no rendered pod template")
                continue
            for port in spec.get("ports") or []:
                target = port.get("targetPort")
                if isinstance(target, str):
                    for owner, _, pod in selected:
                        names = {p.get("name") for c in pod.get("containers") or [] for p in c.get("ports") or []}
                        if target not in names:
                            errors.append(f"{describe(svc)}: targetPort {target!r} is not a port of {describe(owner)}")
        return errors

    def selector_errors(self) -> list[str]:
        """Each PodDisruptionBudget and NetworkPolicy selects a pod template."""
        errors = []
        for kind in ("PodDisruptionBudget", "NetworkPolicy"):
            for (ns, _name), obj in self.by_kind.get(kind, {}).items():
                field_name = "selector" if kind == "PodDisruptionBudget" else "podSelector"
                if not self.pods_selected(ns, obj["spec"].get(field_name) or {}):
                    errors.append(f"{describe(obj)}: spec.{field_name} matches no rendered pod template")
        return errors


def _probe_port_errors(where: str, container: Mapping[str, Any]) -> list[str]:
    port_names = {p.get("name") for p in container.get("ports") or []}
    errors = []
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name) or {}
        for action in ("httpGet", "tcpSocket"):
            port = (probe.get(action) or {}).get("port")
            if isinstance(port, str) and port not in port_names:
                errors.append(f"{where}: {probe_name}.{action}.port {port!r} is not a named container port")
    return errors


def reference_errors(objects: Sequence[Obj], external: ExternalRefs = _NO_EXTERNAL) -> list[str]:
    """Dangling references between the objects (or to the declared external ones)."""
    refs = _References(objects, external)
    errors = refs.namespace_errors()
    for owner, pod_meta, pod in refs.pods:
        errors += refs.workload_errors(owner, pod_meta, pod)
        errors += refs.volume_errors(owner, pod)
        errors += refs.container_errors(owner, pod)
    return errors + refs.service_errors() + refs.selector_errors()


# -- secrets -----------------------------------------------------------------------------------------------
_PASSWORD_LINES = (
    re.compile(r"^\s*(requirepass|masterauth)\s+[^\s$]"),  # redis.conf with a literal password
    re.compile(r"^\s*user\s.*\s>\S"),  # an ACL user with a plaintext >password
    re.compile(r"(?i)\bpass(word)?\s*[=:]\s*[^\s$\"'{]"),  # password=..., password: ...
)


def plaintext_secret_errors(objects: Sequence[Obj], *, allow_plaintext: bool = False) -> list[str]:
    """Secrets with data, or ConfigMaps that hold a literal password, in what would be committed."""
    errors = []
    for obj in objects:
        if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")) and not allow_plaintext:
            errors.append(
                f"{describe(obj)}: a Secret with plaintext data would be committed to git; use "
                "SecretSource.sealed/external/existing (plaintext is only for tests, with allow_plaintext)"
            )
        if obj.get("kind") == "ConfigMap":
            for key, value in (obj.get("data") or {}).items():
                for line in str(value).splitlines():
                    if any(p.search(line) for p in _PASSWORD_LINES):
                        errors.append(f"{describe(obj)}: data.{key} holds a literal password: {line.strip()[:30]!r}...")
    return errors


def check_objects(
    objects: Sequence[Obj],
    *,
    external: ExternalRefs = _NO_EXTERNAL,
    crd_schemas: Mapping[tuple[str, str], dict[str, Any]] | None = None,
    allow_plaintext_secrets: bool = False,
) -> list[str]:
    """Every check above over one set of objects (all charts together, so references can cross charts)."""
    schemas = load_crd_schemas() if crd_schemas is None else crd_schemas
    errors: list[str] = []
    seen: set[tuple[str, str, str, str]] = set()
    for obj in objects:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")), _ns(obj), str((obj.get("metadata") or {}).get("name")))
        if key in seen:
            errors.append(f"{describe(obj)}: rendered twice")
        seen.add(key)
        errors += schema_errors(obj, schemas)
    errors += reference_errors(objects, external)
    errors += plaintext_secret_errors(objects, allow_plaintext=allow_plaintext_secrets)
    return errors
