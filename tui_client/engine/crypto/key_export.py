"""The passphrase-protected room-key export format Element uses (spec: "Key export format").

`-----BEGIN MEGOLM SESSION DATA-----`, base64 of: version 0x01 ‖ salt(16) ‖ IV(16) ‖
rounds(u32, big-endian) ‖ AES-256-CTR(JSON) ‖ HMAC-SHA-256; keys from PBKDF2-HMAC-SHA-512.
Entries carry the MSC4268 shareable flag under the spelling Element's crypto reads.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable
from typing import Any

from ...records import record
from ..room_keys import SHARED_HISTORY_SEND_KEY, shared_history_flag
from .symmetric import aes_ctr, hmac_sha256, pbkdf2_sha512, same

HEADER = "-----BEGIN MEGOLM SESSION DATA-----"
FOOTER = "-----END MEGOLM SESSION DATA-----"
DEFAULT_ROUNDS = 500_000  # what Element uses
MAX_ROUNDS = 10_000_000  # a hostile file must not keep us busy for minutes
MEGOLM = "m.megolm.v1.aes-sha2"
_SURROGATES = re.compile("[\ud800-\udfff]")


class KeyExportError(Exception):
    pass


@record
class ExportedKey:
    room_id: str
    sender_key: str
    session_id: str
    session_key: str
    sender_claimed_ed25519: str
    forwarding_chain: tuple[str, ...]
    shared_history: bool


def _keys(passphrase: str, salt: bytes, rounds: int) -> tuple[bytes, bytes]:
    derived = pbkdf2_sha512(passphrase.encode(), salt, rounds, 64)
    return derived[:32], derived[32:]


def encrypt_export(data: bytes, passphrase: str, rounds: int = DEFAULT_ROUNDS) -> str:
    if not passphrase:
        raise KeyExportError("a passphrase is required to protect exported keys")
    salt = os.urandom(16)
    iv = bytearray(os.urandom(16))
    iv[8] &= 0x7F  # bit 63 cleared, as the spec asks (keeps the counter from wrapping)
    aes_key, hmac_key = _keys(passphrase, salt, rounds)
    body = b"\x01" + salt + bytes(iv) + rounds.to_bytes(4, "big") + aes_ctr(aes_key, bytes(iv), data)
    mac = hmac_sha256(hmac_key, body)
    encoded = base64.b64encode(body + mac).decode()
    lines = [encoded[i : i + 96] for i in range(0, len(encoded), 96)]
    return "\n".join([HEADER, *lines, FOOTER]) + "\n"


def decrypt_export(text: str, passphrase: str) -> bytes:
    stripped = text.strip()
    if not stripped.startswith(HEADER) or not stripped.endswith(FOOTER):
        raise KeyExportError("this is not a key export file (the MEGOLM SESSION DATA markers are missing)")
    inner = "".join(stripped[len(HEADER) : -len(FOOTER)].split())
    try:
        raw = base64.b64decode(inner + "=" * (-len(inner) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise KeyExportError("the key export file is damaged (bad base64)") from None
    if len(raw) < 1 + 16 + 16 + 4 + 32:
        raise KeyExportError("the key export file is damaged (too short)")
    if raw[0] != 1:
        raise KeyExportError(f"unsupported key export version {raw[0]}")
    salt, iv, rounds = raw[1:17], raw[17:33], int.from_bytes(raw[33:37], "big")
    if not 1 <= rounds <= MAX_ROUNDS:
        raise KeyExportError(f"the key export file asks for {rounds} key-derivation rounds; refusing")
    aes_key, hmac_key = _keys(passphrase, salt, rounds)
    if not same(hmac_sha256(hmac_key, raw[:-32]), raw[-32:]):
        raise KeyExportError("wrong passphrase, or the file is damaged")
    return aes_ctr(aes_key, iv, raw[37:-32])


def export_entries(keys: Iterable[ExportedKey]) -> list[dict[str, Any]]:
    """The JSON entries of an export file (Element's shape, with the shareable flag)."""
    return [
        {
            "algorithm": MEGOLM,
            "room_id": key.room_id,
            "sender_key": key.sender_key,
            "session_id": key.session_id,
            "session_key": key.session_key,
            "sender_claimed_keys": {"ed25519": key.sender_claimed_ed25519},
            "forwarding_curve25519_key_chain": list(key.forwarding_chain),
            SHARED_HISTORY_SEND_KEY: key.shared_history,
        }
        for key in keys
    ]


def parse_export_entries(data: bytes) -> tuple[list[ExportedKey], int]:
    """The usable entries of a decrypted export, and how many were skipped as malformed."""
    try:
        entries = json.loads(data)
    except RecursionError:
        raise KeyExportError("the decrypted key export is nested deeper than any key file") from None
    except (ValueError, UnicodeDecodeError):
        raise KeyExportError("the decrypted key export is not valid JSON (damaged file?)") from None
    if not isinstance(entries, list):
        raise KeyExportError("the decrypted key export is not a list of keys")
    keys: list[ExportedKey] = []
    skipped = 0
    for entry in entries:
        try:
            claimed = entry.get("sender_claimed_keys", {})
            chain = entry.get("forwarding_curve25519_key_chain", [])
            fields = [entry[k] for k in ("room_id", "sender_key", "session_id", "session_key")]
            if entry.get("algorithm") != MEGOLM or not all(isinstance(f, str) and f for f in fields):
                raise ValueError
            if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
                raise ValueError
            ed = claimed.get("ed25519") if isinstance(claimed, dict) else None
            if _SURROGATES.search("".join([*fields, ed if isinstance(ed, str) else "", *chain])):
                raise ValueError  # a lone surrogate cannot be stored (SQLite takes strict UTF-8)
            room_id, sender_key, session_id, session_key = fields
            keys.append(ExportedKey(
                room_id, sender_key, session_id, session_key, ed if isinstance(ed, str) else "", tuple(chain),
                shared_history_flag(entry),
            ))
        except (AttributeError, KeyError, TypeError, ValueError):
            skipped += 1
    return keys, skipped
