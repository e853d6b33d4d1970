"""Encrypted attachments (the spec's v2 ``EncryptedFile``): AES-256-CTR with a random key and
IV, and a SHA-256 over the ciphertext that is checked, in constant time, before decrypting.

Pure functions on bytes and dicts: key bundles use them today, files and images later.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

from .canonical import b64decode, b64encode
from .symmetric import aes_ctr, same


class AttachmentError(Exception):
    """An encrypted file (or its description) is unusable; the message says why."""


def encrypt_attachment(plaintext: bytes) -> tuple[bytes, dict[str, Any]]:
    """Encrypt `plaintext`; returns the ciphertext and its EncryptedFile description (no `url`
    yet). The IV is 8 random bytes and a zero counter, as the spec asks."""
    key = os.urandom(32)
    iv = os.urandom(8) + b"\x00" * 8
    ciphertext = aes_ctr(key, iv, plaintext)
    info = {
        "v": "v2",
        "key": {
            "kty": "oct",
            "alg": "A256CTR",
            "ext": True,
            "k": b64encode(key).replace("+", "-").replace("/", "_"),
            "key_ops": ["encrypt", "decrypt"],
        },
        "iv": b64encode(iv),
        "hashes": {"sha256": b64encode(hashlib.sha256(ciphertext).digest())},
    }
    return ciphertext, info


def check_file_info(file: Any) -> str | None:
    """None if `file` is a usable v2 EncryptedFile with an mxc URL, else why not."""
    if not isinstance(file, dict):
        return "the file description is not an object"
    if file.get("v") != "v2":
        return f"unsupported encrypted-file version {str(file.get('v'))[:20]!r}"
    url = file.get("url")
    if not isinstance(url, str) or len(url) > 512:
        return "the file has no valid mxc:// URL"
    try:
        parse_mxc(url)
    except AttachmentError:
        return "the file has no valid mxc:// URL"
    key = file.get("key")
    if not isinstance(key, dict) or key.get("alg") != "A256CTR" or key.get("kty") != "oct":
        return "the file key is not an A256CTR octet key"
    k, iv, hashes = key.get("k"), file.get("iv"), file.get("hashes")
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(k, str) or not isinstance(iv, str):
        return "the file key or IV is missing"
    if not isinstance(sha256, str):
        return "the file has no SHA-256 hash"
    try:
        if len(b64decode(k)) != 32:
            return "the file key is not 32 bytes"
        if len(b64decode(iv)) != 16:
            return "the file IV is not 16 bytes"
        if len(b64decode(sha256)) != 32:
            return "the file has no SHA-256 hash"
    except (ValueError, TypeError) as exc:
        return f"the file description has bad base64 ({exc})"
    return None


def minimal_file_info(file: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a checked EncryptedFile we keep (nothing a sender added besides)."""
    key = file["key"]
    return {
        "v": "v2",
        "url": file["url"],
        "key": {"kty": "oct", "alg": "A256CTR", "ext": True, "k": key["k"], "key_ops": ["encrypt", "decrypt"]},
        "iv": file["iv"],
        "hashes": {"sha256": file["hashes"]["sha256"]},
    }


def decrypt_attachment(ciphertext: bytes, file: Mapping[str, Any]) -> bytes:
    """Check the SHA-256 of the ciphertext (constant time), then decrypt."""
    problem = check_file_info(dict(file))
    if problem:
        raise AttachmentError(problem)
    expected = b64decode(file["hashes"]["sha256"])
    if not same(hashlib.sha256(ciphertext).digest(), expected):
        raise AttachmentError("the downloaded file does not match its SHA-256 hash")
    return aes_ctr(b64decode(file["key"]["k"]), b64decode(file["iv"]), ciphertext)


def parse_mxc(url: str) -> tuple[str, str]:
    """("server", "media id") of an mxc:// URL; raises AttachmentError."""
    if not isinstance(url, str):
        raise AttachmentError(f"not an mxc:// URL: a {type(url).__name__}")
    if not url.startswith("mxc://"):
        raise AttachmentError(f"not an mxc:// URL: {url[:80]!r}")
    server, _, media_id = url[len("mxc://"):].partition("/")
    if not server or not media_id or "/" in media_id or not media_id.isprintable() or not server.isprintable():
        raise AttachmentError(f"bad mxc URL {url[:80]!r}")
    return server, media_id
