"""ReplicatedSecret: one set of credentials as same-named Secrets in several namespaces, never plaintext in git."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import cdk8s
import constructs
from cdk8s_plus_28 import k8s

from .._imports.com import bitnami
from ..core import validation as v
from ..core.errors import PropError, names_construct, names_construct_in
from ..core.refs import SecretKeyRef
from ..gitops.manifest_checks import ExternalRefs
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


class SecretSource:
    """Where a :class:`ReplicatedSecret`'s values come from: one of the four variants below.

    Build it with a factory (:meth:`existing`, :meth:`sealed`, :meth:`external`, :meth:`plaintext_for_tests`);
    each returns a frozen variant class that validates its own fields at construction, and the ReplicatedSecret
    renders by the variant's type.
    """

    __slots__ = ()
    #: Which variant this is (the enum for logs and ``match``; rendering dispatches on the class).
    kind: ClassVar[SourceKind]

    def __init__(self, *args: object, **kwargs: object) -> None:
        if type(self) is SecretSource:
            raise PropError(
                "source",
                "SecretSource(...)",
                "one of SecretSource.existing(), .sealed(values), .external(store_name=..., remote_key=...), "
                ".plaintext_for_tests(values)",
            )

    @staticmethod
    def existing(*, version: str = "1") -> ExistingSecretSource:
        """The Secret is created out of band in every namespace; nothing secret is rendered.

        Bump ``version`` after rotating it by hand: the pods that read it roll.
        """
        return ExistingSecretSource(version=version)

    @staticmethod
    def sealed(values: SealedValues) -> SealedSecretSource:
        """One SealedSecret per namespace from values sealed with ``python -m redis_constructs seal``."""
        return SealedSecretSource(sealed_values=values)

    @staticmethod
    def external(
        *,
        store_name: str,
        remote_key: str,
        store_kind: SecretStoreKind = SecretStoreKind.CLUSTER_SECRET_STORE,
        refresh_interval: str = "1h",
        version: str = "1",
    ) -> ExternalSecretSource:
        """One ExternalSecret per namespace, each key read from property ``<key>`` of ``remote_key``."""
        return ExternalSecretSource(
            store_name=store_name,
            store_kind=store_kind,
            remote_key=remote_key,
            refresh_interval=refresh_interval,
            version=version,
        )

    @staticmethod
    def plaintext_for_tests(values: Mapping[str, str]) -> PlaintextSecretSource:
        """Plain Secrets, for tests and local experiments only: synth refuses to write them to dist/."""
        if not isinstance(values, Mapping):
            raise PropError("source.plaintext", type(values).__name__, "a mapping of Secret key to value")
        return PlaintextSecretSource(plaintext=dict(values))


def _version(version: str) -> None:
    v.version("source.version", version)


@dataclass(frozen=True, kw_only=True, slots=True)
class ExistingSecretSource(SecretSource):
    """The Secrets exist in the cluster already (created by hand); ``version`` rolls the pods when bumped."""

    kind: ClassVar[SourceKind] = SourceKind.EXISTING
    #: Default: ``"1"``.
    version: str = "1"

    def __post_init__(self) -> None:
        _version(self.version)


@dataclass(frozen=True, kw_only=True, slots=True)
class SealedSecretSource(SecretSource):
    """Values sealed for the cluster's sealed-secrets controller, read from the committed file."""

    kind: ClassVar[SourceKind] = SourceKind.SEALED
    sealed_values: SealedValues

    def __post_init__(self) -> None:
        if not isinstance(self.sealed_values, SealedValues):
            raise PropError(
                "source.sealed",
                type(self.sealed_values).__name__,
                "SealedValues from read_sealed_file(path)",
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class ExternalSecretSource(SecretSource):
    """An external-secrets store: property ``<key>`` of ``remote_key`` becomes each key of the Secret."""

    kind: ClassVar[SourceKind] = SourceKind.EXTERNAL
    store_name: str
    remote_key: str
    #: Default: ``SecretStoreKind.CLUSTER_SECRET_STORE``.
    store_kind: SecretStoreKind = SecretStoreKind.CLUSTER_SECRET_STORE
    #: How often the operator re-reads the store. Default: ``"1h"``.
    refresh_interval: str = "1h"
    #: Bump after rotating the value in the store, so the pods roll. Default: ``"1"``.
    version: str = "1"

    def __post_init__(self) -> None:
        v.dns_label("source.store_name", self.store_name, max_length=253)
        if not isinstance(self.remote_key, str) or not self.remote_key:
            raise PropError("source.remote_key", self.remote_key, "the key of the credentials in the secret store")
        if not isinstance(self.store_kind, SecretStoreKind):
            raise PropError(
                "source.store_kind", self.store_kind, "a SecretStoreKind (CLUSTER_SECRET_STORE or SECRET_STORE)"
            )
        v.duration_seconds(
            "source.refresh_interval",
            self.refresh_interval,
            units=("s", "m", "h"),
            allow_zero=True,
            expected="a duration such as '1h', '30m' or '0s'",
        )
        _version(self.version)


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaintextSecretSource(SecretSource):
    """Plain values, for tests only: synth refuses to write a Secret with data to dist/."""

    kind: ClassVar[SourceKind] = SourceKind.PLAINTEXT
    plaintext: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value in self.plaintext.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise PropError("source.plaintext", type(value).__name__, "a mapping of str keys to str values")


@dataclass(frozen=True, kw_only=True, slots=True)
class ReplicatedSecretProps:
    """Props of :class:`ReplicatedSecret`: which Secret, where, which keys, and where the values come from.

    Validates itself on construction; ``namespaces`` and ``keys`` are kept as tuples, ``labels`` as a copy.
    """

    #: ``metadata.name`` of every copy: a Secret name (an RFC 1123 subdomain).
    name: str
    #: Namespaces that get a copy, at least one; :meth:`ReplicatedSecret.add_namespace` adds more later.
    namespaces: tuple[str, ...]
    #: The Secret's keys, at least one; every copy holds exactly these.
    keys: tuple[str, ...]
    #: Where the values come from: a factory of :class:`SecretSource`.
    source: SecretSource
    #: Labels on every copy (and on a SealedSecret's template). Default: - no labels.
    labels: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        v.secret_name("name", self.name)
        if not self.namespaces:
            raise PropError("namespaces", self.namespaces, "at least one namespace")
        if not self.keys:
            raise PropError("keys", self.keys, "at least one key")
        keys = v.unique("keys", self.keys)
        for key in keys:
            v.secret_key("keys", key)
        object.__setattr__(self, "keys", keys)
        self._check_source()
        if self.labels is not None and not isinstance(self.labels, Mapping):
            raise PropError("labels", type(self.labels).__name__, "None or a mapping of label key to value")
        if self.labels:
            object.__setattr__(self, "labels", v.label_pairs("labels", tuple(self.labels.items())))
        namespaces = v.unique("namespaces", self.namespaces)
        for ns in namespaces:
            v.dns_label("namespaces", ns)
        object.__setattr__(self, "namespaces", namespaces)

    def _check_source(self) -> None:
        s = self.source
        if not isinstance(s, (ExistingSecretSource, SealedSecretSource, ExternalSecretSource, PlaintextSecretSource)):
            raise PropError(
                "source",
                type(s).__name__,
                "a SecretSource from SecretSource.existing(), .sealed(), .external() or .plaintext_for_tests()",
            )
        if isinstance(s, PlaintextSecretSource) and sorted(s.plaintext) != sorted(self.keys):
            raise PropError("source.plaintext", sorted(s.plaintext), f"exactly the keys {list(self.keys)}")


class ReplicatedSecret(constructs.Construct):
    """The same credentials as a Secret named ``props.name`` in each of ``props.namespaces``.

    Renders one SealedSecret, ExternalSecret or (tests only) Secret per namespace, or nothing for
    ``SecretSource.existing()``. ``version`` changes whenever the values do: put it on the pod templates
    that read the Secret (RedisShared and the client binding do) so they roll on rotation.

    Example::

        client = ReplicatedSecret(chart, "ClientCredentials", ReplicatedSecretProps(
            name="redis-shared-client", namespaces=("redis", "beersystem"), keys=("password",),
            source=SecretSource.sealed(read_sealed_file("sealed/values.yaml"))))
        client.key_ref("password", namespace="beersystem")
    """

    @names_construct
    def __init__(self, scope: constructs.Construct, id: str, props: ReplicatedSecretProps) -> None:
        super().__init__(scope, id)
        v.instance("props", props, ReplicatedSecretProps, "a ReplicatedSecretProps")
        self.secret_name = props.name
        self.keys = props.keys
        self.source = props.source
        self._labels = dict(props.labels) if props.labels else {}
        #: The data rendered per namespace (sealed: its ciphertexts), in the order the namespaces were added.
        self._copies: dict[str, list[tuple[str, str]]] = {}
        for ns in props.namespaces:
            self.add_namespace(ns)

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace that holds a copy, in the order they were added."""
        return tuple(self._copies)

    @names_construct_in
    def add_namespace(self, namespace: str) -> None:
        """Render one more copy, in ``namespace``: the same keys and values as every other copy.

        Sealed values must hold ``namespace`` already (seal it with ``python -m redis_constructs seal``,
        docs/tenants.md); otherwise this raises and nothing changes.
        """
        v.dns_label("namespaces", namespace)
        if namespace in self._copies:
            raise PropError("namespaces", namespace, "a namespace not added yet")
        self._copies[namespace] = self._render_copy(namespace)

    @property
    def version(self) -> str:
        """Changes whenever any copy's values do (sealed: a digest over every namespace's ciphertexts)."""
        if isinstance(self.source, SealedSecretSource):
            digest = hashlib.sha256()
            for ns, data in self._copies.items():
                digest.update(json.dumps([ns, data]).encode())
            return digest.hexdigest()[:16]
        return self._version_of_values()

    def version_in(self, namespace: str) -> str:
        """Changes whenever the copy in ``namespace`` does, and only then: put it on that namespace's pods.

        Adding a copy elsewhere leaves it as it is, so pods that read this namespace's copy do not roll.
        """
        if namespace not in self._copies:
            raise PropError("namespace", namespace, "one of " + ", ".join(self._copies))
        if isinstance(self.source, SealedSecretSource):
            return hashlib.sha256(json.dumps(self._copies[namespace]).encode()).hexdigest()[:16]
        return self._version_of_values()

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
        if not isinstance(self.source, ExistingSecretSource):
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

    def _version_of_values(self) -> str:
        s = self.source
        if isinstance(s, PlaintextSecretSource):
            return hashlib.sha256(json.dumps(sorted(s.plaintext.items())).encode()).hexdigest()[:16]
        if isinstance(s, (ExistingSecretSource, ExternalSecretSource)):
            return s.version
        raise AssertionError(f"no version rule for {type(s).__name__}")  # sealed: see version/version_in

    def _render_copy(self, ns: str) -> list[tuple[str, str]]:
        s = self.source
        if isinstance(s, SealedSecretSource):
            return self._render_sealed(s, ns)
        if isinstance(s, ExternalSecretSource):
            self._render_external(s, ns)
        elif isinstance(s, PlaintextSecretSource):
            self._render_plaintext(s, ns)
        return []

    def _render_sealed(self, source: SealedSecretSource, ns: str) -> list[tuple[str, str]]:
        values = source.sealed_values
        scope = values.scope
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
        return sorted(data.items())

    def _render_external(self, s: ExternalSecretSource, ns: str) -> None:
        # Imported here, its only user: a synth without ExternalSecrets skips loading the binding and its assembly.
        from .._imports.io import external_secrets as eso

        eso.ExternalSecret(
            self,
            f"External-{ns}",
            metadata=self._meta(ns),
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
                        secret_key=key,
                        remote_ref=eso.ExternalSecretSpecDataRemoteRef(key=s.remote_key, property=key),
                    )
                    for key in self.keys
                ],
            ),
        )

    def _render_plaintext(self, s: PlaintextSecretSource, ns: str) -> None:
        k8s.KubeSecret(
            self,
            f"Plain-{ns}",
            metadata=k8s.ObjectMeta(name=self.secret_name, namespace=ns, labels=self._labels or None),
            type="Opaque",
            string_data=dict(s.plaintext),
        )
