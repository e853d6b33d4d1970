"""The server-side key backup between our engines on a real Synapse: `setup-recovery` creates
one, new keys go up (batched, retried, with the shareable flag), a new device verified with the
recovery key restores them (origin "backup"), a room's keys come from the backup before its
history is shared, and hostile backup data is refused entry by entry."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
import urllib.parse

import pytest
import vodozemac

from tests.faults import FaultProxy, Rule
from tests.helpers import raw_request
from tui_client.config import Settings
from tui_client.engine.crypto.backup import (
    BACKUP_ALGORITHM,
    Decryptor,
    Encryptor,
    new_auth_data,
    new_backup_key,
)
from tui_client.engine.crypto.canonical import b64encode
from tui_client.engine.crypto.key_export import ExportedKey
from tui_client.engine.engine import Engine
from tui_client.engine.nio.olm import changed
from tui_client.engine.room_keys import Origin, SessionMeta

pytestmark = pytest.mark.integration


async def invited(engine: Engine, room_id: str) -> None:
    assert await engine.wait_until(lambda: any(i.room_id == room_id for i in engine.invites()), 20)


async def history(engine: Engine, room_id: str) -> dict[str, object]:
    await engine.load_full_history(room_id)
    return {i.body or f"<{i.event_id}>": i for i in engine.timeline(room_id) if i.is_message}


async def second_device(engines, first: Engine, name: str, **kwargs) -> Engine:
    return await engines(name, user=first.test_user, **kwargs)


async def conversation(engines, texts_by_bob: list[str]) -> tuple[Engine, Engine, str]:
    """alice and bob in a shared-history room; bob wrote `texts_by_bob`, alice read them."""
    alice, bob = await engines("alice"), await engines("bob")
    room_id = await alice.create_room("Backed up", history_visibility="shared")
    await alice.send_text(room_id, "alice was here first")
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    for text in texts_by_bob:
        await bob.send_text(room_id, text)
    assert await alice.wait_until(
        lambda: all(t in [i.body for i in alice.timeline(room_id)] for t in texts_by_bob), 20
    )
    return alice, bob, room_id


def backup_contents(engine: Engine, base_url: str | None = None) -> dict[str, dict[str, dict]]:
    """What the server's backup holds, decrypted with the key `engine` holds."""
    client = engine.client
    status = engine.backup_status()
    body = raw_request(base_url or client.homeserver, client.access_token, "GET",
                       f"/_matrix/client/v3/room_keys/keys?version={status.version}")
    decryptor = Decryptor(engine.backup.current_key())
    out: dict[str, dict[str, dict]] = {}
    for room_id, room in body["rooms"].items():
        for session_id, entry in room["sessions"].items():
            key = decryptor.decrypt(room_id, session_id, entry)
            out.setdefault(room_id, {})[session_id] = {"key": key, "entry": entry}
    return out


async def test_setup_recovery_backs_up_and_a_new_device_restores_the_history(engines):
    alice, bob, room_id = await conversation(engines, ["bob one", "bob two"])
    assert alice.backup_status().state == "none"

    recovery_key = await alice.setup_recovery()
    status = alice.backup_status()
    assert status.state == "ready" and status.algorithm == BACKUP_ALGORITHM and status.version
    await alice.flush()
    status = await alice.refresh_backup()
    assert status.uploading == 0 and status.keys_on_server == 2, status  # alice's session and bob's
    held = backup_contents(alice)[room_id]
    assert all(v["key"].shared_history for v in held.values()), "the shareable flag went up with the keys"

    # The second device has no key for the history until it is verified with the recovery key.
    alice2 = await second_device(engines, alice, "alice2")
    assert (await alice2.refresh_backup()).state == "no_key"
    before = await history(alice2, room_id)
    assert [i.failure_code for i in before.values()] == ["missing_key"] * 3

    trust = await alice2.verify_with_recovery_key(recovery_key)
    assert trust.device_verified
    result = await alice2.restore_backup()  # joins the restore the verification started
    assert (result.total, result.imported, result.failed) == (2, 2, 0)
    status = alice2.backup_status()
    assert status.state == "ready" and status.keys_restored == 2 and status.restore.finished
    items = await history(alice2, room_id)
    for text in ("alice was here first", "bob one", "bob two"):
        assert items[text].decrypted and items[text].provenance is None
    sessions = alice2.inspect_room(room_id).sessions
    assert {s.origin for s in sessions} == {"backup"} and all(s.shareable for s in sessions)
    assert all(s.origin_detail.startswith("restored from the key backup on ") for s in sessions)
    details = alice2.event_details(room_id, items["bob one"].event_id)
    assert details.trust.startswith("authenticity not guaranteed: the key was restored from the key backup")
    assert details.provenance.startswith("The key for this message was restored from your key backup")

    # Restored keys are not uploaded again.
    assert alice2.backup_status().uploading == 0

    # A restored shareable key goes into the next bundle: carol reads bob's words, shared by alice2.
    carol = await engines("carol")
    shared = await alice2.invite(room_id, carol.user_id)
    assert shared.shared and shared.key_count == 2
    await invited(carol, room_id)
    await carol.join(room_id)
    seen = await history(carol, room_id)
    assert seen["bob one"].decrypted and seen["bob one"].provenance.shared_by == alice.user_id
    assert seen["bob one"].provenance.shared_by_device == alice2.device_id


async def test_before_sharing_a_room_its_keys_come_from_the_backup(engines):
    alice, bob, room_id = await conversation(engines, ["only in the backup"])
    recovery_key = await alice.setup_recovery()
    await alice.flush()
    lazy = Settings(backup_restore_all=False)
    alice2 = await second_device(engines, alice, "alice2", settings=lazy)
    await alice2.verify_with_recovery_key(recovery_key)
    assert alice2.backup_status().state == "ready"
    assert alice2.inspect_room(room_id).sessions == (), "nothing restored yet (whole restore is off)"

    carol = await engines("carol")
    shared = await alice2.invite(room_id, carol.user_id)
    assert shared.shared and shared.key_count == 2, shared
    await invited(carol, room_id)
    await carol.join(room_id)
    seen = await history(carol, room_id)
    assert seen["only in the backup"].decrypted
    assert seen["only in the backup"].provenance.shared_by == alice.user_id


async def test_opening_a_room_restores_its_keys_first(engines):
    alice, bob, room_id = await conversation(engines, ["read me when opened"])
    recovery_key = await alice.setup_recovery()
    await alice.flush()
    alice2 = await second_device(engines, alice, "alice2", settings=Settings(backup_restore_all=False))
    await alice2.verify_with_recovery_key(recovery_key)
    await alice2.load_full_history(room_id)
    alice2.room_opened(room_id)
    assert await alice2.wait_until(
        lambda: any(i.body == "read me when opened" and i.decrypted for i in alice2.timeline(room_id)), 20
    )


def _many_sessions(engine: Engine, room_id: str, count: int, shareable_every: int = 2) -> list[str]:
    """Give `engine` `count` inbound sessions for the room (as if others had sent that many)."""
    from nio.crypto import InboundGroupSession

    olm = engine.client.olm
    pairs = []
    for n in range(count):
        group = vodozemac.GroupSession()
        sender = b64encode(os.urandom(32))
        inbound = InboundGroupSession(group.session_key.to_base64(), b64encode(os.urandom(32)), sender, room_id)
        pairs.append((inbound, SessionMeta(room_id, inbound.id, sender, n % shareable_every == 0, Origin.DIRECT,
                                           received_at=time.time())))
    olm.persist(*changed(olm.merge_sessions(pairs)))
    return [p[0].id for p in pairs]


async def test_uploads_are_batched_retried_and_carry_the_flag(engines, homeserver):
    async with FaultProxy(homeserver.url) as proxy:
        proxy.add(Rule(path=r"/room_keys/keys", method="PUT", status=500, times=2))
        alice = await engines("alice")
        alice.client.homeserver = proxy.url
        room_id = await alice.create_room("Many", history_visibility="shared")
        await alice.setup_recovery()
        ids = _many_sessions(alice, room_id, 250)
        assert alice.backup_status().uploading == 250
        deadline = time.monotonic() + 40
        while alice.backup_status().uploading and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        status = await alice.refresh_backup()
        assert status.uploading == 0 and status.keys_on_server == 250, status
        puts = [p for m, p in proxy.seen if m == "PUT" and "/room_keys/keys" in p]
        assert len(puts) == 2 + 3, "two refused, then three batches of at most 100"
    held = backup_contents(alice, homeserver.url)[room_id]
    assert set(held) == set(ids)
    flags = {sid: held[sid]["key"].shared_history for sid in ids}
    assert flags == {sid: n % 2 == 0 for n, sid in enumerate(ids)}
    assert all(held[sid]["entry"]["forwarded_count"] == 0 for sid in ids)


async def test_a_batch_the_server_refuses_outright_does_not_hold_up_the_rest(engines, homeserver, caplog):
    caplog.set_level(logging.WARNING)
    async with FaultProxy(homeserver.url) as proxy:
        proxy.add(Rule(path=r"/room_keys/keys", method="PUT", status=400, times=1))
        alice = await engines("alice")
        alice.client.homeserver = proxy.url
        room_id = await alice.create_room("Refused", history_visibility="shared")
        await alice.setup_recovery()
        _many_sessions(alice, room_id, 150)
        await alice.flush()
        status = await alice.refresh_backup()
    assert status.uploading == 0 and status.keys_on_server == 50, status
    assert "the server refused to back up 100 sessions" in caplog.text


async def test_hostile_backup_entries_are_refused_one_by_one(engines, caplog):
    caplog.set_level(logging.WARNING)
    alice, bob, room_id = await conversation(engines, ["good one"])
    recovery_key = await alice.setup_recovery()
    await alice.flush()
    version = alice.backup_status().version
    public = alice.backup.info.public_key
    encryptor = Encryptor(public)

    def key_for(session_id: str) -> dict:
        inbound = vodozemac.InboundGroupSession(vodozemac.GroupSession().session_key)
        key = ExportedKey(room_id, b64encode(os.urandom(32)), session_id, inbound.export_at(0).to_base64(), "", (), True)
        return encryptor.entry(key, 0, 1)

    other = vodozemac.InboundGroupSession(vodozemac.GroupSession().session_key)
    hostile = {
        b64encode(os.urandom(32)): {"first_message_index": 0, "forwarded_count": 0, "is_verified": False,
                                     "session_data": {"ephemeral": "x", "ciphertext": "y", "mac": "z"}},
        other.session_id: key_for(b64encode(os.urandom(32))),  # a key for another session than it names
        b64encode(os.urandom(32)): {"first_message_index": 0, "forwarded_count": 0, "is_verified": False,
                                     "session_data": encryptor.session_data(b"[" * 4000)},
    }
    client = alice.client
    raw_request(client.homeserver, client.access_token, "PUT",
                f"/_matrix/client/v3/room_keys/keys/{urllib.parse.quote(room_id)}?version={version}",
                {"sessions": hostile})

    alice2 = await second_device(engines, alice, "alice2")
    await alice2.verify_with_recovery_key(recovery_key)
    result = await alice2.restore_backup()
    assert (result.total, result.imported, result.failed) == (5, 2, 3), result
    assert "refused an entry of the key backup" in caplog.text
    assert "its key belongs to another session" in caplog.text
    items = await history(alice2, room_id)
    assert items["good one"].decrypted
    assert len(alice2.inspect_room(room_id).sessions) == 2


async def test_a_backup_replaced_by_someone_else_is_not_written_to(engines):
    alice = await engines("alice")
    room_id = await alice.create_room("Replaced", history_visibility="shared")
    await alice.setup_recovery()
    await alice.flush()
    first = alice.backup_status().version
    # Another client (or the server) puts a new backup version in place, signed by nobody of ours.
    client = alice.client
    raw_request(client.homeserver, client.access_token, "POST", "/_matrix/client/v3/room_keys/version",
                {"algorithm": BACKUP_ALGORITHM, "auth_data": new_auth_data(new_backup_key())})
    await alice.send_text(room_id, "after the switch")
    await alice.flush()
    status = alice.backup_status()
    assert status.version != first and status.state == "no_key", status
    assert "replaced" in status.detail and status.uploading == 0
    body = raw_request(client.homeserver, client.access_token, "GET",
                       f"/_matrix/client/v3/room_keys/keys?version={status.version}")
    assert body == {"rooms": {}}, "nothing was written to a backup we cannot trust"


async def test_the_command_line_verifies_restores_and_reports(engines, homeserver, cli_env):
    import subprocess
    import sys

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "tui_client", "--profile", "second", *args], env=cli_env,
                              input=input, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{args}: {proc.stderr}"
        return proc

    async def cli(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return await asyncio.to_thread(run, *args, input=input)

    alice, bob, room_id = await conversation(engines, ["for the command line"])
    recovery_key = await alice.setup_recovery()
    await alice.flush()
    user = alice.test_user
    await cli("login", "--homeserver", homeserver.url, "--user", user.localpart, "--password-stdin",
              input=user.password + "\n")
    before = json.loads((await cli("backup", "status", "--json")).stdout)
    assert before["state"] == "no_key" and before["algorithm"] == BACKUP_ALGORITHM and before["keys_on_server"] == 2

    verified = await cli("verify", "--stdin", input=recovery_key + "\n")
    assert "this device is now verified by your identity" in verified.stdout
    assert "key backup: restored 2 room keys of 2" in verified.stdout, verified.stdout + verified.stderr
    status = json.loads((await cli("backup", "status", "--json")).stdout)
    assert {k: status[k] for k in ("version", "algorithm", "keys_on_server", "keys_restored", "uploading")} == {
        "version": before["version"], "algorithm": BACKUP_ALGORITHM, "keys_on_server": 2, "keys_restored": 2,
        "uploading": 0,
    }
    again = json.loads((await cli("backup", "restore", room_id, "--json")).stdout)
    assert again == {"total": 2, "imported": 0, "failed": 0, "room_id": room_id}, "nothing new: already restored"
    history = json.loads((await cli("history", room_id, "--json")).stdout)
    assert [h["body"] for h in history if h["body"]] == ["alice was here first", "for the command line"]


async def test_an_unusable_backup_description_is_reported_and_verifying_still_works(engines, homeserver):
    alice = await engines("alice")
    recovery_key = await alice.setup_recovery()
    client = alice.client
    raw_request(client.homeserver, client.access_token, "POST", "/_matrix/client/v3/room_keys/version",
                {"algorithm": BACKUP_ALGORITHM, "auth_data": {"public_key": "not a key \u202e"}})
    status = await alice.refresh_backup()
    assert status.state == "error" and "unusable" in status.detail and "public key" in status.detail, status
    alice2 = await second_device(engines, alice, "alice2")
    trust = await alice2.verify_with_recovery_key(recovery_key)
    assert trust.device_verified, "a broken backup does not stop the device from being verified"
    assert alice2.backup_status().state == "error"


async def test_a_backup_too_large_to_fetch_at_once_is_restored_room_by_room(engines):
    alice, bob, room_id = await conversation(engines, ["from a big backup"])
    recovery_key = await alice.setup_recovery()
    await alice.flush()
    alice2 = await second_device(engines, alice, "alice2", settings=Settings(backup_max_bytes=200))
    await alice2.verify_with_recovery_key(recovery_key)
    result = await alice2.restore_backup()
    assert (result.total, result.imported) == (2, 2), result
    assert (await history(alice2, room_id))["from a big backup"].decrypted


async def test_after_a_restart_exactly_what_the_backup_lacks_is_uploaded(engines, homeserver, tmp_path, caplog):
    """Sessions that arrived while uploads failed, and a better copy of one already backed up,
    are uploaded after a restart; nothing the backup already holds is sent again."""
    caplog.set_level(logging.INFO)
    profile = tmp_path / "alice-restarts"
    alice = await engines("alice", profile_dir=profile)
    room_id = await alice.create_room("Restarts", history_visibility="shared")
    await alice.setup_recovery()
    backed_up = _many_sessions(alice, room_id, 30)
    group = vodozemac.GroupSession()
    late = _offer(alice, room_id, group, index=3)
    await alice.flush()
    assert (await alice.refresh_backup()).keys_on_server == 31
    async with FaultProxy(homeserver.url) as proxy:
        proxy.add(Rule(path=r"/room_keys/keys", method="PUT", status=500, times=1000))
        alice.client.homeserver = proxy.url
        waiting = _many_sessions(alice, room_id, 20)
        assert _offer(alice, room_id, group, index=0) == late
        await alice.close()
    caplog.clear()

    again = Engine("alice", profile_dir=profile)
    try:
        assert await again.open()
        await again.sync_once()
        assert await again.wait_until(lambda: again.backup_status().keys_on_server == 51, 40)
        assert "21 sessions to back up" in caplog.text, "only the 20 new ones and the better copy"
        held = backup_contents(again)[room_id]
    finally:
        await again.close()
    assert set(held) == {*backed_up, *waiting, late}
    assert held[late]["entry"]["first_message_index"] == 0, "the better copy replaced the one backed up"


def _offer(engine: Engine, room_id: str, group: vodozemac.GroupSession, index: int) -> str:
    """Give `engine` the session of `group` as known from `index` on (its creator's copy)."""
    from nio.crypto import InboundGroupSession

    olm = engine.client.olm
    sender, ed25519 = (b64encode(hashlib.sha256(f"{kind}{group.session_id}".encode()).digest()) for kind in "ce")
    exported = vodozemac.InboundGroupSession(group.session_key).export_at(index).to_base64()
    inbound = InboundGroupSession.import_session(exported, ed25519, sender, room_id)
    meta = SessionMeta(room_id, inbound.id, sender, True, Origin.DIRECT, received_at=time.time())
    olm.persist(*changed(olm.merge_sessions([(inbound, meta)])))
    return inbound.id
