"""What an operator applies once, by hand, so Argo CD or Flux syncs dist/ from then on (``dist/bootstrap/``).

:class:`GitopsBootstrap` renders two charts under one folder (``<id>/argocd``, ``<id>/flux``: a cluster runs one of
the two, and ``kubectl apply`` of a file with the other's kinds would fail on the missing CRD):

- **Argo CD: one Application over dist/**, not one per chart. Sync waves and hooks order objects within one
  sync of one Application only: the master StatefulSet (wave 2 of chart redis-shared) before the app (wave 3 of
  chart beersystem), and the data copy's PreSync hooks (chart beersystem-migration) before the app is
  reconfigured. Across Applications that ordering needs an app-of-apps with the Application health check restored
  in ``argocd-cm`` (argo-cd documentation, operator-manual/health.md), and even then each child auto-syncs a commit on
  its own. The directory source recurses and excludes the Flux folder, this bootstrap folder and every
  ``kustomization.yaml`` (a directory app fails on kustomize files). No resources finalizer: deleting the
  Application leaves Redis and its data running (argo-cd documentation, user-guide/app_deletion.md).
- **Flux: one Kustomization over dist/flux** (the per-chart units), from the GitRepository the units read:
  ``flux-system`` (made by ``flux bootstrap``) is not rendered; another name renders that GitRepository too.
  ``deletionPolicy: Orphan``: deleting it must not garbage-collect the units, whose ``prune`` would then delete
  Redis.

docs/adr/0007-one-argocd-application.md records the decision; docs/deploy-argocd.md and docs/deploy-flux.md show
the one ``kubectl apply``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import cdk8s
import constructs

from ..core import validation as v
from ..core.errors import PropError, names_construct
from ..core.rendering import sorted_keys

#: The Flux GitRepository ``flux bootstrap`` creates; the units use it unless the site names another.
FLUX_BOOTSTRAP_SOURCE = "flux-system"

_URL = re.compile(r"(https?|ssh)://[^\s/]+(/\S*)?")
#: scp-like ``user@host:path`` (git accepts it; Flux's GitRepository and this prop do not).
_SCP_LIKE = re.compile(r"(?P<user>[^@\s/]+)@(?P<host>[^:\s/]+):(?P<path>[^\s]+)")
_REVISION = re.compile(r"[A-Za-z0-9._/-]+")
_PATH = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")


@dataclass(frozen=True, kw_only=True, slots=True)
class GitopsBootstrapProps:
    """Props of :class:`GitopsBootstrap`: the repository and the names the controllers know.

    Validates itself when built (one ``PropError`` naming the field).
    """

    #: The repository Argo CD and Flux read: ``https://``, ``http://`` or ``ssh://`` (Flux's GitRepository takes
    #: no scp-like ``git@host:path``).
    repo_url: str
    #: Branch to follow. Default: ``"main"``.
    revision: str = "main"
    #: The synthesized folder in the repository. Default: ``"dist"``.
    path: str = "dist"
    #: The Flux units' folder under ``path`` (excluded from the Argo CD Application). Default: ``"flux"``.
    flux_folder: str = "flux"
    #: Name of the Application and the Flux Kustomization. Default: ``"redis-shared"``.
    name: str = "redis-shared"
    #: Namespace Argo CD watches for Applications. Default: ``"argocd"``.
    argocd_namespace: str = "argocd"
    #: Default: ``"default"``.
    argocd_project: str = "default"
    #: Namespace of the Flux controllers. Default: ``"flux-system"``.
    flux_namespace: str = "flux-system"
    #: The GitRepository the Flux units read. Default: ``"flux-system"``, the one ``flux bootstrap`` created
    #: (not rendered); another name renders a GitRepository of ``repo_url`` with that name.
    flux_source: str = FLUX_BOOTSTRAP_SOURCE
    #: Secret with the Git credentials of a rendered GitRepository. Default: - none (a public repository).
    flux_secret_name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.repo_url, str) or not _URL.fullmatch(self.repo_url):
            scp = _SCP_LIKE.fullmatch(self.repo_url) if isinstance(self.repo_url, str) else None
            fix = f"ssh://{scp['user']}@{scp['host']}/{scp['path'].lstrip('/')}" if scp else None
            raise PropError("repo_url", self.repo_url, "an https://, http:// or ssh:// URL", fix=fix)
        if not isinstance(self.revision, str) or not _REVISION.fullmatch(self.revision) or ".." in self.revision:
            raise PropError("revision", self.revision, "a branch name, e.g. 'main'")
        for prop, value in (("path", self.path), ("flux_folder", self.flux_folder)):
            if not isinstance(value, str) or not _PATH.fullmatch(value) or ".." in value.split("/"):
                raise PropError(prop, value, "a relative folder without '..', e.g. 'dist'")
        v.dns_subdomain("name", self.name)
        v.dns_label("argocd_namespace", self.argocd_namespace)
        v.dns_subdomain("argocd_project", self.argocd_project)
        v.dns_label("flux_namespace", self.flux_namespace)
        v.dns_subdomain("flux_source", self.flux_source)
        if self.flux_secret_name is not None:
            v.secret_name("flux_secret_name", self.flux_secret_name)
            if self.flux_source == FLUX_BOOTSTRAP_SOURCE:
                raise PropError(
                    "flux_secret_name",
                    self.flux_secret_name,
                    f"None while flux_source is {FLUX_BOOTSTRAP_SOURCE!r} (flux bootstrap's GitRepository has its "
                    "own credentials); name another flux_source to render a GitRepository with this Secret",
                )


class GitopsBootstrap(constructs.Construct):
    """The bootstrap manifests: chart ``argocd`` (one Application) and chart ``flux`` (GitRepository if named,
    and the Kustomization of the Flux units), synthesized into ``<id>/argocd`` and ``<id>/flux``.

    Example::

        GitopsBootstrap(app, "bootstrap", GitopsBootstrapProps(repo_url="https://git.home.arpa/me/redis.git"))
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: GitopsBootstrapProps) -> None:
        v.instance("props", props, GitopsBootstrapProps, "a GitopsBootstrapProps")
        super().__init__(scope, id)
        self.props = props
        #: The folder of these charts under ``props.path``: excluded from the Application like the Flux units.
        self.folder = id
        #: The Argo CD chart (``node.default_child`` of nothing: two charts, one per controller).
        self.argocd = cdk8s.Chart(self, "argocd", disable_resource_name_hashes=True)
        #: The Flux chart.
        self.flux = cdk8s.Chart(self, "flux", disable_resource_name_hashes=True)
        _api_object(self.argocd, "Application", "argoproj.io/v1alpha1", self.application())
        if props.flux_source != FLUX_BOOTSTRAP_SOURCE:
            _api_object(self.flux, "GitRepository", "source.toolkit.fluxcd.io/v1", self.git_repository())
        _api_object(self.flux, "Kustomization", "kustomize.toolkit.fluxcd.io/v1", self.kustomization())

    @property
    def argocd_exclude(self) -> str:
        """The Application's ``directory.exclude``: the Flux units, these bootstrap files, kustomize files."""
        return f"{{{self.props.flux_folder}/*,{self.folder}/*,*/kustomization.yaml}}"

    def application(self) -> dict[str, Any]:
        p = self.props
        return {
            "metadata": {"name": p.name, "namespace": p.argocd_namespace},
            "spec": {
                "project": p.argocd_project,
                "source": {
                    "repoURL": p.repo_url,
                    "targetRevision": p.revision,
                    "path": p.path,
                    "directory": {"recurse": True, "exclude": self.argocd_exclude},
                },
                # No destination namespace: every object in dist/ names its own.
                "destination": {"server": "https://kubernetes.default.svc"},
                "syncPolicy": {
                    "automated": {"prune": True, "selfHeal": True},
                    # PruneLast: removed objects go after every wave is healthy again. FailOnSharedResource:
                    # never take over an object another Application manages (the app team's own, say).
                    "syncOptions": ["PruneLast=true", "FailOnSharedResource=true"],
                    "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
                },
            },
        }

    def git_repository(self) -> dict[str, Any]:
        p = self.props
        spec: dict[str, Any] = {"interval": "1m", "url": p.repo_url, "ref": {"branch": p.revision}}
        if p.flux_secret_name is not None:
            spec["secretRef"] = {"name": p.flux_secret_name}
        return {"metadata": {"name": p.flux_source, "namespace": p.flux_namespace}, "spec": spec}

    def kustomization(self) -> dict[str, Any]:
        p = self.props
        return {
            "metadata": {"name": f"{p.name}-flux", "namespace": p.flux_namespace},
            "spec": {
                "interval": "10m",
                "retryInterval": "1m",
                "timeout": "2m",
                "path": f"./{p.path}/{p.flux_folder}",
                "prune": True,
                # Deleting this Kustomization leaves the units (and so Redis) in place.
                "deletionPolicy": "Orphan",
                # The units wait for their own objects; this one only applies them.
                "wait": False,
                "sourceRef": {"kind": "GitRepository", "name": p.flux_source},
            },
        }


def _api_object(chart: cdk8s.Chart, kind: str, api_version: str, body: dict[str, Any]) -> cdk8s.ApiObject:
    meta = body["metadata"]
    obj = cdk8s.ApiObject(
        chart,
        kind,
        api_version=api_version,
        kind=kind,
        metadata=cdk8s.ApiObjectMetadata(name=meta["name"], namespace=meta["namespace"]),
    )
    obj.add_json_patch(cdk8s.JsonPatch.add("/spec", sorted_keys(body["spec"])))
    return obj
