"""Crafted bad input from other users never stops the sync loop or loses the rest of a sync.

Each test puts the hostile event and a good event into the *same* sync response (the victim
does not sync in between), so it proves the events after the bad one are still processed.
"""

from __future__ import annotations

import logging

import pytest
import vodozemac
from nio.crypto.sessions import InboundGroupSession
from unpaddedbase64 import encode_base64

from tests.helpers import bodies, send_raw_event, send_raw_to_device
from tui_client.engine.engine import Engine

pytestmark = pytest.mark.integration


async def _three_in_a_room(engines) -> tuple[Engine, Engine, Engine, str]:
    alice, bob, carol = await engines("alice"), await engines("bob"), await engines("carol")
    room_id = await alice.create_room("Hostile", history_visibility="shared")
    for other in (bob, carol):
        await alice.invite(room_id, other.user_id)
        assert await other.wait_until(lambda o=other: any(i.room_id == room_id for i in o.invites()))
        await other.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 3)
    for e in (bob, carol):
        await e.sync_once()
    return alice, bob, carol, room_id


async def test_prekey_message_with_unknown_one_time_key(engines, caplog):
    caplog.set_level(logging.INFO)
    alice, bob, carol, room_id = await _three_in_a_room(engines)
    assert await bob.wait_until(lambda: room_id in bob.client.rooms)

    # A pre-key message naming a one-time key bob never published: nio 0.26 raises
    # vodozemac.SessionCreationException out of sync() for this.
    attacker = vodozemac.Account()
    bob_curve = bob.client.olm.account.identity_keys["curve25519"]
    session = attacker.create_outbound_session(
        vodozemac.Curve25519PublicKey.from_base64(bob_curve), vodozemac.Account().curve25519_key
    )
    msg_type, body = session.encrypt(b'{"type": "m.dummy", "content": {}}').to_parts()
    assert msg_type == 0
    await send_raw_to_device(carol, "m.room.encrypted", {
        bob.user_id: {bob.device_id: {
            "algorithm": "m.olm.v1.curve25519-aes-sha2",
            "sender_key": attacker.curve25519_key.to_base64(),
            "ciphertext": {bob_curve: {"type": 0, "body": encode_base64(body)}},
        }},
    })
    # Garbage in the same batch: a body that is not even base64.
    await send_raw_to_device(carol, "m.room.encrypted", {
        bob.user_id: {bob.device_id: {
            "algorithm": "m.olm.v1.curve25519-aes-sha2",
            "sender_key": attacker.curve25519_key.to_base64(),
            "ciphertext": {bob_curve: {"type": 0, "body": "*** not base64 ***"}},
        }},
    })
    await alice.send_text(room_id, "still arrives")

    await bob.sync_once()  # must not raise
    assert "still arrives" in bodies(bob.timeline(room_id))
    assert next(i for i in bob.timeline(room_id) if i.body == "still arrives").decrypted
    logged = caplog.text
    assert "could not open an Olm session" in logged
    assert "dropped a to-device event" in logged

    # The loop carries on afterwards too.
    await alice.send_text(room_id, "and later")
    assert await bob.wait_until(lambda: "and later" in bodies(bob.timeline(room_id)))


async def test_megolm_plaintext_that_is_not_utf8(engines, caplog):
    caplog.set_level(logging.INFO)
    alice, bob, carol, room_id = await _three_in_a_room(engines)
    await carol.send_text(room_id, "carol says hi")  # shares carol's Megolm session with bob
    assert await bob.wait_until(lambda: "carol says hi" in bodies(bob.timeline(room_id)))

    outbound = carol.client.olm.outbound_group_sessions[room_id]
    bad_ciphertext = outbound._session.encrypt(b"\xff\xfe\xfd not utf-8 \xc3\x28").to_base64()
    bad_id = await send_raw_event(carol, room_id, "m.room.encrypted", {
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": carol.client.olm.account.identity_keys["curve25519"],
        "ciphertext": bad_ciphertext,
        "session_id": outbound.id,
        "device_id": carol.device_id,
    })
    await alice.send_text(room_id, "after the bad one")

    await bob.sync_once()  # nio 0.26 raises UnicodeDecodeError here
    items = {i.event_id: i for i in bob.timeline(room_id)}
    assert items[bad_id].failed and "not valid UTF-8" in items[bad_id].failure_reason
    assert "after the bad one" in bodies(bob.timeline(room_id))
    assert "not valid UTF-8" in caplog.text


async def test_malformed_events_are_shown_with_a_reason(engines, caplog):
    caplog.set_level(logging.INFO)
    alice, bob, carol, room_id = await _three_in_a_room(engines)
    await carol.send_text(room_id, "warm-up")
    assert await bob.wait_until(lambda: "warm-up" in bodies(bob.timeline(room_id)))
    outbound = carol.client.olm.outbound_group_sessions[room_id]

    # Synapse validates plaintext m.room.message content, so malformed messages arrive encrypted:
    # the server cannot look inside. One whose plaintext is not JSON at all:
    not_json = await send_raw_event(carol, room_id, "m.room.encrypted", {
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": carol.client.olm.account.identity_keys["curve25519"],
        "ciphertext": outbound._session.encrypt(b"{this is not json").to_base64(),
        "session_id": outbound.id,
        "device_id": carol.device_id,
    })
    bad_cipher = await send_raw_event(carol, room_id, "m.room.encrypted", {
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": carol.client.olm.account.identity_keys["curve25519"],
        "ciphertext": "%%% definitely not a megolm message %%%",
        "session_id": outbound.id,
        "device_id": carol.device_id,
    })
    # A decryptable Megolm message whose *content* is malformed once decrypted.
    bad_inner = await send_raw_event(carol, room_id, "m.room.encrypted", {
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": carol.client.olm.account.identity_keys["curve25519"],
        "ciphertext": outbound._session.encrypt(b'{"type": "m.room.message", "content": {"msgtype": "m.text", "body": ["x"]}, "room_id": "%s"}' % room_id.encode()).to_base64(),
        "session_id": outbound.id,
        "device_id": carol.device_id,
    })
    await alice.send_text(room_id, "good one")

    await bob.sync_once()
    items = {i.event_id: i for i in bob.timeline(room_id)}
    assert items[not_json].failed and items[not_json].failure_code == "malformed"
    assert "not valid JSON" in items[not_json].failure_reason
    assert items[bad_cipher].failed and items[bad_cipher].failure_code == "damaged"
    assert items[bad_inner].kind == "bad" and items[bad_inner].failure_reason
    assert "good one" in bodies(bob.timeline(room_id))
    assert "cannot decrypt event" in caplog.text


def test_stock_nio_session_would_crash_on_non_utf8():
    """Documents the nio 0.26 bug our Olm subclass works around (if nio fixes it, drop the fix)."""
    group = vodozemac.GroupSession()
    inbound = InboundGroupSession(group.session_key.to_base64(), "ed", "curve", "!r:x")
    ciphertext = group.encrypt(b"\xff\xfe").to_base64()
    with pytest.raises(UnicodeDecodeError):
        inbound.decrypt(ciphertext)
