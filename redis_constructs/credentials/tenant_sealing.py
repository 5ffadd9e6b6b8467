"""Sealed-values edits for tenants that need no password: move a ciphertext to another key of the same Secret.

A strict-scope value is bound by its RSA-OAEP label to ``<namespace>/<secret name>`` and to nothing else: the
controller unseals every ``spec.encryptedData`` entry with the same label, whatever its key
(bitnami-labs/sealed-secrets ``pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go``: ``EncryptionLabel``
and the loop over ``s.Spec.EncryptedData`` in ``Unseal``). So a value may change keys inside its Secret:

* migration: ``redis/redis-shared-client: password`` -> ``beersystem.password`` (beersystem's value, as Redis now
  reads it; the copy in ``beersystem`` is untouched, so the app does not roll);
* rotation, first commit: ``redis/redis-shared-client: shop.password`` -> ``shop.previous-password`` (then the
  new password is sealed for ``shop.password`` and for ``shop/redis-shared-client: password``);
* rotation, second commit: drop ``shop.previous-password``.
"""

from __future__ import annotations

from ..core.errors import PropError
from .sealing import SealedValue, SealedValues

#: The key of a tenant's own copy, in its namespace.
PASSWORD_KEY = "password"
#: Key suffixes of the server copy in Redis's namespace: ``<tenant>.password``, and ``<tenant>.previous-password``
#: during a rotation.
PASSWORD_SUFFIX = ".password"
PREVIOUS_PASSWORD_SUFFIX = ".previous-password"


def move_sealed_key(
    values: SealedValues, *, secret_name: str, namespace: str, from_key: str, to_key: str
) -> SealedValues:
    """A copy of ``values`` where ``from_key`` of ``secret_name`` in ``namespace`` is now ``to_key``.

    Refuses when ``from_key`` is absent or ``to_key`` taken (a rotation already begun).
    """
    entries = {(v.secret_name, v.namespace, v.key): v for v in values.values}
    old = entries.get((secret_name, namespace, from_key))
    if old is None:
        raise PropError("from_key", f"{secret_name}/{namespace}: {from_key}", "a key sealed in the file")
    if (secret_name, namespace, to_key) in entries:
        raise PropError(
            "to_key", f"{secret_name}/{namespace}: {to_key}", "a key not sealed yet (finish the rotation first?)"
        )
    kept = [v for v in values.values if v is not old]
    moved = SealedValue(secret_name=secret_name, namespace=namespace, key=to_key, ciphertext=old.ciphertext)
    return SealedValues(certificate_sha256=values.certificate_sha256, scope=values.scope, values=(*kept, moved))


def drop_sealed_key(values: SealedValues, *, secret_name: str, namespace: str, key: str) -> SealedValues:
    """A copy of ``values`` without ``key`` of ``secret_name`` in ``namespace`` (the rotation's second commit)."""
    kept = tuple(v for v in values.values if (v.secret_name, v.namespace, v.key) != (secret_name, namespace, key))
    if len(kept) == len(values.values):
        raise PropError("key", f"{secret_name}/{namespace}: {key}", "a key sealed in the file")
    return SealedValues(certificate_sha256=values.certificate_sha256, scope=values.scope, values=kept)
