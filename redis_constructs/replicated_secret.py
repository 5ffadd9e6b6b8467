"""ReplicatedSecret: one set of credentials as same-named Secrets in several namespaces, never plaintext in git."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import cdk8s
import constructs
from cdk8s_plus_28 import k8s

from . import validation as v
from ._imports.com import bitnami
from ._imports.io import external_secrets as eso
from .errors import PropError
from .manifest_checks import ExternalRefs
from .redis_shared import SecretKeyRef
from .sealing import SealedValues


class SourceKind(enum.Enum):
    """Where a :class:`ReplicatedSecret`'s values come from."""

    EXISTING = "existing"
    SEALED = "sealed"
    EXTERNAL = "external"
    PLAINTEXT = "plaintext"


class SecretStoreKind(enum.Enum):
    """The kind of external-secrets store an ExternalSecret reads from."""

    CLUSTER_SECRET_STORE = "ClusterSecretStore"
    SECRET_STORE = "SecretStore"


@dataclass(frozen=True, kw_only=True, slots=True)
class SecretSource:
    """A typed choice of where the values come from; build it with one of the factories."""

    kind: SourceKind
    sealed_values: SealedValues | None = None
    store_name: str | None = None
    store_kind: SecretStoreKind = SecretStoreKind.CLUSTER_SECRET_STORE
    remote_key: str | None = None
    refresh_interval: str = "1h"
    plaintext: Mapping[str, str] = field(default_factory=dict)
    version: str = "1"

    @classmethod
    def existing(cls, *, version: str = "1") -> SecretSource:
        """The Secret is created out of band in every namespace; nothing secret is rendered.

        Bump ``version`` after rotating it by hand: the pods that read it roll.
        """
        return cls(kind=SourceKind.EXISTING, version=version)

    @classmethod
    def sealed(cls, values: SealedValues) -> SecretSource:
        """One SealedSecret per namespace from values sealed with ``python -m redis_constructs seal``."""
        return cls(kind=SourceKind.SEALED, sealed_values=values)

    @classmethod
    def external(
        cls,
        *,
        store_name: str,
        remote_key: str,
        store_kind: SecretStoreKind = SecretStoreKind.CLUSTER_SECRET_STORE,
        refresh_interval: str = "1h",
        version: str = "1",
    ) -> SecretSource:
        """One ExternalSecret per namespace, each key read from property ``<key>`` of ``remote_key``."""
        return cls(
            kind=SourceKind.EXTERNAL,
            store_name=store_name,
            store_kind=store_kind,
            remote_key=remote_key,
            refresh_interval=refresh_interval,
            version=version,
        )

    @classmethod
    def plaintext_for_tests(cls, values: Mapping[str, str]) -> SecretSource:
        """Plain Secrets, for tests and local experiments only: synth refuses to write them to dist/."""
        return cls(kind=SourceKind.PLAINTEXT, plaintext=dict(values))


class ReplicatedSecret(constructs.Construct):
    """The same credentials as a Secret named ``name`` in each of ``namespaces``.

    Renders one SealedSecret, ExternalSecret or (tests only) Secret per namespace, or nothing for
    ``SecretSource.existing()``. ``version`` changes whenever the values do: put it on the pod templates
    that read the Secret (RedisShared and the client binding do) so they roll on rotation.

    Example::

        client = ReplicatedSecret(chart, "ClientCredentials", name="redis-shared-client",
                                  namespaces=("redis", "beersystem"), keys=("password",),
                                  source=SecretSource.sealed(read_sealed_file("sealed/values.yaml")))
        client.key_ref("password", namespace="beersystem")
    """

    def __init__(
        self,
        scope: constructs.Construct,
        id: str,
        *,
        name: str,
        namespaces: tuple[str, ...],
        keys: tuple[str, ...],
        source: SecretSource,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.secret_name = v.dns_label("name", name, max_length=253)
        if not namespaces:
            raise PropError("namespaces", namespaces, "at least one namespace")
        self.namespaces = v.unique("namespaces", namespaces)
        for ns in self.namespaces:
            v.dns_label("namespaces", ns)
        if not keys:
            raise PropError("keys", keys, "at least one key")
        self.keys = v.unique("keys", keys)
        for key in self.keys:
            v.secret_key("keys", key)
        self.source = source
        self._labels = dict(labels or {})
        self.version = self._render()

    def key_ref(self, key: str, *, namespace: str) -> SecretKeyRef:
        """A reference to ``key`` for a pod in ``namespace``; both must be ones this secret provides."""
        if key not in self.keys:
            raise PropError("key", key, "one of " + ", ".join(self.keys))
        if namespace not in self.namespaces:
            raise PropError(
                "namespace",
                namespace,
                f"one of {', '.join(self.namespaces)} (Secret {self.secret_name} is not replicated there)",
            )
        return SecretKeyRef(name=self.secret_name, key=key)

    def external_refs(self) -> ExternalRefs:
        """What synth must treat as existing in the cluster (only for ``SecretSource.existing()``)."""
        if self.source.kind is not SourceKind.EXISTING:
            return ExternalRefs()
        return ExternalRefs(secrets={(ns, self.secret_name): frozenset(self.keys) for ns in self.namespaces})

    # -- rendering --------------------------------------------------------------------------------------
    def _meta(self, namespace: str, annotations: Mapping[str, str] | None = None) -> cdk8s.ApiObjectMetadata:
        return cdk8s.ApiObjectMetadata(
            name=self.secret_name,
            namespace=namespace,
            labels=self._labels or None,
            annotations=dict(annotations) if annotations else None,
        )

    def _render(self) -> str:
        s = self.source
        if s.kind is SourceKind.EXISTING:
            return self._check_version(s.version)
        if s.kind is SourceKind.SEALED:
            return self._render_sealed()
        if s.kind is SourceKind.EXTERNAL:
            return self._render_external()
        return self._render_plaintext()

    def _check_version(self, version: str) -> str:
        if not version or len(version) > 63:
            raise PropError("source.version", version, "a non-empty string of at most 63 characters")
        return version

    def _render_sealed(self) -> str:
        values = self.source.sealed_values
        assert values is not None
        scope = values.scope
        digest = hashlib.sha256()
        for ns in self.namespaces:
            try:
                data = values.encrypted_data(self.secret_name, ns)
            except PropError as e:
                raise PropError(
                    "source.sealed",
                    f"{self.secret_name} in {ns}",
                    f"values sealed for every namespace and key ({e})",
                ) from None
            missing = [k for k in self.keys if k not in data]
            extra = [k for k in data if k not in self.keys]
            if missing or extra:
                raise PropError(
                    "source.sealed",
                    f"{self.secret_name} in {ns}: keys {sorted(data)}",
                    f"exactly the keys {list(self.keys)}; seal the missing ones with "
                    f"`python -m redis_constructs seal --secret-name {self.secret_name} --namespace {ns} --key ...`",
                )
            digest.update(json.dumps([ns, sorted(data.items())]).encode())
            template_meta = bitnami.SealedSecretSpecTemplateMetadata(
                name=self.secret_name,
                namespace=ns,
                labels=self._labels or None,
                annotations=scope.annotations or None,
            )
            bitnami.SealedSecret(
                self,
                f"Sealed-{ns}",
                metadata=self._meta(ns, scope.annotations),
                spec=bitnami.SealedSecretSpec(
                    encrypted_data=dict(sorted(data.items())),
                    template=bitnami.SealedSecretSpecTemplate(metadata=template_meta, type="Opaque"),
                ),
            )
        return digest.hexdigest()[:16]

    def _render_external(self) -> str:
        s = self.source
        store_name = v.dns_label("source.store_name", s.store_name or "", max_length=253)
        if not s.remote_key:
            raise PropError("source.remote_key", s.remote_key, "the key of the credentials in the secret store")
        if not s.refresh_interval or s.refresh_interval[-1] not in "smh" or not s.refresh_interval[:-1].isdigit():
            raise PropError("source.refresh_interval", s.refresh_interval, "a duration such as '1h', '30m' or '0s'")
        for ns in self.namespaces:
            eso.ExternalSecret(
                self,
                f"External-{ns}",
                metadata=self._meta(ns),
                spec=eso.ExternalSecretSpec(
                    refresh_interval=s.refresh_interval,
                    secret_store_ref=eso.ExternalSecretSpecSecretStoreRef(
                        name=store_name, kind=getattr(eso.ExternalSecretSpecSecretStoreRefKind, s.store_kind.name)
                    ),
                    target=eso.ExternalSecretSpecTarget(
                        name=self.secret_name,
                        creation_policy=eso.ExternalSecretSpecTargetCreationPolicy.OWNER,
                        deletion_policy=eso.ExternalSecretSpecTargetDeletionPolicy.RETAIN,
                    ),
                    data=[
                        eso.ExternalSecretSpecData(
                            secret_key=key,
                            remote_ref=eso.ExternalSecretSpecDataRemoteRef(key=s.remote_key, property=key),
                        )
                        for key in self.keys
                    ],
                ),
            )
        return self._check_version(s.version)

    def _render_plaintext(self) -> str:
        data = dict(self.source.plaintext)
        if sorted(data) != sorted(self.keys):
            raise PropError("source.plaintext", sorted(data), f"exactly the keys {list(self.keys)}")
        for ns in self.namespaces:
            k8s.KubeSecret(
                self,
                f"Plain-{ns}",
                metadata=k8s.ObjectMeta(name=self.secret_name, namespace=ns, labels=self._labels or None),
                type="Opaque",
                string_data=data,
            )
        return hashlib.sha256(json.dumps(sorted(data.items())).encode()).hexdigest()[:16]
