"""The symmetric primitives the client uses, once each, on `cryptography`.

- AES-256-CTR (attachments, key export files, secret storage);
- AES-256-GCM sealing of our own secrets at rest, with a key derived per purpose from the
  profile's store key (HKDF-SHA256), so one store key never encrypts two kinds of data alike;
- PBKDF2-HMAC-SHA512, HKDF-SHA256 and HMAC-SHA256, with a constant-time comparison.
"""

from __future__ import annotations

import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

_NONCE = 12


def aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-256-CTR of `data` (the same call encrypts and decrypts)."""
    context = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return context.update(data) + context.finalize()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, "sha256").digest()


def same(a: bytes, b: bytes) -> bool:
    """Constant-time equality of two MACs or hashes."""
    return hmac.compare_digest(a, b)


def pbkdf2_sha512(passphrase: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA512(), length=length, salt=salt, iterations=iterations).derive(passphrase)


def hkdf_sha256(key: bytes, *, info: bytes, salt: bytes | None = None, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def store_subkey(store_key: str, purpose: str) -> bytes:
    """The AES-GCM key for one kind of data sealed with a profile's store key."""
    return hkdf_sha256(store_key.encode(), info=b"tui-client " + purpose.encode())


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM: a random nonce followed by the ciphertext and tag."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Raises cryptography's InvalidTag if `sealed` was not made by `seal` with this key and aad."""
    return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
