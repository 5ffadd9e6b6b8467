"""``make plan``: what syncing a fresh synth does to a cluster that holds the committed dist/ (or dist/ at a ref).

Lists every object added, removed and changed (field paths, old -> new; encrypted and secret values are summarized,
never printed), the changes the API server refuses in place (the sync would fail after the merge) with the safe
procedure, the removals of stateful objects, and the workloads whose pods restart and why. The output is
Markdown, fit for a pull-request comment.

``redis-shared plan [--base REF] [--app main.py] [--dist dist]`` (or ``python -m redis_constructs.plan``): exit 0 when the cluster can take the
change, 1 when the API server would refuse part of it, 2 when no plan could be made (the working tree does not
synthesize, the ref does not exist). dist/ is never written: the synth goes into a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..core.restart_annotations import RESTART_ANNOTATIONS
from ..core.validation import quantity_value
from .manifest_checks import label

Obj = dict[str, Any]
#: (API group, kind, namespace, name): the identity of an object in the cluster.
Key = tuple[str, str, str, str]

EXIT_REFUSED = 1
EXIT_NO_PLAN = 2

#: Fields of a StatefulSet's spec the API server lets an update change (apps/validation ValidateStatefulSetUpdate);
#: any other change is refused ("updates to statefulset spec for fields other than ... are forbidden").
STATEFULSET_MUTABLE = frozenset(
    {"replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"}
)
#: Fields of a Job's spec the API server refuses to change (batch/validation ValidateJobSpecUpdate).
JOB_IMMUTABLE = frozenset({"template", "selector", "completionMode", "podFailurePolicy", "manualSelector"})
#: Kinds whose pods restart when their ``spec.template`` changes.
WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
#: Removing these loses data or everything in them.
STATEFUL = frozenset({"PersistentVolumeClaim", "Namespace", "StatefulSet"})
_ANNOTATIONS = ("metadata", "annotations")
_MAX_TEXT = 80


# -- reading manifests ---------------------------------------------------------------------------------------
def key_of(obj: Mapping[str, Any]) -> Key:
    api = str(obj.get("apiVersion") or "")
    group = api.rpartition("/")[0] if "/" in api else ""
    meta = obj.get("metadata") or {}
    return group, str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name"))


def parse_manifests(files: Mapping[str, str]) -> dict[Key, Obj]:
    """Every Kubernetes object in ``files`` (``path -> YAML text``); kustomize's own kustomization.yaml is skipped."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    objects: dict[Key, Obj] = {}
    for path, text in sorted(files.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.load_all(text, Loader=loader):
            if not isinstance(doc, dict) or "kind" not in doc:
                continue
            if str(doc.get("apiVersion", "")).startswith("kustomize.config.k8s.io/"):
                continue
            objects[key_of(doc)] = doc
    return objects


def read_dir(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def read_ref(ref: str, path: str = "dist", *, cwd: Path | None = None) -> dict[str, str]:
    """The files under ``path`` at git ``ref`` (read with ``git ls-tree``/``cat-file``; no checkout changes)."""

    def git(*argv: str, stdin: bytes | None = None) -> bytes:
        return subprocess.run(["git", *argv], cwd=cwd, input=stdin, capture_output=True, check=True).stdout

    commit = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    listing = git("ls-tree", "-r", "-z", commit, "--", f"{path}/").decode().split("\0")
    blobs = [(line.split("\t", 1)[1], line.split()[2]) for line in listing if line and line.split()[1] == "blob"]
    if not blobs:
        return {}
    out = git("cat-file", "--batch", stdin="".join(f"{sha}\n" for _, sha in blobs).encode())
    files: dict[str, str] = {}
    offset = 0
    for name, _ in blobs:
        header_end = out.index(b"\n", offset)
        size = int(out[offset:header_end].split()[2])
        files[name.removeprefix(f"{path}/")] = out[header_end + 1 : header_end + 1 + size].decode()
        offset = header_end + 1 + size + 1
    return files


# -- diffing -------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """One field that differs; ``path`` holds dict keys and, for lists of named items, the item's name."""

    path: tuple[str, ...]
    old: Any
    new: Any
    #: The value is a secret (SealedSecret encryptedData, Secret data): printed as a summary only.
    secret: bool = False

    @property
    def where(self) -> str:
        out = ""
        for part in self.path:
            out += part if part.startswith("[") else (f".{part}" if out else part)
        return out


_MISSING = object()


def _name(item: Any) -> str | None:
    """A list item's identity: ``name`` (containers, env, ports, volumes) or ``metadata.name`` (claim templates)."""
    if not isinstance(item, dict):
        return None
    name = item.get("name", (item.get("metadata") or {}).get("name"))
    return str(name) if name is not None else None


def _named(items: Sequence[Any]) -> bool:
    names = [_name(i) for i in items]
    return None not in names and len(set(names)) == len(names)


def diff(old: Any, new: Any, path: tuple[str, ...] = ()) -> Iterator[Change]:
    """Field-level differences; lists of dicts with unique ``name``s are compared by name, others by index."""
    if (isinstance(old, dict) and isinstance(new, dict)) or (old is _MISSING and isinstance(new, dict) and new):
        old_map: Mapping[str, Any] = old if isinstance(old, dict) else {}
        for k in sorted(set(old_map) | set(new), key=str):
            yield from diff(old_map.get(k, _MISSING), new.get(k, _MISSING), (*path, str(k)))
    elif new is _MISSING and isinstance(old, dict) and old:
        for k in sorted(old, key=str):
            yield from diff(old[k], _MISSING, (*path, str(k)))
    elif isinstance(old, list) and isinstance(new, list) and old and new and _named(old) and _named(new):
        a, b = {_name(i): i for i in old}, {_name(i): i for i in new}
        for name in [*a, *(n for n in b if n not in a)]:
            yield from diff(a.get(name, _MISSING), b.get(name, _MISSING), (*path, f"[{name}]"))
        if [n for n in a if n in b] != [n for n in b if n in a]:
            yield Change(path=(*path, "(order)"), old=[n for n in a if n in b], new=[n for n in b if n in a])
    elif isinstance(old, list) and isinstance(new, list):
        yield from _diff_list(old, new, path)
    elif old != new:
        yield Change(path=path, old=None if old is _MISSING else old, new=None if new is _MISSING else new)


def _diff_list(old: list[Any], new: list[Any], path: tuple[str, ...]) -> Iterator[Change]:
    """Lists without unique names, element by element: an added or removed element is one Change of its own
    (``[i]`` its index in the new list, or in the old one when removed); elements changed in place recurse."""
    a = [json.dumps(x, sort_keys=True) for x in old]
    b = [json.dumps(y, sort_keys=True) for y in new]
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                yield from diff(old[i], new[j], (*path, f"[{j}]"))
            continue
        for i in range(i1, i2):
            yield Change(path=(*path, f"[{i}]"), old=old[i], new=None)
        for j in range(j1, j2):
            yield Change(path=(*path, f"[{j}]"), old=None, new=new[j])


def _secret_paths(kind: str, path: tuple[str, ...]) -> bool:
    return (kind == "SealedSecret" and path[:2] == ("spec", "encryptedData")) or (
        kind == "Secret" and path[:1] in (("data",), ("stringData",))
    )


# -- the plan ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Refusal:
    """A change the API server refuses in place: the sync fails until someone follows ``procedure``."""

    key: Key
    field: str
    change: str
    procedure: str


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    added: tuple[Key, ...]
    removed: tuple[Key, ...]
    changed: Mapping[Key, tuple[Change, ...]]
    refused: tuple[Refusal, ...]
    warnings: tuple[str, ...]
    #: Workload -> why its pods restart.
    restarts: Mapping[Key, tuple[str, ...]]

    @property
    def exit_code(self) -> int:
        return EXIT_REFUSED if self.refused else 0


def flux_units(files: Mapping[str, str], dist: str = "dist") -> dict[Key, str]:
    """Which Flux Kustomization applies each object of ``files`` (``<folder>/<file> -> YAML``, as synthesized).

    A unit applies ``spec.path`` ``./<dist>/<folder>`` except what its ``$patch: delete`` patches remove (the
    master StatefulSet's own unit, see the Flux deploy docs)."""
    by_folder: dict[str, dict[str, str]] = {}
    for path, text in files.items():
        folder, _, rest = path.partition("/")
        by_folder.setdefault(folder, {})[rest] = text
    units: dict[Key, str] = {}
    for unit in parse_manifests(by_folder.get("flux", {})).values():
        if unit.get("kind") != "Kustomization" or not str(unit.get("apiVersion", "")).startswith("kustomize.toolkit"):
            continue
        spec = unit.get("spec") or {}
        folder = str(spec.get("path", "")).removeprefix("./").removeprefix(f"{dist}/").strip("/")
        deleted = {
            ((p.get("target") or {}).get("kind"), (p.get("target") or {}).get("name"))
            for p in spec.get("patches") or []
            if "$patch: delete" in str(p.get("patch", ""))
        }
        for key in parse_manifests(by_folder.get(folder, {})):
            if (key[1], key[3]) not in deleted:
                units.setdefault(key, str(unit["metadata"]["name"]))
    return units


def make_plan(old: Mapping[Key, Obj], new: Mapping[Key, Obj], units: Mapping[Key, str] | None = None) -> Plan:
    """Compare what the cluster holds (``old``) with what a sync would apply (``new``); ``units``: each object's
    Flux Kustomization (:func:`flux_units`), named in the procedures."""
    added = tuple(k for k in new if k not in old)
    removed = tuple(k for k in old if k not in new)
    changed: dict[Key, tuple[Change, ...]] = {}
    refused: list[Refusal] = []
    restarts: dict[Key, tuple[str, ...]] = {}
    for k in (k for k in new if k in old):
        changes = tuple(dataclasses.replace(c, secret=_secret_paths(k[1], c.path)) for c in diff(old[k], new[k]))
        if not changes:
            continue
        changed[k] = changes
        refused += _refusals(k, old[k], new[k], changes, units)
        why = _restart_reasons(k, changes)
        if why:
            restarts[k] = why
    warnings = [_removal_warning(k, old[k]) for k in removed if k[1] in STATEFUL]
    return Plan(
        added=added,
        removed=removed,
        changed=changed,
        refused=tuple(refused),
        warnings=tuple(warnings),
        restarts=restarts,
    )


def _code(text: str) -> str:
    text = text.replace("\n", "⏎")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _short(value: Any) -> str:
    if value is None:
        return "(none)"
    if not isinstance(value, str):
        return _code(json.dumps(value, sort_keys=True, separators=(", ", ": ")))
    return _code(f"{value[:_MAX_TEXT]}…" if len(value) > _MAX_TEXT else value)


def _arrow(c: Change) -> str:  # noqa: PLR0911
    if c.secret:
        if c.old is None:
            return "(secret value added)"
        if c.new is None:
            return "(secret value removed)"
        return f"(secret value changed, {len(str(c.old))} -> {len(str(c.new))} characters; not shown)"
    if c.old is None and c.new is not None:
        return f"added {_short(c.new)}"
    if c.new is None and c.old is not None:
        return f"removed {_short(c.old)}"
    if isinstance(c.old, str) and isinstance(c.new, str) and ("\n" in c.old + c.new or len(c.old + c.new) > _MAX_TEXT):
        return _text_diff(c.old, c.new)
    return f"{_short(c.old)} -> {_short(c.new)}"


def _text_diff(old: str, new: str) -> str:
    """Long or multi-line text: the changed lines only (``-``/``+``), each around its first difference."""
    a, b = old.splitlines(), new.splitlines()
    parts: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        gone, came = a[i1:i2], b[j1:j2]
        if len(gone) == len(came) == 1:
            same = zip(gone[0], came[0], strict=False)
            start = next((i for i, (x, y) in enumerate(same) if x != y), min(len(gone[0]), len(came[0])))
            cut = max(0, start - 20) if max(len(gone[0]), len(came[0])) > _MAX_TEXT else 0
            gone, came = [("…" if cut else "") + gone[0][cut:]], [("…" if cut else "") + came[0][cut:]]
        parts += [f"- {_short(line)}" for line in gone] + [f"+ {_short(line)}" for line in came]
    if len(parts) == 2 and "\n" not in old + new:
        return f"{parts[0][2:]} -> {parts[1][2:]}"
    shown = parts[:12] + ([f"(… {len(parts) - 12} more lines)"] if len(parts) > 12 else [])
    return "changed lines: " + "; ".join(shown)


#: Where the docs explain the procedures the plan can only summarize.
DOCS_STORAGE_CLASS = "docs/operations.md#change-the-storage-class"


def _claim_classes(obj: Obj) -> dict[str, str]:
    """Each volume claim template's storage class (``(default)`` when unset), by template name."""
    return {
        str((t.get("metadata") or {}).get("name")): str((t.get("spec") or {}).get("storageClassName") or "(default)")
        for t in (obj.get("spec") or {}).get("volumeClaimTemplates") or []
    }


def _sts_procedure(key: Key, old: Obj, obj: Obj, field: str, *, unit: str | None = None) -> str:
    _, _, ns, name = key
    flux = (
        f"`flux reconcile kustomization {unit} --with-source`" if unit else "`flux reconcile kustomization` of its unit"
    )
    sync = f"then sync again (Argo CD: sync the Application; Flux: {flux})"
    orphan = f"`kubectl -n {ns} delete statefulset {name} --cascade=orphan` (the pods and PVCs stay and keep serving)"
    before, after = _claim_classes(old), _claim_classes(obj)
    changed = {t: (before[t], after[t]) for t in before.keys() & after.keys() if before[t] != after[t]}
    if field.startswith("spec.volumeClaimTemplates") and changed:
        moves = ", ".join(f"`{t}` {a} -> {b}" for t, (a, b) in sorted(changed.items()))
        return (
            f"1. {orphan}; 2. {sync}: the StatefulSet is recreated with the new class ({moves}) and adopts the pods, "
            "whose existing PVCs keep their class (a PVC's class never changes); 3. to move the data onto the new "
            f"class, re-create one pod's volume at a time, the replica first, the primary only after a switchover "
            f"({DOCS_STORAGE_CLASS}): a pod on an empty volume resyncs from the other."
        )
    if field.startswith("spec.volumeClaimTemplates"):
        classes = {
            str((t.get("spec") or {}).get("storageClassName") or "(default)")
            for t in obj["spec"].get("volumeClaimTemplates") or []
        }
        local = "local-path" in classes
        resize = (
            "the existing PVCs cannot be resized: local-path has no `allowVolumeExpansion`, so the new size applies "
            "only to PVCs created from now on (the old ones keep their request; local-path does not enforce it, a "
            "node's disk is the real limit); to really re-provision, re-create one pod's volume at a time "
            f"({DOCS_STORAGE_CLASS})"
            if local
            else f"`kubectl -n {ns} patch pvc <claim>-{name}-<ordinal> -p "
            '\'{"spec":{"resources":{"requests":{"storage":"<size>"}}}}\'` for each existing PVC (the storage '
            "class needs `allowVolumeExpansion: true`)"
        )
        return f"1. {orphan}; 2. {resize}; 3. {sync}: the StatefulSet is recreated over the running pods."
    return f"1. {orphan}; 2. {sync}: the StatefulSet is recreated with the new {field}, adopting the pods."


def _refusals(
    key: Key, old: Obj, new: Obj, changes: Sequence[Change], units: Mapping[Key, str] | None = None
) -> list[Refusal]:
    kind = key[1]
    _, _, ns, name = key
    out: list[Refusal] = []
    seen: set[str] = set()

    def refuse(c: Change, field: str, procedure: str) -> None:
        if field in seen:  # one entry per refused field, however many values under it changed
            return
        seen.add(field)
        out.append(Refusal(key=key, field=c.where, change=_arrow(c), procedure=procedure))

    for c in changes:
        top = c.path[1] if len(c.path) > 1 and c.path[0] == "spec" else None
        if kind == "StatefulSet" and top is not None and top not in STATEFULSET_MUTABLE:
            refuse(c, f"spec.{top}", _sts_procedure(key, old, new, c.where, unit=(units or {}).get(key)))
        elif kind == "Job" and top in JOB_IMMUTABLE:
            refuse(
                c,
                f"spec.{top}",
                f"give the Job a new name with every change of its spec (the library's validation Job does), or "
                f"`kubectl -n {ns} delete job {name}` before the sync; Flux also recreates it with the annotation "
                "`kustomize.toolkit.fluxcd.io/force: enabled`",
            )
        elif kind in ("Deployment", "DaemonSet", "ReplicaSet") and top == "selector":
            refuse(
                c,
                "spec.selector",
                f"`kubectl -n {ns} delete {kind.lower()} {name}` (its pods go with it: plan a short outage) and sync",
            )
        elif kind == "PersistentVolumeClaim" and c.path[:1] == ("spec",):
            out += _pvc_refusal(key, c, new)
        elif kind == "Service" and c.path[:2] in (("spec", "clusterIP"), ("spec", "clusterIPs")):
            refuse(c, "spec.clusterIP", f"`kubectl -n {ns} delete service {name}` right before the sync (brief outage)")
        elif kind in ("Secret", "ConfigMap") and old.get("immutable") is True and c.path[0] in ("data", "binaryData"):
            refuse(
                c, c.path[0], f"`kubectl -n {ns} delete {kind.lower()} {name}` before the sync, or give it a new name"
            )
    return out


def _pvc_refusal(key: Key, c: Change, new: Obj) -> list[Refusal]:
    _, _, ns, name = key
    field = c.where
    recreate = (
        f"back the data up, `kubectl -n {ns} delete pvc {name}` (with whatever mounts it), sync, restore"
        " (the data is lost otherwise)"
    )
    if c.path == ("spec", "resources", "requests", "storage"):
        old_q, new_q = quantity_value(c.old), quantity_value(c.new)
        if old_q is not None and new_q is not None and new_q > old_q:
            if (new.get("spec") or {}).get("storageClassName") != "local-path":
                return []  # an expansion: allowed when the storage class has allowVolumeExpansion
            why = "local-path cannot expand a volume (no allowVolumeExpansion)"
        else:
            why = "a PVC never shrinks"
        return [Refusal(key=key, field=field, change=f"{_arrow(c)}: {why}", procedure=recreate)]
    if c.path[:2] == ("spec", "resources") or c.path[:2] == ("spec", "volumeAttributesClassName"):
        return []
    return [Refusal(key=key, field=field, change=_arrow(c), procedure=recreate)]


def _restart_reasons(key: Key, changes: Sequence[Change]) -> tuple[str, ...]:
    if key[1] not in WORKLOADS:
        return ()
    reasons: list[str] = []
    for c in changes:
        if c.path[:2] != ("spec", "template"):
            continue
        rest = c.path[2:]
        if rest[:2] == _ANNOTATIONS and len(rest) == 3:
            reasons.append(f"{RESTART_ANNOTATIONS.get(rest[2], f'pod annotation {rest[2]}')}")
        elif len(rest) >= 4 and rest[:1] == ("spec",) and rest[1] in ("containers", "initContainers"):
            container, field = rest[2].strip("[]"), ".".join(p.strip("[]") for p in rest[3:])
            if field == "image":
                reasons.append(f"image of {container}: {_short(c.old)} -> {_short(c.new)}")
            elif field.startswith("env"):
                reasons.append(f"env {field.split('.')[1] if '.' in field else ''} of {container}".replace("  ", " "))
            else:
                reasons.append(f"{container}: {field}")
        else:
            reasons.append(f"pod template: {Change(path=rest, old=None, new=None).where}")
    return tuple(dict.fromkeys(reasons))


def _removal_warning(key: Key, obj: Obj) -> str:
    kind = key[1]
    if kind == "PersistentVolumeClaim":
        return f"{label(*key[1:])} is removed: with pruning on, its volume and the data on it are deleted"
    if kind == "Namespace":
        return f"{label(*key[1:])} is removed: everything in it goes, PVCs and their data included"
    policy = (obj.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    kept = "kept" if policy.get("whenDeleted", "Retain") == "Retain" else "DELETED with it"
    return f"{label(*key[1:])} is removed: its pods stop (Redis is down); its PVCs are {kept}"


# -- rendering -----------------------------------------------------------------------------------------------
def render_markdown(plan: Plan, *, base: str) -> str:
    """The plan as a Markdown document (a pull-request comment or a job summary)."""
    lines = [f"## Plan: `{base}` -> working tree", ""]
    counts = f"{len(plan.added)} added, {len(plan.removed)} removed, {len(plan.changed)} changed"
    if not (plan.added or plan.removed or plan.changed):
        return "\n".join([*lines, "No changes: a sync applies nothing new.", ""])
    verdict = (
        f"**{len(plan.refused)} change(s) the API server refuses in place: the sync fails until they are handled.**"
        if plan.refused
        else "The API server accepts every change in place."
    )
    lines += [f"{counts}. {verdict}", ""]
    if plan.refused:
        lines += ["### Refused in place", ""]
        for r in plan.refused:
            lines.append(f"- **{label(*r.key[1:])}** `{r.field}`: {r.change}  ")
            lines.append(f"  Safe procedure: {r.procedure}")
        lines.append("")
    if plan.warnings:
        lines += ["### Warnings", "", *(f"- ⚠️ {w}" for w in plan.warnings), ""]
    if plan.restarts:
        lines += ["### Pods that restart", ""]
        for k, why in plan.restarts.items():
            lines.append(f"- **{label(*k[1:])}**: {'; '.join(why)}")
        lines.append("")
    for title, keys in (("Added", plan.added), ("Removed", plan.removed)):
        if keys:
            lines += [f"### {title}", "", *(f"- {label(*k[1:])}" for k in keys), ""]
    if plan.changed:
        lines += ["### Changed", ""]
        for k, changes in plan.changed.items():
            lines.append(f"- **{label(*k[1:])}**")
            lines += [f"  - `{c.where}`: {_arrow(c)}" for c in changes]
        lines.append("")
    return "\n".join(lines)


# -- command line --------------------------------------------------------------------------------------------
def synth_app(app_file: Path) -> dict[str, str]:
    """Run the site's ``main()`` with ``CDK8S_OUTDIR`` in a temporary directory; return the files it wrote."""
    if not app_file.is_file():
        raise FileNotFoundError(f"{app_file} is not a file (--app names the site's Python file)")
    spec = importlib.util.spec_from_file_location("_plan_site", app_file)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{app_file} is not a Python file (--app names the site's Python file)")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(app_file.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the site's own code: a SyntaxError, an ImportError, a PropError at import
        raise RuntimeError(f"{app_file} does not load: {type(error).__name__}: {error}") from error
    if not callable(getattr(module, "main", None)):
        raise RuntimeError(f"{app_file} has no main() (the site app's entry point, as main.py)")
    with tempfile.TemporaryDirectory(prefix="redis-shared-plan-") as tmp:
        out = Path(tmp) / "dist"
        previous = os.environ.get("CDK8S_OUTDIR")
        os.environ["CDK8S_OUTDIR"] = str(out)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                code = module.main()
        finally:
            if previous is None:
                os.environ.pop("CDK8S_OUTDIR", None)
            else:
                os.environ["CDK8S_OUTDIR"] = previous
        if code != 0:
            raise RuntimeError(f"{app_file} does not synthesize (exit {code}); see the error above")
        return read_dir(out)


def known_refs(*, cwd: Path | None = None) -> list[str]:
    """Branches (local and remote-tracking) and tags of the clone, short names."""
    try:
        out = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes", "refs/tags"],
            cwd=cwd,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return []
    return [line for line in out.splitlines() if line and not line.endswith("/HEAD")]


def _ref_error(base: str, dist: str, error: subprocess.CalledProcessError, *, cwd: Path | None = None) -> str:
    """Why dist/ at ``base`` cannot be read, with the nearest existing ref when the ref names no commit."""
    reason = (error.stderr or b"").decode().strip()
    if reason:  # git said why (not a repository, a broken object...)
        return f"cannot read {dist}/ at {base!r}: {reason}"
    # `rev-parse --verify --quiet` fails silently: the ref names no commit in this clone.
    refs = known_refs(cwd=cwd)
    near = difflib.get_close_matches(base, refs, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return (
        f"unknown git ref {base!r}: no branch, tag or commit of that name in this clone{hint} "
        "(`git branch -a` lists the branches; `git fetch` first for a remote one)"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``plan`` command's arguments (``redis-shared plan``, ``python -m redis_constructs.plan``)."""
    parser.add_argument("--base", default="", help="git ref whose dist/ the cluster holds (default: dist/ on disk)")
    parser.add_argument("--app", default="main.py", help="the site app to synthesize (default: %(default)s)")
    parser.add_argument("--dist", default="dist", help="the committed output folder (default: %(default)s)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``plan`` to the ``redis-shared`` command line (:mod:`redis_constructs.cli`)."""
    summary = "what a sync of a fresh synth does to a cluster holding dist/ (Markdown on stdout)"
    parser = subparsers.add_parser("plan", help=summary, description=__doc__.split("\n\n")[0], allow_abbrev=False)
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Make the plan; exit 0 (the cluster takes it), 1 (a change refused in place) or 2 (no plan could be made)."""
    try:
        if args.base:
            old_files, base = read_ref(args.base, args.dist.rstrip("/")), f"{args.dist}/ at {args.base}"
        elif not Path(args.dist).is_dir():
            # A mistyped --dist must not plan every object as new.
            print(f"error: --dist {args.dist!r} is not a folder (the committed output, e.g. dist)", file=sys.stderr)
            return EXIT_NO_PLAN
        else:
            old_files, base = read_dir(Path(args.dist)), f"{args.dist}/"
        old = parse_manifests(old_files)
    except subprocess.CalledProcessError as error:
        print(f"error: {_ref_error(args.base, args.dist, error)}", file=sys.stderr)
        return EXIT_NO_PLAN
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
        print(f"error: {args.dist}/ holds a file that is not YAML: {error}", file=sys.stderr)
        return EXIT_NO_PLAN
    try:
        new_files = synth_app(Path(args.app))
    except (RuntimeError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NO_PLAN
    plan = make_plan(old, parse_manifests(new_files), flux_units(new_files, args.dist))
    print(render_markdown(plan, base=base))
    return plan.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m redis_constructs.plan``: the same as ``redis-shared plan``."""
    parser = argparse.ArgumentParser(prog="python -m redis_constructs.plan", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
