"""``IncludeFile``: ``cdk8s.Include`` for a local YAML file, parsed in Python.

``cdk8s.Include`` loads every file through a child Node process (cdk8s's ``Yaml.load`` spawns one per call to
read URLs synchronously): ~0.2 s per file, a third of a synth. This reads the file with PyYAML (YAML 1.1, as cdk8s
parses it) and defines the same ``ApiObject`` s under the same construct ids (``name[-kind][-namespace]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import cdk8s
import constructs
import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: metadata fields ``cdk8s.ApiObjectMetadata`` takes under the same name; any other goes in with ``metadata.add``.
_METADATA_FIELDS = ("name", "namespace", "labels", "annotations", "finalizers")


def _sorted(value: Any) -> Any:
    """Keys sorted at every level, as cdk8s renders an ApiObject's props (lists keep their order)."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


class Included(Protocol):
    """What a binding reads from included manifests: ``cdk8s.Include`` and :class:`IncludeFile` both are."""

    @property
    def api_objects(self) -> list[cdk8s.ApiObject]: ...


class IncludeFile(constructs.Construct):
    """Every non-empty document of the YAML file ``path`` as a ``cdk8s.ApiObject`` (names kept as they are)."""

    def __init__(self, scope: constructs.Construct, id: str, *, path: str | Path) -> None:
        super().__init__(scope, id)
        self._objects: list[cdk8s.ApiObject] = []
        order = 0
        for doc in yaml.load_all(Path(path).read_text(), Loader=_LOADER):
            if not doc:
                continue
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
                obj.metadata.add(key, _sorted(value))
            for key, value in doc.items():
                if key not in ("apiVersion", "kind", "metadata"):
                    obj.add_json_patch(cdk8s.JsonPatch.add(f"/{key}", _sorted(value)))
            self._objects.append(obj)

    @property
    def api_objects(self) -> list[cdk8s.ApiObject]:
        """The objects, in file order."""
        return list(self._objects)
