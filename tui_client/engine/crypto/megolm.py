"""Megolm session exports (what key bundles, key files and our bundle blobs hold) as vodozemac
sessions, checked to be the session they name. Pure."""

from __future__ import annotations

import vodozemac


class MegolmKeyError(ValueError):
    """A session export is unusable, or is not the session it names."""


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
