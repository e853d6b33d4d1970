"""Crafting hostile key material for tests: what a malicious inviter can put in a bundle."""

from __future__ import annotations

import base64

import vodozemac


def _d(s: str) -> bytes:
    return base64.b64decode(s + "=" * (-len(s) % 4))


def _e(b: bytes) -> str:
    return base64.b64encode(b).decode().rstrip("=")


def forged_export(session_id: str, index: int = 0) -> str:
    """A Megolm session export that names `session_id` but holds a random ratchet.

    Exports are unsigned: the session id is just the signing key stored at the end, so anyone
    who has seen a session's id (it is in every event) can make one. It imports fine and
    decrypts nothing."""
    other = vodozemac.GroupSession()
    for _ in range(index):
        other.encrypt(b"x")
    raw = bytearray(_d(vodozemac.InboundGroupSession(other.session_key).export_at(index).to_base64()))
    raw[-32:] = _d(session_id)
    return _e(bytes(raw))


def random_key() -> str:
    """A well-formed 32-byte key (curve25519, ed25519 or a session id) in unpadded base64."""
    return vodozemac.GroupSession().session_id
