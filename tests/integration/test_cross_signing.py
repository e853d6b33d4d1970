"""Cross-signing on a real Synapse: our identity is published and our device signed at first
login, other people's devices are checked against their identity, identities are pinned,
changes are noticed, and a recovery key from secret storage verifies a new device."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.helpers import raw_request
from tui_client.engine.crypto.cross_signing import (
    check_sender_device_keys,
    device_signed_by_identity,
    identity_from_keys_query,
)
from tui_client.engine.crypto.secret_storage import (
    encode_recovery_key,
    encrypt_secret,
    make_key_description,
)
from tui_client.engine.crypto.signing import verify_json
from tui_client.engine.engine import Engine, EngineError
from tui_client.engine.events import IdentityChanged

pytestmark = pytest.mark.integration


async def _keys_query(engine: Engine, user_id: str) -> dict:
    return await asyncio.to_thread(
        raw_request, engine.client.homeserver, engine.client.access_token, "POST",
        "/_matrix/client/v3/keys/query", {"device_keys": {user_id: []}},
    )


async def test_first_login_publishes_identity_and_signs_the_device(engines):
    alice = await engines("alice")
    bob = await engines("bob")

    trust = alice.own_trust()
    assert trust.identity_exists and trust.device_verified and trust.have_private_keys

    # What any client sees on the server: the device carries a valid self-signing signature,
    # the self-signing key a valid master signature.
    answer = await _keys_query(bob, alice.user_id)
    identity = identity_from_keys_query(
        alice.user_id,
        answer["master_keys"][alice.user_id],
        answer["self_signing_keys"][alice.user_id],
        answer.get("user_signing_keys", {}).get(alice.user_id),
    )
    device = answer["device_keys"][alice.user_id][alice.device_id]
    ssk = identity.self_signing.public_key
    assert verify_json(device, alice.user_id, ssk, ssk)
    assert device_signed_by_identity(device, identity)

    # And our engines agree, both ways.
    await bob.refresh_keys(alice.user_id)
    await alice.refresh_keys(bob.user_id)
    assert bob.identity.device_cross_signed(alice.user_id, alice.device_id)
    assert alice.identity.device_cross_signed(bob.user_id, bob.device_id)
    assert bob.identity.identity_info(alice.user_id).state == "pinned"
    assert bob.identity.identity_info(alice.user_id).master_key == identity.master.public_key


async def test_a_second_device_is_not_trusted_until_verified(engines, make_user, tmp_path):
    user = make_user("dora")
    first = await engines("dora1", user=user)
    second = await engines("dora2", user=user)
    # The second login found an identity it cannot sign with: it must not overwrite it.
    assert second.own_trust().identity_exists and not second.own_trust().device_verified
    await first.refresh_keys(user.user_id)
    assert first.identity.device_cross_signed(user.user_id, first.device_id)
    assert not first.identity.device_cross_signed(user.user_id, second.device_id)
    assert first.own_trust().master_key == second.own_trust().master_key


async def test_identity_change_is_recorded_and_reported(engines):
    alice = await engines("alice")
    bob = await engines("bob")
    await alice.refresh_keys(bob.user_id)
    before = alice.identity.identity_info(bob.user_id)
    assert before.state == "pinned"
    seen: list[IdentityChanged] = []
    alice.subscribe(lambda e: seen.append(e) if isinstance(e, IdentityChanged) else None)

    trust = await bob.reset_identity(bob.test_user.password)
    assert trust.device_verified and trust.master_key != before.master_key

    await alice.refresh_keys(bob.user_id)
    after = alice.identity.identity_info(bob.user_id)
    assert after.state == "changed"
    assert after.master_key == trust.master_key and after.previous_master_key == before.master_key
    assert [(e.user_id, e.old_master_key, e.new_master_key) for e in seen] == [
        (bob.user_id, before.master_key, trust.master_key)
    ]
    # The new identity does sign bob's device, but the change stays on record until accepted.
    assert alice.identity.device_cross_signed(bob.user_id, bob.device_id)
    assert alice.changed_identities() == [bob.user_id]
    alice.accept_identity(bob.user_id)
    assert alice.identity.identity_info(bob.user_id).state == "pinned"
    assert alice.changed_identities() == []


async def test_reset_needs_the_right_password(engines):
    bob = await engines("bob")
    master = bob.own_trust().master_key
    with pytest.raises(EngineError, match="wrong password"):
        await bob.reset_identity("not my password")
    assert bob.own_trust().master_key == master and bob.own_trust().device_verified


async def _put_account_data(engine: Engine, event_type: str, content: dict) -> None:
    await asyncio.to_thread(
        raw_request, engine.client.homeserver, engine.client.access_token, "PUT",
        f"/_matrix/client/v3/user/{engine.user_id}/account_data/{event_type}", content,
    )


async def test_recovery_key_verifies_a_new_device(engines, make_user):
    """Secret storage written the way Element writes it; a new device unlocks it."""
    user = make_user("erin")
    first = await engines("erin1", user=user)
    private = first.identity._own.private
    key = os.urandom(32)
    key_id = "tui-test-key"
    await _put_account_data(first, f"m.secret_storage.key.{key_id}", make_key_description(key, name="test"))
    await _put_account_data(first, "m.secret_storage.default_key", {"key": key_id})
    for name, seed in (
        ("m.cross_signing.master", private.master.seed),
        ("m.cross_signing.self_signing", private.self_signing.seed),
        ("m.cross_signing.user_signing", private.user_signing.seed),
    ):
        import base64

        await _put_account_data(
            first, name, {"encrypted": {key_id: encrypt_secret(key, name, base64.b64encode(seed).decode())}}
        )

    second = await engines("erin2", user=user)
    assert not second.own_trust().device_verified

    wrong = encode_recovery_key(os.urandom(32))
    with pytest.raises(EngineError, match="does not match"):
        await second.verify_with_recovery_key(wrong)
    with pytest.raises(EngineError, match="recovery key"):
        await second.verify_with_recovery_key("EsT not a recovery key at all")
    assert not second.own_trust().device_verified and second.identity._own.private is None
    assert second.client.store.get_secret("cross_signing_keys") is None

    trust = await second.verify_with_recovery_key(encode_recovery_key(key))
    assert trust.device_verified and trust.have_private_keys
    await first.refresh_keys(user.user_id)
    assert first.identity.device_cross_signed(user.user_id, second.device_id)


async def test_olm_messages_carry_signed_sender_device_keys(engines):
    """MSC4147: every Olm plaintext we send includes our device keys with the SSK signature."""
    alice = await engines("alice")
    bob = await engines("bob")
    captured: list[dict] = []
    olm = bob.client.olm
    original = olm._handle_olm_event

    def capture(sender, sender_key, payload):
        captured.append(payload)
        return original(sender, sender_key, payload)

    olm._handle_olm_event = capture  # type: ignore[method-assign]
    room_id = await alice.create_room("MSC4147")
    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_until(lambda: bool(bob.invites()))
    await bob.join(room_id)
    await alice.send_text(room_id, "hello")
    assert await bob.wait_until(lambda: any(p.get("type") == "m.room_key" for p in captured))

    payload = next(p for p in captured if p["type"] == "m.room_key")
    sdk = payload["sender_device_keys"]
    assert check_sender_device_keys(
        sdk, sender=alice.user_id, claimed_ed25519=payload["keys"]["ed25519"],
        olm_sender_curve25519=alice.client.olm.account.identity_keys["curve25519"],
    ) is None
    await bob.refresh_keys(alice.user_id)
    assert device_signed_by_identity(sdk, bob.identity.identity_of(alice.user_id))
    # The flag Element's crypto reads, spelled the one way it accepts alongside others.
    assert payload["content"]["org.matrix.msc3061.shared_history"] is True
    assert "m.shared_history" not in payload["content"] and "shared_history" not in payload["content"]


async def test_recovery_set_up_here_verifies_our_next_device(engines, make_user):
    user = make_user("fay")
    first = await engines("fay1", user=user)
    key = await first.setup_recovery()
    assert len(key.replace(" ", "")) == 48
    second = await engines("fay2", user=user)
    assert not second.own_trust().device_verified
    trust = await second.verify_with_recovery_key(key)
    assert trust.device_verified
    await first.refresh_keys(user.user_id)
    assert first.identity.device_cross_signed(user.user_id, second.device_id)
    with pytest.raises(EngineError, match="cannot sign for your identity"):
        third = await engines("fay3", user=user)
        await third.setup_recovery()
