"""MSC4268 history sharing between our engines on a real Synapse (msc4268.md §8 checklist)."""

from __future__ import annotations

import json
import logging

import pytest

from tests.helpers import bodies, send_raw_to_device
from tui_client.config import Settings
from tui_client.engine.crypto.attachments import encrypt_attachment as encrypt_file
from tui_client.engine.history_sharing.bundle import bundle_content, serialize_bundle
from tui_client.engine.engine import Engine
from tui_client.engine.events import TimelineItemUpdated

pytestmark = pytest.mark.integration


class Clock:
    """An injectable clock: real time plus an offset the test moves."""

    def __init__(self) -> None:
        import time

        self._time = time.time
        self.offset = 0.0

    def __call__(self) -> float:
        return self._time() + self.offset


async def invited(engine: Engine, room_id: str) -> None:
    assert await engine.wait_until(lambda: any(i.room_id == room_id for i in engine.invites()), 20)


async def history(engine: Engine, room_id: str) -> dict[str, object]:
    await engine.load_full_history(room_id)
    return {i.body or f"<{i.event_id}>": i for i in engine.timeline(room_id) if i.is_message}


async def room_with_messages(alice: Engine, texts: list[str], visibility: str = "shared") -> tuple[str, list[str]]:
    room_id = await alice.create_room("History", history_visibility=visibility)
    ids = [await alice.send_text(room_id, t) for t in texts]
    return room_id, ids


def by_event(engine: Engine, room_id: str) -> dict[str, object]:
    return {i.event_id: i for i in engine.timeline(room_id)}


# -- the happy path ------------------------------------------------------------------------------


async def test_invite_shares_history_with_provenance(engines):
    alice, bob = await engines("alice"), await engines("bob")
    room_id, ids = await room_with_messages(alice, ["first", "second", "third"])

    preview = alice.share_preview(room_id)
    assert preview.shareable and preview.key_count == 1
    result = await alice.invite(room_id, bob.user_id)
    assert result.shared and result.key_count == 1 and result.devices == (bob.device_id,)

    await invited(bob, room_id)
    invite = next(i for i in bob.invites() if i.room_id == room_id)
    assert invite.inviter == alice.user_id
    assert invite.bundle is not None and invite.bundle.state == "waiting" and invite.bundle.key_count == 1

    await bob.join(room_id)
    items = by_event(bob, room_id) or {}
    await bob.load_full_history(room_id)
    items = by_event(bob, room_id)
    for event_id, body in zip(ids, ["first", "second", "third"]):
        item = items[event_id]
        assert item.decrypted and item.body == body
        assert item.provenance is not None
        assert item.provenance.shared_by == alice.user_id
        assert item.provenance.shared_by_device == alice.device_id
        assert item.provenance.badge == f"🔑 shared by Alice ({alice.user_id})"

    after = await alice.send_text(room_id, "after the join")
    assert await bob.wait_until(lambda: "after the join" in bodies(bob.timeline(room_id)))
    assert by_event(bob, room_id)[after].provenance is None, "keys received directly carry no provenance"


async def test_imported_keys_and_provenance_survive_a_restart(engines, tmp_path):
    alice = await engines("alice")
    bob_dir = tmp_path / "bob"
    bob = await engines("bob", profile_dir=bob_dir)
    room_id, ids = await room_with_messages(alice, ["remember me"])
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    await bob.close()

    bob2 = Engine("bob", profile_dir=bob_dir)
    try:
        assert await bob2.open()
        await bob2.sync_once()
        await bob2.load_full_history(room_id)
        item = by_event(bob2, room_id)[ids[0]]
        assert item.decrypted and item.body == "remember me"
        assert item.provenance.shared_by == alice.user_id
        assert bob2.client.store.count_inbound_sessions_by_room()[room_id] >= 1
    finally:
        await bob2.close()


async def test_inviter_device_may_be_gone_before_the_join(engines):
    """rust-sdk's test_history_share_on_invite: Alice logs out right after inviting."""
    alice, bob = await engines("alice"), await engines("bob")
    room_id, ids = await room_with_messages(alice, ["said before logging out"])
    await alice.invite(room_id, bob.user_id)
    alice_id = alice.user_id
    await alice.logout()
    await invited(bob, room_id)
    await bob.join(room_id)
    await bob.load_full_history(room_id)
    item = by_event(bob, room_id)[ids[0]]
    assert item.decrypted and item.provenance.shared_by == alice_id


# -- timing and restarts ---------------------------------------------------------------------------


async def test_bundle_arriving_after_the_join_is_imported(engines):
    alice, bob = await engines("alice"), await engines("bob")
    room_id, ids = await room_with_messages(alice, ["early"])
    await alice.invite(room_id, bob.user_id, share_history=False)
    await invited(bob, room_id)
    await bob.join(room_id)
    await bob.load_full_history(room_id)
    waiting = by_event(bob, room_id)[ids[0]]
    assert waiting.failed and waiting.failure_code == "waiting_for_bundle"
    assert waiting.failure_reason == "sent before you joined — waiting for keys from Alice"

    updates: list[TimelineItemUpdated] = []
    bob.subscribe(lambda e: updates.append(e) if isinstance(e, TimelineItemUpdated) else None)
    await alice.share_history(room_id, bob.user_id)
    assert await bob.wait_until(lambda: by_event(bob, room_id)[ids[0]].decrypted, 20)
    item = by_event(bob, room_id)[ids[0]]
    assert item.body == "early" and item.provenance.shared_by == alice.user_id
    assert any(u.item.event_id == ids[0] and u.item.decrypted for u in updates), "the item re-renders by itself"


async def test_restart_between_receiving_the_bundle_and_joining(engines, tmp_path):
    alice = await engines("alice")
    bob_dir = tmp_path / "bob"
    bob = await engines("bob", profile_dir=bob_dir)
    room_id, ids = await room_with_messages(alice, ["kept across a restart"])
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    assert bob.invites()[0].bundle.state == "waiting"
    await bob.close()

    bob2 = Engine("bob", profile_dir=bob_dir)
    try:
        assert await bob2.open()
        await bob2.sync_once()
        assert bob2.invites()[0].bundle.state == "waiting"
        await bob2.join(room_id)
        await bob2.load_full_history(room_id)
        item = by_event(bob2, room_id)[ids[0]]
        assert item.decrypted and item.provenance.shared_by == alice.user_id
    finally:
        await bob2.close()


async def join_then_die_before_importing(bob: Engine, room_id: str) -> None:
    """Accept the invite, then the process dies before the bundle is imported."""
    bob.sharing.receiver.schedule = lambda room_id: None  # type: ignore[method-assign]
    await bob.join(room_id)
    assert pending(bob, room_id) is not None
    await bob.close()


def pending(engine: Engine, room_id: str):
    """The open acceptance of an invite to the room (we still look for the inviter's keys)."""
    acceptance = engine.sharing.acceptance(room_id)
    return acceptance if acceptance is not None and acceptance.open else None


async def test_restart_between_joining_and_importing(engines, tmp_path):
    """rust-sdk's test_shared_history_crash_before_import: the import runs at the next start."""
    alice = await engines("alice")
    bob_dir = tmp_path / "bob"
    bob = await engines("bob", profile_dir=bob_dir)
    room_id, ids = await room_with_messages(alice, ["imported at start-up"])
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)

    await join_then_die_before_importing(bob, room_id)

    bob2 = Engine("bob", profile_dir=bob_dir)
    try:
        assert await bob2.open()
        await bob2.sync_once()  # start-up retries pending imports, in the background
        await bob2.settle()
        await bob2.load_full_history(room_id)
        item = by_event(bob2, room_id)[ids[0]]
        assert item.decrypted and item.provenance.shared_by == alice.user_id
    finally:
        await bob2.close()


async def test_bundle_more_than_24_hours_after_accepting_is_not_imported(engines):
    clock = Clock()
    alice = await engines("alice")
    bob = await engines("bob", clock=clock)
    room_id, ids = await room_with_messages(alice, ["too late"])
    await alice.invite(room_id, bob.user_id, share_history=False)
    await invited(bob, room_id)
    await bob.join(room_id)

    clock.offset = 25 * 3600
    await alice.share_history(room_id, bob.user_id)
    assert await bob.wait_until(
        lambda: (b := bob.sharing.bundle(room_id, alice.user_id)) is not None
        and b.state == "rejected", 20
    )
    await bob.settle()
    bundle = bob.sharing.bundle(room_id, alice.user_id)
    assert "longer than the 24 h" in bundle.detail
    await bob.load_full_history(room_id)
    assert by_event(bob, room_id)[ids[0]].failed
    assert pending(bob, room_id) is None


async def test_pending_import_older_than_24_hours_is_dropped_at_start(engines, tmp_path):
    alice = await engines("alice")
    bob_dir = tmp_path / "bob"
    bob = await engines("bob", profile_dir=bob_dir)
    room_id, ids = await room_with_messages(alice, ["stale"])
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)

    await join_then_die_before_importing(bob, room_id)

    clock = Clock()
    clock.offset = 25 * 3600
    bob2 = Engine("bob", profile_dir=bob_dir, clock=clock)
    try:
        assert await bob2.open()
        await bob2.sync_once()
        assert pending(bob2, room_id) is None
        await bob2.load_full_history(room_id)
        assert by_event(bob2, room_id)[ids[0]].failed
    finally:
        await bob2.close()


async def test_left_and_rejoined_room_does_not_import(engines):
    """js-sdk: keys are not imported if we left and rejoined after accepting the invite."""
    alice, bob = await engines("alice"), await engines("bob")
    room_id, ids = await room_with_messages(alice, ["before"])
    await alice.client.room_put_state(room_id, "m.room.join_rules", {"join_rule": "public"})
    await alice.invite(room_id, bob.user_id, share_history=False)
    await invited(bob, room_id)
    await bob.join(room_id)
    await bob.leave(room_id)
    assert pending(bob, room_id) is None
    await bob.join(room_id)  # rejoining a public room is not accepting an invite: nothing recorded
    await alice.share_history(room_id, bob.user_id)
    await bob.sync_once()
    await bob.settle()
    bundle = bob.sharing.bundle(room_id, alice.user_id)
    assert bundle is not None and bundle.state == "waiting", "kept but never used"


# -- what is shared --------------------------------------------------------------------------------


async def test_nothing_shared_when_visibility_is_joined(engines):
    alice, bob = await engines("alice"), await engines("bob")
    room_id, _ = await room_with_messages(alice, ["members only"], visibility="joined")
    preview = alice.share_preview(room_id)
    assert not preview.shareable and "'joined'" in preview.reason
    result = await alice.invite(room_id, bob.user_id)
    assert not result.shared and "'joined'" in result.reason
    await invited(bob, room_id)
    assert next(i for i in bob.invites() if i.room_id == room_id).bundle is None


async def _room_with_legacy_member(engines):
    """alice (MSC4268 client) and dave (a legacy client that never marks sessions shareable)."""
    alice = await engines("alice")
    dave = await engines("dave", legacy_no_shared_history=True)
    room_id = await alice.create_room("Mixed clients", history_visibility="shared")
    await alice.invite(room_id, dave.user_id)
    await invited(dave, room_id)
    await dave.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    a1 = await alice.send_text(room_id, "alice speaks")
    d1 = await dave.send_text(room_id, "dave speaks")
    assert await alice.wait_until(lambda: "dave speaks" in bodies(alice.timeline(room_id)))
    return alice, dave, room_id, a1, d1


async def test_unshareable_session_is_withheld_and_explained(engines):
    alice, dave, room_id, a1, d1 = await _room_with_legacy_member(engines)
    bob = await engines("bob")
    preview = alice.share_preview(room_id)
    assert preview.key_count >= 1 and preview.withheld_count == 1

    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    await bob.load_full_history(room_id)
    items = by_event(bob, room_id)
    assert items[a1].decrypted and items[a1].provenance.shared_by == alice.user_id
    assert items[d1].failed and items[d1].failure_code == "not_shared"
    assert items[d1].failure_reason == "not shared: the sender's history settings did not allow it (m.history_not_shared)"
    withheld = bob.sharing.records.withheld_in(room_id)
    assert [(w.code, w.via, w.from_user) for w in withheld] == [("m.history_not_shared", "bundle", alice.user_id)]


async def test_session_created_while_visibility_was_joined_is_withheld(engines):
    alice, bob = await engines("alice"), await engines("bob")
    room_id = await alice.create_room("Flip", history_visibility="shared")
    await alice.send_text(room_id, "shared one")
    await alice.set_history_visibility(room_id, "joined")
    await alice.send_text(room_id, "while joined")
    await alice.set_history_visibility(room_id, "shared")
    await alice.send_text(room_id, "shared two")
    sessions = {m.session_id: m.shared_history for m in alice.client.olm.session_meta.values() if m.room_id == room_id}
    assert sorted(sessions.values()) == [False, True, True], "each visibility change rotates the session"

    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    hist = await history(bob, room_id)
    assert hist["shared one"].decrypted and hist["shared two"].decrypted
    # Synapse hides "while joined" from bob entirely; its session is on record as not shared.
    assert "while joined" not in hist
    withheld = {w.session_id for w in bob.sharing.records.withheld_in(room_id)}
    unshared = {sid for sid, shared in sessions.items() if not shared}
    assert withheld == unshared


async def test_transitive_sharing_passes_keys_and_withheld_on(engines):
    alice, dave, room_id, a1, d1 = await _room_with_legacy_member(engines)
    bob, charlie = await engines("bob"), await engines("charlie")
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    assert await bob.wait_until(lambda: bob.room(room_id).joined_count == 3)
    # bob reads the history he was given (as opening the room does); inviting never pages back
    # just to count, it counts what is loaded when that reaches the start of the room
    await bob.load_full_history(room_id)

    result = await bob.invite(room_id, charlie.user_id)
    assert result.shared and result.withheld_count == 1
    await invited(charlie, room_id)
    # so charlie's invite says how much it opens
    bundle = next(i for i in charlie.invites() if i.room_id == room_id).bundle
    assert bundle.message_count == 1 and bundle.describe("Bob") == "Bob shared the keys to 1 earlier message"
    await charlie.join(room_id)
    await charlie.load_full_history(room_id)
    items = by_event(charlie, room_id)
    assert items[a1].decrypted and items[a1].provenance.shared_by == bob.user_id
    assert items[d1].failed and items[d1].failure_code == "not_shared"


async def together(alice: Engine, bob: Engine, name: str) -> str:
    """A room of alice's that bob has joined (alice has seen him join)."""
    room_id = await alice.create_room(name)
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    return room_id


async def test_a_member_leaving_rotates_the_session(engines):
    alice, bob = await engines("alice"), await engines("bob")
    room_id = await together(alice, bob, "Rotation")
    m1 = await alice.send_text(room_id, "m1")
    assert await bob.wait_until(lambda: "m1" in bodies(bob.timeline(room_id)))
    session1 = by_event(bob, room_id)[m1].session_id

    await bob.leave(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 1)
    await alice.send_text(room_id, "m2")
    assert await alice.wait_until(lambda: "m2" in bodies(alice.timeline(room_id)))
    m2 = next(i for i in alice.timeline(room_id) if i.body == "m2")
    assert m2.session_id != session1


async def test_bundle_never_replaces_a_session_received_directly(engines):
    alice, bob = await engines("alice"), await engines("bob")
    room_id = await together(alice, bob, "Merging")
    direct = await alice.send_text(room_id, "bob got this key directly")
    assert await bob.wait_until(lambda: "bob got this key directly" in bodies(bob.timeline(room_id)))
    await bob.leave(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 1)
    away = await alice.send_text(room_id, "while bob was away")

    await alice.invite(room_id, bob.user_id)  # the bundle holds both sessions
    await invited(bob, room_id)
    await bob.join(room_id)
    await bob.load_full_history(room_id)
    items = by_event(bob, room_id)
    assert items[direct].decrypted and items[direct].provenance is None
    assert bob.client.olm.meta_for(room_id, items[direct].session_id).origin == "direct"
    assert items[away].decrypted and items[away].provenance.shared_by == alice.user_id


async def test_direct_key_after_a_bundle_upgrades_the_session(engines):
    """rust-sdk's test_history_sharing_session_merging: when the creator later sends us the same
    session directly (rust-sdk keeps sessions for new members when visibility allows), the direct
    copy's metadata wins and the forwarder info goes away, while the earlier ratchet is kept."""
    alice, bob = await engines("alice"), await engines("bob")
    room_id, ids = await room_with_messages(alice, ["m1"])
    outbound = alice.client.olm.outbound_group_sessions[room_id]
    await alice.invite(room_id, bob.user_id)
    # Make alice behave like rust-sdk here: keep the session and share it with the newcomer.
    alice.client.olm.outbound_group_sessions[room_id] = outbound
    outbound.shared = False
    await invited(bob, room_id)
    await bob.join(room_id)
    await bob.load_full_history(room_id)
    m1 = by_event(bob, room_id)[ids[0]]
    assert m1.provenance is not None

    updates: list[TimelineItemUpdated] = []
    bob.subscribe(lambda e: updates.append(e) if isinstance(e, TimelineItemUpdated) else None)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    m2_id = await alice.send_text(room_id, "m2")
    assert await bob.wait_until(lambda: "m2" in bodies(bob.timeline(room_id)))
    items = by_event(bob, room_id)
    assert items[m2_id].session_id == m1.session_id
    assert items[m2_id].provenance is None
    assert items[ids[0]].decrypted and items[ids[0]].provenance is None, "m1 re-renders without the badge"
    assert any(u.item.event_id == ids[0] for u in updates)
    meta = bob.client.olm.meta_for(room_id, m1.session_id)
    assert meta.origin == "direct" and meta.forwarder_user is None
    assert bob.client.olm.inbound_group_store.get(room_id, m1.sender_key, m1.session_id).first_known_index == 0


# -- hostile bundles -------------------------------------------------------------------------------


async def _setup_hostile(engines, **bob_kwargs):
    alice, bob = await engines("alice"), await engines("bob", **bob_kwargs)
    room_id, ids = await room_with_messages(alice, ["secret history"])
    await alice.invite(room_id, bob.user_id, share_history=False)
    await invited(bob, room_id)
    return alice, bob, room_id, ids


async def _send_crafted(sender: Engine, bob: Engine, room_id: str, *, bundle: dict | None = None,
                        plaintext: bytes | None = None, tamper=None, content_room: str | None = None) -> None:
    """Send bob a key bundle built by `sender`, altered as a hostile client might."""
    if plaintext is None:
        plaintext = serialize_bundle(bundle if bundle is not None else sender.sharing.sender.build(room_id))
    ciphertext, file = encrypt_file(plaintext)
    if tamper is not None:
        ciphertext, file = tamper(ciphertext, file)
    file["url"] = await sender.client.upload_bytes(ciphertext)
    await sender.refresh_keys(bob.user_id)
    content = bundle_content(content_room or room_id, file, 1, 0)
    await sender.sharing.sender.send_to_devices(bob.user_id, [bob.device_id], content)


async def _join_and_expect_refusal(bob: Engine, room_id: str, ids: list[str], caplog, expected: str) -> None:
    await bob.join(room_id)
    await bob.sync_once()
    await bob.settle()
    await bob.load_full_history(room_id)
    item = by_event(bob, room_id)[ids[0]]
    assert item.failed and item.provenance is None, "nothing may be imported from a hostile bundle"
    assert not [m for m in bob.client.olm.session_meta.values() if m.origin == "bundle"]
    assert expected in caplog.text, caplog.text[-2000:]


async def _still_running(alice: Engine, bob: Engine, room_id: str) -> None:
    await alice.send_text(room_id, "life goes on")
    assert await bob.wait_until(lambda: "life goes on" in bodies(bob.timeline(room_id)))


@pytest.fixture
def warnings_log(caplog):
    caplog.set_level(logging.INFO, logger="tui_client")
    return caplog


async def test_hostile_bad_hash(engines, warnings_log):
    alice, bob, room_id, ids = await _setup_hostile(engines)
    await _send_crafted(alice, bob, room_id, tamper=lambda c, f: (c[:-1] + bytes([c[-1] ^ 1]), f))
    await _join_and_expect_refusal(bob, room_id, ids, warnings_log, "does not match its SHA-256 hash")
    assert bob.sharing.bundle(room_id, alice.user_id).state == "rejected"
    assert "refused" in by_event(bob, room_id)[ids[0]].failure_reason
    await _still_running(alice, bob, room_id)


async def test_hostile_malformed_json(engines, warnings_log):
    alice, bob, room_id, ids = await _setup_hostile(engines)
    await _send_crafted(alice, bob, room_id, plaintext=b'{"room_keys": [ {"oops"')
    await _join_and_expect_refusal(bob, room_id, ids, warnings_log, "not valid JSON")
    await _still_running(alice, bob, room_id)


async def test_hostile_truncated_file(engines, warnings_log):
    import hashlib

    from tui_client.engine.crypto.canonical import b64encode

    def truncate(ciphertext, file):
        short = ciphertext[: len(ciphertext) // 2]
        file["hashes"]["sha256"] = b64encode(hashlib.sha256(short).digest())
        return short, file

    alice, bob, room_id, ids = await _setup_hostile(engines)
    await _send_crafted(alice, bob, room_id, tamper=truncate)
    await _join_and_expect_refusal(bob, room_id, ids, warnings_log, "not valid JSON")
    await _still_running(alice, bob, room_id)


async def test_hostile_oversize_file(engines, warnings_log):
    alice, bob, room_id, ids = await _setup_hostile(engines, settings=Settings(bundle_max_bytes=4096))
    bundle = alice.sharing.sender.build(room_id)
    bundle["padding"] = "x" * 20000
    await _send_crafted(alice, bob, room_id, bundle=bundle)
    await _join_and_expect_refusal(bob, room_id, ids, warnings_log, "too large")
    await _still_running(alice, bob, room_id)


async def test_hostile_session_id_not_matching_its_key(engines, warnings_log):
    alice, bob, room_id, ids = await _setup_hostile(engines)
    bundle = alice.sharing.sender.build(room_id)
    other_room = await alice.create_room("Other")
    await alice.send_text(other_room, "other")
    other_key = alice.sharing.sender.build(other_room)["room_keys"][0]["session_key"]
    bundle["room_keys"][0]["session_key"] = other_key
    await _send_crafted(alice, bob, room_id, bundle=bundle)
    await _join_and_expect_refusal(bob, room_id, ids, warnings_log, "its key belongs to another session")
    await _still_running(alice, bob, room_id)


async def test_hostile_keys_of_another_room_mixed_in(engines, warnings_log):
    alice, bob, room_id, ids = await _setup_hostile(engines)
    other_room = await alice.create_room("Other")
    await alice.send_text(other_room, "other")
    bundle = alice.sharing.sender.build(room_id)
    foreign = alice.sharing.sender.build(other_room)["room_keys"]
    bundle["room_keys"].extend(foreign)
    await _send_crafted(alice, bob, room_id, bundle=bundle)
    await bob.join(room_id)
    await bob.settle()
    await bob.load_full_history(room_id)
    assert by_event(bob, room_id)[ids[0]].decrypted
    imported_rooms = {m.room_id for m in bob.client.olm.session_meta.values() if m.origin == "bundle"}
    assert imported_rooms == {room_id}, "keys naming another room are never imported"
    assert "named other rooms in 1 entries" in warnings_log.text


async def test_hostile_bundle_naming_another_room(engines, warnings_log):
    alice, bob, room_id, ids = await _setup_hostile(engines)
    other_room = await alice.create_room("Decoy")
    await _send_crafted(alice, bob, room_id, content_room=other_room)
    await bob.join(room_id)
    await bob.settle()
    await bob.load_full_history(room_id)
    assert by_event(bob, room_id)[ids[0]].failed
    assert bob.sharing.bundle(other_room, alice.user_id).state == "waiting"
    assert not [m for m in bob.client.olm.session_meta.values() if m.origin == "bundle"]
    assert f"received a key bundle for {other_room}" in warnings_log.text


async def test_hostile_bundle_from_someone_other_than_the_inviter(engines, warnings_log):
    alice, bob, room_id, ids = await _setup_hostile(engines)
    carol = await engines("carol")
    await alice.invite(room_id, carol.user_id, share_history=False)
    await invited(carol, room_id)
    await carol.join(room_id)
    # carol holds no keys for the history; she ships alice's own keys as if they were hers to give
    await _send_crafted(carol, bob, room_id, bundle=alice.sharing.sender.build(room_id))
    await _join_and_expect_refusal(bob, room_id, ids, warnings_log, "only the bundle of the inviter")
    await _still_running(alice, bob, room_id)


async def test_hostile_sender_device_not_cross_signed(engines, make_user, warnings_log):
    user = make_user("alice")
    alice = await engines("alice", user=user)
    bob = await engines("bob")
    room_id, ids = await room_with_messages(alice, ["secret history"])
    await alice.invite(room_id, bob.user_id, share_history=False)
    await invited(bob, room_id)
    rogue = await engines("alice-rogue", user=user)  # same account, a device nobody signed
    assert not rogue.own_trust().device_verified
    await rogue.sync_once()
    # The rogue device sends a bundle with alice's keys (lifted from her store, for the test).
    await _send_crafted(rogue, bob, room_id, bundle=alice.sharing.sender.build(room_id))
    await _join_and_expect_refusal(bob, room_id, ids, warnings_log, "is not cross-signed by its owner")
    await _still_running(alice, bob, room_id)


async def test_hostile_sender_whose_identity_changed(engines, warnings_log):
    alice, bob = await engines("alice"), await engines("bob")
    await bob.refresh_keys(alice.user_id)  # bob pins alice's identity
    await alice.reset_identity(alice.test_user.password)
    room_id, ids = await room_with_messages(alice, ["after the reset"])
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await _join_and_expect_refusal(bob, room_id, ids, warnings_log, "identity changed since we first saw it")
    assert bob.identity.identity_info(alice.user_id).state == "changed"
    await _still_running(alice, bob, room_id)


async def test_hostile_plaintext_to_device_bundle(engines, warnings_log):
    alice, bob, room_id, ids = await _setup_hostile(engines)
    ciphertext, file = encrypt_file(serialize_bundle(alice.sharing.sender.build(room_id)))
    file["url"] = await alice.client.upload_bytes(ciphertext)
    await send_raw_to_device(alice, "m.room_key_bundle", {
        bob.user_id: {bob.device_id: bundle_content(room_id, file, 1, 0)},
    })
    await _join_and_expect_refusal(bob, room_id, ids, warnings_log, "key bundles must arrive Olm-encrypted")
    assert bob.sharing.bundle(room_id, alice.user_id) is None
    await _still_running(alice, bob, room_id)


async def test_history_json_carries_provenance(engines, cli_env, homeserver, make_user):
    """`tui-client history --json` gains shared_by / shared_by_device; invites show the bundle."""
    import subprocess
    import sys

    alice = await engines("alice")
    room_id, ids = await room_with_messages(alice, ["for the cli"])
    bob_user = make_user("bob")

    def cli(*args, input=None):
        return subprocess.run([sys.executable, "-m", "tui_client", "--profile", "b", *args], env=cli_env,
                              input=input, capture_output=True, text=True, timeout=120)

    login = cli("login", "--homeserver", homeserver.url, "--user", bob_user.localpart, "--password-stdin",
                input=bob_user.password + "\n")
    assert login.returncode == 0, login.stderr
    await alice.invite(room_id, bob_user.user_id)
    invites = json.loads(cli("invites", "--json").stdout)
    assert invites[0]["bundle"]["state"] == "waiting" and invites[0]["bundle"]["sender"] == alice.user_id
    assert cli("join", room_id).returncode == 0
    out = cli("history", room_id, "--json")
    assert out.returncode == 0, out.stderr
    entry = next(e for e in json.loads(out.stdout) if e["event_id"] == ids[0])
    assert entry["body"] == "for the cli" and entry["decrypted"]
    assert entry["shared_by"] == alice.user_id and entry["shared_by_device"] == alice.device_id


async def test_a_device_no_keys_were_sent_to_is_told_the_final_truth(engines):
    """First ten minutes #7: a device logged in by hand showed 'waiting for keys from Alice' forever."""
    alice, bob = await engines("alice"), await engines("bob")
    by_hand = await engines("bob-laptop", user=bob.test_user)  # a second device nobody cross-signed
    assert not by_hand.own_trust().device_verified
    room_id, ids = await room_with_messages(alice, ["before the laptop"])
    await alice.invite(room_id, bob.user_id)
    await invited(by_hand, room_id)
    await by_hand.join(room_id)
    await by_hand.load_full_history(room_id)
    item = by_event(by_hand, room_id)[ids[0]]
    assert item.failed and item.failure_code == "device_not_eligible"
    assert item.failure_reason == (
        "sent before you joined; Alice's client did not share keys with this device: it is not cross-signed"
    )
