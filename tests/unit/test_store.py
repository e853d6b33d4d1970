"""Our tables in nio's SQLite file: bulk session saves, bundle blobs, and their precedence."""

from __future__ import annotations

import vodozemac
from nio.crypto import InboundGroupSession, OlmAccount

from tui_client.engine.store import AppStore, PendingBundle, SessionMeta

ROOM = "!room:x"


def _store(tmp_path, key: str = "store-key") -> AppStore:
    store = AppStore("@me:x", "DEV", str(tmp_path), key, "crypto.db")
    if store.account_id() is None:
        store.save_account(OlmAccount())
        store._account_id = None
    return store


def _exported(index: int = 0) -> tuple[vodozemac.GroupSession, str, str]:
    group = vodozemac.GroupSession()
    for _ in range(index):
        group.encrypt(b"x")
    inbound = vodozemac.InboundGroupSession(group.session_key)
    return group, inbound.session_id, inbound.export_at(index).to_base64()


def test_bundle_blob_round_trips_with_forwarding_chain(tmp_path):
    store = _store(tmp_path)
    entries = []
    for _ in range(50):
        _, sid, exported = _exported()
        entries.append((sid, "creator-curve", "creator-ed", exported))
    with store.transaction():
        store.save_bundle_sessions(ROOM, "inviter-curve", entries)
    store.database.close()

    reloaded = _store(tmp_path).load_inbound_group_sessions()
    sessions = {s.id: s for s in reloaded}
    assert set(sessions) == {e[0] for e in entries}
    one = sessions[entries[0][0]]
    assert one.room_id == ROOM and one.sender_key == "creator-curve" and one.ed25519 == "creator-ed"
    assert one.forwarding_chain == ["inviter-curve"], "bundle keys are never shown as verified by nio"
    assert _store(tmp_path).count_inbound_sessions_by_room() == {ROOM: 50}


def test_a_newer_copy_in_nios_table_wins_over_the_blob(tmp_path):
    store = _store(tmp_path)
    group, sid, exported = _exported(3)
    with store.transaction():
        store.save_bundle_sessions(ROOM, "inviter-curve", [(sid, "curve", "ed", exported)])
    better = InboundGroupSession(group.session_key.to_base64(), "ed-direct", "curve", ROOM)
    store.save_inbound_group_sessions([better])
    loaded = {s.id: s for s in _store(tmp_path).load_inbound_group_sessions()}
    assert loaded[sid].ed25519 == "ed-direct" and loaded[sid].forwarding_chain == []
    assert _store(tmp_path).count_inbound_sessions_by_room() == {ROOM: 1}


def test_blob_with_another_store_key_is_skipped_not_fatal(tmp_path):
    store = _store(tmp_path, key="right")
    _, sid, exported = _exported()
    with store.transaction():
        store.save_bundle_sessions(ROOM, "inviter", [(sid, "c", "e", exported)])
    store.database.close()
    wrong = AppStore("@me:x", "DEV", str(tmp_path), "wrong", "crypto.db")
    assert list(wrong.load_inbound_group_sessions()) == []


def test_metadata_pending_records_and_bundles_persist(tmp_path):
    store = _store(tmp_path)
    store.save_session_meta([SessionMeta("sid", ROOM, "curve", True, "bundle", "@a:x", "DEV", "mk", 1.5)])
    store.put_pending_bundle(PendingBundle(ROOM, "@a:x", 123.0))
    store.database.close()
    again = _store(tmp_path)
    assert again.load_session_meta()["sid"].forwarder_user == "@a:x"
    assert again.get_pending_bundle(ROOM) == PendingBundle(ROOM, "@a:x", 123.0)
    again.clear_pending_bundle(ROOM)
    assert again.list_pending_bundles() == []


def test_a_store_from_an_older_build_gains_new_columns(tmp_path):
    import sqlite3

    store = _store(tmp_path)
    store.database.close()
    conn = sqlite3.connect(tmp_path / "crypto.db")
    conn.execute("ALTER TABLE tc_received_bundle DROP COLUMN message_count")
    conn.commit()
    conn.close()
    again = _store(tmp_path)
    columns = {row[1] for row in again.conn.execute("PRAGMA table_info(tc_received_bundle)")}
    assert "message_count" in columns
    assert again.list_received_bundles() == []
