"""Olm fallback keys on a real Synapse: a device whose one-time keys were all claimed while it was
offline still receives a key bundle (its inviter opens the Olm session with the fallback key),
and the device replaces a fallback key the server says was used."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import raw_request
from tui_client.engine.crypto.signing import verify_json
from tui_client.engine.engine import Engine

pytestmark = pytest.mark.integration


def claim(claimer: Engine, user_id: str, device_id: str) -> tuple[str, dict] | None:
    """POST /keys/claim for one key of the device: (key id, signed key object), or None."""
    client = claimer.client
    body = raw_request(client.homeserver, client.access_token, "POST", "/_matrix/client/v3/keys/claim",
                       {"one_time_keys": {user_id: {device_id: "signed_curve25519"}}})
    keys = body.get("one_time_keys", {}).get(user_id, {}).get(device_id, {})
    return next(iter(keys.items()), None)


def exhaust(claimer: Engine, user_id: str, device_id: str) -> tuple[int, str, dict]:
    """Claim one-time keys until the server hands out the fallback key; (one-time keys claimed,
    fallback key id, fallback key object)."""
    for count in range(200):
        claimed = claim(claimer, user_id, device_id)
        assert claimed is not None, "the device has neither one-time keys nor a fallback key"
        key_id, obj = claimed
        if obj.get("fallback") is True:
            return count, key_id, obj
    raise AssertionError("the server never handed out a fallback key")


async def test_a_device_out_of_one_time_keys_still_receives_a_bundle(engines, tmp_path):
    alice = await engines("alice")
    bob_dir = tmp_path / "bob-device"
    bob = await engines("bob", profile_dir=bob_dir)
    bob_user, bob_device = bob.user_id, bob.device_id
    ed25519 = bob.whoami().ed25519
    await bob.close()  # offline from here on

    claimed, key_id, fallback = exhaust(alice, bob_user, bob_device)
    assert claimed >= 50, "every one-time key went first"
    assert verify_json(fallback, bob_user, bob_device, ed25519), "the fallback key is signed by the device"

    room_id = await alice.create_room("While you were away", history_visibility="shared")
    await alice.send_text(room_id, "said while bob was offline")
    result = await alice.invite(room_id, bob_user)
    assert result.shared and result.devices == (bob_device,), result

    bob = Engine("bob", profile_dir=bob_dir)
    try:
        assert await bob.open()
        await bob.sync_once()
        assert await bob.wait_until(lambda: any(i.room_id == room_id and i.bundle for i in bob.invites()), 20)
        await bob.join(room_id)
        await bob.load_full_history(room_id)
        item = next(i for i in bob.timeline(room_id) if i.body == "said while bob was offline")
        assert item.decrypted and item.provenance.shared_by == alice.user_id

        # The server said the fallback key was used: bob made and uploaded a new one.
        await bob.sync_once()
        again = claim(alice, bob_user, bob_device)
        assert again is not None and again[1].get("fallback") is not True, "one-time keys were replenished"
        _, new_id, new_fallback = exhaust(alice, bob_user, bob_device)
        assert new_fallback["key"] != fallback["key"], "the used fallback key was replaced"
        assert verify_json(new_fallback, bob_user, bob_device, ed25519)
    finally:
        await bob.close()


async def test_a_fallback_key_is_uploaded_at_login(engines):
    alice, bob = await engines("alice"), await engines("bob")
    _, _, fallback = exhaust(alice, bob.user_id, bob.device_id)
    assert verify_json(fallback, bob.user_id, bob.device_id, bob.whoami().ed25519)
    await asyncio.sleep(0)
