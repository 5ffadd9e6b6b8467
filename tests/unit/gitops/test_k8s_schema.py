"""Every rendered object strictly valid for Kubernetes 1.28 (the floor) and 1.36 (K3s stable), in every phase."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

import main
from redis_constructs.gitops import k8s_schema
from redis_constructs.gitops.manifest_checks import load_crd_schemas
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration.binding import MigrationPhase

VERSIONS = ("1.28.0", "1.36.0")
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(hours=30)
VARIANTS: dict[str, dict[str, Any]] = {
    "before-cutover": {"phase": MigrationPhase.BEFORE_CUTOVER},
    "cutover": {"phase": MigrationPhase.CUTOVER, "cutover_time": T0},
    "decommissioned": {"phase": MigrationPhase.DECOMMISSIONED, "cutover_time": T0},
    "decommissioned-data-deleted": {
        "phase": MigrationPhase.DECOMMISSIONED,
        "cutover_time": T0,
        "delete_old_data": True,
    },
}
Obj = dict[str, Any]


@functools.cache
def render(variant: str) -> list[Obj]:
    charts = chart_objects(main.build_app(now=lambda: LATER, **VARIANTS[variant]))
    return [o for objs in charts.values() for o in objs]


@pytest.fixture(scope="module", params=list(VARIANTS))
def rendered(request: pytest.FixtureRequest) -> list[Obj]:
    return render(request.param)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_strictly_valid(rendered: list[Obj], version: str) -> None:
    crds = load_crd_schemas()
    problems = []
    builtin = 0
    for obj in rendered:
        key = (obj["apiVersion"], obj["kind"])
        if key in crds:
            errors = list(jsonschema.Draft7Validator(crds[key]).iter_errors(obj))
            problems += [f"{obj['kind']} {obj['metadata']['name']}: {e.message}" for e in errors]
            continue
        builtin += 1
        error = k8s_schema.first_error(obj, version)
        if error is not None:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: {list(error.path)}: {error.message}")
    assert problems == []
    assert builtin >= 10  # the built-in kinds really went through the Kubernetes schemas


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_fields_fail_in_both(version: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}, "dataa": {}}
    error = k8s_schema.first_error(cm, version)
    assert error is not None and "dataa" in error.message


def test_versions_differ_where_kubernetes_does() -> None:
    """flowcontrol v1beta3 was served up to 1.31: valid for the floor, unknown to K3s stable."""
    flow: Obj = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3",
        "kind": "FlowSchema",
        "metadata": {"name": "x"},
        "spec": {"priorityLevelConfiguration": {"name": "global-default"}},
    }
    assert k8s_schema.first_error(flow, "1.28.0") is None
    with pytest.raises(k8s_schema.SchemaNotFoundError, match=r"not in Kubernetes 1\.36\.0"):
        k8s_schema.first_error(flow, "1.36.0")
    with pytest.raises(k8s_schema.SchemaNotFoundError, match=r"no schemas for Kubernetes 1\.99"):
        k8s_schema.first_error(flow, "1.99.0")


@pytest.mark.parametrize("version", VERSIONS)
def test_same_verdict_as_kubernetes_validate(version: str) -> None:
    """The cached validators use kubernetes-validate's own schema files and agree with it (a bad object too).

    On the cutover rendering, the one with the most kinds (kubernetes-validate re-reads its schemas every call).
    """
    crds = load_crd_schemas()
    objects = [o for o in render("cutover") if (o["apiVersion"], o["kind"]) not in crds]
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [{"port": "six"}]}}
    for obj in [*objects, bad]:
        ours = k8s_schema.first_error(obj, version)
        try:
            kubernetes_validate.validate(obj, version, strict=True)
            theirs = None
        except kubernetes_validate.ValidationError as e:
            theirs = e
        assert (ours is None) == (theirs is None), obj["metadata"]["name"]
        if ours is not None and theirs is not None:
            assert (list(ours.path), ours.message) == (list(theirs.path), theirs.message)
