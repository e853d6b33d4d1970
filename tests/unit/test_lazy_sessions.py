"""The store opens without reading its Megolm sessions; each room is read when first used. These
check that nothing is lost that way: every session of every room and sender is still there and
decrypts, writes into a room not read yet keep what it held, and a damaged row costs only itself."""

from __future__ import annotations

import logging
import sqlite3

import vodozemac
from nio.crypto import InboundGroupSession, OlmAccount

from tests.forge import random_key
from tui_client.engine.nio.olm import AppOlm, changed
from tui_client.engine.nio.store import AppStore
from tui_client.engine.room_keys import Origin, SessionMeta

ROOMS = [f"!room{i}:x" for i in range(12)]


def _store(tmp_path) -> AppStore:
    store = AppStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    if store.account_id() is None:
        store.save_account(OlmAccount())
        store._account_id = None
    return store


def _machine(tmp_path) -> AppOlm:
    return AppOlm("@me:x", "DEV", _store(tmp_path))


def _fill(tmp_path, rooms: list[str], senders: int, per_sender: int) -> dict[tuple[str, str, str], str]:
    """Sessions in every room from several senders, each with one message encrypted under it;
    returns {(room, sender, session id): ciphertext}."""
    olm = _machine(tmp_path)
    messages = {}
    pairs = []
    for room in rooms:
        for _ in range(senders):
            sender = random_key()
            for _ in range(per_sender):
                group = vodozemac.GroupSession()
                session = InboundGroupSession(group.session_key.to_base64(), "ed", sender, room)
                messages[(room, sender, session.id)] = group.encrypt(f"hello {room}".encode()).to_base64()
                pairs.append((session, SessionMeta(room, session.id, sender, True, Origin.DIRECT)))
    olm.persist(*changed(olm.merge_sessions(pairs)))
    olm.app_store.database.close()
    return messages


def test_a_reopened_store_holds_every_session_of_every_room_and_sender(tmp_path):
    messages = _fill(tmp_path, ROOMS, senders=3, per_sender=4)
    olm = _machine(tmp_path)
    held = olm.inbound_group_store
    assert {(s.room_id, s.sender_key, s.id) for s in held} == set(messages)
    for (room, sender, session_id), ciphertext in messages.items():
        session = held.get(room, sender, session_id)
        assert session is not None
        plaintext, index = session.decrypt(ciphertext)
        assert plaintext == f"hello {room}" and index == 0
        meta = olm.meta_for(room, session_id)
        assert meta is not None and meta.origin is Origin.DIRECT and meta.shared_history
    assert len(olm.session_meta) == len(messages)


def test_decrypting_in_one_room_finds_its_key_before_any_other_room_is_read(tmp_path):
    messages = _fill(tmp_path, ROOMS, senders=2, per_sender=2)
    (room, sender, session_id), ciphertext = next(iter(messages.items()))
    olm = _machine(tmp_path)
    session = olm.inbound_group_store.get(room, sender, session_id)
    assert session is not None
    assert session.decrypt(ciphertext)[0] == f"hello {room}"
    assert olm.inbound_group_store.get(room, sender, "no-such-session") is None
    assert olm.inbound_group_store.get("!never:x", sender, session_id) is None


def test_one_room_of_thousands_of_sessions_from_one_sender_keeps_them_all(tmp_path):
    _fill(tmp_path, ["!big:x"], senders=1, per_sender=2_000)
    olm = _machine(tmp_path)
    assert len(list(olm.inbound_group_store)) == 2_000
    assert len(olm.inbound_group_store._entries["!big:x"]) == 1


def test_a_key_merged_into_a_room_not_read_yet_keeps_what_the_room_held(tmp_path):
    messages = _fill(tmp_path, ROOMS[:2], senders=1, per_sender=3)
    room = ROOMS[0]
    olm = _machine(tmp_path)
    group = vodozemac.GroupSession()
    new = InboundGroupSession(group.session_key.to_base64(), "ed", random_key(), room)
    olm.persist(*changed(olm.merge_sessions([(new, SessionMeta(room, new.id, new.sender_key, False, Origin.DIRECT))])))
    expected = {k for k in messages if k[0] == room} | {(room, new.sender_key, new.id)}
    in_room = {(s.room_id, s.sender_key, s.id) for s in olm.inbound_group_store if s.room_id == room}
    assert in_room == expected
    assert all(olm.meta_for(r, sid) is not None for r, _, sid in expected)
    olm.app_store.database.close()
    again = _machine(tmp_path)
    assert {(s.room_id, s.sender_key, s.id) for s in again.inbound_group_store if s.room_id == room} == expected


def test_a_damaged_row_is_logged_and_skipped_and_the_others_load(tmp_path, caplog):
    messages = _fill(tmp_path, ROOMS[:2], senders=1, per_sender=3)
    (room, sender, broken), _ = next(iter(messages.items()))
    conn = sqlite3.connect(tmp_path / "crypto.db")
    with conn:
        conn.execute("UPDATE tc_inbound_session SET pickle=? WHERE session_id=?", (b"not a pickle", broken))
    conn.close()
    olm = _machine(tmp_path)
    with caplog.at_level(logging.ERROR):
        assert olm.inbound_group_store.get(room, sender, broken) is None
    assert any(broken in r.getMessage() for r in caplog.records)
    loaded = {(s.room_id, s.sender_key, s.id) for s in olm.inbound_group_store}
    assert loaded == set(messages) - {(room, sender, broken)}


def test_keys_from_a_bundle_blob_load_lazily_with_their_forwarder(tmp_path):
    store = _store(tmp_path)
    entries = []
    for _ in range(20):
        inbound = vodozemac.InboundGroupSession(vodozemac.GroupSession().session_key)
        entries.append((inbound.session_id, "creator-curve", "creator-ed", inbound.export_at(0).to_base64()))
    with store.transaction():
        store.save_bundle_sessions(ROOMS[0], "inviter-curve", entries, 1.0)
    store.database.close()
    held = _store(tmp_path).load_inbound_group_sessions()
    one = held.get(ROOMS[0], "creator-curve", entries[5][0])
    assert one is not None and one.forwarding_chain == ["inviter-curve"] and one.ed25519 == "creator-ed"
    assert {s.id for s in held} == {e[0] for e in entries}


def test_a_bundle_sized_merge_into_a_room_not_read_yet_keeps_every_old_and_new_key(tmp_path):
    """A merge asks about each of its sessions; past a few dozen the room is read whole at once,
    half-way through the merge: nothing merged before or after may be lost."""
    messages = _fill(tmp_path, ROOMS[:1], senders=2, per_sender=25)
    room = ROOMS[0]
    olm = _machine(tmp_path)
    sender = random_key()
    new = [InboundGroupSession(vodozemac.GroupSession().session_key.to_base64(), "ed", sender, room)
           for _ in range(100)]
    olm.persist(*changed(olm.merge_sessions(
        [(s, SessionMeta(room, s.id, sender, True, Origin.BUNDLE, "@inviter:x")) for s in new]
    )))
    expected = set(messages) | {(room, sender, s.id) for s in new}

    def check(held: AppOlm) -> None:
        assert {(s.room_id, s.sender_key, s.id) for s in held.inbound_group_store} == expected
        assert set(held.session_meta) == {(r, sid) for r, _, sid in expected}
        assert held.meta_for(room, new[-1].id).forwarder_user == "@inviter:x"

    check(olm)
    olm.app_store.database.close()
    check(_machine(tmp_path))
