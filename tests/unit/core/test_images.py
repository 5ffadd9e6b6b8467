"""Every Redis and exporter image the site renders comes from redis_constructs.core.images (one place to bump)."""

from __future__ import annotations

import re
from typing import Any

from conftest import ROOT

from redis_constructs.core.images import EXPORTER_IMAGE, REDIS_IMAGE, RESTIC_IMAGE

Obj = dict[str, Any]


def pod_images(objects: list[Obj]) -> dict[str, set[str]]:
    """Image (without digest) -> names of the objects whose pod templates use it."""
    found: dict[str, set[str]] = {}
    for o in objects:
        spec = o.get("spec", {})
        template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
        pod = template.get("spec", {}) if isinstance(template, dict) else {}
        for c in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            found.setdefault(c["image"].split("@")[0], set()).add(f"{o['kind']}/{o['metadata']['name']}")
    return found


def test_the_pinned_images_are_patched_releases() -> None:
    # 7.4.11 or a later 7.4 patch release: 7.4.3 fixed CVE-2025-21605, 7.4.6 the Lua CVEs, 7.4.10 RESTORE.
    match = re.fullmatch(r"redis:7\.4\.(\d+)-bookworm", REDIS_IMAGE)
    assert match and int(match.group(1)) >= 11, REDIS_IMAGE
    match = re.fullmatch(r"oliver006/redis_exporter:v1\.(\d+)\.\d+", EXPORTER_IMAGE)
    assert match and int(match.group(1)) >= 88, EXPORTER_IMAGE
    # The off-site backup's restic: a release tag (0.14 introduced repository format v2, which every later reads).
    match = re.fullmatch(r"restic/restic:0\.(\d+)\.\d+", RESTIC_IMAGE)
    assert match and int(match.group(1)) >= 17, RESTIC_IMAGE


def test_every_rendered_redis_image_is_the_one_constant(site_charts: dict[str, list[Obj]]) -> None:
    redis_images: dict[str, set[str]] = {}
    for chart, objects in site_charts.items():
        for image, users in pod_images(objects).items():
            if "redis" in image and not image.startswith("ghcr.io/homelab/beersystem"):
                redis_images.setdefault(image, set()).update(f"{chart}:{u}" for u in users)
    # The app team's own old Redis (apps/beersystem/redis.yaml) is theirs: rendered unchanged until decommissioned.
    old = {u for u in redis_images.pop("redis:6.2.14-bookworm", set())}
    assert old <= {"beersystem:Deployment/beersystem-redis"}, old
    assert set(redis_images) <= {REDIS_IMAGE, EXPORTER_IMAGE}, redis_images
    assert any(u.startswith("redis-shared:StatefulSet/") for u in redis_images[REDIS_IMAGE])
    assert any(u.startswith("redis-shared:StatefulSet/") for u in redis_images[EXPORTER_IMAGE])


def test_no_module_spells_a_redis_tag_of_its_own() -> None:
    for path in sorted((ROOT / "redis_constructs").glob("*.py")):
        if path.name in ("images.py", "validation.py"):  # validation's message shows an example reference
            continue
        tags = re.findall(r"redis(?:_exporter)?:v?\d+\.\d+\.\d+", path.read_text())
        assert tags == [], f"{path.name} spells {tags}; use redis_constructs.core.images"
