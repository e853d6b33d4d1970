"""Ed25519 keys and Matrix JSON signatures (spec appendix "Signing JSON").

A signature covers the canonical JSON of an object with its ``signatures`` and
``unsigned`` members removed, and is stored under
``signatures[<entity>]["ed25519:<key id>"]`` as unpadded base64.

The verify functions take untrusted input and never raise: anything malformed
is simply "not a valid signature".
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .canonical import b64decode, b64encode, canonical_json

__all__ = [
    "Ed25519Key",
    "sign_json",
    "verify_signature",
    "verify_json",
    "signed_bytes",
    "is_valid_public_key",
]

_SEED_LEN = 32
_PUBLIC_LEN = 32
_SIGNATURE_LEN = 64

# Curve constants, used only to reject weak public keys (see _is_weak_point).
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


class Ed25519Key:
    """A private Ed25519 signing key (32-byte seed)."""

    __slots__ = ("_private", "_seed", "_public")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self._seed = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        self._public = b64encode(
            private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    @classmethod
    def generate(cls) -> Ed25519Key:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Key:
        """Raises ``ValueError`` unless ``seed`` is exactly 32 bytes."""
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != _SEED_LEN:
            raise ValueError("an Ed25519 seed must be 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @property
    def seed(self) -> bytes:
        return self._seed

    @property
    def public_key(self) -> str:
        """The public key as unpadded base64."""
        return self._public

    def sign(self, data: bytes) -> str:
        """Sign raw bytes; returns the signature as unpadded base64."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("Ed25519Key.sign needs bytes")
        return b64encode(self._private.sign(bytes(data)))

    def __repr__(self) -> str:
        # Never show the seed.
        return f"Ed25519Key(public_key={self._public!r})"


def signed_bytes(obj: dict[str, Any]) -> bytes:
    """The bytes a Matrix signature over ``obj`` covers.

    Raises ``ValueError`` if ``obj`` is not a dict or is not canonicalisable.
    """
    if not isinstance(obj, dict):
        raise ValueError("only JSON objects can be signed")
    stripped = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return canonical_json(stripped)


def sign_json(obj: dict[str, Any], key: Ed25519Key, user_id: str, key_id: str) -> dict[str, Any]:
    """Return a deep copy of ``obj`` signed by ``key`` as ``user_id``/``ed25519:key_id``.

    Existing signatures (and ``unsigned``) are kept. Raises ``ValueError`` if
    the object cannot be canonicalised or its ``signatures`` member is not a
    map of maps.
    """
    if not isinstance(user_id, str) or not isinstance(key_id, str):
        raise ValueError("user_id and key_id must be strings")
    signature = key.sign(signed_bytes(obj))
    result = copy.deepcopy(obj)
    signatures = result.setdefault("signatures", {})
    if not isinstance(signatures, dict):
        raise ValueError("'signatures' is not an object")
    entity = signatures.setdefault(user_id, {})
    if not isinstance(entity, dict):
        raise ValueError(f"'signatures' for {user_id} is not an object")
    entity["ed25519:" + key_id] = signature
    return result


def _recover_x(y: int, sign: int) -> int | None:
    # RFC 8032 section 5.1.3 point decoding.
    y2 = y * y % _P
    u = (y2 - 1) % _P
    v = (_D * y2 + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vx2 = v * x * x % _P
    if vx2 == u:
        pass
    elif vx2 == (-u) % _P:
        x = x * _SQRT_M1 % _P
    else:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return x


def _double(x: int, y: int, z: int) -> tuple[int, int, int]:
    # Projective doubling on -x^2 + y^2 = 1 + d x^2 y^2 (no inversions needed).
    b = (x + y) * (x + y) % _P
    c = x * x % _P
    d = y * y % _P
    f = (d - c) % _P
    j = (f - 2 * z * z) % _P
    return (b - c - d) * j % _P, f * ((-c - d) % _P) % _P, f * j % _P


@functools.lru_cache(maxsize=4096)
def _is_weak_point(encoded: bytes) -> bool:
    """True if ``encoded`` is not a canonical curve point or has small order.

    OpenSSL (behind ``cryptography``) verifies with the cofactorless equation
    and accepts small-order public keys, for which one signature can verify
    against every message (e.g. the identity point with R = identity, S = 0).
    vodozemac/dalek ``verify_strict`` rejects such keys, and so do we.
    """
    y = int.from_bytes(encoded, "little") & ((1 << 255) - 1)
    if y >= _P:
        return True
    x = _recover_x(y, encoded[31] >> 7)
    if x is None:
        return True
    z = 1
    for _ in range(3):
        x, y, z = _double(x, y, z)
    return x == 0 and y == z


def _decode_public_key(public_key_b64: object) -> Ed25519PublicKey | None:
    try:
        raw = b64decode(public_key_b64)  # type: ignore[arg-type]
    except ValueError:
        return None
    if len(raw) != _PUBLIC_LEN or _is_weak_point(raw):
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None


def is_valid_public_key(public_key_b64: object) -> bool:
    """True if this is base64 of a usable (32-byte, not weak) Ed25519 public key."""
    return _decode_public_key(public_key_b64) is not None


def verify_signature(public_key_b64: str, data: bytes, signature_b64: str) -> bool:
    """Check an Ed25519 signature over raw bytes. Never raises."""
    if not isinstance(data, (bytes, bytearray)):
        return False
    public = _decode_public_key(public_key_b64)
    if public is None:
        return False
    try:
        signature = b64decode(signature_b64)
    except ValueError:
        return False
    if len(signature) != _SIGNATURE_LEN:
        return False
    # Reject a non-reduced S (signature malleability), whatever the backend does.
    if int.from_bytes(signature[32:], "little") >= _L:
        return False
    try:
        public.verify(signature, bytes(data))
    except InvalidSignature:
        return False
    return True


def verify_json(obj: object, user_id: str, key_id: str, public_key_b64: str) -> bool:
    """True only if ``obj`` carries a valid signature ``signatures[user_id]["ed25519:"+key_id]``
    by ``public_key_b64`` over its canonical JSON minus ``signatures``/``unsigned``.

    Never raises, whatever ``obj`` contains.
    """
    try:
        if not isinstance(obj, dict) or not isinstance(user_id, str) or not isinstance(key_id, str):
            return False
        signatures = obj.get("signatures")
        if not isinstance(signatures, dict):
            return False
        entity = signatures.get(user_id)
        if not isinstance(entity, dict):
            return False
        signature = entity.get("ed25519:" + key_id)
        if not isinstance(signature, str):
            return False
        data = signed_bytes(obj)
        return verify_signature(public_key_b64, data, signature)
    except (ValueError, RecursionError):
        return False
