"""Emoji (SAS) verification and key sharing between our engine and matrix-js-sdk 43 with its
Rust crypto (what Element Web runs):

- another person, in a direct chat, both directions: afterwards each side reports the other's
  identity verified (Element: cross-signing verified; we: signed by our user-signing key);
- two devices of one user, to-device, both directions: the device that was verified receives
  the cross-signing keys (and, from Element, the key backup's key) by secret gossip, and
  restores the backup with it;
- forwarded room keys: refused from another user's device and from our own unverified device,
  taken from our own device once verified, and only for a session we asked for.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable

import pytest

from tests import conftest
from tests.interop.jspeer import JsPeer
from tui_client.engine.engine import Engine
from tui_client.engine.keys.gossip_rules import backup_public_key
from tui_client.engine.models import BackupState, VerificationInfo, VerificationPhase

pytestmark = [pytest.mark.interop, pytest.mark.integration]


async def until(predicate: Callable[[], object], timeout: float = 45.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)
    return value


def flow_of(engine: Engine, flow_id: str) -> VerificationInfo | None:
    return next((i for i in engine.verifications() if i.flow_id == flow_id), None)


def incoming(engine: Engine) -> VerificationInfo | None:
    return next((i for i in engine.verifications() if i.incoming and i.phase is VerificationPhase.REQUESTED), None)


async def js_as(user_id: str, password: str, homeserver, tmp_path, name: str) -> JsPeer:
    """A js-sdk device of an account that already exists (e.g. one of ours)."""
    peer = JsPeer(name, log_dir=tmp_path / "jspeer-logs")
    await peer.start()
    await peer.login(homeserver.url, user_id, password)
    return peer


async def compare(ours: Engine, js: JsPeer, flow_id: str) -> None:
    """Both sides see the same emoji, both say they match, both finish."""
    sas = await js.wait_for_sas(flow_id)
    await until(lambda: (f := flow_of(ours, flow_id)) and f.phase is VerificationPhase.EMOJI, what="our emoji")
    info = flow_of(ours, flow_id)
    assert info is not None
    assert [symbol for symbol, _ in info.emoji] == [symbol for symbol, _ in sas["emoji"]]
    assert list(info.decimals or ()) == sas["decimal"]
    await js.confirm_sas(flow_id)
    await ours.confirm_verification(flow_id)
    status = await js.verification_status(flow_id, wait_for="done", timeout_ms=30000)
    assert status["done"] and status["phase"] == "Done", status
    await until(lambda: flow_of(ours, flow_id).phase is VerificationPhase.DONE, what="our side done")


async def direct_chat(ours: Engine, js: JsPeer) -> str:
    room_id = await js.create_room("DM", invite=[ours.user_id])
    assert await ours.wait_until(lambda: any(i.room_id == room_id for i in ours.invites()), 30)
    await ours.join(room_id)
    await js.wait_for_membership(room_id, ours.user_id, "join")
    return room_id


# -- (3) another person, in a direct chat ---------------------------------------------------------------


async def test_we_ask_element_in_a_direct_chat_and_both_identities_end_verified(engines, js_peer_factory):
    ours = await engines("tui")
    js = await js_peer_factory("element", cross_signing=True)
    room_id = await direct_chat(ours, js)
    ours.start_sync()

    asked = await ours.request_verification(js.user_id)
    assert asked.room_id == room_id, "the existing direct chat is used"
    request = await js.wait_for_verification_request(sender=ours.user_id)
    assert request["flowId"] == asked.flow_id and request["roomId"] == room_id
    assert not request["isSelfVerification"]
    await js.accept_verification(asked.flow_id)
    await compare(ours, js, asked.flow_id)

    identity = await js.user_identity(ours.user_id)
    assert identity["crossSigningVerified"] and identity["verified"], identity
    await until(lambda: ours.identity_info(js.user_id).state == "verified", what="Element's identity verified")
    assert any(d.verified for d in ours.devices(js.user_id) if d.device_id == js.device_id)
    await until(lambda: flow_of(ours, asked.flow_id).result, what="the result")
    assert flow_of(ours, asked.flow_id).result == f"{js.user_id} is now verified"


async def test_element_asks_us_in_a_direct_chat_and_both_identities_end_verified(engines, js_peer_factory):
    ours = await engines("tui")
    js = await js_peer_factory("element", cross_signing=True)
    room_id = await direct_chat(ours, js)
    ours.start_sync()

    flow_id = await js.request_verification(ours.user_id, room_id)
    info = await until(lambda: incoming(ours), what="Element's request")
    assert info.flow_id == flow_id and info.room_id == room_id and info.other_user == js.user_id
    assert info.other_device == js.device_id
    await ours.accept_verification(flow_id)
    await js.start_sas(flow_id)
    await compare(ours, js, flow_id)

    identity = await js.user_identity(ours.user_id)
    assert identity["crossSigningVerified"], identity
    await until(lambda: ours.identity_info(js.user_id).state == "verified", what="Element's identity verified")


async def test_element_saying_the_emoji_differ_verifies_nothing(engines, js_peer_factory):
    ours = await engines("tui")
    js = await js_peer_factory("element", cross_signing=True)
    room_id = await direct_chat(ours, js)
    ours.start_sync()
    flow_id = await js.request_verification(ours.user_id, room_id)
    await until(lambda: incoming(ours), what="Element's request")
    await ours.accept_verification(flow_id)
    await js.start_sas(flow_id)
    await js.wait_for_sas(flow_id)
    await until(lambda: flow_of(ours, flow_id).phase is VerificationPhase.EMOJI, what="our emoji")
    await js.mismatch_sas(flow_id)
    await until(lambda: flow_of(ours, flow_id).phase is VerificationPhase.CANCELLED, what="the cancel")
    assert flow_of(ours, flow_id).cancel_code == "m.mismatched_sas"
    assert ours.identity_info(js.user_id).state == "pinned"
    assert not (await js.user_identity(ours.user_id))["crossSigningVerified"]

    # And the other way: we say they differ, Element hears m.mismatched_sas.
    asked = await ours.request_verification(js.user_id)
    await js.wait_for_verification_request(sender=ours.user_id)
    await js.accept_verification(asked.flow_id)
    await js.wait_for_sas(asked.flow_id)
    await until(lambda: flow_of(ours, asked.flow_id).phase is VerificationPhase.EMOJI, what="our emoji")
    await ours.mismatch_verification(asked.flow_id)
    status = await js.verification_status(asked.flow_id, wait_for="cancelled")
    assert status["cancellationCode"] == "m.mismatched_sas", status
    assert not (await js.user_identity(ours.user_id))["crossSigningVerified"]


# -- (4) two devices of one user ----------------------------------------------------------------------


async def test_element_verifies_our_new_device_which_then_gets_the_identity_and_backup_keys(
    engines, js_peer_factory
):
    js = await js_peer_factory("element", cross_signing=True)
    backup = await js.bootstrap_secret_storage(setup_key_backup=True)
    assert backup["keyBackupVersion"]
    room_id = await js.create_room("Before our device", history_visibility="shared")
    await js.send(room_id, "written in Element before we existed")
    localpart = js.user_id.split(":")[0][1:]
    ours = await engines(f"ours-{localpart}", user=conftest.TestUser(localpart, js.user_id, js.password))

    async def element_backed_up() -> bool:
        return ((await ours.refresh_backup()).keys_on_server or 0) >= 1

    deadline = time.monotonic() + 60  # Element waits up to 10 s before it backs up
    while not await element_backed_up():
        assert time.monotonic() < deadline, "Element never backed up its room key"
        await asyncio.sleep(0.5)
    assert not ours.own_trust().device_verified and not ours.own_trust().have_private_keys
    assert ours.received_backup_key() is None
    ours.start_sync()
    await js.device_info(js.user_id, ours.device_id)  # Element learns of our device

    flow_id = await js.request_verification(js.user_id)
    info = await until(lambda: incoming(ours), what="Element's request")
    assert info.flow_id == flow_id and info.own_devices and info.other_device == js.device_id
    await ours.accept_verification(flow_id)
    await js.start_sas(flow_id)
    await compare(ours, js, flow_id)

    # Element signed our device; we asked it for our identity's keys and the backup key.
    await until(lambda: ours.own_trust().device_verified, what="our device verified")
    await until(lambda: ours.own_trust().have_private_keys, what="the cross-signing keys by gossip")
    assert (await js.device_info(js.user_id, ours.device_id))["crossSigningVerified"]
    key = await until(lambda: ours.received_backup_key(), what="the backup key by gossip")
    expected = await js.session_backup_private_key()
    assert expected["key"] and key == base64.b64decode(expected["key"])
    # It is the key of the backup on the server (part A restores from it).
    status, info_json = await ours.client.raw_json("GET", "/_matrix/client/v3/room_keys/version")
    assert status == 200 and info_json["version"] == backup["keyBackupVersion"]
    assert backup_public_key(key) == info_json["auth_data"]["public_key"].rstrip("=")
    assert ours.gossip.received_backup_version() == backup["keyBackupVersion"]

    # The key backup takes the gossiped key and restores: Element's earlier message is readable
    # on our new device without the recovery key ever being typed.
    async def restored() -> bool:
        await ours.load_full_history(room_id)
        return any(i.body == "written in Element before we existed" and i.decrypted for i in ours.timeline(room_id))

    deadline = time.monotonic() + 45
    while not await restored():
        assert time.monotonic() < deadline, (ours.backup_status(), [i.body for i in ours.timeline(room_id)])
        await asyncio.sleep(0.5)
    assert ours.backup_status().state is BackupState.READY, ours.backup_status()
    assert any(s.origin == "backup" for s in ours.inspect_room(room_id).sessions)


async def test_our_device_verifies_a_new_element_device_and_answers_its_secret_requests(
    engines, homeserver, tmp_path
):
    ours = await engines("tui")
    assert ours.own_trust().have_private_keys
    user = ours.test_user  # type: ignore[attr-defined]
    js = await js_as(user.user_id, user.password, homeserver, tmp_path, "element-new")
    try:
        status = await js.cross_signing_status()
        assert not status["ownDeviceVerified"] and not status["status"]["privateKeysCachedLocally"]["masterKey"]
        ours.start_sync()
        await ours.refresh_keys(user.user_id)
        asked = await ours.request_verification(user.user_id, device_id=js.device_id)
        request = await js.wait_for_verification_request(sender=user.user_id)
        assert request["flowId"] == asked.flow_id and request["isSelfVerification"]
        await js.accept_verification(asked.flow_id)
        await compare(ours, js, asked.flow_id)

        await until(lambda: any(d.device_id == js.device_id and d.verified for d in ours.devices(user.user_id)),
                    what="our signature on the Element device")
        # Element asks for our identity's keys once it trusts our identity; we answer, and it
        # sees its device signed by our self-signing key.
        deadline = time.monotonic() + 45
        while True:
            await js.device_info(user.user_id, js.device_id)  # a fresh /keys/query
            status = await js.cross_signing_status()
            cached = status["status"]["privateKeysCachedLocally"]
            if (all(cached.values()) and status["ownDeviceVerified"]) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert all(cached.values()) and status["ownDeviceVerified"], status
    finally:
        await js.stop()


# -- (5) forwarded room keys ----------------------------------------------------------------------------


async def test_forwarded_keys_only_from_our_own_verified_device_for_what_we_asked(
    engines, js_peer_factory, homeserver, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    mallory = await js_peer_factory("mallory", cross_signing=True)
    ours = await engines("tui")
    user = ours.test_user  # type: ignore[attr-defined]
    room_id = await mallory.create_room("Secrets", history_visibility="shared")
    await mallory.send(room_id, "the secret plan")
    await mallory.invite(room_id, ours.user_id, share_history=False)  # no keys for us
    assert await ours.wait_until(lambda: any(i.room_id == room_id for i in ours.invites()), 30)
    await ours.join(room_id)
    await ours.load_full_history(room_id)
    item = next(i for i in ours.timeline(room_id) if i.is_message)
    assert item.failed and item.session_id
    exported = next(k for k in await mallory.export_room_keys() if k["session_id"] == item.session_id)
    forward = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "room_id": room_id,
        "sender_key": exported["sender_key"],
        "session_id": exported["session_id"],
        "session_key": exported["session_key"],
        "sender_claimed_ed25519_key": exported["sender_claimed_keys"]["ed25519"],
        "forwarding_curve25519_key_chain": [],
    }
    ours.start_sync()

    def readable() -> bool:
        return any(i.decrypted for i in ours.timeline(room_id) if i.session_id == item.session_id)

    # Another user's device: refused, whatever it holds.
    assert await mallory.send_olm_to_device("m.forwarded_room_key", ours.user_id, ours.device_id, forward) == 1
    await until(lambda: "is not us" in caplog.text, what="the refusal of Mallory's key")
    assert f"refused a forwarded key for session {item.session_id[:8]}" in caplog.text
    assert not readable()

    # A device of ours that nobody verified: refused too.
    own = await js_as(user.user_id, user.password, homeserver, tmp_path, "own-unverified")
    try:
        await own.import_room_keys([exported])
        await ours.refresh_keys(user.user_id)
        assert await own.send_olm_to_device("m.forwarded_room_key", ours.user_id, ours.device_id, forward) == 1
        await until(lambda: f"our device {own.device_id} is not verified" in caplog.text, what="the refusal")
        assert not readable()

        # Once we verified that device by emoji, our request goes to it and its answer is taken.
        asked = await ours.request_verification(user.user_id, device_id=own.device_id)
        await own.wait_for_verification_request(sender=user.user_id)
        await own.accept_verification(asked.flow_id)
        await compare(ours, own, asked.flow_id)
        requested = await own.wait_for_to_device("m.room_key_request", sender=user.user_id, timeout_ms=30000)
        assert requested["content"]["body"]["session_id"] == item.session_id
        assert requested["content"]["requesting_device_id"] == ours.device_id
        assert await own.send_olm_to_device("m.forwarded_room_key", ours.user_id, ours.device_id, forward) == 1
        await until(readable, what="the forwarded key to open the message")
        assert next(i for i in ours.timeline(room_id) if i.session_id == item.session_id).body == "the secret plan"

        # The same key again, now that nobody asked for it: refused.
        caplog.clear()
        assert await own.send_olm_to_device("m.forwarded_room_key", ours.user_id, ours.device_id, forward) == 1
        await until(lambda: "we did not ask for this session" in caplog.text, what="the refusal of an unasked key")
    finally:
        await own.stop()
