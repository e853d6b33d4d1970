"""The offline cache: each joined room's summary and its recent timeline, kept in the profile's
store so a start shows rooms and messages before the server answers, or when it cannot.

Each row is sealed (AES-GCM with a store subkey, the room id as associated data), like every
other secret at rest. What is cached is the aggregation's input (`EventFacts`, the window of the
newest `WINDOW` timeline events), so relations arriving later still find their targets. A
redacted event is cached without its content (the aggregation drops it), and a row is rewritten
as soon as a redaction changes it. A row that cannot be read (another key, a damaged file, a
format from a newer build) is dropped with a line in the log, never trusted.

`sync_token` is the token of the sync after which the cache was last written, whole: if nio's
saved token is newer on the next start (a crash in between), the timelines are known to have a
gap and are replaced by the next sync's.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Protocol

from ...records import record
from ..crypto.symmetric import seal, store_subkey, unseal
from ..models import RoomSummary, listing_order
from .codec import CodecError, decode, encode
from .relations import EventFacts

logger = logging.getLogger(__name__)

PURPOSE = "timeline cache"
WINDOW = 150  # timeline events kept per room (shown or folded into one)
FORMAT = 1


class Database(Protocol):
    @property
    def conn(self) -> sqlite3.Connection: ...

    def transaction(self) -> AbstractContextManager[None]: ...


@record
class CacheRow:
    """What to write for one room: its summary, its timeline's events (None: keep the cached
    ones), whether they reach the room's start, and when its newest event was sent."""

    summary: RoomSummary | None
    events: list[EventFacts] | None
    at_start: bool
    last_ts: int = 0


@record
class CachedRoom:
    """A room as the cache has it; its timeline stays sealed until `TimelineCache.timeline`."""

    room_id: str
    summary: RoomSummary | None
    last_ts: int
    updated_at: float
    sealed_timeline: bytes | None


class TimelineCache:
    def __init__(self, db: Database, store_key: str) -> None:
        self._db = db
        self._key = store_subkey(store_key, PURPOSE)

    def _seal(self, room_id: str, what: str, data: Any) -> bytes:
        return seal(self._key, json.dumps(data, separators=(",", ":")).encode(), f"{what}\0{room_id}".encode())

    def _unseal(self, room_id: str, what: str, blob: bytes) -> Any:
        return json.loads(unseal(self._key, bytes(blob), f"{what}\0{room_id}".encode()))

    # -- writing ----------------------------------------------------------------------------------

    def save(self, rooms: dict[str, CacheRow], sync_token: str | None, now: float) -> None:
        """Write the rows of `rooms` and the sync token, in one transaction."""
        conn = self._db.conn
        with self._db.transaction():
            for room_id, row in rooms.items():
                summary_blob = None
                if row.summary is not None:
                    summary_blob = self._seal(room_id, "summary", {
                        "format": FORMAT, "summary": encode(row.summary), "last_ts": row.last_ts,
                    })
                if row.events is None:
                    conn.execute(
                        "INSERT INTO tc_room_cache(room_id, updated_at, summary) VALUES (?,?,?) "
                        "ON CONFLICT(room_id) DO UPDATE SET updated_at=excluded.updated_at, "
                        "summary=COALESCE(excluded.summary, summary)",
                        (room_id, now, summary_blob),
                    )
                    continue
                window = row.events[-WINDOW:]
                timeline = {
                    "format": FORMAT,
                    "at_start": row.at_start and len(window) == len(row.events),
                    "events": [encode(f) for f in window],
                }
                conn.execute(
                    "INSERT INTO tc_room_cache(room_id, updated_at, summary, timeline) VALUES (?,?,?,?) "
                    "ON CONFLICT(room_id) DO UPDATE SET updated_at=excluded.updated_at, "
                    "summary=COALESCE(excluded.summary, summary), timeline=excluded.timeline",
                    (room_id, now, summary_blob, self._seal(room_id, "timeline", timeline)),
                )
            if sync_token is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO tc_kv(key, value) VALUES ('cache_sync_token', ?)",
                    (json.dumps(sync_token),),
                )

    def forget(self, room_id: str) -> None:
        with self._db.transaction():
            self._db.conn.execute("DELETE FROM tc_room_cache WHERE room_id=?", (room_id,))

    # -- reading ----------------------------------------------------------------------------------

    def sync_token(self) -> str | None:
        row = self._db.conn.execute("SELECT value FROM tc_kv WHERE key='cache_sync_token'").fetchone()
        try:
            value = json.loads(row[0]) if row else None
        except ValueError:
            return None
        return value if isinstance(value, str) else None

    def load(self) -> list[CachedRoom]:
        """Every cached room with its summary; timelines are read by `timeline` when needed."""
        out = []
        rows = self._db.conn.execute(
            "SELECT room_id, updated_at, summary, timeline FROM tc_room_cache ORDER BY room_id"
        ).fetchall()
        for room_id, updated_at, summary_blob, timeline_blob in rows:
            try:
                summary, last_ts = self._open_summary(room_id, summary_blob)
            except Exception as exc:
                self._drop(room_id, exc)
                continue
            sealed = bytes(timeline_blob) if timeline_blob else None
            out.append(CachedRoom(room_id, summary, last_ts, float(updated_at), sealed))
        return out

    def room_list(self) -> list[RoomSummary]:
        """The cached rooms' summaries in the room list's order, read without writing anything:
        what the TUI draws before the engine opens. A row that cannot be read is skipped with a
        line in the log (the engine drops it when it opens)."""
        listed = []
        for room_id, blob in self._db.conn.execute(
            "SELECT room_id, summary FROM tc_room_cache WHERE summary IS NOT NULL"
        ).fetchall():
            try:
                summary, last_ts = self._open_summary(room_id, blob)
            except Exception as exc:
                logger.warning("skipped the cached room %s: %s: %s", room_id, type(exc).__name__, exc)
                continue
            if summary is not None:
                listed.append((listing_order(summary, last_ts), summary))
        return [summary for _, summary in sorted(listed, key=lambda pair: pair[0])]

    def _open_summary(self, room_id: str, blob: bytes | None) -> tuple[RoomSummary | None, int]:
        """A row's summary and its newest event's time; raises if the row cannot be read."""
        if not blob:
            return None, 0
        data = self._unseal(room_id, "summary", blob)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CodecError("unknown cache format")
        return decode(RoomSummary, data["summary"]), int(data.get("last_ts") or 0)

    def timeline(self, room: CachedRoom) -> tuple[list[EventFacts], bool] | None:
        """A cached room's events and whether they reach its start; None if there are none or
        they cannot be read (then the row is dropped)."""
        if room.sealed_timeline is None:
            return None
        try:
            timeline = self._unseal(room.room_id, "timeline", room.sealed_timeline)
            if not isinstance(timeline, dict) or timeline.get("format") != FORMAT:
                raise CodecError("unknown cache format")
            return [decode(EventFacts, e) for e in timeline.get("events", [])], bool(timeline.get("at_start"))
        except Exception as exc:
            self._drop(room.room_id, exc)
            return None

    def _drop(self, room_id: str, exc: Exception) -> None:
        logger.warning("dropped the cached timeline of %s: %s: %s", room_id, type(exc).__name__, exc)
        self.forget(room_id)


@record
class _Reader:
    """A read-only connection where a `Database` is expected (for `room_list`, which never writes)."""

    conn: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[None]:
        return nullcontext()


def read_room_list(store: Path, store_key: str) -> list[RoomSummary]:
    """The cached room list of the store at `store`, opened read-only, without nio or the engine
    (`TimelineCache.room_list`); [] when there is no cache yet or the store cannot be read (the
    engine reports a store that is unusable)."""
    try:
        conn = sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        logger.info("no cached room list: %s", exc)
        return []
    try:
        return TimelineCache(_Reader(conn), store_key).room_list()
    except sqlite3.Error as exc:  # e.g. a store from before the cache: no table yet
        logger.info("no cached room list: %s", exc)
        return []
    finally:
        conn.close()
