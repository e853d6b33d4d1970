"""MSC4268 key bundles as plain data: build, encrypt, decrypt, parse and validate.

No I/O and no engine state here, so every hostile-input case is testable without a server.
The shapes follow matrix-rust-sdk (msc4268.md §2.2): ``{"room_keys": [...], "withheld": [...]}``
with session keys in Megolm *export* format, encrypted as a v2 attachment (AES-256-CTR with a
SHA-256 over the ciphertext) and announced by an Olm-encrypted ``m.room_key_bundle``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import vodozemac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from nio.crypto import InboundGroupSession

from .canonical import b64decode, b64encode

BUNDLE_EVENT_TYPE = "m.room_key_bundle"
BUNDLE_EVENT_TYPES = frozenset({BUNDLE_EVENT_TYPE, "io.element.msc4268.room_key_bundle"})
HISTORY_NOT_SHARED = "m.history_not_shared"
HISTORY_NOT_SHARED_CODES = frozenset({HISTORY_NOT_SHARED, "io.element.msc4268.history_not_shared"})
HISTORY_NOT_SHARED_REASON = "The sender disabled sharing encrypted history."
MEGOLM = "m.megolm.v1.aes-sha2"
# Hints our own clients add to the to-device content so an invite can say how much was shared
# before the bundle is downloaded (other clients ignore unknown fields; we only display them).
KEY_COUNT_HINT = "io.github.tui_client.key_count"
WITHHELD_COUNT_HINT = "io.github.tui_client.withheld_count"
MESSAGE_COUNT_HINT = "io.github.tui_client.message_count"


class BundleError(Exception):
    """A bundle (or its announcement) is unusable; the message says why, for logs and the UI."""


@dataclass(frozen=True)
class HistoricKey:
    room_id: str
    sender_key: str
    session_id: str
    session_key: str
    sender_claimed_ed25519: str


@dataclass(frozen=True)
class ParsedBundle:
    room_keys: tuple[HistoricKey, ...]  # only those for the expected room
    withheld: tuple[dict[str, Any], ...]  # only those for the expected room
    other_room_entries: int  # entries naming another room (skipped)


# -- building (sender) ------------------------------------------------------------------------


def build_bundle(
    room_id: str,
    sessions: Iterable[tuple[InboundGroupSession, bool]],
    received_withheld: Iterable[Mapping[str, Any]],
    our_device_id: str,
) -> dict[str, Any]:
    """The bundle JSON for `room_id`: shareable sessions exported at their first known index,
    the others listed as withheld (history not shared), plus the not-shared records we got in
    bundles ourselves, passed on unchanged."""
    room_keys: list[dict[str, Any]] = []
    withheld: list[dict[str, Any]] = []
    listed: set[str] = set()
    for session, shareable in sessions:
        if session.room_id != room_id:
            continue
        listed.add(session.id)
        if shareable:
            room_keys.append(
                {
                    "algorithm": MEGOLM,
                    "room_id": room_id,
                    "sender_key": session.sender_key,
                    "session_id": session.id,
                    "session_key": session.export_session(session.first_known_index),
                    "sender_claimed_keys": {"ed25519": session.ed25519},
                }
            )
        else:
            withheld.append(
                {
                    "algorithm": MEGOLM,
                    "code": HISTORY_NOT_SHARED,
                    "from_device": our_device_id,
                    "reason": HISTORY_NOT_SHARED_REASON,
                    "room_id": room_id,
                    "sender_key": session.sender_key,
                    "session_id": session.id,
                }
            )
    for content in received_withheld:
        if content.get("room_id") == room_id and content.get("code") in HISTORY_NOT_SHARED_CODES:
            if content.get("session_id") not in listed:
                listed.add(str(content.get("session_id")))
                withheld.append(dict(content))
    return {"room_keys": room_keys, "withheld": withheld}


def serialize_bundle(bundle: Mapping[str, Any]) -> bytes:
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False).encode()


# -- the encrypted attachment ------------------------------------------------------------------


def _ctr(key: bytes, iv: bytes) -> Any:
    return Cipher(algorithms.AES(key), modes.CTR(iv))


def encrypt_file(plaintext: bytes) -> tuple[bytes, dict[str, Any]]:
    """AES-256-CTR with a random key and an IV of 8 random bytes + a zero counter (v2)."""
    key = os.urandom(32)
    iv = os.urandom(8) + b"\x00" * 8
    encryptor = _ctr(key, iv).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
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
        return f"unsupported encrypted-file version {file.get('v')!r}"
    url = file.get("url")
    if not isinstance(url, str) or not url.startswith("mxc://") or url.count("/") != 3:
        return "the file has no valid mxc:// URL"
    key = file.get("key")
    if not isinstance(key, dict) or key.get("alg") != "A256CTR" or key.get("kty") != "oct":
        return "the file key is not an A256CTR octet key"
    try:
        if len(b64decode(key.get("k"))) != 32:
            return "the file key is not 32 bytes"
        if len(b64decode(file.get("iv"))) != 16:
            return "the file IV is not 16 bytes"
        hashes = file.get("hashes")
        if not isinstance(hashes, dict) or len(b64decode(hashes.get("sha256"))) != 32:
            return "the file has no SHA-256 hash"
    except ValueError as exc:
        return f"the file description has bad base64 ({exc})"
    return None


def decrypt_file(ciphertext: bytes, file: Mapping[str, Any]) -> bytes:
    """Check the SHA-256 of the ciphertext, then decrypt. Raises BundleError."""
    problem = check_file_info(dict(file))
    if problem:
        raise BundleError(problem)
    expected = b64decode(file["hashes"]["sha256"])
    if not hmac.compare_digest(hashlib.sha256(ciphertext).digest(), expected):
        raise BundleError("the downloaded file does not match its SHA-256 hash")
    decryptor = _ctr(b64decode(file["key"]["k"]), b64decode(file["iv"])).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def parse_media_url(url: str) -> tuple[str, str]:
    """("server", "media id") of an mxc:// URL."""
    server, _, media_id = url[len("mxc://"):].partition("/")
    if not server or not media_id or "/" in media_id:
        raise BundleError(f"bad mxc URL {url!r}")
    return server, media_id


# -- parsing (receiver) ------------------------------------------------------------------------

_STR = str


def _require_str(entry: Mapping[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, _STR) or not value:
        raise BundleError(f"{where}: '{field}' is missing or not text")
    return value


def parse_bundle(data: bytes, room_id: str) -> ParsedBundle:
    """Strictly parse a decrypted bundle. Any malformed entry rejects the whole bundle (as in
    rust-sdk); well-formed entries for other rooms are skipped and counted."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"the bundle is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BundleError("the bundle is not a JSON object")
    room_keys_raw = obj.get("room_keys", [])
    withheld_raw = obj.get("withheld", [])
    if not isinstance(room_keys_raw, list) or not isinstance(withheld_raw, list):
        raise BundleError("the bundle's room_keys/withheld are not lists")
    keys: list[HistoricKey] = []
    withheld: list[dict[str, Any]] = []
    other = 0
    for i, entry in enumerate(room_keys_raw):
        where = f"room key #{i}"
        if not isinstance(entry, dict):
            raise BundleError(f"{where} is not an object")
        if entry.get("algorithm") != MEGOLM:
            raise BundleError(f"{where}: unsupported algorithm {entry.get('algorithm')!r}")
        claimed = entry.get("sender_claimed_keys", {})
        if not isinstance(claimed, dict) or not isinstance(claimed.get("ed25519"), str):
            raise BundleError(f"{where}: sender_claimed_keys.ed25519 is missing")
        key = HistoricKey(
            room_id=_require_str(entry, "room_id", where),
            sender_key=_require_str(entry, "sender_key", where),
            session_id=_require_str(entry, "session_id", where),
            session_key=_require_str(entry, "session_key", where),
            sender_claimed_ed25519=claimed["ed25519"],
        )
        if key.room_id != room_id:
            other += 1
            continue
        keys.append(key)
    for i, entry in enumerate(withheld_raw):
        where = f"withheld entry #{i}"
        if not isinstance(entry, dict):
            raise BundleError(f"{where} is not an object")
        for field in ("room_id", "session_id", "code"):
            _require_str(entry, field, where)
        if entry["room_id"] != room_id:
            other += 1
            continue
        withheld.append(entry)
    return ParsedBundle(tuple(keys), tuple(withheld), other)


def import_keys(keys: Iterable[HistoricKey], forwarder_curve25519: str) -> list[InboundGroupSession]:
    """Turn historic keys into inbound sessions. Each key must really be the session it claims
    to be (its session id is derived from the key material); a forged id rejects the bundle."""
    sessions = []
    for key in keys:
        try:
            inner = vodozemac.InboundGroupSession.import_session(vodozemac.ExportedSessionKey(key.session_key))
        except Exception as exc:
            raise BundleError(f"session {key.session_id[:10]}…: unusable key ({exc})") from None
        if inner.session_id != key.session_id:
            raise BundleError(
                f"session {key.session_id[:10]}…: its key belongs to another session "
                f"({inner.session_id[:10]}…); the bundle is forged or broken"
            )
        sessions.append(
            InboundGroupSession(
                "", key.sender_claimed_ed25519, key.sender_key, key.room_id,
                forwarding_chain=[forwarder_curve25519], session=inner,
            )
        )
    return sessions


def bundle_content(
    room_id: str, file: Mapping[str, Any], key_count: int, withheld_count: int, message_count: int | None = None
) -> dict[str, Any]:
    content = {
        "room_id": room_id,
        "file": dict(file),
        KEY_COUNT_HINT: key_count,
        WITHHELD_COUNT_HINT: withheld_count,
    }
    if message_count is not None:
        content[MESSAGE_COUNT_HINT] = message_count
    return content


def check_bundle_content(content: Any) -> str | None:
    """None if an m.room_key_bundle content is well formed, else why not."""
    if not isinstance(content, dict):
        return "the content is not an object"
    room_id = content.get("room_id")
    if not isinstance(room_id, str) or not room_id.startswith("!"):
        return "the content has no valid room_id"
    return check_file_info(content.get("file"))


def count_hint(content: Mapping[str, Any], key: str) -> int | None:
    value = content.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else None
