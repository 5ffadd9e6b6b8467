"""Strict Kubernetes JSON schemas (the ones kubernetes-validate ships), each parsed once per process.

``kubernetes_validate.validate`` re-reads and re-parses the schema and the large ``_definitions.json`` on every call;
a synth validates dozens of objects, the tests thousands. Here each schema directory's definitions and each
``(version, apiVersion, kind)`` validator are built once and cached; the schema files are the same ones, picked
the same way (the newest schema version not newer than the one asked for, the ``-strict`` variant: unknown fields
are errors).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource


class SchemaNotFoundError(LookupError):
    """No schema for this apiVersion/kind in that Kubernetes version (a CRD kind, or a removed API)."""


def _minor(version: str) -> tuple[int, int]:
    major, minor = re.match(r"^v?(\d+)\.(\d+)", version).groups()  # type: ignore[union-attr]
    return int(major), int(minor)


@functools.cache
def _schema_root() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")  # its data only: importing it costs ~0.1 s
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("kubernetes_validate")
    return Path(spec.origin).parent / "kubernetes-json-schema"


@functools.cache
def schema_dir(version: str) -> Path:
    """The strict schema folder for Kubernetes ``version`` (e.g. ``"1.28.0"``)."""
    wanted = _minor(version)
    available = sorted(
        (_minor(p.name), p) for p in _schema_root().iterdir() if re.fullmatch(r"v[\d.]+-local-strict", p.name)
    )
    usable = [p for v, p in available if v <= wanted]
    if not usable or wanted > available[-1][0]:
        raise SchemaNotFoundError(f"kubernetes-validate has no schemas for Kubernetes {version}")
    return usable[-1]


@functools.cache
def _registry(folder: Path) -> Registry[Any]:
    definitions = Resource.from_contents(json.loads((folder / "_definitions.json").read_text()))
    return definitions @ Registry()


@functools.cache
def validator(version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator:
    """The cached strict validator for one kind; :class:`SchemaNotFoundError` when Kubernetes has no such kind."""
    folder = schema_dir(version)
    # rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1 (kubernetes-validate's file names)
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = folder / f"{kind.lower()}-{api}.json"
    if not path.is_file():
        raise SchemaNotFoundError(f"apiVersion/kind {api_version}/{kind} is not in Kubernetes {version}")
    schema = json.loads(path.read_text())
    registry = Resource.from_contents(schema) @ _registry(folder)
    cls = jsonschema.validators.Draft202012Validator
    return cls(schema, registry=registry)


def first_error(obj: dict[str, Any], version: str) -> jsonschema.ValidationError | None:
    """The first strict-schema error of a built-in object, or None (as ``kubernetes_validate.validate`` reports)."""
    check = validator(version, str(obj.get("apiVersion")), str(obj.get("kind")))
    return next(iter(check.iter_errors(obj)), None)
