"""Our engine against matrix-js-sdk 43 + Rust crypto (what Element Web runs), both directions:
cross-signing, recovery keys, and encrypted history sharing (MSC4268)."""

from __future__ import annotations

import pytest

from tests.helpers import bodies
from tui_client.engine.engine import Engine, EngineError

pytestmark = [pytest.mark.interop, pytest.mark.integration]


def _by_body(messages: list[dict]) -> dict[str, dict]:
    return {m["body"]: m for m in messages if m["body"] is not None}


async def _our_user_as(engines, peer) -> Engine:
    """Log our engine in as an account a js peer created (a new device of that account)."""
    from tests.conftest import TestUser

    localpart = peer.user_id.split(":")[0][1:]
    return await engines(f"ours-{localpart}", user=TestUser(localpart, peer.user_id, peer.password))


# -- cross-signing ---------------------------------------------------------------------------------


async def test_element_sees_our_device_cross_signed_and_we_see_theirs(engines, js_peer_factory):
    ours = await engines("tui")
    js = await js_peer_factory("element", cross_signing=True)

    device = await js.device_info(ours.user_id, ours.device_id)
    assert device["exists"] and device["signedByOwner"], device
    identity = await js.user_identity(ours.user_id)
    assert identity["known"] and identity["masterKey"] == ours.own_trust().master_key, identity

    await ours.refresh_keys(js.user_id)
    assert ours.identity.device_cross_signed(js.user_id, js.device_id)
    info = ours.identity.identity_info(js.user_id)
    status = await js.cross_signing_status()
    assert info.state == "pinned" and info.master_key == status["masterKey"]


async def test_recovery_key_from_element_verifies_our_new_device(engines, js_peer_factory):
    js = await js_peer_factory("element", cross_signing=True)
    recovery = (await js.bootstrap_secret_storage())["recoveryKey"]
    ours = await _our_user_as(engines, js)
    trust = ours.own_trust()
    assert trust.identity_exists and not trust.device_verified, "an existing identity is never overwritten"
    assert trust.master_key == (await js.cross_signing_status())["masterKey"]
    before = await js.device_info(js.user_id, ours.device_id)
    assert before["exists"] and not before["signedByOwner"]

    # A wrong recovery key: a clear error and nothing changes.
    wrong = list(recovery.replace(" ", ""))
    wrong[10] = "A" if wrong[10] != "A" else "B"
    with pytest.raises(EngineError, match="recovery key"):
        await ours.verify_with_recovery_key("".join(wrong))
    assert not ours.own_trust().device_verified
    assert not (await js.device_info(js.user_id, ours.device_id))["signedByOwner"]

    trust = await ours.verify_with_recovery_key(recovery)
    assert trust.device_verified and trust.have_private_keys
    after = await js.device_info(js.user_id, ours.device_id)
    assert after["signedByOwner"], after


# -- history sharing: Element invites us -----------------------------------------------------------


async def test_element_invites_us_and_we_read_the_history(engines, js_peer_factory):
    alice = await js_peer_factory("alice", cross_signing=True)
    dave = await engines("dave", legacy_no_shared_history=True)  # a member on a pre-MSC4268 client
    bob = await engines("bob")

    room_id = await alice.create_room("From Element", history_visibility="shared")
    await alice.invite(room_id, dave.user_id, share_history=False)
    assert await dave.wait_until(lambda: any(i.room_id == room_id for i in dave.invites()))
    await dave.join(room_id)
    await alice.wait_for_membership(room_id, dave.user_id, "join")
    await alice.send(room_id, "alice wrote this first")
    await dave.send_text(room_id, "dave's words")
    seen = _by_body(await alice.messages(room_id, wait_for_bodies=["dave's words"], timeout_ms=20000))
    assert seen["dave's words"]["decrypted"]

    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == room_id and i.bundle for i in bob.invites()), 30)
    invite = next(i for i in bob.invites() if i.room_id == room_id)
    assert invite.inviter == alice.user_id and invite.bundle.state == "waiting"

    await bob.join(room_id)
    await bob.load_full_history(room_id)
    items = {i.body or i.sender: i for i in bob.timeline(room_id) if i.is_message}
    first = items["alice wrote this first"]
    assert first.decrypted and first.provenance is not None
    assert first.provenance.shared_by == alice.user_id and first.provenance.shared_by_device == alice.device_id
    daves = items[dave.user_id]
    assert daves.failed and daves.failure_code == "not_shared", daves
    assert daves.failure_reason == "not shared: the sender's history settings did not allow it (m.history_not_shared)"

    await alice.send(room_id, "hello bob")
    assert await bob.wait_until(lambda: "hello bob" in bodies(bob.timeline(room_id)))
    assert next(i for i in bob.timeline(room_id) if i.body == "hello bob").provenance is None


# -- history sharing: we invite Element --------------------------------------------------------------


async def test_we_invite_element_and_it_reads_the_history(engines, js_peer_factory):
    alice = await engines("alice")
    bob = await js_peer_factory("bob", cross_signing=True)
    charlie = await js_peer_factory("charlie", cross_signing=True)

    room_id = await alice.create_room("From tui_client", history_visibility="shared")
    for text in ("one", "two", "three"):
        await alice.send_text(room_id, text)
    result = await alice.invite(room_id, bob.user_id)
    assert result.shared and result.devices == (bob.device_id,), result

    assert await bob.wait_for_invite(room_id) == alice.user_id
    bundle = await bob.wait_for_room_key_bundle(room_id, sender=alice.user_id)
    assert bundle["type"] == "m.room_key_bundle" and bundle["encrypted"]
    assert await bob.join(room_id) == alice.user_id
    msgs = _by_body(await bob.messages(room_id, wait_for_bodies=["one", "two", "three"], timeout_ms=30000))
    for text in ("one", "two", "three"):
        assert msgs[text]["decrypted"], msgs.get(text)
        assert msgs[text]["forwardingUser"] == alice.user_id
        assert msgs[text]["shieldColour"] == "GREY"
        assert msgs[text]["shieldReason"] == "AUTHENTICITY_NOT_GUARANTEED"

    # The flag in the m.room_key we sent is spelled so Element takes the session as shareable:
    # when bob (Element) invites charlie, alice's keys travel on in bob's bundle.
    await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    await alice.send_text(room_id, "after bob joined")
    assert _by_body(await bob.messages(room_id, wait_for_bodies=["after bob joined"], timeout_ms=20000))[
        "after bob joined"]["decrypted"]
    await bob.invite(room_id, charlie.user_id)
    assert await charlie.wait_for_invite(room_id) == bob.user_id
    await charlie.join(room_id)
    seen = _by_body(await charlie.messages(room_id, wait_for_bodies=["one", "after bob joined"], timeout_ms=30000))
    assert seen["one"]["decrypted"] and seen["one"]["forwardingUser"] == bob.user_id
    assert seen["after bob joined"]["decrypted"], "a session alice created after bob joined is shareable too"
