"""IncludeFile renders exactly what cdk8s.Include renders, under the same construct ids."""

from __future__ import annotations

from pathlib import Path

import cdk8s
import pytest
from conftest import ROOT

from redis_constructs.core.errors import PropError
from redis_constructs.core.include import IncludeFile, IncludeFileProps

FILES = sorted((ROOT / "apps" / "beersystem").glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_include_file_is_cdk8s_include(path: Path) -> None:
    app = cdk8s.App()
    theirs = cdk8s.Include(cdk8s.Chart(app, "a", disable_resource_name_hashes=True), "M", url=str(path))
    ours = IncludeFile(cdk8s.Chart(app, "b", disable_resource_name_hashes=True), "M", IncludeFileProps(path=path))
    assert [o.node.id for o in ours.api_objects] == [o.node.id for o in theirs.api_objects]
    assert [o.to_json() for o in ours.api_objects] == [o.to_json() for o in theirs.api_objects]
    # Key order too: dist/ is YAML with keys as rendered.
    assert [list(o.to_json()) for o in ours.api_objects] == [list(o.to_json()) for o in theirs.api_objects]


def test_include_file_handles_extra_metadata_and_unnamed_documents(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-, namespace: ns, labels: {b: '1', a: '2'}}\n"
        "data: {z: '1', a: '2'}\n"
        "---\n"
        "---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: named}\nimmutable: true\n"
    )
    # Same chart id in two apps: the generated name of the unnamed object depends on the construct path.
    theirs = cdk8s.Include(cdk8s.Chart(cdk8s.App(), "c"), "M", url=str(path))
    ours = IncludeFile(cdk8s.Chart(cdk8s.App(), "c"), "M", IncludeFileProps(path=path))
    assert (
        [o.node.id for o in ours.api_objects]
        == [o.node.id for o in theirs.api_objects]
        == [
            "object0-configmap-ns",
            "named-configmap",
        ]
    )
    assert [o.to_json() for o in ours.api_objects] == [o.to_json() for o in theirs.api_objects]


@pytest.mark.parametrize("path", ["", None, 3])
def test_fails_without_a_path(path: object) -> None:
    with pytest.raises(PropError, match=r"^path: got .*; expected the path of a local YAML file$"):
        IncludeFileProps(path=path)  # type: ignore[arg-type]
