"""Our tables in nio's SQLite file, and how Megolm sessions are stored.

Keeping our tables in the same file as nio's lets one transaction cover both: a key bundle
either lands whole (sessions + provenance + withheld records) or not at all. The layout is
versioned by `engine.migrations` (``PRAGMA user_version``).

Megolm sessions are keyed by room *and* session id (``tc_inbound_session``), unlike nio's own
table (session id alone), so a key offered for one room can never overwrite another room's.
Sessions first received in a key bundle are stored as one encrypted blob per bundle, with
their metadata (`bundle_blobs`). A session that later changes (a better or more trusted copy
arrives) is written to ``tc_inbound_session``, its metadata to ``tc_session_meta``; both win
over a blob on load.

Our outbound Megolm session per room (``tc_outbound_session``: its pickle, counters and who
it was shared with, sealed) survives restarts, so consecutive sends and CLI calls continue one
session until a rotation rule fires.

Also here: per-session metadata (``tc_session_meta``), other users' cross-signing keys with
their pins and full device keys (``tc_identity``, ``tc_device_json``), our own encrypted
secrets (``tc_secret``) and small values (``tc_kv``). History sharing's records have their own
module (`history_sharing.store`) on the same connection.

A little over the usual length: every table here shares the one connection and its
transactions with nio's own; the lazily read sessions are in `lazy_sessions`, the key bundle
blobs in `bundle_blobs`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import vodozemac
from nio.crypto import GroupSessionStore, InboundGroupSession
from nio.crypto.sessions import derive_pickle_key
from nio.store import SqliteStore
from peewee import SqliteDatabase

from ...records import record
from ..crypto.megolm import import_exported
from ..crypto.symmetric import seal, store_subkey, unseal
from .bundle_blobs import BundleBlobs, Entry
from .lazy_sessions import LazyGroupSessionStore, MetaMap, Pending
from .migrations import BUNDLE_BLOB_PURPOSE, Context, migrate
from ..room_keys import Forwarder, Origin, SessionMeta

logger = logging.getLogger(__name__)

OUTBOUND_PURPOSE = "outbound megolm session"
WAL_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default


@record
class StoredIdentity:
    user_id: str
    keys: dict[str, Any]  # {"master_key": ..., "self_signing_key": ..., "user_signing_key": ...}
    master_key: str
    pinned_master_key: str
    previous_master_key: str | None
    changed_at: float | None
    verified: bool
    first_seen: float
    updated_at: float


class AppStore(SqliteStore):
    """nio's SqliteStore plus our tables; one file per profile."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._account_id: int | None = None
        self._megolm_key = derive_pickle_key(self.pickle_key)  # once, not once per session
        # nio's device trust (verified / blacklisted / ignored), asked for every decrypted event
        # and every device a room key goes to: kept in memory, forgotten on any change to trust or
        # to device keys (a key query).
        self._trust: dict[tuple[str, str, str, str, str], bool] = {}
        self._blobs = BundleBlobs(lambda: self.conn, store_subkey(self.pickle_key, BUNDLE_BLOB_PURPOSE),
                                  self.open_exported)
        self._outbound_key = store_subkey(self.pickle_key, OUTBOUND_PURPOSE)
        migrate(self.database.connection(), ctx=Context(self.pickle_key))

    def _create_database(self) -> SqliteDatabase:
        # WAL + synchronous=NORMAL: durable across crashes of the process, and a save is a
        # few microseconds instead of an fsync each.
        return SqliteDatabase(
            self.database_path,
            pragmas={
                "foreign_keys": 1,
                "secure_delete": 1,
                "journal_mode": "wal",
                "synchronous": 1,
                "cache_size": -16000,  # KiB: bulk imports of key bundles stay in memory
            },
        )

    # -- plumbing -------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        """The sqlite3 connection of this thread."""
        return self.database.connection()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.database.atomic():
            yield

    @contextmanager
    def deferred_checkpoint(self) -> Iterator[None]:
        """Around one large transaction (a key bundle's 5 MB): its commit does not also copy
        the write-ahead log back into the database file, as SQLite does after any commit that
        leaves the log over 1,000 pages (tens of ms here); the next commit does it instead, off
        the path of the import the user waits for."""
        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")

    def account_id(self) -> int | None:
        if self._account_id is None:
            row = self.conn.execute(
                "SELECT id FROM accounts WHERE user_id=? AND device_id=?",
                (self.user_id, self.device_id),
            ).fetchone()
            self._account_id = row[0] if row else None
        return self._account_id

    # -- device trust, cached ------------------------------------------------------------------

    def _cached_trust(self, kind: str, device: Any, ask: Callable[[Any], bool]) -> bool:
        key = (kind, device.user_id, device.id, device.ed25519, device.curve25519)
        found = self._trust.get(key)
        if found is None:
            found = self._trust[key] = bool(ask(device))
        return found

    def is_device_verified(self, device: Any) -> bool:
        return self._cached_trust("verified", device, super().is_device_verified)

    def is_device_blacklisted(self, device: Any) -> bool:
        return self._cached_trust("blacklisted", device, super().is_device_blacklisted)

    def is_device_ignored(self, device: Any) -> bool:
        return self._cached_trust("ignored", device, super().is_device_ignored)

    def _changing_trust(self, change: Callable[[Any], Any], arg: Any) -> Any:
        try:
            return change(arg)
        finally:
            self._trust.clear()

    def verify_device(self, device: Any) -> bool:
        return bool(self._changing_trust(super().verify_device, device))

    def unverify_device(self, device: Any) -> bool:
        return bool(self._changing_trust(super().unverify_device, device))

    def blacklist_device(self, device: Any) -> bool:
        return bool(self._changing_trust(super().blacklist_device, device))

    def unblacklist_device(self, device: Any) -> bool:
        return bool(self._changing_trust(super().unblacklist_device, device))

    def ignore_device(self, device: Any) -> bool:
        return bool(self._changing_trust(super().ignore_device, device))

    def unignore_device(self, device: Any) -> bool:
        return bool(self._changing_trust(super().unignore_device, device))

    def ignore_devices(self, devices: Any) -> None:
        self._changing_trust(super().ignore_devices, devices)

    def save_device_keys(self, device_keys: Any) -> None:
        """What a key query stores: every cached trust answer is asked again afterwards."""
        self._changing_trust(super().save_device_keys, device_keys)

    # -- Megolm inbound sessions (replacing nio's slow, session-id-keyed versions) ---------

    def load_inbound_group_sessions(self) -> GroupSessionStore:
        """Every stored session, each room read when first used (see `lazy_sessions`)."""
        return LazyGroupSessionStore(self)

    def room_sessions(self, room_id: str) -> list[Pending]:
        """A room's stored sessions, not unpickled yet: rows of the sessions table, then those
        only in key bundle blobs (a row holds a newer copy; of two blobs, the first wins)."""
        found: dict[str, Pending] = {}
        for session_id, sender_key, fp_key, pickle, chain in self.conn.execute(
            "SELECT session_id, sender_key, fp_key, pickle, forwarding_chain FROM tc_inbound_session "
            "WHERE room_id=?",
            (room_id,),
        ):
            found[session_id] = Pending(
                self._open_pickled, room_id, session_id, sender_key, fp_key, bytes(pickle),
                tuple(chain.split()) if chain else (),
            )
        for session_id, pending in self._blobs.sessions(room_id).items():
            found.setdefault(session_id, pending)
        self._blobs.forget_sessions(room_id)  # the room's sessions are held from now on
        return list(found.values())

    def one_session(self, room_id: str, session_id: str) -> Pending | None:
        """One stored session, not unpickled yet (from the sessions table, or a key bundle's
        blob: the room's blobs are read once and indexed)."""
        row = self.conn.execute(
            "SELECT sender_key, fp_key, pickle, forwarding_chain FROM tc_inbound_session "
            "WHERE room_id=? AND session_id=?",
            (room_id, session_id),
        ).fetchone()
        if row is not None:
            sender_key, fp_key, pickle, chain = row
            return Pending(self._open_pickled, room_id, session_id, sender_key, fp_key, bytes(pickle),
                           tuple(chain.split()) if chain else ())
        return self._blobs.sessions(room_id).get(session_id)

    def rooms_with_sessions(self) -> set[str]:
        return {row[0] for row in self.conn.execute(
            "SELECT DISTINCT room_id FROM tc_inbound_session UNION SELECT DISTINCT room_id FROM tc_bundle_sessions"
        )}

    def _open_pickled(self, p: Pending) -> InboundGroupSession:
        try:
            data = p.data if isinstance(p.data, bytes) else p.data.encode()
            inner = vodozemac.InboundGroupSession.from_pickle(data.decode(), self._megolm_key)
        except vodozemac.PickleException:  # a libolm pickle (nio's fallback, with its key)
            return InboundGroupSession.from_pickle(
                data, p.ed25519, p.sender_key, p.room_id, self.pickle_key, list(p.chain)
            )
        return InboundGroupSession("", p.ed25519, p.sender_key, p.room_id, list(p.chain), session=inner)

    @staticmethod
    def open_exported(p: Pending) -> InboundGroupSession:
        """The session of a Megolm export kept in a key bundle's blob (or just imported)."""
        inner = import_exported(str(p.data), p.session_id)
        return InboundGroupSession("", p.ed25519, p.sender_key, p.room_id, list(p.chain), session=inner)

    def save_bundle_sessions(
        self, room_id: str, forwarder_key: str, entries: list[Entry], created_at: float,
        forwarder: Forwarder | None = None,
    ) -> None:
        """Store (session_id, sender_key, ed25519, exported_key) entries as one encrypted row.
        With `forwarder`, the entries' metadata is the blob's (shared history, from a bundle of
        `forwarder`, received at `created_at`), unless ``tc_session_meta`` holds a row for the
        session: an entry that has one already (or is in an earlier blob) gets its row rewritten
        here, so that what is read back is what was imported. Call inside the import's
        transaction."""
        if forwarder is not None:
            held = {sid for (sid,) in self.conn.execute(
                "SELECT session_id FROM tc_session_meta WHERE room_id=?", (room_id,)
            )}
            held.update(self._blobs.metas(room_id))
            if held:
                self.save_session_meta(
                    SessionMeta(room_id, sid, sender_key, True, Origin.BUNDLE, *forwarder, created_at)
                    for sid, sender_key, _, _ in entries if sid in held
                )
        self._blobs.add(room_id, forwarder_key, entries, created_at, forwarder)

    def save_inbound_group_session(self, session: InboundGroupSession) -> None:
        self.save_inbound_group_sessions([session])

    def save_inbound_group_sessions(self, sessions: Iterable[InboundGroupSession]) -> int:
        """Upsert sessions in bulk, keyed by (room, session id). Returns the count."""
        key = self._megolm_key
        rows = []
        indexes = []
        for s in sessions:
            sid = s.id  # computed by vodozemac on every access: read it once
            rows.append((s.room_id, sid, s.sender_key, s.ed25519, s._session.pickle(key).encode(),
                         " ".join(s.forwarding_chain)))
            indexes.append((s.room_id, sid, s.first_known_index))
        rows.sort()  # in key order, B-tree inserts stay sequential (about 2x faster in bulk)
        with self.database.atomic():
            self.conn.executemany(
                "INSERT OR REPLACE INTO tc_inbound_session(room_id, session_id, sender_key, fp_key, pickle, "
                "forwarding_chain) VALUES (?,?,?,?,?,?)",
                rows,
            )
            # The key backup now holds a worse copy than this one: it must be sent again.
            self.conn.executemany(
                "DELETE FROM tc_backed_up WHERE room_id=? AND session_id=? AND first_index>?", sorted(indexes)
            )
        return len(rows)

    def count_inbound_sessions_by_room(self) -> dict[str, int]:
        """Stored sessions per room (a bundle copy superseded in the table counts once)."""
        counts: dict[str, int] = dict(
            self.conn.execute("SELECT room_id, COUNT(*) FROM tc_inbound_session GROUP BY room_id").fetchall()
        )
        known = set(self.conn.execute("SELECT room_id, session_id FROM tc_inbound_session").fetchall())
        for blob in self._blobs.read():
            extra = sum(1 for e in blob.entries if (blob.room_id, e[0]) not in known)
            counts[blob.room_id] = counts.get(blob.room_id, 0) + extra
        return counts

    # -- our outbound Megolm sessions ------------------------------------------------------------

    def save_outbound_session(self, room_id: str, session_id: str, created_at: float, state: dict[str, Any]) -> None:
        """`state`: the session's pickle and everything nio keeps beside it (sealed whole)."""
        blob = seal(self._outbound_key, json.dumps(state).encode(), room_id.encode())
        with self.database.atomic():
            self.conn.execute(
                "INSERT OR REPLACE INTO tc_outbound_session(room_id, session_id, created_at, blob) VALUES (?,?,?,?)",
                (room_id, session_id, created_at, blob),
            )

    def delete_outbound_session(self, room_id: str) -> None:
        with self.database.atomic():
            self.conn.execute("DELETE FROM tc_outbound_session WHERE room_id=?", (room_id,))

    def load_outbound_sessions(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for room_id, blob in self.conn.execute("SELECT room_id, blob FROM tc_outbound_session").fetchall():
            try:
                state = json.loads(unseal(self._outbound_key, bytes(blob), room_id.encode()))
            except Exception as exc:  # another key, or damage: a new session will do
                logger.warning("dropped the stored outbound Megolm session of %s: %s", room_id, type(exc).__name__)
                continue
            if isinstance(state, dict):
                out[room_id] = state
        return out

    # -- session metadata ------------------------------------------------------------------

    def load_session_meta(self) -> dict[tuple[str, str], SessionMeta]:
        """Every session's metadata, each room read when first used (see `lazy_sessions`)."""
        return MetaMap(self)

    def room_session_meta(self, room_id: str) -> list[SessionMeta]:
        """The room's session metadata: rows of ``tc_session_meta``, then that of key bundle
        blobs for the sessions without a row."""
        found = {meta.session_id: meta for meta in map(_meta_from_row, self.conn.execute(
            "SELECT room_id, session_id, sender_key, shared_history, origin, forwarder_user, "
            "forwarder_device, forwarder_master_key, received_at FROM tc_session_meta WHERE room_id=?",
            (room_id,),
        ))}
        for session_id, meta in self._blobs.metas(room_id).items():
            found.setdefault(session_id, meta)
        return list(found.values())

    def one_session_meta(self, room_id: str, session_id: str) -> SessionMeta | None:
        row = self.conn.execute(
            "SELECT room_id, session_id, sender_key, shared_history, origin, forwarder_user, "
            "forwarder_device, forwarder_master_key, received_at FROM tc_session_meta "
            "WHERE room_id=? AND session_id=?",
            (room_id, session_id),
        ).fetchone()
        if row is not None:
            return _meta_from_row(row)
        return self._blobs.metas(room_id).get(session_id)

    def rooms_with_meta(self) -> set[str]:
        return {row[0] for row in self.conn.execute(
            "SELECT DISTINCT room_id FROM tc_session_meta "
            "UNION SELECT DISTINCT room_id FROM tc_bundle_sessions WHERE forwarder_user IS NOT NULL"
        )}

    def save_session_meta(self, metas: Iterable[SessionMeta]) -> None:
        rows = sorted(
            (m.room_id, m.session_id, m.sender_key, int(m.shared_history), m.origin.value,
             m.forwarder_user, m.forwarder_device, m.forwarder_master_key, m.received_at)
            for m in metas
        )
        with self.database.atomic():
            self.conn.executemany(
                "INSERT OR REPLACE INTO tc_session_meta(room_id, session_id, sender_key, shared_history, "
                "origin, forwarder_user, forwarder_device, forwarder_master_key, received_at) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )

    # -- what the server-side key backup holds -------------------------------------------------

    def load_backed_up(self) -> dict[tuple[str, str], tuple[str, int]]:
        """(room, session) -> (backup version, first index of the copy it holds)."""
        return {
            (room_id, session_id): (version, first_index)
            for room_id, session_id, version, first_index in self.conn.execute(
                "SELECT room_id, session_id, version, first_index FROM tc_backed_up"
            )
        }

    def mark_backed_up(self, rows: Iterable[tuple[str, str, str, int]]) -> None:
        """Record (room, session, version, first index) rows; call inside a transaction or alone.
        Record only copies at least as good as the one we hold (see `sessions_to_back_up`)."""
        with self.database.atomic():
            self.conn.executemany(
                "INSERT OR REPLACE INTO tc_backed_up(room_id, session_id, version, first_index) VALUES (?,?,?,?)",
                sorted(rows),
            )

    def sessions_to_back_up(self, version: str) -> list[tuple[str, str]]:
        """(room, session) of every stored session that backup `version` lacks, without reading
        (unpickling) a single session: a row of ``tc_backed_up`` means the backup holds a copy at
        least as good as ours, since storing a better copy deletes the row (and only such copies
        are marked)."""
        backed_up = set(self.conn.execute(
            "SELECT room_id, session_id FROM tc_backed_up WHERE version=?", (version,)
        ).fetchall())
        missing = dict.fromkeys(
            key for key in self.conn.execute("SELECT room_id, session_id FROM tc_inbound_session").fetchall()
            if key not in backed_up
        )
        for blob in self._blobs.read():
            for entry in blob.entries:
                if len(entry) == 4 and (blob.room_id, entry[0]) not in backed_up:
                    missing[(blob.room_id, entry[0])] = None
        return list(missing)

    def count_sessions_by_origin(self, origin: Origin) -> int:
        if origin is Origin.BUNDLE:  # (with those whose metadata is their blob's)
            return sum(meta.origin is origin for room in self.rooms_with_meta() for meta in self.room_session_meta(room))
        (count,) = self.conn.execute("SELECT COUNT(*) FROM tc_session_meta WHERE origin=?", (origin.value,)).fetchone()
        return int(count)

    # -- identities ------------------------------------------------------------------------

    def get_identity(self, user_id: str) -> StoredIdentity | None:
        row = self.conn.execute(
            "SELECT user_id, keys_json, master_key, pinned_master_key, previous_master_key, changed_at, "
            "verified, first_seen, updated_at FROM tc_identity WHERE user_id=?",
            (user_id,),
        ).fetchone()
        if not row:
            return None
        return StoredIdentity(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8])

    def put_identity(self, ident: StoredIdentity) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO tc_identity(user_id, keys_json, master_key, pinned_master_key, "
            "previous_master_key, changed_at, verified, first_seen, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                ident.user_id, json.dumps(ident.keys), ident.master_key, ident.pinned_master_key,
                ident.previous_master_key, ident.changed_at, int(ident.verified), ident.first_seen,
                ident.updated_at,
            ),
        )

    def list_identities(self) -> list[StoredIdentity]:
        return [
            i for uid, in self.conn.execute("SELECT user_id FROM tc_identity")
            if (i := self.get_identity(uid)) is not None
        ]

    def put_device_json(self, user_id: str, device_id: str, obj: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO tc_device_json(user_id, device_id, json) VALUES (?,?,?)",
            (user_id, device_id, json.dumps(obj)),
        )

    def get_device_json(self, user_id: str, device_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT json FROM tc_device_json WHERE user_id=? AND device_id=?", (user_id, device_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def list_device_json(self, user_id: str) -> dict[str, dict[str, Any]]:
        return {
            d: json.loads(j)
            for d, j in self.conn.execute(
                "SELECT device_id, json FROM tc_device_json WHERE user_id=?", (user_id,)
            )
        }

    def delete_device_json_except(self, user_id: str, keep: Iterable[str]) -> None:
        keep = set(keep)
        for (device_id,) in self.conn.execute(
            "SELECT device_id FROM tc_device_json WHERE user_id=?", (user_id,)
        ).fetchall():
            if device_id not in keep:
                self.conn.execute(
                    "DELETE FROM tc_device_json WHERE user_id=? AND device_id=?", (user_id, device_id)
                )

    # -- secrets and small values ------------------------------------------------------------

    def put_secret(self, name: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO tc_secret(name, value) VALUES (?,?)", (name, value))

    def get_secret(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM tc_secret WHERE name=?", (name,)).fetchone()
        return row[0] if row else None

    def put_kv(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO tc_kv(key, value) VALUES (?,?)", (key, json.dumps(value))
        )

    def get_kv(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM tc_kv WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default


def _meta_from_row(row: tuple[Any, ...]) -> SessionMeta:
    try:
        origin = Origin(row[4])
    except ValueError:
        origin = Origin.IMPORT  # unknown: treat as the least trusted
    return SessionMeta(row[0], row[1], row[2], bool(row[3]), origin, *row[5:])
