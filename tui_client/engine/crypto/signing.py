"""Ed25519 keys and Matrix JSON signatures (spec appendix "Signing JSON").

A signature covers the canonical JSON of an object with its ``signatures`` and
``unsigned`` members removed, and is stored under
``signatures[<entity>]["ed25519:<key id>"]`` as unpadded base64.

The verify functions take untrusted input and never raise: anything malformed
is simply "not a valid signature". Keys and signatures go through libsodium
(PyNaCl), whose verification is strict like vodozemac's (dalek `verify_strict`):
small-order and non-canonical public keys, and non-reduced signatures, never
verify — OpenSSL's cofactorless check accepts a universal forgery for the
identity point.
"""

from __future__ import annotations

import copy
from typing import Any

from nacl.bindings import crypto_core_ed25519_is_valid_point
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

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

class Ed25519Key:
    """A private Ed25519 signing key (32-byte seed)."""

    __slots__ = ("_private", "_seed", "_public")

    def __init__(self, private: SigningKey) -> None:
        self._private = private
        self._seed = bytes(private)
        self._public = b64encode(bytes(private.verify_key))

    @classmethod
    def generate(cls) -> Ed25519Key:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Key:
        """Raises ``ValueError`` unless ``seed`` is exactly 32 bytes."""
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != _SEED_LEN:
            raise ValueError("an Ed25519 seed must be 32 bytes")
        return cls(SigningKey(bytes(seed)))

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
        return b64encode(self._private.sign(bytes(data)).signature)

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


def _decode_public_key(public_key_b64: object) -> VerifyKey | None:
    try:
        raw = b64decode(public_key_b64)  # type: ignore[arg-type]
    except ValueError:
        return None
    if len(raw) != _PUBLIC_LEN or not crypto_core_ed25519_is_valid_point(raw):
        return None  # not canonical, not on the curve, or of small order
    return VerifyKey(raw)


def is_valid_public_key(public_key_b64: object) -> bool:
    """True if this is base64 of a usable (32-byte, not weak) Ed25519 public key."""
    return _decode_public_key(public_key_b64) is not None


def verify_signature(public_key_b64: str, data: bytes, signature_b64: str) -> bool:
    """Check an Ed25519 signature over raw bytes (strictly). Never raises."""
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
    try:
        public.verify(bytes(data), signature)
    except (BadSignatureError, ValueError):
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
