"""Migration 6: the offline cache of rooms and timelines, and our outbound Megolm sessions,
kept sealed in the store across restarts (no server)."""

from __future__ import annotations

import json

import vodozemac
from nio.crypto import OlmAccount
from nio.store import SqliteStore

from tests.timeline_events import ALICE, BOB, Ctx, decrypted, plain, redaction, text
from tui_client.engine.models import Member, RoomSummary
from tui_client.engine.nio import migrations
from tui_client.engine.nio.migrations import migrate
from tui_client.engine.nio.olm import AppOlm, OlmHooks
from tui_client.engine.nio.store import AppStore
from tui_client.engine.timeline.cache import WINDOW, CacheRow, TimelineCache
from tui_client.engine.timeline.relations import Aggregator

ROOM = "!room:x"


def _store(tmp_path, key: str = "store-key") -> AppStore:
    store = AppStore("@me:x", "DEV", str(tmp_path), key, "crypto.db")
    if store.account_id() is None:
        store.save_account(OlmAccount())
        store._account_id = None
    return store


def test_migration_6_adds_the_cache_and_outbound_tables_to_the_store_before_it(tmp_path):
    nio_store = SqliteStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    conn = nio_store.database.connection()
    migrate(conn, upto=migrations.MIGRATIONS.index(migrations._v6_room_cache))  # the version before it
    assert conn.execute("SELECT name FROM sqlite_master WHERE name='tc_room_cache'").fetchone() is None
    nio_store.database.close()
    store = _store(tmp_path)
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tc_room_cache", "tc_outbound_session"} <= tables
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST


# -- the offline cache ---------------------------------------------------------------------------


def _summary() -> RoomSummary:
    return RoomSummary(ROOM, "Project X", "topic", True, "shared",
                       (Member(ALICE, "Alice", "join"), Member(BOB, "Bob", "join")), unread=2)


def test_cached_rooms_and_timelines_read_back_and_are_sealed(tmp_path):
    ctx = Ctx()
    events = Aggregator(BOB)
    events.add([decrypted(ctx, text(ALICE, "the launch code is 0000")), plain(ctx, text(BOB, "noted"))])
    store = _store(tmp_path)
    TimelineCache(store, "store-key").save({ROOM: CacheRow(_summary(), events.timeline_facts(), True, 77)}, "s42", 1.0)
    store.database.close()

    store = _store(tmp_path)
    cache = TimelineCache(store, "store-key")
    [room] = cache.load()
    assert room.summary == _summary() and room.last_ts == 77 and cache.sync_token() == "s42"
    kept, at_start = cache.timeline(room)
    assert at_start
    again = Aggregator(BOB)
    again.add(kept)
    assert again.items() == events.items()
    raw = b"".join(bytes(row[0] or b"") + bytes(row[1] or b"") for row in
                   store.conn.execute("SELECT summary, timeline FROM tc_room_cache"))
    assert b"launch code" not in raw and b"Project X" not in raw, "sealed at rest"


def test_only_the_newest_window_is_kept_and_at_start_only_if_all_of_it_fits(tmp_path):
    ctx = Ctx()
    events = Aggregator(BOB)
    events.add([plain(ctx, text(ALICE, f"m{n}")) for n in range(WINDOW + 10)])
    store = _store(tmp_path)
    cache = TimelineCache(store, "store-key")
    cache.save({ROOM: CacheRow(_summary(), events.timeline_facts(), True)}, None, 1.0)
    [room] = cache.load()
    kept, at_start = cache.timeline(room)
    assert len(kept) == WINDOW and kept[-1].content["body"] == f"m{WINDOW + 9}"
    assert not at_start


def test_a_cache_sealed_with_another_key_is_dropped_not_trusted(tmp_path, caplog):
    store = _store(tmp_path)
    TimelineCache(store, "other-key").save({ROOM: CacheRow(_summary(), [], False)}, None, 1.0)
    assert TimelineCache(store, "store-key").load() == []
    assert "dropped the cached timeline" in caplog.text
    assert store.conn.execute("SELECT COUNT(*) FROM tc_room_cache").fetchone()[0] == 0


def test_a_deleted_message_leaves_no_trace_in_the_cache(tmp_path):
    ctx = Ctx()
    events = Aggregator(BOB)
    secret = text(ALICE, "hunter2 is my password")
    events.add([decrypted(ctx, secret), plain(ctx, redaction(ALICE, secret["event_id"]))])
    store = _store(tmp_path)
    cache = TimelineCache(store, "store-key")
    cache.save({ROOM: CacheRow(None, events.timeline_facts(), False)}, None, 1.0)
    [room] = cache.load()
    kept, _ = cache.timeline(room)
    assert "hunter2" not in json.dumps([f.content for f in kept])
    assert all(f.item is None or f.item.body is None or "hunter2" not in f.item.body for f in kept)


# -- outbound Megolm sessions --------------------------------------------------------------------


def _olm(store: AppStore, visibility: str = "shared") -> AppOlm:
    return AppOlm("@me:x", "DEV", store, OlmHooks(history_visibility_of=lambda room: visibility))


def test_an_outbound_session_continues_after_a_restart(tmp_path):
    store = _store(tmp_path)
    olm = _olm(store)
    olm.create_outbound_group_session(ROOM)
    session = olm.outbound_group_sessions[ROOM]
    session.shared = True
    olm.outbound_shared(ROOM, ["@me:x", "@alice:x"])
    key = session.session_key
    first = olm.group_encrypt(ROOM, {"type": "m.room.message", "content": {"body": "one"}})
    store.database.close()

    store = _store(tmp_path)
    olm = _olm(store)
    restored = olm.outbound_group_sessions[ROOM]
    assert restored.id == first["session_id"] and restored.message_count == 1 and restored.shared
    second = olm.group_encrypt(ROOM, {"type": "m.room.message", "content": {"body": "two"}})
    assert second["session_id"] == first["session_id"]
    inbound = vodozemac.InboundGroupSession(vodozemac.SessionKey(key))
    decrypted_two = inbound.decrypt(vodozemac.MegolmMessage.from_base64(second["ciphertext"]))
    assert decrypted_two.message_index == 1 and b"two" in decrypted_two.plaintext
    raw = b"".join(bytes(r[0]) for r in store.conn.execute("SELECT blob FROM tc_outbound_session"))
    assert key.encode() not in raw


def test_a_stored_session_is_replaced_when_the_room_changed_meanwhile(tmp_path):
    store = _store(tmp_path)
    olm = _olm(store)
    olm.create_outbound_group_session(ROOM)
    olm.outbound_group_sessions[ROOM].shared = True
    olm.outbound_shared(ROOM, ["@me:x", "@alice:x"])
    store.database.close()

    olm = _olm(_store(tmp_path))
    olm.check_outbound_session(ROOM, ["@me:x", "@alice:x"], "shared")
    assert ROOM in olm.outbound_group_sessions, "nothing changed: the session continues"
    olm.check_outbound_session(ROOM, ["@me:x"], "shared")  # alice left while we were away
    assert ROOM not in olm.outbound_group_sessions

    olm.create_outbound_group_session(ROOM)
    olm.outbound_group_sessions[ROOM].shared = True
    olm.outbound_shared(ROOM, ["@me:x"])
    olm.check_outbound_session(ROOM, ["@me:x"], "joined")  # the visibility changed
    assert ROOM not in olm.outbound_group_sessions
    assert olm.app_store.conn.execute("SELECT COUNT(*) FROM tc_outbound_session").fetchone()[0] == 0
