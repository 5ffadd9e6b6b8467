"""Test-only re-implementation of the sealed-secrets controller's decryption.

Written from bitnami-labs/sealed-secrets ``pkg/crypto/crypto.go`` (``HybridDecrypt``/``singleDecrypt``) and
``pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go`` (``EncryptionLabel``, ``SecretScope``), not from
``redis_constructs.credentials.sealing``, so a shared misreading of the format cannot make both sides agree by accident.
It deliberately imports nothing from ``redis_constructs``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"


class DecryptError(Exception):
    """The controller would fail to unseal this value (Go returns an error from HybridDecrypt)."""


def label_for(namespace: str, name: str, annotations: Mapping[str, str]) -> bytes:
    """Return the OAEP label as ``labelFor`` does: cluster-wide wins, then namespace-wide, else strict."""
    if annotations.get(CLUSTER_WIDE) == "true":
        return b""
    if annotations.get(NAMESPACE_WIDE) == "true":
        return namespace.encode()
    return f"{namespace}/{name}".encode()


def hybrid_decrypt(private_key: rsa.RSAPrivateKey, ciphertext: bytes, label: bytes) -> bytes:
    """Decrypt like ``singleDecrypt``: split by the big-endian length, RSA-OAEP-SHA256, then AES-GCM."""
    if len(ciphertext) < 2:
        raise DecryptError("SealedSecret data is too short")
    rsa_length = int.from_bytes(ciphertext[:2], "big")
    if len(ciphertext) < rsa_length + 2:
        raise DecryptError("SealedSecret data is too short")
    rsa_part = ciphertext[2 : rsa_length + 2]
    aes_part = ciphertext[rsa_length + 2 :]
    try:
        # Go: rsa.DecryptOAEP(sha256.New(), ...) hashes both the label and MGF1 with SHA-256.
        session_key = private_key.decrypt(
            rsa_part,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label),
        )
    except ValueError as error:
        raise DecryptError(f"rsa: {error}") from None
    if len(session_key) not in (16, 24, 32):  # aes.NewCipher accepts AES-128/192/256 keys
        raise DecryptError(f"invalid AES key size {len(session_key)}")
    try:
        # Go: cipher.NewGCM → 12-byte nonce, 16-byte tag; aed.Open(nil, zeroNonce, aesCiphertext, nil).
        return AESGCM(session_key).decrypt(bytes(12), aes_part, None)
    except InvalidTag:
        raise DecryptError("cipher: message authentication failed") from None


def unseal_value(
    private_key: rsa.RSAPrivateKey,
    encrypted: str,
    *,
    namespace: str,
    name: str,
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    """Unseal one ``spec.encryptedData`` entry of a SealedSecret ``name`` in ``namespace``."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except ValueError as error:
        raise DecryptError(f"base64: {error}") from None
    return hybrid_decrypt(private_key, raw, label_for(namespace, name, annotations or {}))
