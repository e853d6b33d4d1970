"""Emoji verification and key sharing between our own engines on a real Synapse: two devices
of one user (to-device), two people in a direct chat, a mismatch, and a new device that gets the
keys to earlier messages and our identity's keys from the device that verified it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from tui_client.engine.engine import Engine, EngineError
from tui_client.engine.models import VerificationInfo, VerificationPhase

pytestmark = pytest.mark.integration


async def until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    """Poll while the engines' sync loops run."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)
    return value


def flow(engine: Engine, *, incoming: bool | None = None, phase: VerificationPhase | None = None) -> VerificationInfo | None:
    for info in engine.verifications():
        if incoming is not None and info.incoming != incoming:
            continue
        if phase is not None and info.phase is not phase:
            continue
        return info
    return None


def current(engine: Engine, flow_id: str) -> VerificationInfo:
    return next(i for i in engine.verifications() if i.flow_id == flow_id)


async def compare_emoji(asker: Engine, answerer: Engine, asked: VerificationInfo) -> tuple[VerificationInfo, VerificationInfo]:
    """Run a verification `asker` requested to the end, both confirming. Returns both final infos."""
    theirs = await until(lambda: flow(answerer, incoming=True, phase=VerificationPhase.REQUESTED), what="the request")
    assert theirs.flow_id == asked.flow_id
    await answerer.accept_verification(theirs.flow_id)
    await until(lambda: current(asker, asked.flow_id).phase is VerificationPhase.EMOJI, what="emoji on the asker")
    await until(lambda: current(answerer, asked.flow_id).phase is VerificationPhase.EMOJI, what="emoji on the answerer")
    mine, other = current(asker, asked.flow_id), current(answerer, asked.flow_id)
    assert len(mine.emoji) == 7 and mine.emoji == other.emoji and mine.decimals == other.decimals
    await answerer.confirm_verification(asked.flow_id)
    await asker.confirm_verification(asked.flow_id)
    await until(lambda: current(asker, asked.flow_id).phase is VerificationPhase.DONE, what="done on the asker")
    await until(lambda: current(answerer, asked.flow_id).phase is VerificationPhase.DONE, what="done on the answerer")
    return current(asker, asked.flow_id), current(answerer, asked.flow_id)


async def test_a_new_device_verified_by_emoji_gets_our_keys_and_the_earlier_messages(engines, make_user):
    user = make_user("dora")
    first = await engines("dora-laptop", user=user)
    room = await first.create_room("Plans", history_visibility="joined")
    for text in ("the first plan", "the second plan"):
        await first.send_text(room, text)
    second = await engines("dora-phone", user=user)
    assert not second.own_trust().device_verified and not second.own_trust().have_private_keys
    await second.sync_once()
    await until(lambda: len([i for i in second.timeline(room) if i.is_message]) == 2, what="the messages")
    assert all(i.failed for i in second.timeline(room) if i.is_message), "no keys yet"
    await first.refresh_keys(user.user_id)
    for engine in (first, second):
        engine.start_sync()

    asked = await second.request_verification(user.user_id)
    assert asked.own_devices and asked.we_requested and asked.phase is VerificationPhase.REQUESTED
    mine, theirs = await compare_emoji(second, first, asked)
    assert mine.own_devices and theirs.own_devices

    # The laptop signed the phone; the phone asked for our identity's keys and got them.
    await until(lambda: any(d.device_id == second.device_id and d.verified for d in first.devices(user.user_id)),
                what="the laptop to sign the phone")
    await until(lambda: second.own_trust().have_private_keys, what="the cross-signing keys")
    await until(lambda: second.own_trust().device_verified, what="the phone to be verified")
    # ... and the keys to what was said before it logged in, from the laptop.
    await until(lambda: all(i.decrypted for i in second.timeline(room) if i.is_message), 45, "the earlier messages")
    assert [i.body for i in second.timeline(room) if i.is_message] == ["the first plan", "the second plan"]
    result = await until(lambda: current(first, asked.flow_id).result, what="the laptop's result")
    assert result == f"your device {second.device_id} is now verified by your identity"


async def test_two_people_compare_emoji_in_a_direct_chat_and_verify_each_other(engines):
    alice = await engines("alice")
    bob = await engines("bob")
    for engine in (alice, bob):
        engine.start_sync()

    async def bob_joins() -> None:
        await until(lambda: bob.invites(), what="the direct chat invite")
        await bob.join(bob.invites()[0].room_id)

    joining = asyncio.create_task(bob_joins())
    asked = await alice.request_verification(bob.user_id, timeout=30)
    await joining
    assert asked.room_id and not asked.own_devices
    mine, theirs = await compare_emoji(alice, bob, asked)
    await until(lambda: alice.identity_info(bob.user_id).state == "verified", what="Bob verified for Alice")
    await until(lambda: bob.identity_info(alice.user_id).state == "verified", what="Alice verified for Bob")
    assert all(d.verified for d in alice.devices(bob.user_id) if d.device_id == bob.device_id)
    await until(lambda: current(alice, asked.flow_id).result, what="the result")
    assert current(alice, asked.flow_id).result == f"{bob.user_id} is now verified"
    # The request shows in the direct chat as what it is, not as an unknown message type.
    assert any(i.kind == "state" and i.body == "Alice asked Bob to verify by comparing emoji"
               for i in bob.timeline(asked.room_id)), [i.body for i in bob.timeline(asked.room_id)]

    # A second request reuses the direct chat.
    again = await alice.request_verification(bob.user_id, timeout=5)
    assert again.room_id == asked.room_id
    await alice.cancel_verification(again.flow_id)
    await until(lambda: (f := current(bob, again.flow_id) if any(i.flow_id == again.flow_id for i in bob.verifications()) else None)
                and f.phase is VerificationPhase.CANCELLED, what="the cancel to reach Bob")
    assert current(bob, again.flow_id).cancel_code == "m.user"


async def test_emoji_that_do_not_match_verify_nothing(engines, make_user, caplog):
    caplog.set_level(logging.INFO)
    user = make_user("erin")
    first = await engines("erin1", user=user)
    second = await engines("erin2", user=user)
    await first.refresh_keys(user.user_id)
    for engine in (first, second):
        engine.start_sync()
    asked = await first.request_verification(user.user_id, device_id=second.device_id)
    theirs = await until(lambda: flow(second, incoming=True), what="the request")
    await second.accept_verification(theirs.flow_id)
    await until(lambda: current(second, asked.flow_id).phase is VerificationPhase.EMOJI, what="emoji")
    await until(lambda: current(first, asked.flow_id).phase is VerificationPhase.EMOJI, what="emoji")
    await second.mismatch_verification(asked.flow_id)
    await until(lambda: current(first, asked.flow_id).phase is VerificationPhase.CANCELLED, what="the cancel")
    info = current(first, asked.flow_id)
    assert info.cancel_code == "m.mismatched_sas" and not info.cancelled_by_us
    assert current(second, asked.flow_id).cancelled_by_us
    await asyncio.sleep(1)
    await first.refresh_keys(user.user_id)
    assert not any(d.verified for d in first.devices(user.user_id) if d.device_id == second.device_id)
    assert not second.own_trust().device_verified and not second.own_trust().have_private_keys
    with pytest.raises(EngineError, match="no emoji"):
        await first.confirm_verification(asked.flow_id)


async def test_nobody_to_verify_with_is_said_plainly(engines):
    alone = await engines("solo")
    with pytest.raises(EngineError, match="no other device"):
        await alone.request_verification(alone.user_id)
    with pytest.raises(EngineError, match="no such verification"):
        await alone.accept_verification("nope")


async def test_hostile_verification_and_key_messages_are_refused_and_the_client_carries_on(engines, make_user, caplog):
    """Junk and out-of-turn verification events, secret and key requests from devices we have
    no reason to trust, from another user and from our own unverified device: each is refused
    with its reason in the log, in the same sync as a good message that still arrives, and a real
    verification works afterwards."""
    from tests.helpers import send_raw_event, send_raw_to_device

    caplog.set_level(logging.INFO)
    user = make_user("fay")
    first = await engines("fay1", user=user)
    second = await engines("fay2", user=user)  # ours, not verified by anyone
    mallory = await engines("mallory")
    room = await first.create_room("Hostile", history_visibility="shared")
    await first.invite(room, mallory.user_id)
    assert await mallory.wait_until(lambda: any(i.room_id == room for i in mallory.invites()))
    await mallory.join(room)
    await first.send_text(room, "ours")
    assert await first.wait_until(lambda: any(i.body == "ours" for i in first.timeline(room)))
    session_id, ours_id = next((i.session_id, i.event_id) for i in first.timeline(room) if i.body == "ours")
    sender_key = first.client.olm.account.identity_keys["curve25519"]
    now_ms = int(time.time() * 1000)
    to_first = lambda content: {first.user_id: {first.device_id: content}}  # noqa: E731

    # To-device, from someone else and from our own unverified device.
    await send_raw_to_device(mallory, "m.key.verification.request", to_first(
        {"from_device": mallory.device_id, "methods": ["m.sas.v1"], "transaction_id": "m1", "timestamp": now_ms}))
    await send_raw_to_device(mallory, "m.key.verification.start", to_first({"transaction_id": "nobody", "method": "m.sas.v1"}))
    await send_raw_to_device(mallory, "m.key.verification.cancel", to_first({"transaction_id": "x" * 400, "code": 7}))
    await send_raw_to_device(second, "m.key.verification.request", to_first(
        {"from_device": second.device_id, "methods": [{"nested": ["junk"]}], "transaction_id": "s1", "timestamp": now_ms}))
    await send_raw_to_device(second, "m.key.verification.request", to_first(
        {"from_device": second.device_id, "methods": ["m.sas.v1"], "transaction_id": "s2", "timestamp": now_ms - 3_600_000}))
    await send_raw_to_device(mallory, "m.secret.request", to_first(
        {"name": "m.cross_signing.master", "action": "request", "requesting_device_id": "X", "request_id": "q1"}))
    await send_raw_to_device(second, "m.secret.request", to_first(
        {"name": "m.cross_signing.self_signing", "action": "request", "requesting_device_id": second.device_id,
         "request_id": "q2"}))
    await send_raw_to_device(second, "m.room_key_request", to_first(
        {"action": "request", "requesting_device_id": second.device_id, "request_id": "k1",
         "body": {"algorithm": "m.megolm.v1.aes-sha2", "room_id": room, "sender_key": sender_key,
                  "session_id": session_id}}))
    # In the room: a request for someone else, one without emoji, and events for nothing we know.
    await send_raw_event(mallory, room, "m.room.message", {
        "msgtype": "m.key.verification.request", "body": "x", "to": "@carol:localhost",
        "from_device": mallory.device_id, "methods": ["m.sas.v1"]})
    await send_raw_event(mallory, room, "m.room.message", {
        "msgtype": "m.key.verification.request", "body": "x", "to": first.user_id,
        "from_device": mallory.device_id, "methods": ["m.qr_code.show.v1"]})
    await send_raw_event(mallory, room, "m.key.verification.start", {
        "m.relates_to": {"rel_type": "m.reference", "event_id": ours_id}, "method": "m.sas.v1"})
    await mallory.send_text(room, "the good one")

    await first.sync_once()  # must not raise
    assert "the good one" in [i.body for i in first.timeline(room)]
    await first.flush()
    log = caplog.text
    assert "ignored a to-device verification request from " + mallory.user_id in log
    assert "for a verification we do not know" in log
    assert "without a usable transaction id" in log
    assert "more than 10 minutes old" in log
    assert f"ignored a secret request from {mallory.user_id}: {mallory.user_id} is not us" in log
    assert f"did not send m.cross_signing.self_signing to our device {second.device_id}: our device " \
           f"{second.device_id} is not verified" in log
    assert f"did not answer the key request of {user.user_id} {second.device_id}" in log
    assert "the request is for someone else" in log
    # What is left: the request without a method we share, answered with m.unknown_method; and
    # our own device's junk request, cancelled the same way.
    left = {i.flow_id: i for i in first.verifications()}
    assert all(i.phase is VerificationPhase.CANCELLED and i.cancel_code == "m.unknown_method" for i in left.values()), left
    assert set(left) == {"s1"} | {i.flow_id for i in left.values() if i.room_id == room}
    assert not second.own_trust().have_private_keys

    # And a real verification still works.
    await first.refresh_keys(user.user_id)
    for engine in (first, second):
        engine.start_sync()
    asked = await second.request_verification(user.user_id, device_id=first.device_id)
    await compare_emoji(second, first, asked)
    await until(lambda: second.own_trust().have_private_keys, what="the identity's keys")
