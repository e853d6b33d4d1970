"""Numbered migrations of our tables in the profile's SQLite file, on ``PRAGMA user_version``.

Each migration runs once, in order, inside one transaction with the version bump, so a crash
half-way leaves the store at the previous version. A store written by a newer build (a higher
version) is refused rather than guessed at.

1. The first layout (``tc_*`` tables beside nio's). Stores from before numbered migrations
   (marked by a ``tc_schema`` table) are brought to it by adding the columns they lack.
2. Everything is keyed by room *and* session (matrix-rust-sdk does the same): Megolm sessions
   leave nio's table (keyed by session id alone) for ``tc_inbound_session``; session metadata and
   withheld records are re-keyed and lose the raw JSON they kept; "I accepted an invite" records
   get their own typed table (``tc_accepted_invite``); received bundles gain download progress.
3. Bundle blobs are sealed with the one key derivation every secret at rest uses
   (`crypto.symmetric.store_subkey`), instead of a SHA-256 of their own: re-sealed in place.
4. Received bundles keep the inviter's prediction of what we would read (a hint the inspector
   compares with what we did read).
5. ``tc_backed_up``: which Megolm sessions are in the server-side key backup, in which backup
   version and from which first index (a better copy, or a new backup version, goes up again).
6. What a start needs before the server answers, and what a send needs to continue a Megolm
   session: each joined room's summary and recent timeline (``tc_room_cache``), and our
   outbound Megolm session per room (``tc_outbound_session``); both sealed with store subkeys.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Callable

from cryptography.exceptions import InvalidTag

from ...records import record
from ..crypto.symmetric import seal, store_subkey, unseal
from ..errors import StoreError

logger = logging.getLogger(__name__)


class StoreVersionError(StoreError):
    """The store was written by a newer tui_client."""


_V1 = """
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


@record
class Context:
    """What a migration may need besides the connection."""

    store_key: str | None = None  # the profile's store key, for data sealed with it


BUNDLE_BLOB_PURPOSE = "bundle sessions"


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Run `;`-separated statements one by one (executescript would commit the transaction)."""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v1(conn: sqlite3.Connection, ctx: Context) -> None:
    _script(conn, _V1)
    # Stores from early builds lack columns added since; add them (as NULL).
    for table, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \(([^;]*?)\)\s*(?:WITHOUT ROWID)?;", _V1):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for line in body.splitlines():
            parts = line.strip().rstrip(",").split()
            if len(parts) >= 2 and parts[0] not in have and parts[0].upper() not in ("PRIMARY", "UNIQUE"):
                if "NOT NULL" in line.upper() and "DEFAULT" not in line.upper():
                    continue
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {parts[0]} {parts[1]}")
                logger.info("store: added column %s.%s", table, parts[0])


def _v2(conn: sqlite3.Connection, ctx: Context) -> None:
    _script(
        conn,
        """
        CREATE TABLE tc_inbound_session (
            room_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            sender_key TEXT NOT NULL,
            fp_key TEXT NOT NULL,
            pickle BLOB NOT NULL,
            forwarding_chain TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (room_id, session_id)
        ) WITHOUT ROWID;

        CREATE TABLE tc_session_meta_v2 (
            room_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            sender_key TEXT NOT NULL,
            shared_history INTEGER NOT NULL DEFAULT 0,
            origin TEXT NOT NULL,
            forwarder_user TEXT,
            forwarder_device TEXT,
            forwarder_master_key TEXT,
            received_at REAL NOT NULL,
            PRIMARY KEY (room_id, session_id)
        ) WITHOUT ROWID;
        INSERT INTO tc_session_meta_v2 SELECT room_id, session_id, sender_key, shared_history, origin,
            forwarder_user, forwarder_device, forwarder_master_key, received_at FROM tc_session_meta;
        DROP TABLE tc_session_meta;
        ALTER TABLE tc_session_meta_v2 RENAME TO tc_session_meta;

        CREATE TABLE tc_withheld_v2 (
            room_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            sender_key TEXT,
            code TEXT NOT NULL,
            reason TEXT,
            from_user TEXT,
            from_device TEXT,
            via TEXT NOT NULL,
            received_at REAL NOT NULL,
            PRIMARY KEY (room_id, session_id)
        ) WITHOUT ROWID;
        INSERT INTO tc_withheld_v2 SELECT room_id, session_id, sender_key, code, substr(reason, 1, 300),
            from_user, from_device, via, received_at FROM tc_withheld;
        DROP TABLE tc_withheld;
        ALTER TABLE tc_withheld_v2 RENAME TO tc_withheld;

        CREATE TABLE tc_accepted_invite (
            room_id TEXT PRIMARY KEY,
            inviter TEXT NOT NULL,
            accepted_at REAL NOT NULL,
            state TEXT NOT NULL,
            joined_at REAL
        );
        INSERT INTO tc_accepted_invite SELECT room_id, inviter, accepted_at, 'joined', accepted_at
            FROM tc_pending_bundle;
        DROP TABLE tc_pending_bundle;

        ALTER TABLE tc_received_bundle ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE tc_received_bundle ADD COLUMN next_attempt_at REAL;
        ALTER TABLE tc_received_bundle ADD COLUMN bytes_done INTEGER;
        ALTER TABLE tc_received_bundle ADD COLUMN bytes_total INTEGER;
        DROP TABLE IF EXISTS tc_schema;
        """
    )
    # Megolm sessions with their forwarding chains, keyed by room as well.
    chains: dict[str, list[str]] = {}
    for session_id, sender_key in conn.execute("SELECT session_id, sender_key FROM forwardedchains ORDER BY id"):
        chains.setdefault(session_id, []).append(sender_key)
    rows = [
        (room_id, session_id, sender_key, fp_key, pickle, " ".join(chains.get(session_id, [])))
        for room_id, session_id, sender_key, fp_key, pickle in conn.execute(
            "SELECT room_id, session_id, sender_key, fp_key, session FROM megolminboundsessions"
        )
    ]
    conn.executemany(
        "INSERT OR REPLACE INTO tc_inbound_session(room_id, session_id, sender_key, fp_key, pickle, "
        "forwarding_chain) VALUES (?,?,?,?,?,?)",
        rows,
    )
    conn.execute("DELETE FROM forwardedchains")
    conn.execute("DELETE FROM megolminboundsessions")
    # "joined:<room>" notes become finished acceptance records.
    for key, value in conn.execute("SELECT key, value FROM tc_kv WHERE key LIKE 'joined:%'").fetchall():
        try:
            note = json.loads(value)
            at, inviter = float(note["at"]), str(note["inviter"])
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            continue  # a note we cannot read accepted nothing we could import now
        conn.execute(
            "INSERT OR IGNORE INTO tc_accepted_invite(room_id, inviter, accepted_at, state, joined_at) "
            "VALUES (?,?,?,?,?)",
            (key[len("joined:"):], inviter, at, "done", at),
        )
    conn.execute("DELETE FROM tc_kv WHERE key LIKE 'joined:%'")
    if rows:
        logger.info("store: moved %d Megolm sessions to the room-keyed table", len(rows))


def _v3(conn: sqlite3.Connection, ctx: Context) -> None:
    rows = conn.execute("SELECT id, room_id, blob FROM tc_bundle_sessions").fetchall()
    if not rows:
        return
    if ctx.store_key is None:
        raise StoreError("the store holds sealed data and cannot be migrated without its key")
    old_key = hashlib.sha256(b"tui-client bundle sessions\0" + ctx.store_key.encode()).digest()
    new_key = store_subkey(ctx.store_key, BUNDLE_BLOB_PURPOSE)
    for row_id, room_id, blob in rows:
        try:
            plain = unseal(old_key, bytes(blob), room_id.encode())
        except InvalidTag:
            logger.error("a stored key bundle of %s cannot be read with this store's key; left as it is", room_id)
            continue
        conn.execute("UPDATE tc_bundle_sessions SET blob=? WHERE id=?", (seal(new_key, plain, room_id.encode()), row_id))


def _v4(conn: sqlite3.Connection, ctx: Context) -> None:
    conn.execute("ALTER TABLE tc_received_bundle ADD COLUMN predicted TEXT")
    conn.execute("ALTER TABLE tc_received_bundle ADD COLUMN predicted_total INTEGER")


def _v5_key_backup(conn: sqlite3.Connection, ctx: Context) -> None:
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS tc_backed_up (
            room_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            version TEXT NOT NULL,
            first_index INTEGER NOT NULL,
            PRIMARY KEY (room_id, session_id)
        ) WITHOUT ROWID
        """
    )


def _v6_room_cache(conn: sqlite3.Connection, ctx: Context) -> None:
    _script(
        conn,
        """
        CREATE TABLE IF NOT EXISTS tc_room_cache (
            room_id TEXT PRIMARY KEY,
            updated_at REAL NOT NULL,
            summary BLOB,
            timeline BLOB
        );
        CREATE TABLE IF NOT EXISTS tc_outbound_session (
            room_id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            blob BLOB NOT NULL
        )
        """,
    )


def _v7_bundle_provenance(conn: sqlite3.Connection, ctx: Context) -> None:
    """A key bundle's blob names who shared it, so that its sessions' metadata (all the same
    but for the session) is read from the blob instead of 10,000 rows of ``tc_session_meta``.
    Blobs written before have NULL here, and their sessions' rows in ``tc_session_meta``."""
    for column in ("forwarder_user", "forwarder_device", "forwarder_master_key"):
        conn.execute(f"ALTER TABLE tc_bundle_sessions ADD COLUMN {column} TEXT")


MIGRATIONS: list[Callable[[sqlite3.Connection, Context], None]] = [
    _v1, _v2, _v3, _v4, _v5_key_backup, _v6_room_cache, _v7_bundle_provenance,
]
LATEST = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, upto: int = LATEST, ctx: Context | None = None) -> int:
    """Bring the store to version `upto`; returns the version it was at."""
    ctx = ctx or Context()
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > LATEST:
        raise StoreVersionError(
            f"this store was written by a newer tui_client (store version {version}, this build knows {LATEST})"
        )
    start = version
    while version < upto:
        step = MIGRATIONS[version]
        conn.execute("BEGIN IMMEDIATE")
        try:
            step(conn, ctx)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version += 1
        logger.info("store: migrated to version %d", version)
    return start
