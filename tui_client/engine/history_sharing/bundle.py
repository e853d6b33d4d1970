"""The MSC4268 key bundle as plain data: the file's JSON (build, serialise, parse) and the
`m.room_key_bundle` announcement. No I/O, no engine state, no crypto objects.

The shapes follow matrix-rust-sdk (msc4268.md §2.2): ``{"room_keys": [...], "withheld": [...]}``
with session keys in Megolm *export* format. Parsing is strict and bounded, because the file
comes from the inviter, who may be hostile:

- any malformed entry rejects the whole bundle (as rust-sdk does), and so does a session listed
  twice in ``room_keys`` (two different keys for one session cannot both be right);
- every key field must have the shape of what it claims to be (32-byte curve25519/ed25519 keys,
  a 165-byte session export), text fields have length limits;
- nesting deeper than the parser allows, more than `MAX_ROOM_KEYS` keys or more than
  `MAX_WITHHELD` withheld entries reject the bundle; duplicate withheld entries are dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ...records import record
from .. import json_slices

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
# The inviter's prediction of what the invitee will read (event ids), so the invitee's inspector
# can compare it with what it actually read. Capped; only shown, never trusted.
PREDICTED_HINT = "io.github.tui_client.predicted_readable"
PREDICTED_TOTAL_HINT = "io.github.tui_client.predicted_total"
MAX_PREDICTED = 500

# Caps, for the bundles we accept and the ones we build. A room with more Megolm sessions than
# this has rotated keys over years of heavy use; a bundle beyond them is refused, not truncated.
MAX_ROOM_KEYS = 100_000
MAX_WITHHELD = 20_000
MAX_REASON_CHARS = 300  # longer reasons are cut (they are only shown)

_KEY32 = re.compile(r"[A-Za-z0-9+/]{43}")  # 32 bytes, unpadded standard base64
_EXPORT = re.compile(r"[A-Za-z0-9+/]{220}")  # 165 bytes: version, index, ratchet, signing key
_CODE = re.compile(r"[A-Za-z0-9._\-]{1,100}")
# Lone surrogates (legal as JSON escapes) cannot be stored: SQLite takes strict UTF-8.
_SURROGATES = re.compile("[\ud800-\udfff]")


def storable_text(value: str) -> str:
    """Outside text as it may be stored and shown: lone surrogates become U+FFFD."""
    return _SURROGATES.sub("\ufffd", value)


class BundleError(Exception):
    """A bundle (or its announcement) is unusable; the message says why, for logs and the UI."""


class HistoricKey(NamedTuple):
    """One ``room_keys`` entry. (Tuples, not dataclasses: a bundle holds tens of thousands.)"""

    room_id: str
    sender_key: str
    session_id: str
    session_key: str  # Megolm session export, at the sender's first known index
    sender_claimed_ed25519: str

    def to_json(self) -> dict[str, Any]:
        return {
            "algorithm": MEGOLM,
            "room_id": self.room_id,
            "sender_key": self.sender_key,
            "session_id": self.session_id,
            "session_key": self.session_key,
            "sender_claimed_keys": {"ed25519": self.sender_claimed_ed25519},
        }


class WithheldEntry(NamedTuple):
    """One ``withheld`` entry (the shape of an ``m.room_key.withheld`` content)."""

    room_id: str
    session_id: str
    sender_key: str | None
    code: str
    reason: str | None
    from_device: str | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"algorithm": MEGOLM, "code": self.code, "room_id": self.room_id,
                               "session_id": self.session_id}
        if self.sender_key is not None:
            out["sender_key"] = self.sender_key
        if self.reason is not None:
            out["reason"] = self.reason
        if self.from_device is not None:
            out["from_device"] = self.from_device
        return out

    @property
    def not_shared(self) -> bool:
        return self.code in HISTORY_NOT_SHARED_CODES


@record
class ParsedBundle:
    room_keys: tuple[HistoricKey, ...]  # only those for the expected room
    withheld: tuple[WithheldEntry, ...]  # only those for the expected room, one per session
    other_room_entries: int  # well-formed entries naming another room (skipped)
    dropped_withheld: int = 0  # duplicate withheld entries, and those for sessions whose key is here


# -- building ------------------------------------------------------------------------------------


def build_bundle(keys: Iterable[HistoricKey], withheld: Iterable[WithheldEntry]) -> dict[str, Any]:
    return {"room_keys": [k.to_json() for k in keys], "withheld": [w.to_json() for w in withheld]}


def serialize_bundle(bundle: Mapping[str, Any]) -> bytes:
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False).encode()


def not_shared_entry(room_id: str, session_id: str, sender_key: str, our_device_id: str) -> WithheldEntry:
    """How we list a session we hold but may not share (rust-sdk's wording and fields)."""
    return WithheldEntry(room_id, session_id, sender_key, HISTORY_NOT_SHARED, HISTORY_NOT_SHARED_REASON, our_device_id)


# -- field checks ---------------------------------------------------------------------------------


def is_key32(value: Any) -> bool:
    """An unpadded base64 curve25519/ed25519 public key (or a Megolm session id)."""
    return isinstance(value, str) and _KEY32.fullmatch(value) is not None


def _text(entry: Mapping[str, Any], field: str, where: str, limit: int = 255) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value:
        raise BundleError(f"{where}: '{field}' is missing or not text")
    if len(value) > limit or not value.isprintable():
        raise BundleError(f"{where}: '{field}' is not a plausible value")
    return value


def _key(entry: Mapping[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not is_key32(value):
        raise BundleError(f"{where}: '{field}' is not a 32-byte key in unpadded base64")
    return value  # type: ignore[return-value]


def _optional_text(entry: Mapping[str, Any], field: str, where: str, limit: int) -> str | None:
    value = entry.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BundleError(f"{where}: '{field}' is not text")
    return storable_text(value[:limit])


# -- parsing ----------------------------------------------------------------------------------------


def parse_bundle(data: bytes, room_id: str) -> ParsedBundle:
    """Strictly parse a decrypted bundle meant for `room_id`. Raises BundleError."""
    try:
        obj = json_slices.loads(data)  # in slices: the interface's thread gets the GIL between them
    except RecursionError:
        raise BundleError("the bundle is nested deeper than any real bundle") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"the bundle is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BundleError("the bundle is not a JSON object")
    room_keys_raw = obj.get("room_keys", [])
    withheld_raw = obj.get("withheld", [])
    if not isinstance(room_keys_raw, list) or not isinstance(withheld_raw, list):
        raise BundleError("the bundle's room_keys/withheld are not lists")
    if len(room_keys_raw) > MAX_ROOM_KEYS:
        raise BundleError(f"the bundle holds {len(room_keys_raw)} keys; at most {MAX_ROOM_KEYS} are accepted")
    if len(withheld_raw) > MAX_WITHHELD:
        raise BundleError(
            f"the bundle lists {len(withheld_raw)} withheld sessions; at most {MAX_WITHHELD} are accepted"
        )
    keys: list[HistoricKey] = []
    seen: set[str] = set()
    other = 0
    key32, export = _KEY32.fullmatch, _EXPORT.fullmatch
    for i, entry in enumerate(room_keys_raw):
        # The fast path for a well-formed entry; anything odd goes through _parse_key, which
        # says what is wrong (or accepts it).
        try:
            claimed = entry["sender_claimed_keys"]["ed25519"]
            sender_key, session_id, session_key = entry["sender_key"], entry["session_id"], entry["session_key"]
            ok = (
                entry["algorithm"] == MEGOLM and entry["room_id"] == room_id
                and key32(sender_key) and key32(session_id) and key32(claimed) and export(session_key)
            )
        except (KeyError, TypeError):
            ok = False
        if ok:
            key = HistoricKey(room_id, sender_key, session_id, session_key, claimed)
        else:
            key = _parse_key(entry, f"room key #{i}")
            if key.room_id != room_id:
                other += 1
                continue
        if key.session_id in seen:
            raise BundleError(f"the bundle lists session {key.session_id[:10]}… twice")
        seen.add(key.session_id)
        keys.append(key)
    withheld: list[WithheldEntry] = []
    dropped = 0
    for i, entry in enumerate(withheld_raw):
        w = _parse_withheld(entry, f"withheld entry #{i}")
        if w.room_id != room_id:
            other += 1
            continue
        if w.session_id in seen:
            dropped += 1  # a key for it is here already, or it was listed before
            continue
        seen.add(w.session_id)
        withheld.append(w)
    return ParsedBundle(tuple(keys), tuple(withheld), other, dropped)


def _parse_key(entry: Any, where: str) -> HistoricKey:
    if not isinstance(entry, dict):
        raise BundleError(f"{where} is not an object")
    if entry.get("algorithm") != MEGOLM:
        raise BundleError(f"{where}: unsupported algorithm {str(entry.get('algorithm'))[:40]!r}")
    claimed = entry.get("sender_claimed_keys")
    if not isinstance(claimed, dict) or not is_key32(claimed.get("ed25519")):
        raise BundleError(f"{where}: sender_claimed_keys.ed25519 is missing or not a key")
    session_key = entry.get("session_key")
    if not isinstance(session_key, str) or _EXPORT.fullmatch(session_key) is None:
        raise BundleError(f"{where}: 'session_key' is not a Megolm session export")
    return HistoricKey(
        room_id=_text(entry, "room_id", where),
        sender_key=_key(entry, "sender_key", where),
        session_id=_key(entry, "session_id", where),
        session_key=session_key,
        sender_claimed_ed25519=claimed["ed25519"],
    )


def _parse_withheld(entry: Any, where: str) -> WithheldEntry:
    if not isinstance(entry, dict):
        raise BundleError(f"{where} is not an object")
    if entry.get("algorithm", MEGOLM) != MEGOLM:
        raise BundleError(f"{where}: unsupported algorithm {str(entry.get('algorithm'))[:40]!r}")
    code = entry.get("code")
    if not isinstance(code, str) or _CODE.fullmatch(code) is None:
        raise BundleError(f"{where}: 'code' is missing or not a code")
    sender_key = entry.get("sender_key")
    if sender_key is not None and not is_key32(sender_key):
        raise BundleError(f"{where}: 'sender_key' is not a 32-byte key in unpadded base64")
    return WithheldEntry(
        room_id=_text(entry, "room_id", where),
        session_id=_key(entry, "session_id", where),
        sender_key=sender_key,
        code=code,
        reason=_optional_text(entry, "reason", where, MAX_REASON_CHARS),
        from_device=_optional_text(entry, "from_device", where, 255),
    )


# -- the announcement (m.room_key_bundle content) -----------------------------------------------------


def bundle_content(
    room_id: str, file: Mapping[str, Any], key_count: int, withheld_count: int, message_count: int | None = None,
    predicted: tuple[list[str], int] | None = None,
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "room_id": room_id,
        "file": dict(file),
        KEY_COUNT_HINT: key_count,
        WITHHELD_COUNT_HINT: withheld_count,
    }
    if message_count is not None:
        content[MESSAGE_COUNT_HINT] = message_count
    if predicted is not None and len(predicted[0]) <= MAX_PREDICTED:
        content[PREDICTED_HINT], content[PREDICTED_TOTAL_HINT] = list(predicted[0]), predicted[1]
    return content


def predicted_hint(content: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The inviter's predicted-readable event ids, if present and plausible."""
    value = content.get(PREDICTED_HINT)
    if not isinstance(value, list) or len(value) > MAX_PREDICTED:
        return None
    if not all(isinstance(v, str) and 0 < len(v) <= 255 and v.isprintable() for v in value):
        return None
    return tuple(value)


def count_hint(content: Mapping[str, Any], key: str) -> int | None:
    value = content.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else None
