"""Our tables in nio's SQLite file, and fixes to how nio stores Megolm sessions.

Keeping our tables in the same file as nio's lets one transaction cover both: a key bundle
either lands whole (sessions + provenance + withheld records) or not at all.

Sessions first received in a key bundle are stored as one encrypted blob per bundle
(``tc_bundle_sessions``, in Megolm export format) rather than as one pickled row each: importing
10,000 keys is then one row instead of 10,000. A session that later changes (a better or more
trusted copy arrives) is written to nio's table, which always wins over a bundle blob on load.

What lives here (all prefixed ``tc_``):
- ``tc_session_meta``: per inbound Megolm session, whether it is shareable (MSC4268), where it
  came from (own / direct / bundle / file import) and, for bundles, who shared it and when;
- ``tc_withheld``: sessions we were told we will not get, with code and reason;
- ``tc_received_bundle``: the newest key bundle per (room, sender), waiting, imported or rejected;
- ``tc_pending_bundle``: "I accepted an invite from X at T" records (survive restarts);
- ``tc_identity`` / ``tc_device_json``: other users' cross-signing keys with pins, and the full
  signed device keys nio throws away;
- ``tc_secret``: our own private cross-signing keys, encrypted with the profile's store key.

nio's own ``save_inbound_group_session`` only rewrites the pickle of an existing row and never
removes forwarding-chain rows, and its loader issues one query per session; both are replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import vodozemac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nio.crypto import GroupSessionStore, InboundGroupSession
from nio.crypto.sessions import derive_pickle_key
from nio.store import SqliteStore
from peewee import SqliteDatabase

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tc_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tc_session_meta (
    session_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    shared_history INTEGER NOT NULL DEFAULT 0,
    origin TEXT NOT NULL,
    forwarder_user TEXT,
    forwarder_device TEXT,
    forwarder_master_key TEXT,
    received_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tc_withheld (
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    sender_key TEXT,
    code TEXT NOT NULL,
    reason TEXT,
    from_user TEXT,
    from_device TEXT,
    via TEXT NOT NULL,
    received_at REAL NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (room_id, session_id)
);
CREATE TABLE IF NOT EXISTS tc_received_bundle (
    room_id TEXT NOT NULL,
    sender_user TEXT NOT NULL,
    sender_device TEXT,
    sender_key TEXT NOT NULL,
    sender_device_keys TEXT,
    file TEXT NOT NULL,
    received_at REAL NOT NULL,
    state TEXT NOT NULL,
    detail TEXT,
    key_count INTEGER,
    withheld_count INTEGER,
    imported_count INTEGER,
    finished_at REAL,
    message_count INTEGER,
    PRIMARY KEY (room_id, sender_user)
);
CREATE TABLE IF NOT EXISTS tc_pending_bundle (
    room_id TEXT PRIMARY KEY,
    inviter TEXT NOT NULL,
    accepted_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tc_identity (
    user_id TEXT PRIMARY KEY,
    keys_json TEXT NOT NULL,
    master_key TEXT NOT NULL,
    pinned_master_key TEXT NOT NULL,
    previous_master_key TEXT,
    changed_at REAL,
    verified INTEGER NOT NULL DEFAULT 0,
    first_seen REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tc_device_json (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE IF NOT EXISTS tc_secret (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tc_forwardedchains_session ON forwardedchains(session_id);
CREATE TABLE IF NOT EXISTS tc_bundle_sessions (
    id INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    forwarder_key TEXT NOT NULL,
    session_count INTEGER NOT NULL,
    created_at REAL NOT NULL,
    blob BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tc_kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class SessionMeta:
    session_id: str
    room_id: str
    sender_key: str
    shared_history: bool
    origin: str  # "own" | "direct" | "bundle" | "import" | "forwarded"
    forwarder_user: str | None = None
    forwarder_device: str | None = None
    forwarder_master_key: str | None = None
    received_at: float = 0.0


@dataclass(frozen=True)
class WithheldRecord:
    room_id: str
    session_id: str
    sender_key: str | None
    code: str
    reason: str | None
    from_user: str | None
    from_device: str | None
    via: str  # "bundle" | "to_device"
    received_at: float
    content: dict[str, Any]


@dataclass(frozen=True)
class ReceivedBundle:
    room_id: str
    sender_user: str
    sender_device: str | None
    sender_key: str
    sender_device_keys: dict[str, Any] | None
    file: dict[str, Any]
    received_at: float
    state: str  # "waiting" | "importing" | "imported" | "rejected"
    detail: str | None = None
    key_count: int | None = None  # claimed by the sender until imported, then what the file held
    withheld_count: int | None = None
    imported_count: int | None = None
    finished_at: float | None = None
    message_count: int | None = None  # the sender's count of messages these keys open (a hint)


@dataclass(frozen=True)
class PendingBundle:
    room_id: str
    inviter: str
    accepted_at: float


@dataclass(frozen=True)
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
        self._withheld_cache: dict[str, dict[str, WithheldRecord]] = {}
        conn = self.database.connection()
        conn.executescript(_SCHEMA)
        self._add_missing_columns(conn)
        row = conn.execute("SELECT version FROM tc_schema").fetchone()
        if row is None:
            conn.execute("INSERT INTO tc_schema(version) VALUES (?)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise RuntimeError(
                f"this store was written by a newer tui_client (schema {row[0]} > {SCHEMA_VERSION})"
            )

    @staticmethod
    def _add_missing_columns(conn: Any) -> None:
        """Additive schema changes: a column our schema has but an older store lacks is added
        (as NULL), so stores written by earlier builds keep opening."""
        import re

        statements = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \(([^;]*?)\)\s*(?:WITHOUT ROWID)?;", _SCHEMA)
        for table, body in statements:
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            for line in body.splitlines():
                parts = line.strip().rstrip(",").split()
                if len(parts) >= 2 and parts[0] not in have and parts[0].upper() not in ("PRIMARY", "UNIQUE"):
                    if "NOT NULL" in line.upper() and "DEFAULT" not in line.upper():
                        continue  # cannot be added to existing rows; never done additively
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {parts[0]} {parts[1]}")
                    logger.info("store: added column %s.%s", table, parts[0])

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
    def conn(self):  # sqlite3.Connection of this thread
        return self.database.connection()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.database.atomic():
            yield

    def account_id(self) -> int | None:
        if self._account_id is None:
            row = self.conn.execute(
                "SELECT id FROM accounts WHERE user_id=? AND device_id=?",
                (self.user_id, self.device_id),
            ).fetchone()
            self._account_id = row[0] if row else None
        return self._account_id

    # -- Megolm inbound sessions (replacing nio's slow / lossy versions) ------------------

    def load_inbound_group_sessions(self) -> GroupSessionStore:
        store = GroupSessionStore()
        account_id = self.account_id()
        if account_id is None:
            return store
        chains: dict[str, list[str]] = {}
        for session_id, sender_key in self.conn.execute(
            "SELECT f.session_id, f.sender_key FROM forwardedchains f "
            "JOIN megolminboundsessions m ON m.session_id = f.session_id "
            "WHERE m.account_id = ? ORDER BY f.id",
            (account_id,),
        ):
            chains.setdefault(session_id, []).append(sender_key)
        rows = self.conn.execute(
            "SELECT session_id, sender_key, fp_key, room_id, session FROM megolminboundsessions "
            "WHERE account_id = ?",
            (account_id,),
        ).fetchall()
        bad = 0
        loaded: set[str] = set()
        for session_id, sender_key, fp_key, room_id, pickle in rows:
            try:
                session = InboundGroupSession.from_pickle(
                    bytes(pickle), fp_key, sender_key, room_id, self.pickle_key,
                    chains.get(session_id, []),
                )
            except Exception as exc:  # one damaged row must not lose the others
                bad += 1
                logger.error("cannot load Megolm session %s: %s", session_id, exc)
                continue
            store.add(session)
            loaded.add(session_id)
        for room_id, forwarder_key, entries in self._bundle_session_entries():
            for session_id, sender_key, ed25519, exported in entries:
                if session_id in loaded:
                    continue  # nio's table holds a newer copy
                try:
                    inner = vodozemac.InboundGroupSession.import_session(vodozemac.ExportedSessionKey(exported))
                except Exception as exc:
                    bad += 1
                    logger.error("cannot load shared Megolm session %s: %s", session_id, exc)
                    continue
                store.add(InboundGroupSession("", ed25519, sender_key, room_id, [forwarder_key], session=inner))
                loaded.add(session_id)
        if bad:
            logger.error("%d stored Megolm sessions could not be loaded", bad)
        return store

    # -- sessions imported from key bundles, one encrypted blob per bundle --------------------

    def _blob_key(self) -> bytes:
        return hashlib.sha256(b"tui-client bundle sessions\0" + self.pickle_key.encode()).digest()

    def save_bundle_sessions(
        self, room_id: str, forwarder_key: str, entries: list[tuple[str, str, str, str]]
    ) -> None:
        """Store (session_id, sender_key, ed25519, exported_key) entries as one encrypted row.
        Call inside the import's transaction."""
        lines = "\n".join(" ".join(e) for e in entries).encode()
        nonce = os.urandom(12)
        sealed = AESGCM(self._blob_key()).encrypt(nonce, lines, room_id.encode())
        self.conn.execute(
            "INSERT INTO tc_bundle_sessions(room_id, forwarder_key, session_count, created_at, blob) "
            "VALUES (?,?,?,?,?)",
            (room_id, forwarder_key, len(entries), time.time(), nonce + sealed),
        )

    def _bundle_session_entries(self) -> Iterator[tuple[str, str, list[list[str]]]]:
        for room_id, forwarder_key, blob in self.conn.execute(
            "SELECT room_id, forwarder_key, blob FROM tc_bundle_sessions ORDER BY id"
        ).fetchall():
            blob = bytes(blob)
            try:
                lines = AESGCM(self._blob_key()).decrypt(blob[:12], blob[12:], room_id.encode()).decode()
            except Exception as exc:
                logger.error("a stored key bundle of %s cannot be read: %s", room_id, exc)
                continue
            yield room_id, forwarder_key, [line.split(" ") for line in lines.split("\n") if line]

    def save_inbound_group_session(self, session: InboundGroupSession) -> None:
        self.save_inbound_group_sessions([session])

    def save_inbound_group_sessions(
        self, sessions: Iterable[InboundGroupSession], *, all_new: bool = False
    ) -> int:
        """Upsert sessions in bulk, including their forwarding chains. Returns the count.

        `all_new`: the caller knows none of them is stored yet (skips clearing old chains)."""
        account_id = self.account_id()
        if account_id is None:
            raise RuntimeError("no Olm account in the store")
        key = derive_pickle_key(self.pickle_key)
        rows = []
        chain_rows = []
        ids = []
        for s in sessions:
            sid = s.id  # computed by vodozemac on every access: read it once
            rows.append((sid, s.sender_key, account_id, s.ed25519, s.room_id, s._session.pickle(key).encode()))
            ids.append((sid,))
            for curve in s.forwarding_chain:
                chain_rows.append((curve, sid))
        rows.sort()  # in key order, B-tree inserts stay sequential (about 2x faster in bulk)
        conn = self.conn
        with self.database.atomic():
            conn.executemany(
                "INSERT INTO megolminboundsessions(session_id, sender_key, account_id, fp_key, room_id, session) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(session_id) DO UPDATE SET "
                "sender_key=excluded.sender_key, fp_key=excluded.fp_key, room_id=excluded.room_id, "
                "session=excluded.session",
                rows,
            )
            if not all_new:
                conn.executemany("DELETE FROM forwardedchains WHERE session_id=?", ids)
            if chain_rows:
                conn.executemany(
                    "INSERT OR IGNORE INTO forwardedchains(sender_key, session_id) VALUES (?,?)",
                    chain_rows,
                )
        return len(rows)

    def count_inbound_sessions_by_room(self) -> dict[str, int]:
        """Stored sessions per room (bundle copies superseded in nio's table count once there)."""
        counts = dict(
            self.conn.execute(
                "SELECT room_id, COUNT(*) FROM megolminboundsessions GROUP BY room_id"
            ).fetchall()
        )
        known = {sid for (sid,) in self.conn.execute("SELECT session_id FROM megolminboundsessions")}
        for room_id, _, entries in self._bundle_session_entries():
            extra = sum(1 for e in entries if e[0] not in known)
            counts[room_id] = counts.get(room_id, 0) + extra
        return counts

    # -- session metadata ------------------------------------------------------------------

    def load_session_meta(self) -> dict[str, SessionMeta]:
        return {
            row[0]: SessionMeta(row[0], row[1], row[2], bool(row[3]), *row[4:])
            for row in self.conn.execute(
                "SELECT session_id, room_id, sender_key, shared_history, origin, forwarder_user, "
                "forwarder_device, forwarder_master_key, received_at FROM tc_session_meta"
            )
        }

    def save_session_meta(self, metas: Iterable[SessionMeta]) -> None:
        rows = [
            (
                m.session_id, m.room_id, m.sender_key, int(m.shared_history), m.origin,
                m.forwarder_user, m.forwarder_device, m.forwarder_master_key, m.received_at,
            )
            for m in metas
        ]
        rows.sort()
        with self.database.atomic():
            self.conn.executemany(
                "INSERT OR REPLACE INTO tc_session_meta(session_id, room_id, sender_key, shared_history, "
                "origin, forwarder_user, forwarder_device, forwarder_master_key, received_at) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )

    # -- withheld --------------------------------------------------------------------------

    def get_withheld(self, room_id: str, session_id: str) -> WithheldRecord | None:
        """One room's withheld records are read once and kept (failure reasons ask per message)."""
        if room_id not in self._withheld_cache:
            self._withheld_cache[room_id] = {r.session_id: r for r in self.load_withheld(room_id)}
        return self._withheld_cache[room_id].get(session_id)

    def save_withheld(self, records: Iterable[WithheldRecord]) -> None:
        records = list(records)
        self._withheld_cache.clear()
        rows = [
            (
                r.room_id, r.session_id, r.sender_key, r.code, r.reason, r.from_user,
                r.from_device, r.via, r.received_at, json.dumps(r.content),
            )
            for r in records
        ]
        with self.database.atomic():
            self.conn.executemany(
                "INSERT OR REPLACE INTO tc_withheld(room_id, session_id, sender_key, code, reason, "
                "from_user, from_device, via, received_at, content) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )

    def load_withheld(self, room_id: str | None = None) -> list[WithheldRecord]:
        sql = (
            "SELECT room_id, session_id, sender_key, code, reason, from_user, from_device, via, "
            "received_at, content FROM tc_withheld"
        )
        args: tuple[Any, ...] = ()
        if room_id is not None:
            sql += " WHERE room_id=?"
            args = (room_id,)
        return [
            WithheldRecord(*row[:9], content=json.loads(row[9]))
            for row in self.conn.execute(sql, args)
        ]

    # -- received bundles ------------------------------------------------------------------

    def put_received_bundle(self, b: ReceivedBundle) -> None:
        """Newest per (room, sender) wins."""
        self.conn.execute(
            "INSERT OR REPLACE INTO tc_received_bundle(room_id, sender_user, sender_device, sender_key, "
            "sender_device_keys, file, received_at, state, detail, key_count, withheld_count, "
            "imported_count, finished_at, message_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                b.room_id, b.sender_user, b.sender_device, b.sender_key,
                json.dumps(b.sender_device_keys) if b.sender_device_keys is not None else None,
                json.dumps(b.file), b.received_at, b.state, b.detail, b.key_count, b.withheld_count,
                b.imported_count, b.finished_at, b.message_count,
            ),
        )

    def get_received_bundle(self, room_id: str, sender_user: str) -> ReceivedBundle | None:
        rows = self._bundles("WHERE room_id=? AND sender_user=?", (room_id, sender_user))
        return rows[0] if rows else None

    def list_received_bundles(self, room_id: str | None = None) -> list[ReceivedBundle]:
        if room_id is None:
            return self._bundles("", ())
        return self._bundles("WHERE room_id=?", (room_id,))

    def _bundles(self, where: str, args: tuple[Any, ...]) -> list[ReceivedBundle]:
        out = []
        for row in self.conn.execute(
            "SELECT room_id, sender_user, sender_device, sender_key, sender_device_keys, file, received_at, "
            "state, detail, key_count, withheld_count, imported_count, finished_at, message_count "
            "FROM tc_received_bundle "
            f"{where} ORDER BY received_at",
            args,
        ):
            sdk = json.loads(row[4]) if row[4] else None
            out.append(ReceivedBundle(*row[:4], sdk, json.loads(row[5]), *row[6:]))
        return out

    # -- pending bundle records ------------------------------------------------------------

    def put_pending_bundle(self, p: PendingBundle) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO tc_pending_bundle(room_id, inviter, accepted_at) VALUES (?,?,?)",
            (p.room_id, p.inviter, p.accepted_at),
        )

    def get_pending_bundle(self, room_id: str) -> PendingBundle | None:
        row = self.conn.execute(
            "SELECT room_id, inviter, accepted_at FROM tc_pending_bundle WHERE room_id=?", (room_id,)
        ).fetchone()
        return PendingBundle(*row) if row else None

    def list_pending_bundles(self) -> list[PendingBundle]:
        return [
            PendingBundle(*row)
            for row in self.conn.execute("SELECT room_id, inviter, accepted_at FROM tc_pending_bundle")
        ]

    def clear_pending_bundle(self, room_id: str) -> None:
        self.conn.execute("DELETE FROM tc_pending_bundle WHERE room_id=?", (room_id,))

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


def now() -> float:
    return time.time()
