"""restart_annotations: every pod-template annotation the constructs set to roll pods is one ``make plan`` explains."""

from __future__ import annotations

from typing import Any

from binding_world import site

from redis_constructs.core.restart_annotations import (
    CONFIG_CHECKSUM_ANNOTATION,
    CREDENTIALS_VERSION_ANNOTATION,
    RESTART_ANNOTATIONS,
    TARGET_ANNOTATION,
)
from redis_constructs.migration.binding import MigrationPhase

#: Pod-template annotations that are not about restarts (kubectl's default container).
NOT_RESTARTS = {"kubectl.kubernetes.io/default-container"}


def pod_template_annotations(charts: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    found = {}
    for objects in charts.values():
        for obj in objects:
            if obj["kind"] in ("StatefulSet", "Deployment"):
                meta = obj["spec"]["template"].get("metadata") or {}
                found[(obj["kind"], obj["metadata"]["name"])] = set(meta.get("annotations") or {}) - NOT_RESTARTS
    return found


def test_every_restart_annotation_rendered_in_cutover_is_explained_by_the_plan() -> None:
    found = pod_template_annotations(site(MigrationPhase.CUTOVER))
    assert found[("StatefulSet", "redis-shared-master")] == {CONFIG_CHECKSUM_ANNOTATION, CREDENTIALS_VERSION_ANNOTATION}
    assert found[("Deployment", "beersystem")] == {CREDENTIALS_VERSION_ANNOTATION, TARGET_ANNOTATION}
    assert set().union(*found.values()) == set(RESTART_ANNOTATIONS)


def test_the_names_are_the_ones_live_pods_already_carry() -> None:
    """Renaming one would restart every pod once and break `make plan`'s reading of older dist/ folders."""
    assert sorted(RESTART_ANNOTATIONS) == [
        "redis-shared/config-checksum",
        "redis-shared/credentials-version",
        "redis-shared/target",
    ]
