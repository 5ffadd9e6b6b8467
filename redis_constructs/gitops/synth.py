"""Synthesize an app into ``dist/``: one folder per chart, checked first, swapped in atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cdk8s
import yaml

from .manifest_checks import ExternalRefs, Obj, check_objects

_NO_EXTERNAL = ExternalRefs()


class SynthError(Exception):
    """The manifests failed a check; nothing was written.

    ``errors`` lists each distinct problem once, in the order found; the message names the output folder.
    """

    def __init__(self, errors: Sequence[str], outdir: str | os.PathLike[str] | None = None) -> None:
        self.errors = tuple(dict.fromkeys(errors))
        self.outdir = str(outdir) if outdir is not None else None
        where = f"{self.outdir} was left as it was" if self.outdir is not None else "nothing was written"
        super().__init__(f"synth refused: {len(self.errors)} problem(s); {where}\n  - " + "\n  - ".join(self.errors))


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Block-style YAML with multi-line strings (scripts, redis.conf) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


#: Apply order for a plain ``kubectl apply -f``: what others live in or read comes first (as Helm does).
KIND_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "Secret",
    "SealedSecret",
    "ExternalSecret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Service",
    "Deployment",
    "StatefulSet",
    "Job",
    "PodDisruptionBudget",
    "NetworkPolicy",
)


def ordered(objects: Sequence[Obj]) -> list[Obj]:
    """Objects in apply order by kind; construct order within a kind (stable, so deterministic)."""
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return sorted(objects, key=lambda o: rank.get(str(o.get("kind")), len(KIND_ORDER)))


def to_yaml(objects: Sequence[Obj]) -> str:
    """Deterministic multi-document YAML, readable like dist/ (snapshots use the same function)."""
    return "---\n".join(
        yaml.dump(dict(o), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120) for o in objects
    )


def chart_objects(app: cdk8s.App) -> dict[str, list[dict[str, Any]]]:
    """Every chart's objects, by chart path (the dist/ folder: a chart's id, ``<id>/<id>`` for a nested chart)."""
    return {chart.node.path: list(chart.to_json()) for chart in app.charts}


def render_files(charts: Mapping[str, Sequence[Obj]]) -> dict[str, str]:
    """``relative path → text`` of everything dist/ holds: manifests and one kustomization per chart."""
    files: dict[str, str] = {}
    for name, objects in sorted(charts.items()):
        files[f"{name}/manifests.yaml"] = to_yaml(ordered(objects))
        files[f"{name}/kustomization.yaml"] = yaml.dump(
            {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["manifests.yaml"]},
            Dumper=_Dumper,
            sort_keys=False,
        )
    return files


def synthesize(
    app: cdk8s.App,
    outdir: str | os.PathLike[str],
    *,
    external: ExternalRefs = _NO_EXTERNAL,
    allow_plaintext_secrets: bool = False,
) -> dict[str, str]:
    """Check every object, then replace ``outdir`` with the new files in one rename.

    Raises :class:`SynthError` listing every problem; ``outdir`` is untouched then.
    """
    charts = chart_objects(app)
    errors = check_objects(
        [o for objs in charts.values() for o in objs],
        external=external,
        allow_plaintext_secrets=allow_plaintext_secrets,
    )
    if errors:
        raise SynthError(errors, outdir)
    files = render_files(charts)
    write_atomically(Path(outdir), files)
    return files


def write_atomically(outdir: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` into a sibling temp dir, then swap it for ``outdir``."""
    outdir = outdir.resolve()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.new-", dir=outdir.parent))
    try:
        for rel, text in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        old = outdir.parent / f".{outdir.name}.old-{os.getpid()}"
        if outdir.exists():
            outdir.rename(old)
        staging.rename(outdir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
