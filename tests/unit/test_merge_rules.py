"""The merge rules applied when a Megolm session we already hold arrives again (rust-sdk's)."""

from __future__ import annotations

import vodozemac
from nio.crypto.sessions import InboundGroupSession

from tui_client.engine.crypto.olm import _merge, shared_history_flag
from tui_client.engine.store import SessionMeta

ROOM = "!room:x"


def _pair():
    """An outbound session and its inbound twin (from index 0)."""
    group = vodozemac.GroupSession()
    inbound0 = vodozemac.InboundGroupSession(group.session_key)
    return group, inbound0


def _copy(inbound: vodozemac.InboundGroupSession, index: int, chain=None) -> InboundGroupSession:
    exported = inbound.export_at(index).to_base64()
    return InboundGroupSession.import_session(exported, "ed-key", "curve-key", ROOM, chain or [])


def _meta(session: InboundGroupSession, origin: str, shared: bool = True, by: str | None = None) -> SessionMeta:
    return SessionMeta(session.id, ROOM, "curve-key", shared, origin, forwarder_user=by)


def test_first_copy_is_stored():
    _, inbound = _pair()
    new = _copy(inbound, 0)
    result, kept, meta = _merge(None, None, new, _meta(new, "bundle", by="@alice:x"))
    assert result.stored and kept is new and meta.origin == "bundle"


def test_bundle_never_replaces_a_direct_session_with_equal_or_worse_ratchet():
    _, inbound = _pair()
    direct = _copy(inbound, 0)
    bundle = _copy(inbound, 0, chain=["inviter-curve"])
    result, kept, meta = _merge(direct, _meta(direct, "direct"), bundle, _meta(bundle, "bundle", by="@mallory:x"))
    assert not result.stored and kept is direct and meta.origin == "direct" and meta.forwarder_user is None


def test_bundle_with_earlier_ratchet_extends_a_direct_session_but_keeps_its_metadata():
    group, inbound = _pair()
    for _ in range(3):
        group.encrypt(b"x")
    late_key = vodozemac.InboundGroupSession(group.session_key)  # starts at index 3
    direct = InboundGroupSession.import_session(late_key.export_at(3).to_base64(), "ed-direct", "curve-key", ROOM)
    bundle = _copy(inbound, 0, chain=["inviter-curve"])
    result, kept, meta = _merge(direct, _meta(direct, "direct"), bundle, _meta(bundle, "bundle", by="@alice:x"))
    assert result.stored and kept.first_known_index == 0
    assert meta.origin == "direct" and meta.forwarder_user is None
    assert kept.ed25519 == "ed-direct" and kept.forwarding_chain == []


def test_direct_key_upgrades_bundle_metadata_and_keeps_the_earlier_ratchet():
    group, inbound = _pair()
    bundle = _copy(inbound, 0, chain=["inviter-curve"])
    for _ in range(2):
        group.encrypt(b"x")
    direct = InboundGroupSession.import_session(
        vodozemac.InboundGroupSession(group.session_key).export_at(2).to_base64(), "ed-direct", "curve-key", ROOM
    )
    result, kept, meta = _merge(bundle, _meta(bundle, "bundle", by="@alice:x"), direct, _meta(direct, "direct"))
    assert result.stored and kept.first_known_index == 0
    assert meta.origin == "direct" and meta.forwarder_user is None and kept.forwarding_chain == []


def test_between_two_bundles_the_better_ratchet_wins():
    group, inbound = _pair()
    for _ in range(4):
        group.encrypt(b"x")
    late = InboundGroupSession.import_session(
        vodozemac.InboundGroupSession(group.session_key).export_at(4).to_base64(), "ed", "curve-key", ROOM, ["c1"]
    )
    early = _copy(inbound, 0, chain=["c2"])
    result, kept, meta = _merge(late, _meta(late, "bundle", by="@a:x"), early, _meta(early, "bundle", by="@b:x"))
    assert result.stored and kept is early and meta.forwarder_user == "@b:x"
    result, kept, _ = _merge(early, _meta(early, "bundle", by="@b:x"), late, _meta(late, "bundle", by="@a:x"))
    assert not result.stored and kept is early


def test_a_copy_whose_ratchet_does_not_connect_is_refused():
    """Same session id, different ratchet (a forgery): keep what we have."""
    _, inbound = _pair()
    genuine = _copy(inbound, 0)
    other = vodozemac.GroupSession()
    forged = InboundGroupSession.import_session(
        vodozemac.InboundGroupSession(other.session_key).export_at(0).to_base64(), "ed", "curve-key", ROOM
    )
    result, kept, _ = _merge(genuine, _meta(genuine, "direct"), forged, _meta(genuine, "bundle"))
    assert not result.stored and result.reason == "unconnected ratchet" and kept is genuine


def test_shared_history_flag_spellings():
    assert shared_history_flag({"shared_history": True})
    assert shared_history_flag({"m.shared_history": True})
    assert shared_history_flag({"org.matrix.msc3061.shared_history": True})
    assert not shared_history_flag({"shared_history": "true"})
    assert not shared_history_flag({"shared_history": 1})
    assert not shared_history_flag({})
    assert not shared_history_flag(None)
    assert not shared_history_flag({"org.matrix.msc3061.shared_history": False})
