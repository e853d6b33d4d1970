"""The server-side key backup against matrix-js-sdk 43 + Rust crypto (what Element Web runs):
we restore Element's backup with only the recovery key and pass the history on in a bundle;
Element restores what we backed up, shareable flag included."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.interop.jspeer import JsPeer
from tui_client.engine.crypto.backup import BACKUP_ALGORITHM
from tui_client.engine.engine import Engine

pytestmark = [pytest.mark.interop, pytest.mark.integration]

SHARED_FLAGS = ("shared_history", "m.shared_history", "org.matrix.msc3061.shared_history")


def _by_body(messages: list[dict]) -> dict[str, dict]:
    return {m["body"]: m for m in messages if m["body"] is not None}


async def _our_device_of(engines, peer: JsPeer) -> Engine:
    """A new tui_client device of the account a js peer uses."""
    from tests.conftest import TestUser

    localpart = peer.user_id.split(":")[0][1:]
    return await engines(f"ours-{localpart}", user=TestUser(localpart, peer.user_id, peer.password))


async def _element_device_of(js_peer_factory, homeserver, engine: Engine) -> JsPeer:
    """A new Element (js-sdk) device of the account our engine uses."""
    peer = await js_peer_factory("element-of-ours", login=False)
    await peer.login(homeserver.url, engine.user_id, engine.test_user.password)
    return peer


async def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def test_our_new_device_restores_elements_backup_and_shares_the_history_on(engines, js_peer_factory):
    alice = await js_peer_factory("alice", cross_signing=True)
    setup = await alice.bootstrap_secret_storage(setup_key_backup=True)
    assert setup["keyBackupVersion"], setup
    room_id = await alice.create_room("Backed up by Element", history_visibility="shared")
    for text in ("element one", "element two"):
        await alice.send(room_id, text)

    ours = await _our_device_of(engines, alice)

    async def element_backed_up() -> bool:
        status = await ours.refresh_backup()
        return (status.keys_on_server or 0) >= 1

    await _until(element_backed_up, 60, "Element to back up its room key")  # it waits up to 10 s to start
    status = ours.backup_status()
    assert status.state == "no_key" and status.version == setup["keyBackupVersion"]
    assert status.algorithm == BACKUP_ALGORITHM
    await ours.load_full_history(room_id)
    unread = [i for i in ours.timeline(room_id) if i.is_message]
    assert unread and all(i.failed for i in unread), "nothing readable before the recovery key"

    # Only the recovery key Element showed.
    trust = await ours.verify_with_recovery_key(setup["recoveryKey"])
    assert trust.device_verified
    result = await ours.restore_backup()
    assert result.imported >= 1 and result.failed == 0, result
    await ours.load_full_history(room_id)
    items = {i.body: i for i in ours.timeline(room_id) if i.is_message}
    assert items["element one"].decrypted and items["element two"].decrypted
    sessions = ours.inspect_room(room_id).sessions
    assert sessions and all(s.origin == "backup" and s.shareable for s in sessions), sessions

    # Element does the same: a device holding the keys only from the backup shares them on invite.
    carol = await js_peer_factory("carol", cross_signing=True)
    shared = await ours.invite(room_id, carol.user_id)
    assert shared.shared and shared.devices == (carol.device_id,), shared
    assert await carol.wait_for_invite(room_id) == alice.user_id
    bundle = await carol.wait_for_room_key_bundle(room_id, sender=alice.user_id)
    assert bundle["senderDevice"] == ours.device_id, "the bundle came from our device"
    await carol.join(room_id)
    seen = _by_body(await carol.messages(room_id, wait_for_bodies=["element one", "element two"], timeout_ms=30000))
    for text in ("element one", "element two"):
        assert seen[text]["decrypted"], seen.get(text)
        assert seen[text]["forwardingUser"] == ours.user_id


async def test_keys_we_receive_are_backed_up_and_a_new_element_device_restores_them(
    engines, js_peer_factory, homeserver
):
    ours = await engines("ours")
    recovery_key = await ours.setup_recovery()
    bob = await js_peer_factory("bob", cross_signing=True)
    room_id = await ours.create_room("Backed up by tui_client", history_visibility="shared")
    await ours.send_text(room_id, "ours first")
    await ours.invite(room_id, bob.user_id)
    await bob.wait_for_invite(room_id)
    await bob.join(room_id)
    await bob.send(room_id, "from element bob")
    assert await ours.wait_until(
        lambda: any(i.body == "from element bob" and i.decrypted for i in ours.timeline(room_id)), 30
    )
    await ours.flush()
    status = await ours.refresh_backup()
    assert status.keys_on_server == 2 and status.uploading == 0, status  # ours, and the one bob sent us

    element = await _element_device_of(js_peer_factory, homeserver, ours)
    info = await element.key_backup_info()
    assert info["version"] == status.version and info["algorithm"] == BACKUP_ALGORITHM
    assert info["publicKey"] == ours.backup.info.public_key and info["count"] == 2
    restored = await element.restore_key_backup(recovery_key)
    assert restored["total"] == 2 and restored["imported"] == 2, restored
    assert (await element.key_backup_info())["matchesDecryptionKey"] is True
    seen = _by_body(await element.messages(room_id, wait_for_bodies=["ours first", "from element bob"],
                                           timeout_ms=30000))
    assert seen["ours first"]["decrypted"] and seen["from element bob"]["decrypted"], seen
    # Element read the shareable flag we wrote into the backup.
    exported = await element.export_room_keys()
    assert exported and all(any(k.get(f) is True for f in SHARED_FLAGS) for k in exported), exported
