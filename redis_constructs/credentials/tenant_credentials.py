"""TenantCredentials: one password per tenant, each namespace holding only its own, Redis holding them all.

:class:`ReplicatedSecret` renders the same keys everywhere; tenants need different keys per namespace:

* in each tenant namespace, Secret ``<name>`` with one key ``password`` (that tenant's password only), rendered
  when the tenant is added (:meth:`TenantCredentials.add_tenant`);
* in Redis's namespace, Secret ``<name>`` with ``<tenant>.password`` per tenant and, between the two commits of a
  rotation, ``<tenant>.previous-password``. It is built at synth from the tenants added by then (STYLE §15), so
  a tenant added late reaches it. Redis's pods mount it whole (no ``items``): the kubelet refreshes the files
  in place and the ``acl-reload`` sidecar applies them; Redis never restarts for a tenant or a rotation, which
  is why the server copy has no version on the Redis pods.

Sources (:class:`SecretSource`): sealed (the committed file; ``seal-tenant`` seals both copies), external
(property ``<tenant>.password`` of ``remote_key`` for both copies), existing (created by hand; nothing rendered)
and plaintext for tests (``{"<tenant>.password": ..., "<tenant>.previous-password": ...}``).

Pure of the server concern: a tenant here is its namespace (``Tenant.secret_id``); RedisShared passes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cdk8s
import constructs
from cdk8s_plus_28 import k8s

from .._imports.com import bitnami
from ..core import validation as v
from ..core.errors import PropError, names_construct, names_construct_in
from ..core.refs import SecretKeyRef
from ..core.rendering import sorted_keys
from ..gitops.manifest_checks import ExternalRefs
from .replicated_secret import (
    ExistingSecretSource,
    ExternalSecretSource,
    PlaintextSecretSource,
    SealedSecretSource,
    SecretSource,
)
from .tenant_sealing import PASSWORD_KEY, PASSWORD_SUFFIX, PREVIOUS_PASSWORD_SUFFIX


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantCredentialsProps:
    """Props of :class:`TenantCredentials`; validates itself."""

    #: Where the passwords come from: a factory of :class:`SecretSource`.
    source: SecretSource
    #: ``metadata.name`` of the server copy and of every tenant copy. Default: ``"redis-shared-client"``.
    name: str = "redis-shared-client"
    #: Redis's namespace (the server copy). Default: ``"redis"``.
    server_namespace: str = "redis"

    def __post_init__(self) -> None:
        v.secret_name("name", self.name)
        v.dns_label("server_namespace", self.server_namespace)
        s = self.source
        if not isinstance(s, (ExistingSecretSource, SealedSecretSource, ExternalSecretSource, PlaintextSecretSource)):
            raise PropError(
                "source",
                type(s).__name__,
                "a SecretSource from SecretSource.existing(), .sealed(), .external() or .plaintext_for_tests()",
            )
        if isinstance(s, PlaintextSecretSource):
            for key in s.plaintext:
                if not key.endswith((PASSWORD_SUFFIX, PREVIOUS_PASSWORD_SUFFIX)):
                    raise PropError("source.plaintext", key, "keys '<tenant>.password' or '<tenant>.previous-password'")


class _LateServerSecret(cdk8s.ApiObject):
    """The server copy, its data produced again at synth (``patch`` edits the manifest as of now)."""

    def __init__(self, scope: constructs.Construct, id: str, *, manifest: dict[str, Any], patch: Any) -> None:
        super().__init__(
            scope,
            id,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=cdk8s.ApiObjectMetadata(**manifest["metadata"]),
        )
        self._body = {k: val for k, val in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
        self._patch = patch

    def to_json(self) -> Any:
        manifest = super().to_json()
        manifest.update(sorted_keys(self._patch(dict(self._body))))
        return sorted_keys(manifest)


class TenantCredentials(constructs.Construct):
    """Each tenant's password: its own copy in its namespace, all of them as ``<tenant>.password`` in Redis's.

    Example::

        tenants = TenantCredentials(chart, "TenantCredentials", TenantCredentialsProps(
            source=SecretSource.sealed(read_sealed_file("sealed/values.yaml"))))
        tenants.add_tenant("shop")          # RedisShared.add_client_namespace does this for you
        tenants.key_ref("password", namespace="shop")
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: TenantCredentialsProps) -> None:
        super().__init__(scope, id)
        v.instance("props", props, TenantCredentialsProps, "a TenantCredentialsProps")
        self.secret_name = props.name
        self.server_namespace = props.server_namespace
        self.source = props.source
        #: Each tenant's copy as rendered (sealed: its ciphertexts), in the order the tenants were added.
        self._copies: dict[str, list[tuple[str, str]]] = {}
        #: Tenants whose previous password is live (external sources: say so with ``rotating=True``).
        self._rotating: set[str] = set()
        self._server = self._render_server()

    # -- the tenants ----------------------------------------------------------------------------------
    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every tenant namespace holding its copy, in the order they were added."""
        return tuple(self._copies)

    @property
    def keys(self) -> tuple[str, ...]:
        """The key of each tenant copy (``password``)."""
        return (PASSWORD_KEY,)

    @names_construct_in
    def add_tenant(self, namespace: str, *, rotating: bool = False) -> None:
        """Render ``namespace``'s own copy now; the server copy gains ``<namespace>.password`` at synth.

        Sealed values must hold both (``python -m redis_constructs seal-tenant``); otherwise this raises and
        nothing changes. ``rotating``: an external store holds ``<namespace>.previous-password`` too (sealed and
        plaintext sources tell by themselves).
        """
        v.dns_label("tenant namespace", namespace)
        if namespace in self._copies:
            raise PropError("tenant namespace", namespace, "a tenant not added yet")
        if namespace == self.server_namespace:
            raise PropError(
                "tenant namespace", namespace, f"a namespace other than Redis's own {self.server_namespace!r}"
            )
        v.boolean("rotating", rotating)
        self._check_server_keys(namespace)  # before anything is rendered: a refusal changes nothing
        self._copies[namespace] = self._render_copy(namespace)
        if rotating:
            self._rotating.add(namespace)

    def server_keys(self) -> tuple[str, ...]:
        """The keys of the server copy as of now, sorted: every tenant's ``.password``, ``.previous-password``
        while rotating."""
        keys = [ns + PASSWORD_SUFFIX for ns in self._copies]
        keys += [ns + PREVIOUS_PASSWORD_SUFFIX for ns in self._copies if self.is_rotating(ns)]
        return tuple(sorted(keys))

    def is_rotating(self, namespace: str) -> bool:
        """Whether ``namespace``'s previous password is still live (the first commit of a rotation is in)."""
        s = self.source
        key = namespace + PREVIOUS_PASSWORD_SUFFIX
        if isinstance(s, SealedSecretSource):
            return key in self._sealed_server_data()
        if isinstance(s, PlaintextSecretSource):
            return key in s.plaintext
        return namespace in self._rotating

    def undeclared_keys(self) -> tuple[str, ...]:
        """Keys sealed for Redis's copy that belong to no tenant added (a removed tenant's, left in the file)."""
        if not isinstance(self.source, SealedSecretSource):
            return ()
        return tuple(
            sorted(
                k
                for k in self._sealed_server_data()
                if k.removesuffix(PREVIOUS_PASSWORD_SUFFIX).removesuffix(PASSWORD_SUFFIX) not in self._copies
                or not k.endswith((PASSWORD_SUFFIX, PREVIOUS_PASSWORD_SUFFIX))
            )
        )

    def check_complete(self) -> None:
        """Refuse sealed keys of tenants not declared, once every tenant is added (the site calls it last).

        They are never rendered (Redis's copy holds the declared tenants' keys only); this makes a removal that
        forgot the sealed-values file fail loudly instead.
        """
        stale = self.undeclared_keys()
        if stale:
            raise PropError(
                "source.sealed",
                f"{self.secret_name} in {self.server_namespace}: keys {list(stale)}",
                "keys of declared tenants only; remove a removed tenant's keys from the sealed-values file",
            )

    # -- versions and references ------------------------------------------------------------------------
    def version_in(self, namespace: str) -> str:
        """Changes whenever ``namespace``'s own copy does, and only then: put it on that tenant's pods.

        There is no version for the server copy on purpose: Redis applies it without a restart.
        """
        if namespace not in self._copies:
            raise PropError("namespace", namespace, "one of " + (", ".join(self._copies) or "no tenant yet"))
        s = self.source
        if isinstance(s, SealedSecretSource):
            # The same digest ReplicatedSecret.version_in gave a one-key copy: an app migrating keeps its pods.
            return hashlib.sha256(json.dumps(self._copies[namespace]).encode()).hexdigest()[:16]
        if isinstance(s, PlaintextSecretSource):
            value = s.plaintext[namespace + PASSWORD_SUFFIX]
            return hashlib.sha256(json.dumps([["password", value]]).encode()).hexdigest()[:16]
        assert isinstance(s, (ExistingSecretSource, ExternalSecretSource))
        return s.version

    @property
    def version(self) -> str:
        """Changes whenever any tenant copy does (for a Job that names itself after it)."""
        return hashlib.sha256(json.dumps([[ns, self.version_in(ns)] for ns in self._copies]).encode()).hexdigest()[:16]

    def key_ref(self, key: str = PASSWORD_KEY, *, namespace: str) -> SecretKeyRef:
        """A reference to the tenant's own password for a pod in ``namespace`` (a tenant added already)."""
        if key != PASSWORD_KEY:
            raise PropError("key", key, f"{PASSWORD_KEY!r} (a tenant copy holds only its password)")
        if namespace not in self._copies:
            raise PropError(
                "namespace",
                namespace,
                f"one of {', '.join(self._copies) or 'no tenant yet'} (Secret {self.secret_name} has no copy there)",
            )
        return SecretKeyRef(name=self.secret_name, key=PASSWORD_KEY)

    def external_refs(self) -> ExternalRefs:
        """What synth must treat as existing in the cluster (only for ``SecretSource.existing()``)."""
        if not isinstance(self.source, ExistingSecretSource):
            return ExternalRefs()
        secrets = {(ns, self.secret_name): frozenset({PASSWORD_KEY}) for ns in self._copies}
        secrets[(self.server_namespace, self.secret_name)] = frozenset(self.server_keys())
        return ExternalRefs(secrets=secrets)

    # -- rendering --------------------------------------------------------------------------------------
    def _sealed_server_data(self) -> dict[str, str]:
        s = self.source
        assert isinstance(s, SealedSecretSource)
        values = s.sealed_values
        return {
            val.key: val.ciphertext
            for val in values.values
            if (val.secret_name, val.namespace) == (self.secret_name, self.server_namespace)
        }

    def _seal_fix(self, namespace: str) -> str:
        return f"`python -m redis_constructs seal-tenant --cert <pub.pem> --tenant {namespace} --out <values file>`"

    def _check_server_keys(self, namespace: str) -> None:
        s = self.source
        if isinstance(s, SealedSecretSource):
            if namespace + PASSWORD_SUFFIX not in self._sealed_server_data():
                raise PropError(
                    "source.sealed",
                    f"{self.secret_name} in {self.server_namespace}: no key {namespace}{PASSWORD_SUFFIX}",
                    "the tenant's password sealed for Redis's namespace too; seal it with " + self._seal_fix(namespace),
                )
        elif isinstance(s, PlaintextSecretSource) and namespace + PASSWORD_SUFFIX not in s.plaintext:
            raise PropError("source.plaintext", sorted(s.plaintext), f"a key {namespace}{PASSWORD_SUFFIX}")

    def _meta(self, namespace: str, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.secret_name, "namespace": namespace}
        if annotations:
            meta["annotations"] = dict(annotations)
        return meta

    def _render_copy(self, ns: str) -> list[tuple[str, str]]:
        s = self.source
        if isinstance(s, SealedSecretSource):
            return self._render_sealed_copy(s, ns)
        if isinstance(s, ExternalSecretSource):
            self._external(s, f"External-{ns}", ns, {PASSWORD_KEY: ns + PASSWORD_SUFFIX})
        elif isinstance(s, PlaintextSecretSource):
            k8s.KubeSecret(
                self,
                f"Plain-{ns}",
                metadata=k8s.ObjectMeta(name=self.secret_name, namespace=ns),
                type="Opaque",
                string_data={PASSWORD_KEY: s.plaintext[ns + PASSWORD_SUFFIX]},
            )
        return []

    def _render_sealed_copy(self, source: SealedSecretSource, ns: str) -> list[tuple[str, str]]:
        values = source.sealed_values
        try:
            data = values.encrypted_data(self.secret_name, ns)
        except PropError as e:
            raise PropError(
                "source.sealed",
                f"{self.secret_name} in {ns}",
                f"the tenant's password sealed for its namespace ({e}); seal it with {self._seal_fix(ns)}",
            ) from None
        if sorted(data) != [PASSWORD_KEY]:
            raise PropError(
                "source.sealed",
                f"{self.secret_name} in {ns}: keys {sorted(data)}",
                f"exactly the key {PASSWORD_KEY!r}; seal it with {self._seal_fix(ns)}",
            )
        self._sealed_secret(f"Sealed-{ns}", ns, data, values.scope.annotations)
        return sorted(data.items())

    def _sealed_secret(
        self, id: str, ns: str, data: Mapping[str, str], annotations: Mapping[str, str]
    ) -> bitnami.SealedSecret:
        return bitnami.SealedSecret(
            self,
            id,
            metadata=cdk8s.ApiObjectMetadata(**self._meta(ns, annotations)),
            spec=bitnami.SealedSecretSpec(
                encrypted_data=dict(sorted(data.items())),
                template=bitnami.SealedSecretSpecTemplate(
                    metadata=bitnami.SealedSecretSpecTemplateMetadata(
                        name=self.secret_name, namespace=ns, annotations=dict(annotations) or None
                    ),
                    type="Opaque",
                ),
            ),
        )

    def _external(self, s: ExternalSecretSource, id: str, ns: str, keys: Mapping[str, str]) -> Any:
        from .._imports.io import external_secrets as eso

        return eso.ExternalSecret(
            self,
            id,
            metadata=cdk8s.ApiObjectMetadata(**self._meta(ns)),
            spec=eso.ExternalSecretSpec(
                refresh_interval=s.refresh_interval,
                secret_store_ref=eso.ExternalSecretSpecSecretStoreRef(
                    name=s.store_name, kind=getattr(eso.ExternalSecretSpecSecretStoreRefKind, s.store_kind.name)
                ),
                target=eso.ExternalSecretSpecTarget(
                    name=self.secret_name,
                    creation_policy=eso.ExternalSecretSpecTargetCreationPolicy.OWNER,
                    deletion_policy=eso.ExternalSecretSpecTargetDeletionPolicy.RETAIN,
                ),
                data=[
                    eso.ExternalSecretSpecData(
                        secret_key=key, remote_ref=eso.ExternalSecretSpecDataRemoteRef(key=s.remote_key, property=prop)
                    )
                    for key, prop in keys.items()
                ],
            ),
        )

    def _render_server(self) -> cdk8s.ApiObject | None:
        """The server copy, as an object whose data follows the tenants added by synth."""
        s, ns = self.source, self.server_namespace
        if isinstance(s, ExistingSecretSource):
            return None
        if isinstance(s, SealedSecretSource):
            template = self._sealed_secret("ServerTemplate", ns, {}, s.sealed_values.scope.annotations)
            manifest = template.to_json()
            self.node.try_remove_child("ServerTemplate")

            def sealed(body: dict[str, Any]) -> dict[str, Any]:
                data = self._sealed_server_data()
                spec = dict(body["spec"])
                spec["encryptedData"] = {k: data[k] for k in self.server_keys()}
                return {**body, "spec": spec}

            return _LateServerSecret(self, f"Sealed-{ns}", manifest=manifest, patch=sealed)
        if isinstance(s, ExternalSecretSource):
            template = self._external(s, "ServerTemplate", ns, {})
            manifest = template.to_json()
            self.node.try_remove_child("ServerTemplate")

            def external(body: dict[str, Any]) -> dict[str, Any]:
                spec = dict(body["spec"])
                spec["data"] = [
                    {"secretKey": k, "remoteRef": {"key": s.remote_key, "property": k}} for k in self.server_keys()
                ]
                return {**body, "spec": spec}

            return _LateServerSecret(self, f"External-{ns}", manifest=manifest, patch=external)
        assert isinstance(s, PlaintextSecretSource)
        manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": self._meta(ns), "type": "Opaque"}

        def plain(body: dict[str, Any]) -> dict[str, Any]:
            return {**body, "stringData": {k: s.plaintext[k] for k in self.server_keys()}}

        return _LateServerSecret(self, f"Plain-{ns}", manifest=manifest, patch=plain)
