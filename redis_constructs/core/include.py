"""``IncludeFile``: ``cdk8s.Include`` for a local YAML file, parsed in Python.

``cdk8s.Include`` loads every file through a child Node process (cdk8s's ``Yaml.load`` spawns one per call to
read URLs synchronously): ~0.2 s per file, a third of a synth. This reads the file with PyYAML (YAML 1.1, as cdk8s
parses it) and defines the same ``ApiObject`` s under the same construct ids (``name[-kind][-namespace]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cdk8s
import constructs
import yaml

from .errors import PropError, names_construct
from .rendering import sorted_keys

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: metadata fields ``cdk8s.ApiObjectMetadata`` takes under the same name; any other goes in with ``metadata.add``.
_METADATA_FIELDS = ("name", "namespace", "labels", "annotations", "finalizers")


class Included(Protocol):
    """What a binding reads from included manifests: ``cdk8s.Include`` and :class:`IncludeFile` both are."""

    @property
    def api_objects(self) -> list[cdk8s.ApiObject]: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class IncludeFileProps:
    """What :class:`IncludeFile` loads."""

    #: The local YAML file (one or more documents).
    path: str | Path

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, Path)) or not str(self.path):
            raise PropError("path", self.path, "the path of a local YAML file")


class IncludeFile(constructs.Construct):
    """Every non-empty document of the YAML file ``props.path`` as a ``cdk8s.ApiObject`` (names kept as they are).

    Example::

        IncludeFile(chart, "App", IncludeFileProps(path="apps/beersystem/app.yaml"))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: IncludeFileProps) -> None:
        super().__init__(scope, id)
        if not isinstance(props, IncludeFileProps):
            raise PropError("props", type(props).__name__, "an IncludeFileProps(path=...)")
        self._objects: list[cdk8s.ApiObject] = []
        order = 0
        try:
            text = Path(props.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PropError("path", str(props.path), f"a readable YAML file ({type(error).__name__})") from None
        try:
            docs = [doc for doc in yaml.load_all(text, Loader=_LOADER) if doc]
        except (yaml.YAMLError, RecursionError):
            raise PropError("path", str(props.path), "a YAML file of Kubernetes objects") from None
        for doc in docs:
            if not (
                isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)
            ):
                raise PropError(
                    "path", str(props.path), "a YAML file of Kubernetes objects (each with apiVersion and kind)"
                )
            meta: dict[str, Any] = dict(doc.get("metadata") or {})
            name = meta.get("name")
            if name is None:
                name = f"object{order}"
                order += 1
            object_id = "-".join(str(x) for x in (name, str(doc.get("kind") or "").lower(), meta.get("namespace")) if x)
            known = {key: meta.pop(key) for key in _METADATA_FIELDS if key in meta}
            obj = cdk8s.ApiObject(
                self,
                object_id,
                api_version=str(doc["apiVersion"]),
                kind=str(doc["kind"]),
                metadata=cdk8s.ApiObjectMetadata(**known),
            )
            for key, value in meta.items():
                obj.metadata.add(key, sorted_keys(value))
            for key, value in doc.items():
                if key not in ("apiVersion", "kind", "metadata"):
                    obj.add_json_patch(cdk8s.JsonPatch.add(f"/{key}", sorted_keys(value)))
            self._objects.append(obj)

    @property
    def api_objects(self) -> list[cdk8s.ApiObject]:
        """The objects, in file order."""
        return list(self._objects)
