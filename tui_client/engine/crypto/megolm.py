"""Megolm session exports (what key bundles, key files and our bundle blobs hold) as vodozemac
sessions, checked to be the session they name. Pure."""

from __future__ import annotations

import binascii
import re

import vodozemac

_UNPADDED_BASE64 = re.compile(r"[A-Za-z0-9+/]*").fullmatch
EXPORT_BYTES = 165  # version 1, index (4), ratchet (128), the session's Ed25519 key (32)


class MegolmKeyError(ValueError):
    """A session export is unusable, or is not the session it names."""


def check_exported(session_key: str, session_id: str) -> None:
    """What `import_exported` checks, without making the session: the export's form and that
    the signing key it carries (whose base64 is the session's id) is the session it names. A
    key bundle's 10,000 sessions are made when first used instead (nio.lazy_sessions); one whose
    key then turns out unusable (a signing key that is no curve point) is logged and treated as
    absent, as a damaged stored session is."""
    if not _UNPADDED_BASE64(session_key):
        raise MegolmKeyError(f"session {session_id[:10]}…: unusable key (not unpadded base64)")
    try:  # (binascii, not base64: this runs 10,000 times per bundle)
        raw = binascii.a2b_base64(session_key + "=" * (-len(session_key) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MegolmKeyError(f"session {session_id[:10]}…: unusable key ({exc})") from None
    if len(raw) != EXPORT_BYTES or raw[0] != 1:
        raise MegolmKeyError(f"session {session_id[:10]}…: unusable key (not a version 1 session export)")
    named = binascii.b2a_base64(raw[EXPORT_BYTES - 32:], newline=False).decode().rstrip("=")
    if named != session_id:
        raise MegolmKeyError(f"session {session_id[:10]}…: its key belongs to another session ({named[:10]}…)")


def import_exported(session_key: str, session_id: str) -> vodozemac.InboundGroupSession:
    """The inbound session of an export. Its id is derived from the key material (the session's
    signing key), so an export naming another session is refused. That proves nothing about the
    ratchet (exports are unsigned): which copy to trust is the merge rules' business."""
    try:
        inner = vodozemac.InboundGroupSession.import_session(vodozemac.ExportedSessionKey(session_key))
    except Exception as exc:
        raise MegolmKeyError(f"session {session_id[:10]}…: unusable key ({exc})") from None
    if inner.session_id != session_id:
        raise MegolmKeyError(
            f"session {session_id[:10]}…: its key belongs to another session ({inner.session_id[:10]}…)"
        )
    return inner
