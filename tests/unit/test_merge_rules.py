"""Which copy of a Megolm session wins when one arrives again: the pure rules
(`room_keys.decide_merge`) and the Olm machine applying them to memory and disk alike.

Holes 1 and 2 of "History sharing under attack" are here: a forged copy from a bundle must
never touch another room's session, and must lose to the key its creator sends us directly."""

from __future__ import annotations

import dataclasses

import pytest
import vodozemac
from nio.crypto.sessions import InboundGroupSession

from tests.forge import forged_export, random_key
from tui_client.engine.nio.olm import AppOlm, changed
from tui_client.engine.room_keys import CopyFacts, MergeAction, Origin, SessionMeta, decide_merge, shared_history_flag
from tui_client.engine.nio.store import AppStore

ROOM = "!room:x"
OTHER = "!other:x"
CREATOR = random_key()

D, B, O, I = Origin.DIRECT, Origin.BUNDLE, Origin.OWN, Origin.IMPORT


def facts(index: int, origin: Origin, sender_key: str = CREATOR) -> CopyFacts:
    return CopyFacts(sender_key, index, origin)


# -- the pure rules -------------------------------------------------------------------------------


def test_rules_for_connected_copies():
    assert decide_merge(None, facts(0, B), False).action is MergeAction.NEW
    assert decide_merge(facts(0, D), facts(0, B), True).action is MergeAction.KEEP, "a bundle never replaces direct"
    assert decide_merge(facts(3, D), facts(0, B), True).action is MergeAction.NEW_RATCHET_OLD_META
    assert decide_merge(facts(0, B), facts(2, D), True).action is MergeAction.OLD_RATCHET_NEW_META
    assert decide_merge(facts(0, B), facts(0, D), True).action is MergeAction.STORE
    assert decide_merge(facts(4, B), facts(0, B), True).action is MergeAction.STORE
    assert decide_merge(facts(0, B), facts(4, B), True).action is MergeAction.KEEP


def test_rules_for_copies_that_do_not_connect():
    """Hole 2: the creator's own key beats an unconnected copy; anyone else's does not."""
    assert decide_merge(facts(0, B), facts(0, D), False).action is MergeAction.REPLACE
    assert decide_merge(facts(0, I), facts(5, D), False).action is MergeAction.REPLACE
    assert decide_merge(facts(0, D), facts(0, B), False).action is MergeAction.KEEP
    assert decide_merge(facts(0, B), facts(0, B), False).action is MergeAction.KEEP, "first unverifiable copy stays"
    assert decide_merge(facts(0, O), facts(0, D), False).action is MergeAction.KEEP
    other_creator = facts(0, D, sender_key=random_key())
    assert decide_merge(facts(0, B), other_creator, True).action is MergeAction.REPLACE
    assert decide_merge(facts(0, D), facts(0, B, sender_key=random_key()), True).action is MergeAction.KEEP


def test_shared_history_flag_spellings():
    assert shared_history_flag({"shared_history": True})
    assert shared_history_flag({"m.shared_history": True})
    assert shared_history_flag({"org.matrix.msc3061.shared_history": True})
    assert not shared_history_flag({"shared_history": "true"})
    assert not shared_history_flag({"shared_history": 1})
    assert not shared_history_flag({})
    assert not shared_history_flag(None)
    assert not shared_history_flag({"org.matrix.msc3061.shared_history": False})


# -- the Olm machine, in memory and on disk ------------------------------------------------------------


def machine(tmp_path) -> AppOlm:
    store = AppStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    return AppOlm("@me:x", "DEV", store)


def reopen(olm: AppOlm, tmp_path) -> AppOlm:
    olm.app_store.database.close()
    return machine(tmp_path)


def new_group() -> tuple[vodozemac.GroupSession, vodozemac.InboundGroupSession]:
    """An outbound session and its key as given out at index 0."""
    group = vodozemac.GroupSession()
    return group, vodozemac.InboundGroupSession(group.session_key)


def copy_of(start: vodozemac.InboundGroupSession, room: str, chain=None) -> InboundGroupSession:
    exported = start.export_at(0).to_base64()
    return InboundGroupSession.import_session(exported, "creator-ed", CREATOR, room, chain or [])


def forged_copy(session_id: str, room: str) -> InboundGroupSession:
    return InboundGroupSession.import_session(forged_export(session_id), "forged-ed", CREATOR, room, ["mallory"])


def meta(session: InboundGroupSession, origin: Origin, room: str = ROOM, shared: bool = False,
         by: str | None = None) -> SessionMeta:
    return SessionMeta(room, session.id, session.sender_key, shared, origin, forwarder_user=by)


def offer(olm: AppOlm, session: InboundGroupSession, m: SessionMeta):
    outcomes = olm.merge_sessions([(session, m)])
    olm.persist(*changed(outcomes))
    return outcomes[0]


def decrypts(olm: AppOlm, room: str, session_id: str, message) -> bool:
    session = olm.inbound_group_store.get(room, CREATOR, session_id)
    try:
        return session is not None and session._session.decrypt(message) is not None
    except vodozemac.MegolmDecryptionException:
        return False


def test_a_forged_copy_for_another_room_never_touches_this_rooms_session(tmp_path):
    """Hole 1: a bundle for room X carrying the id of a room-Y session relabelled the room-Y
    record (shared by the attacker, shareable)."""
    olm = machine(tmp_path)
    group, start = new_group()
    message = group.encrypt(b"room Y secret")
    offer(olm, copy_of(start, ROOM), meta(copy_of(start, ROOM), D, shared=False))
    forged = forged_copy(group.session_id, OTHER)
    outcome = offer(olm, forged, meta(forged, B, room=OTHER, shared=True, by="@mallory:x"))
    assert outcome.decision.action is MergeAction.NEW, "a record of its own room, nothing else"
    for o in (olm, reopen(olm, tmp_path)):
        mine = o.meta_for(ROOM, group.session_id)
        assert mine.origin is D and not mine.shared_history and mine.forwarder_user is None
        assert decrypts(o, ROOM, group.session_id, message)
        assert o.meta_for(OTHER, group.session_id).forwarder_user == "@mallory:x"


def test_the_creators_key_replaces_a_forged_copy_in_memory_and_on_disk(tmp_path):
    """Hole 2: a forged bundle key made the real key, arriving later, be refused ("damaged or
    forged" for every later message of the session, across restarts)."""
    olm = machine(tmp_path)
    group, start = new_group()
    early = group.encrypt(b"before")
    forged = forged_copy(group.session_id, ROOM)
    offer(olm, forged, meta(forged, B, shared=True, by="@mallory:x"))
    assert not decrypts(olm, ROOM, group.session_id, early)
    outcome = offer(olm, copy_of(start, ROOM), meta(copy_of(start, ROOM), D))
    assert outcome.decision.action is MergeAction.REPLACE
    later = group.encrypt(b"after")
    for o in (olm, reopen(olm, tmp_path)):
        assert decrypts(o, ROOM, group.session_id, early) and decrypts(o, ROOM, group.session_id, later)
        m = o.meta_for(ROOM, group.session_id)
        assert m.origin is D and m.forwarder_user is None and not m.shared_history


def test_a_forged_copy_never_replaces_the_creators_key(tmp_path):
    olm = machine(tmp_path)
    group, start = new_group()
    message = group.encrypt(b"hello")
    offer(olm, copy_of(start, ROOM), meta(copy_of(start, ROOM), D))
    forged = forged_copy(group.session_id, ROOM)
    assert offer(olm, forged, meta(forged, B, by="@mallory:x")).decision.action is MergeAction.KEEP
    for o in (olm, reopen(olm, tmp_path)):
        assert decrypts(o, ROOM, group.session_id, message)
        assert o.meta_for(ROOM, group.session_id).origin is D


def test_a_copy_naming_another_creator_is_replaced_by_the_real_creators_key(tmp_path):
    olm = machine(tmp_path)
    group = vodozemac.GroupSession()
    impostor = random_key()
    misattributed = InboundGroupSession.import_session(
        vodozemac.InboundGroupSession(group.session_key).export_at(0).to_base64(), "ed", impostor, ROOM, ["m"]
    )
    offer(olm, misattributed, SessionMeta(ROOM, group.session_id, impostor, True, B, forwarder_user="@m:x"))
    offer(olm, copy_of(vodozemac.InboundGroupSession(group.session_key), ROOM),
          SessionMeta(ROOM, group.session_id, CREATOR, False, D))
    for o in (olm, reopen(olm, tmp_path)):
        held = [s for s in o.inbound_group_store if s.id == group.session_id]
        assert len(held) == 1 and held[0].sender_key == CREATOR
        assert o.meta_for(ROOM, group.session_id).origin is D


def test_connected_copies_keep_the_earliest_ratchet_and_the_most_trusted_metadata(tmp_path):
    olm = machine(tmp_path)
    group = vodozemac.GroupSession()
    from_start = vodozemac.InboundGroupSession(group.session_key)  # someone who had it from index 0
    first = group.encrypt(b"first")
    group.encrypt(b"second")
    late = InboundGroupSession.import_session(
        vodozemac.InboundGroupSession(group.session_key).export_at(2).to_base64(), "creator-ed", CREATOR, ROOM
    )
    offer(olm, late, meta(late, D))
    assert not decrypts(olm, ROOM, group.session_id, first)
    early = InboundGroupSession.import_session(from_start.export_at(0).to_base64(), "other-ed", CREATOR, ROOM, ["x"])
    outcome = offer(olm, early, meta(early, B, shared=True, by="@alice:x"))
    assert outcome.decision.action is MergeAction.NEW_RATCHET_OLD_META
    for o in (olm, reopen(olm, tmp_path)):
        assert decrypts(o, ROOM, group.session_id, first)
        held = o.inbound_group_store.get(ROOM, CREATOR, group.session_id)
        assert held.first_known_index == 0 and held.ed25519 == "creator-ed" and held.forwarding_chain == []
        assert o.meta_for(ROOM, group.session_id).origin is D


def test_failed_or_refused_offers_change_nothing_stored(tmp_path):
    olm = machine(tmp_path)
    group, start = new_group()
    offer(olm, copy_of(start, ROOM), meta(copy_of(start, ROOM), D))
    before = dict(olm.session_meta)
    forged = forged_copy(group.session_id, ROOM)
    offer(olm, forged, meta(forged, I))
    assert olm.session_meta == before and reopen(olm, tmp_path).session_meta == before


def test_a_copy_held_without_metadata_under_another_creator_is_still_found(tmp_path):
    """Stores from before session metadata hold sessions nobody labelled; a new copy naming its
    real creator must still meet them (the search is limited to those, so that importing many
    new sessions stays linear)."""
    olm = machine(tmp_path)
    group = vodozemac.GroupSession()
    impostor = random_key()
    legacy = InboundGroupSession.import_session(
        vodozemac.InboundGroupSession(group.session_key).export_at(0).to_base64(), "ed", impostor, ROOM, ["m"]
    )
    olm.app_store.save_inbound_group_sessions([legacy])  # no metadata, as an old store has it
    olm = reopen(olm, tmp_path)
    assert olm.meta_for(ROOM, group.session_id) is None
    outcome = offer(olm, copy_of(vodozemac.InboundGroupSession(group.session_key), ROOM),
                    SessionMeta(ROOM, group.session_id, CREATOR, False, D))
    # Found: weighed against it (an unlabelled copy counts as its creator's), not stored beside it.
    assert outcome.decision.action is MergeAction.KEEP and "names another creator" in outcome.decision.reason
    held = [s for s in olm.inbound_group_store if s.id == group.session_id]
    assert len(held) == 1 and held[0].sender_key == impostor


def test_session_metadata_stays_a_frozen_value_with_its_own_constructor():
    """SessionMeta fills its fields at once (a bundle makes 10,000): it must still compare,
    hash, refuse changes and copy with changes like any frozen dataclass."""
    meta = SessionMeta("!r:x", "sid", "curve", True, Origin.BUNDLE, "@alice:x", received_at=5.0)
    assert meta == SessionMeta("!r:x", "sid", "curve", True, Origin.BUNDLE, "@alice:x", None, None, 5.0)
    assert hash(meta) == hash(SessionMeta("!r:x", "sid", "curve", True, Origin.BUNDLE, "@alice:x", received_at=5.0))
    assert meta.forwarder_device is None and meta.key == ("!r:x", "sid")
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.origin = Origin.OWN  # type: ignore[misc]
    upgraded = dataclasses.replace(meta, origin=Origin.DIRECT)
    assert upgraded.origin is Origin.DIRECT and upgraded.received_at == 5.0 and meta.origin is Origin.BUNDLE


def test_a_session_twice_in_one_bundle_is_weighed_against_its_first_copy(tmp_path):
    """A merge takes the sessions it holds none of without weighing them (a bundle's common
    case); a second copy of one in the same batch is held by then, and a forged one is refused."""
    olm = machine(tmp_path)
    group, start = new_group()
    message = group.encrypt(b"before Bob joined")
    genuine, forged = copy_of(start, ROOM), forged_copy(group.session_id, ROOM)
    outcomes = olm.merge_sessions([(genuine, meta(genuine, B, shared=True, by="@alice:x")),
                                   (forged, meta(forged, B, shared=True, by="@alice:x"))])
    olm.persist(*changed(outcomes))
    assert [o.decision.action for o in outcomes] == [MergeAction.NEW, MergeAction.KEEP]
    for o in (olm, reopen(olm, tmp_path)):
        assert decrypts(o, ROOM, group.session_id, message)
