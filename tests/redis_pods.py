"""What the runtime tests and the benchmark share about running the synthesized redis-shared pods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def out_of_band_secrets(
    objects: Sequence[Mapping[str, Any]], by_file: Mapping[str, str], *, namespace: str = "redis"
) -> dict[tuple[str, str], dict[str, str]]:
    """Secret data for every Secret the primary's ``credentials`` volume projects, by mounted file name.

    In the cluster these Secrets come from the sealed-secrets controller (or are created by hand); here the
    test supplies ``by_file`` (``client-password`` … ``admin-password`` → password), whatever the Secrets'
    names and keys are in the manifests.
    """
    sts = next(o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"].endswith("-master"))
    volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "credentials")
    secrets: dict[tuple[str, str], dict[str, str]] = {}
    for source in volume["projected"]["sources"]:
        ref = source["secret"]
        for item in ref["items"]:
            secrets.setdefault((namespace, ref["name"]), {})[item["key"]] = by_file[item["path"]]
    assert sorted(v for s in secrets.values() for v in s.values()) == sorted(by_file.values())
    return secrets
