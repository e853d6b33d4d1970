"""Key bundle blobs (``tc_bundle_sessions``): the sessions a key bundle brought, one sealed row.

Importing 10,000 keys is one row instead of 10,000: the entries (session id, creator's Curve25519
and Ed25519 keys, Megolm export) sealed with a key of the store's own, the room as associated
data. The row also names who shared the bundle (`Forwarder`), so its sessions' metadata (the
same for all but the session) is made from it when read instead of written as 10,000 rows of
``tc_session_meta`` (a fifth of an import). Rows written before that name nobody; their
sessions' metadata is in ``tc_session_meta``. The store (`store.AppStore`) decides what wins:
a row of its sessions or metadata tables over a blob's, the first of two blobs over the second.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from typing import NamedTuple

from nio.crypto import InboundGroupSession

from ..crypto.symmetric import seal, unseal
from ..room_keys import Forwarder, Origin, SessionMeta
from .lazy_sessions import Pending

logger = logging.getLogger(__name__)

Entry = tuple[str, str, str, str]  # session id, sender key, ed25519, Megolm export


class Blob(NamedTuple):
    """One stored key bundle blob, read."""

    room_id: str
    forwarder_key: str
    created_at: float
    forwarder: Forwarder | None  # None: written before blobs named their sharer
    entries: list[list[str]]  # [session id, sender key, ed25519, exported key]


class BundleBlobs:
    """The blobs of one store, read room by room and remembered: decrypting in a room asks for
    a session and then for its metadata, and both come from one reading of the room's blobs."""

    def __init__(self, conn: Callable[[], sqlite3.Connection], key: bytes,
                 opener: Callable[[Pending], InboundGroupSession]) -> None:
        self._conn = conn  # (the connection of the calling thread)
        self._key = key
        self._opener = opener
        self._sessions: dict[str, dict[str, Pending]] = {}
        self._metas: dict[str, dict[str, SessionMeta]] = {}

    def add(self, room_id: str, forwarder_key: str, entries: list[Entry], created_at: float,
            forwarder: Forwarder | None) -> None:
        """Store `entries` as one row (inside the caller's transaction)."""
        self._sessions.pop(room_id, None)
        self._metas.pop(room_id, None)
        lines = "\n".join(" ".join(e) for e in entries).encode()
        user, device, master_key = forwarder if forwarder is not None else (None, None, None)
        self._conn().execute(
            "INSERT INTO tc_bundle_sessions(room_id, forwarder_key, session_count, created_at, blob, "
            "forwarder_user, forwarder_device, forwarder_master_key) VALUES (?,?,?,?,?,?,?,?)",
            (room_id, forwarder_key, len(entries), created_at, seal(self._key, lines, room_id.encode()),
             user, device, master_key),
        )

    def read(self, room_id: str | None = None) -> Iterator[Blob]:
        """Every stored blob, unsealed and split into entries, oldest first; of one room only, or
        of every room. A blob that cannot be read is logged and left out."""
        columns = "room_id, forwarder_key, created_at, forwarder_user, forwarder_device, forwarder_master_key, blob"
        if room_id is None:
            rows = self._conn().execute(f"SELECT {columns} FROM tc_bundle_sessions ORDER BY id")
        else:
            rows = self._conn().execute(f"SELECT {columns} FROM tc_bundle_sessions WHERE room_id=? ORDER BY id",
                                        (room_id,))
        for room, forwarder_key, created_at, user, device, master_key, blob in rows.fetchall():
            try:
                lines = unseal(self._key, bytes(blob), room.encode()).decode()
            except Exception as exc:
                logger.error("a stored key bundle of %s cannot be read: %s", room, exc)
                continue
            yield Blob(
                room, forwarder_key, created_at, Forwarder(user, device, master_key) if user else None,
                [line.split(" ") for line in lines.split("\n") if line],
            )

    def sessions(self, room_id: str) -> dict[str, Pending]:
        """Session id → the room's sessions in blobs, not made yet (of two blobs, the first)."""
        found = self._sessions.get(room_id)
        return found if found is not None else self._index(room_id)[0]

    def metas(self, room_id: str) -> dict[str, SessionMeta]:
        """Session id → metadata of the room's sessions in blobs that name who shared them."""
        found = self._metas.get(room_id)
        return found if found is not None else self._index(room_id)[1]

    def forget_sessions(self, room_id: str) -> None:
        """The room's sessions are held elsewhere from now on (its metadata stays remembered)."""
        self._sessions.pop(room_id, None)

    def _index(self, room_id: str) -> tuple[dict[str, Pending], dict[str, SessionMeta]]:
        sessions: dict[str, Pending] = {}
        metas: dict[str, SessionMeta] = {}
        for blob in self.read(room_id):
            forwarder = blob.forwarder
            for entry in blob.entries:
                if len(entry) != 4:
                    logger.error("a stored key bundle of %s has a damaged entry; skipped", room_id)
                    continue
                session_id, sender_key, ed25519, exported = entry
                if session_id in sessions:
                    continue
                sessions[session_id] = Pending(self._opener, room_id, session_id, sender_key, ed25519, exported,
                                               (blob.forwarder_key,))
                if forwarder is not None:
                    metas[session_id] = SessionMeta(room_id, session_id, sender_key, True, Origin.BUNDLE,
                                                    *forwarder, blob.created_at)
        self._sessions[room_id], self._metas[room_id] = sessions, metas
        return sessions, metas
