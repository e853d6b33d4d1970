"""Our tables in nio's SQLite file: sessions keyed by room, bundle blobs and their precedence,
history sharing's records, and numbered migrations from older layouts."""

from __future__ import annotations

import json
import sqlite3

import pytest
import vodozemac
from nio.crypto import InboundGroupSession, OlmAccount
from nio.crypto.sessions import derive_pickle_key
from nio.store import SqliteStore

from tests.forge import random_key
from tui_client.engine.nio import migrations
from tui_client.engine.history_sharing.records import (
    AcceptedInvite,
    AcceptState,
    BundleState,
    ReceivedBundle,
    WithheldRecord,
    WithheldVia,
)
from tui_client.engine.history_sharing.store import SharingStore
from tui_client.engine.nio.migrations import StoreVersionError, migrate
from tui_client.engine.room_keys import Forwarder, Origin, SessionMeta
from tui_client.engine.nio.store import AppStore

ROOM = "!room:x"
OTHER = "!other:x"


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
        store.save_bundle_sessions(ROOM, "inviter-curve", entries, 1.0)
    store.database.close()

    reloaded = _store(tmp_path).load_inbound_group_sessions()
    sessions = {s.id: s for s in reloaded}
    assert set(sessions) == {e[0] for e in entries}
    one = sessions[entries[0][0]]
    assert one.room_id == ROOM and one.sender_key == "creator-curve" and one.ed25519 == "creator-ed"
    assert one.forwarding_chain == ["inviter-curve"], "bundle keys are never shown as verified by nio"
    assert _store(tmp_path).count_inbound_sessions_by_room() == {ROOM: 50}


def test_a_newer_copy_in_the_table_wins_over_the_blob(tmp_path):
    store = _store(tmp_path)
    group, sid, exported = _exported(3)
    with store.transaction():
        store.save_bundle_sessions(ROOM, "inviter-curve", [(sid, "curve", "ed", exported)], 1.0)
    better = InboundGroupSession(group.session_key.to_base64(), "ed-direct", "curve", ROOM)
    store.save_inbound_group_sessions([better])
    loaded = {s.id: s for s in _store(tmp_path).load_inbound_group_sessions()}
    assert loaded[sid].ed25519 == "ed-direct" and loaded[sid].forwarding_chain == []
    assert _store(tmp_path).count_inbound_sessions_by_room() == {ROOM: 1}


ALICE = Forwarder("@alice:x", "ALICEDEV", "alice-master")


def test_a_bundles_provenance_is_read_back_from_its_blob_after_a_restart(tmp_path):
    """Each session of a bundle reads as shared by its forwarder after a restart, one at a time
    (decrypting), room by room (the inspector) and counted, without a metadata row each."""
    store = _store(tmp_path)
    entries = [(sid, "creator-curve", "creator-ed", exported) for _, sid, exported in (_exported() for _ in range(20))]
    with store.transaction():
        store.save_bundle_sessions(ROOM, "alice-curve", entries, 7.0, ALICE)
    store.database.close()

    again = _store(tmp_path)
    expected = SessionMeta(ROOM, entries[3][0], "creator-curve", True, Origin.BUNDLE, "@alice:x", "ALICEDEV",
                           "alice-master", 7.0)
    assert again.load_session_meta()[(ROOM, entries[3][0])] == expected
    assert {m.session_id: m for m in again.room_session_meta(ROOM)}[entries[3][0]] == expected
    assert {m.session_id for m in again.room_session_meta(ROOM)} == {e[0] for e in entries}
    assert again.rooms_with_meta() == {ROOM}
    assert again.count_sessions_by_origin(Origin.BUNDLE) == 20
    assert len(again.load_session_meta()) == 20
    assert again.conn.execute("SELECT COUNT(*) FROM tc_session_meta").fetchone()[0] == 0


def test_a_metadata_row_wins_over_the_blobs_and_a_new_bundle_rewrites_a_stale_one(tmp_path):
    store = _store(tmp_path)
    (_, sid, exported), (_, stale_sid, stale_exported) = _exported(), _exported()
    # A row written before this bundle (a copy since dropped): the bundle's import must not read
    # back as that.
    store.save_session_meta([SessionMeta(ROOM, stale_sid, "curve", False, Origin.IMPORT)])
    with store.transaction():
        store.save_bundle_sessions(ROOM, "alice-curve", [(sid, "curve", "ed", exported),
                                                         (stale_sid, "curve", "ed", stale_exported)], 7.0, ALICE)
    upgraded = SessionMeta(ROOM, sid, "curve", False, Origin.DIRECT, received_at=9.0)
    store.save_session_meta([upgraded])  # a better copy came from its creator
    store.database.close()

    metas = _store(tmp_path).load_session_meta()
    assert metas[(ROOM, sid)] == upgraded
    assert metas[(ROOM, stale_sid)].origin is Origin.BUNDLE and metas[(ROOM, stale_sid)].forwarder_user == "@alice:x"
    assert _store(tmp_path).count_sessions_by_origin(Origin.BUNDLE) == 1


def test_a_session_a_later_bundle_stores_again_reads_as_the_later_bundles(tmp_path):
    store = _store(tmp_path)
    _, sid, exported = _exported()
    with store.transaction():
        store.save_bundle_sessions(ROOM, "alice-curve", [(sid, "curve", "ed", exported)], 7.0, ALICE)
    with store.transaction():
        store.save_bundle_sessions(ROOM, "carol-curve", [(sid, "curve", "ed", exported)], 8.0,
                                   Forwarder("@carol:x", "C", None))
    store.database.close()
    again = _store(tmp_path)
    assert again.load_session_meta()[(ROOM, sid)].forwarder_user == "@carol:x", \
        "the later import was asked to store it as new: its provenance is what reads back"
    assert {s.forwarding_chain[0] for s in again.load_inbound_group_sessions()} == {"alice-curve"}


def test_one_session_id_in_two_rooms_is_two_records(tmp_path):
    """Keyed by room and session: nio's table (session id alone) let one room overwrite the other."""
    store = _store(tmp_path)
    group, sid, exported = _exported()
    here = InboundGroupSession(group.session_key.to_base64(), "ed-here", "curve-here", ROOM)
    there = InboundGroupSession.import_session(exported, "ed-there", "curve-there", OTHER, ["x"])
    store.save_inbound_group_sessions([here])
    store.save_inbound_group_sessions([there])
    store.save_session_meta([SessionMeta(ROOM, sid, "curve-here", False, Origin.DIRECT)])
    store.save_session_meta([SessionMeta(OTHER, sid, "curve-there", True, Origin.BUNDLE, "@m:x")])
    store.database.close()
    again = _store(tmp_path)
    loaded = again.load_inbound_group_sessions()
    assert loaded.get(ROOM, "curve-here", sid).ed25519 == "ed-here"
    assert loaded.get(OTHER, "curve-there", sid).ed25519 == "ed-there"
    metas = again.load_session_meta()
    assert metas[(ROOM, sid)].origin is Origin.DIRECT and metas[(OTHER, sid)].forwarder_user == "@m:x"


def test_blob_with_another_store_key_is_skipped_not_fatal(tmp_path):
    store = _store(tmp_path, key="right")
    _, sid, exported = _exported()
    with store.transaction():
        store.save_bundle_sessions(ROOM, "inviter", [(sid, "c", "e", exported)], 1.0)
    store.database.close()
    wrong = AppStore("@me:x", "DEV", str(tmp_path), "wrong", "crypto.db")
    assert list(wrong.load_inbound_group_sessions()) == []


def test_history_sharing_records_persist(tmp_path):
    store = _store(tmp_path)
    records = SharingStore(store)
    bundle = ReceivedBundle(ROOM, "@a:x", "DEV", random_key(), {"device_id": "DEV"}, {"v": "v2"}, 5.0,
                            BundleState.RETRYING, "HTTP 502", 3, 1, None, None, 2, attempts=2, next_attempt_at=9.0)
    records.put_bundle(bundle)
    records.put_acceptance(AcceptedInvite(ROOM, "@a:x", 123.0, AcceptState.JOINING))
    records.save_withheld([WithheldRecord(ROOM, "s1", None, "m.history_not_shared", "r", "@a:x", "D",
                                          WithheldVia.BUNDLE, 4.0)])
    store.database.close()
    again = SharingStore(_store(tmp_path))
    assert again.bundle(ROOM, "@a:x") == bundle
    assert again.bundles_in_state(BundleState.RETRYING) == [bundle]
    assert again.acceptance(ROOM) == AcceptedInvite(ROOM, "@a:x", 123.0, AcceptState.JOINING)
    assert again.acceptances(AcceptState.JOINED) == []
    assert again.withheld(ROOM, "s1").via is WithheldVia.BUNDLE
    again.delete_acceptance(ROOM)
    again.delete_bundles([(ROOM, "@a:x")])
    assert again.acceptance(ROOM) is None and again.bundles() == []


# -- migrations ---------------------------------------------------------------------------------------


def _v1_store(tmp_path) -> tuple[str, str, str]:
    """A store as the first release wrote it (layout 1), with a session, its metadata, a
    withheld record with raw JSON, a pending import and a 'joined:' note."""
    nio_store = SqliteStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    nio_store.save_account(OlmAccount())
    conn = nio_store.database.connection()
    migrate(conn, upto=1)
    group, sid, _ = _exported()
    session = InboundGroupSession(group.session_key.to_base64(), "ed", "curve", ROOM)
    account_id = conn.execute("SELECT id FROM accounts").fetchone()[0]
    pickle = session._session.pickle(derive_pickle_key("store-key")).encode()
    conn.execute("INSERT INTO megolminboundsessions(session_id, sender_key, account_id, fp_key, room_id, session) "
                 "VALUES (?,?,?,?,?,?)", (sid, "curve", account_id, "ed", ROOM, pickle))
    conn.execute("INSERT INTO forwardedchains(sender_key, session_id) VALUES (?,?)", ("fwd", sid))
    conn.execute("INSERT INTO tc_session_meta VALUES (?,?,?,?,?,?,?,?,?)",
                 (sid, ROOM, "curve", 1, "bundle", "@a:x", "D", "mk", 1.0))
    conn.execute("INSERT INTO tc_withheld VALUES (?,?,?,?,?,?,?,?,?,?)",
                 (ROOM, "w1", None, "m.history_not_shared", "x" * 5000, "@a:x", "D", "bundle", 2.0,
                  json.dumps({"padding": "y" * 10000})))
    conn.execute("INSERT INTO tc_pending_bundle VALUES (?,?,?)", (ROOM, "@a:x", 100.0))
    conn.execute("INSERT INTO tc_kv VALUES (?,?)", (f"joined:{OTHER}", json.dumps({"at": 50.0, "inviter": "@b:x"})))
    conn.commit()
    nio_store.database.close()
    return sid, group.session_id, "curve"


def test_a_first_release_store_is_migrated_without_losing_anything(tmp_path):
    sid, _, curve = _v1_store(tmp_path)
    store = _store(tmp_path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
    loaded = store.load_inbound_group_sessions()
    session = loaded.get(ROOM, curve, sid)
    assert session is not None and session.forwarding_chain == ["fwd"]
    assert store.conn.execute("SELECT COUNT(*) FROM megolminboundsessions").fetchone()[0] == 0
    meta = store.load_session_meta()[(ROOM, sid)]
    assert meta.origin is Origin.BUNDLE and meta.shared_history and meta.forwarder_user == "@a:x"
    records = SharingStore(store)
    assert records.acceptance(ROOM) == AcceptedInvite(ROOM, "@a:x", 100.0, AcceptState.JOINED, 100.0)
    assert records.acceptance(OTHER).state is AcceptState.DONE and records.acceptance(OTHER).inviter == "@b:x"
    withheld = records.withheld(ROOM, "w1")
    assert withheld.code == "m.history_not_shared" and len(withheld.reason) == 300
    columns = {row[1] for row in store.conn.execute("PRAGMA table_info(tc_withheld)")}
    assert "content" not in columns, "the raw JSON a sender sent is not kept"
    assert store.get_kv(f"joined:{OTHER}") is None


def test_a_store_from_before_numbered_migrations_gains_missing_columns(tmp_path):
    nio_store = SqliteStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    conn = nio_store.database.connection()
    migrate(conn, upto=1)
    conn.execute("ALTER TABLE tc_received_bundle DROP COLUMN message_count")
    conn.execute("PRAGMA user_version = 0")
    conn.commit()
    nio_store.database.close()
    again = _store(tmp_path)
    columns = {row[1] for row in again.conn.execute("PRAGMA table_info(tc_received_bundle)")}
    assert {"message_count", "attempts", "bytes_total"} <= columns
    assert SharingStore(again).bundles() == []


def test_a_store_from_a_newer_build_is_refused(tmp_path):
    store = _store(tmp_path)
    store.conn.execute("PRAGMA user_version = 99")
    store.database.close()
    with pytest.raises(StoreVersionError, match="newer tui_client"):
        _store(tmp_path)


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    nio_store = SqliteStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    conn = nio_store.database.connection()
    migrate(conn, upto=1)

    def broken(c: sqlite3.Connection, ctx) -> None:
        c.execute("CREATE TABLE tc_half_done (x)")
        raise RuntimeError("disk full")

    monkeypatch.setattr(migrations, "MIGRATIONS", [migrations.MIGRATIONS[0], broken])
    with pytest.raises(RuntimeError, match="disk full"):
        migrate(conn, upto=2)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name='tc_half_done'").fetchone() is None


def test_bundle_blobs_sealed_the_old_way_are_resealed_and_still_load(tmp_path):
    import hashlib

    from tui_client.engine.crypto.symmetric import seal

    nio_store = SqliteStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    nio_store.save_account(OlmAccount())
    conn = nio_store.database.connection()
    migrate(conn, upto=2)
    _, sid, exported = _exported()
    old_key = hashlib.sha256(b"tui-client bundle sessions\0" + b"store-key").digest()
    lines = " ".join((sid, "curve", "ed", exported)).encode()
    conn.execute("INSERT INTO tc_bundle_sessions(room_id, forwarder_key, session_count, created_at, blob) "
                 "VALUES (?,?,?,?,?)", (ROOM, "fwd", 1, 1.0, seal(old_key, lines, ROOM.encode())))
    conn.commit()
    nio_store.database.close()
    store = _store(tmp_path)
    assert {s.id for s in store.load_inbound_group_sessions()} == {sid}
    store.database.close()
    assert {s.id for s in _store(tmp_path).load_inbound_group_sessions()} == {sid}, "re-sealed once, for good"


def test_a_store_from_before_key_backup_gains_its_record_and_keeps_everything(tmp_path):
    nio_store = SqliteStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    nio_store.save_account(OlmAccount())
    conn = nio_store.database.connection()
    migrate(conn, upto=migrations.MIGRATIONS.index(migrations._v5_key_backup))  # the version before it
    assert conn.execute("SELECT name FROM sqlite_master WHERE name='tc_backed_up'").fetchone() is None
    conn.commit()
    nio_store.database.close()
    store = _store(tmp_path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
    assert store.load_backed_up() == {}
    store.mark_backed_up([(ROOM, "s1", "7", 3), (OTHER, "s1", "7", 0)])
    store.mark_backed_up([(ROOM, "s1", "8", 0)])  # a new backup version, a better copy
    store.database.close()
    assert _store(tmp_path).load_backed_up() == {(ROOM, "s1"): ("8", 0), (OTHER, "s1"): ("7", 0)}, \
        "keyed by room and session, and it survives a restart"


def test_what_the_key_backup_lacks_is_read_from_the_records_and_a_better_copy_is_sent_again(tmp_path):
    store = _store(tmp_path)
    in_blob = [_exported() for _ in range(3)]
    with store.transaction():
        store.save_bundle_sessions(ROOM, "inviter", [(sid, "c", "e", exported) for _, sid, exported in in_blob], 1.0)
    first_key = vodozemac.GroupSession().session_key  # index 0
    improved = vodozemac.InboundGroupSession(first_key).session_id
    exported_late = vodozemac.InboundGroupSession(first_key).export_at(5).to_base64()
    late = InboundGroupSession.import_session(exported_late, "e", "c", OTHER)
    store.save_inbound_group_sessions([late])
    store.mark_backed_up([(ROOM, in_blob[0][1], "1", 0), (ROOM, in_blob[1][1], "0", 0), (OTHER, improved, "1", 5)])
    store.database.close()

    store = _store(tmp_path)
    assert sorted(store.sessions_to_back_up("1")) == sorted([(ROOM, in_blob[1][1]), (ROOM, in_blob[2][1])]), \
        "backed up to another version, or not at all"
    store.save_inbound_group_sessions([InboundGroupSession(first_key.to_base64(), "e", "c", OTHER)])
    assert (OTHER, improved) in store.sessions_to_back_up("1"), "the backup holds a worse copy now"
    store.save_inbound_group_sessions([late])
    assert store.sessions_to_back_up("1").count((OTHER, improved)) == 1
    assert (ROOM, in_blob[0][1]) not in _store(tmp_path).sessions_to_back_up("1")


def test_a_store_from_before_blobs_named_their_sharer_keeps_its_metadata_rows(tmp_path):
    from tui_client.engine.crypto.symmetric import seal, store_subkey

    nio_store = SqliteStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    nio_store.save_account(OlmAccount())
    conn = nio_store.database.connection()
    migrate(conn, upto=migrations.MIGRATIONS.index(migrations._v7_bundle_provenance), ctx=migrations.Context("store-key"))
    (_, sid, exported), (_, unlabelled, exported2) = _exported(), _exported()
    lines = "\n".join((" ".join((sid, "curve", "ed", exported)), " ".join((unlabelled, "curve", "ed", exported2))))
    blob = seal(store_subkey("store-key", migrations.BUNDLE_BLOB_PURPOSE), lines.encode(), ROOM.encode())
    conn.execute("INSERT INTO tc_bundle_sessions(room_id, forwarder_key, session_count, created_at, blob) "
                 "VALUES (?,?,?,?,?)", (ROOM, "fwd", 2, 1.0, blob))
    conn.execute("INSERT INTO tc_session_meta(room_id, session_id, sender_key, shared_history, origin, forwarder_user, "
                 "forwarder_device, forwarder_master_key, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
                 (ROOM, sid, "curve", 1, "bundle", "@a:x", "D", "mk", 1.0))
    conn.commit()
    nio_store.database.close()

    store = _store(tmp_path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
    assert {s.id for s in store.load_inbound_group_sessions()} == {sid, unlabelled}
    metas = store.load_session_meta()
    assert metas[(ROOM, sid)].forwarder_user == "@a:x"
    assert (ROOM, unlabelled) not in metas, "a blob that names no sharer lends its sessions no provenance"
    assert store.count_sessions_by_origin(Origin.BUNDLE) == 1
