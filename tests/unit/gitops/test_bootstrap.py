"""The bootstrap manifests (dist/bootstrap/): valid for their CRDs, the Application's exclude pattern covers what
it must, nothing deletes Redis when the bootstrap object is deleted, and bad props are named."""

from __future__ import annotations

import copy
import fnmatch
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml

from redis_constructs import GitopsBootstrap, GitopsBootstrapProps, PropError
from redis_constructs.gitops.manifest_checks import load_crd_schemas, schema_errors

ROOT = Path(__file__).resolve().parents[3]
DIST = ROOT / "dist"


def _render(**props: Any) -> tuple[GitopsBootstrap, dict[str, list[dict[str, Any]]]]:
    app = cdk8s.App()
    bootstrap = GitopsBootstrap(app, "bootstrap", GitopsBootstrapProps(repo_url="https://git.home.arpa/r.git", **props))
    return bootstrap, {chart.node.path: list(chart.to_json()) for chart in app.charts}


def _braces(pattern: str) -> list[str]:
    """gobwas/glob's ``{a,b}`` alternatives (what Argo CD's directory exclude takes) as separate patterns."""
    assert pattern.startswith("{") and pattern.endswith("}")
    return pattern[1:-1].split(",")


def test_the_committed_bootstrap_files_pass_their_crds() -> None:
    schemas = load_crd_schemas()
    objects = [
        o for p in sorted((DIST / "bootstrap").glob("*/manifests.yaml")) for o in yaml.safe_load_all(p.read_text())
    ]
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == [
        ("Application", "redis-shared"),
        ("Kustomization", "redis-shared-flux"),
    ]
    for obj in objects:
        assert (obj["apiVersion"], obj["kind"]) in schemas
        assert schema_errors(obj, schemas) == []
    typo = copy.deepcopy(next(o for o in objects if o["kind"] == "Application"))
    typo["spec"]["source"]["directory"]["recurce"] = typo["spec"]["source"]["directory"].pop("recurse")
    assert any("recurce" in e for e in schema_errors(typo, schemas))


def test_a_named_source_renders_a_gitrepository_that_passes_its_crd() -> None:
    _, charts = _render(flux_source="redis-shared", flux_secret_name="git-credentials")
    repo, kustomization = charts["bootstrap/flux"]
    assert repo["kind"] == "GitRepository"
    assert repo["spec"] == {
        "interval": "1m",
        "ref": {"branch": "main"},
        "secretRef": {"name": "git-credentials"},
        "url": "https://git.home.arpa/r.git",
    }
    assert kustomization["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "redis-shared"}
    schemas = load_crd_schemas()
    assert [e for o in (repo, kustomization) for e in schema_errors(o, schemas)] == []


def test_the_application_syncs_every_chart_folder_and_nothing_else() -> None:
    (application,) = yaml.safe_load_all((DIST / "bootstrap" / "argocd" / "manifests.yaml").read_text())
    patterns = _braces(application["spec"]["source"]["directory"]["exclude"])
    assert application["spec"]["source"]["path"] == "dist" and application["spec"]["source"]["directory"]["recurse"]
    files = sorted(str(p.relative_to(DIST)) for p in DIST.rglob("*.yaml"))

    # gobwas/glob without separators, as Argo CD calls it: `*` also matches `/`, like fnmatch's.
    def excluded(path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)

    synced = [f for f in files if not excluded(f)]
    assert synced == [
        f for f in files if f.endswith("/manifests.yaml") and f.split("/")[0] not in {"flux", "bootstrap"}
    ]
    assert {f.split("/")[0] for f in synced} >= {"redis-shared", "beersystem"}


def test_deleting_the_bootstrap_objects_leaves_redis_running() -> None:
    _, charts = _render()
    (application,) = charts["bootstrap/argocd"]
    assert "finalizers" not in application["metadata"]  # no cascading delete
    (kustomization,) = charts["bootstrap/flux"]  # flux bootstrap's GitRepository is not rendered
    assert kustomization["spec"]["deletionPolicy"] == "Orphan"
    units = list(yaml.safe_load_all((DIST / "flux" / "manifests.yaml").read_text()))
    assert {u["spec"]["sourceRef"]["name"] for u in units} == {kustomization["spec"]["sourceRef"]["name"]}


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"repo_url": "git@git.home.arpa:homelab/redis-shared.git"},
            "repo_url: got 'git@git.home.arpa:homelab/redis-shared.git'; expected an https://, http:// or ssh:// URL; "
            "did you mean ssh://git@git.home.arpa/homelab/redis-shared.git?",
        ),
        ({"repo_url": "redis-shared"}, "repo_url: got 'redis-shared'; expected an https://, http:// or ssh:// URL"),
        ({"revision": "a b"}, "revision: got 'a b'; expected a branch name, e.g. 'main'"),
        ({"path": "../dist"}, "path: got '../dist'; expected a relative folder without '..', e.g. 'dist'"),
    ],
)
def test_fails_bad_props(props: dict[str, Any], message: str) -> None:
    values = {"repo_url": "https://git.home.arpa/r.git", **props}
    with pytest.raises(PropError) as error:
        GitopsBootstrapProps(**values)
    assert str(error.value) == message


def test_fails_a_secret_for_flux_bootstraps_own_source() -> None:
    with pytest.raises(PropError, match=r"^flux_secret_name: got 'git'; expected None while flux_source is"):
        GitopsBootstrapProps(repo_url="https://git.home.arpa/r.git", flux_secret_name="git")
