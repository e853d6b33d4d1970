"""Two engines on a real Synapse: encrypted conversation, restart from the stored session,
and a homeserver restart in the middle of the sync loop."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import bodies, raw_request
from tui_client.engine.engine import Engine, EngineError
from tui_client.engine.events import SyncStateChanged, TimelineItemsAdded
from tui_client.engine.lock import ProfileLockedError
from tui_client.homeserver import SynapseServer

pytestmark = pytest.mark.integration


async def _room_with(alice: Engine, bob: Engine, *, visibility: str = "shared") -> str:
    room_id = await alice.create_room("Basics", history_visibility=visibility)
    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == room_id for i in bob.invites()))
    await bob.join(room_id)
    assert await alice.wait_until(lambda: bob.user_id in {m.user_id for m in alice.room(room_id).members if m.membership == "join"})
    return room_id


async def test_encrypted_conversation_both_ways(engines):
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await _room_with(alice, bob)

    invite_seen = alice.room(room_id)
    assert invite_seen.encrypted and invite_seen.history_visibility == "shared"

    await alice.send_text(room_id, "hello **bob**")
    assert await bob.wait_until(lambda: "hello **bob**" in bodies(bob.timeline(room_id)))
    item = next(i for i in bob.timeline(room_id) if i.body == "hello **bob**")
    assert item.decrypted and item.sender == alice.user_id and item.sender_name == "Alice"
    assert item.formatted_body == "hello <strong>bob</strong>"
    assert item.provenance is None  # received directly, not through a bundle

    await bob.send_text(room_id, "hi alice")
    assert await alice.wait_until(lambda: "hi alice" in bodies(alice.timeline(room_id)))
    reply = next(i for i in alice.timeline(room_id) if i.body == "hi alice")
    assert reply.decrypted and reply.sender == bob.user_id

    # The wire format really is encrypted: what the server stores for the room is m.room.encrypted.
    raw = await asyncio.to_thread(
        raw_request, alice.client.homeserver, alice.client.access_token, "GET",
        f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=50",
    )
    types = {e["type"] for e in raw["chunk"]}
    assert "m.room.encrypted" in types and "m.room.message" not in types


async def test_restart_from_stored_session_keeps_keys(engines, tmp_path):
    alice = await engines("alice")
    bob_dir = tmp_path / "bob-profile"
    bob = await engines("bob", profile_dir=bob_dir)
    room_id = await _room_with(alice, bob)
    await alice.send_text(room_id, "before restart")
    assert await bob.wait_until(lambda: "before restart" in bodies(bob.timeline(room_id)))
    device = bob.device_id
    await bob.close()

    bob2 = Engine("bob", profile_dir=bob_dir)
    try:
        assert await bob2.open(), "the stored session should restore without a login"
        assert bob2.device_id == device
        await bob2.sync_once()
        history = await bob2.load_full_history(room_id)
        old = [i for i in history if i.body == "before restart"]
        assert old and old[0].decrypted, "old messages must stay decryptable after a restart"

        await alice.send_text(room_id, "after restart")
        assert await bob2.wait_until(lambda: "after restart" in bodies(bob2.timeline(room_id)))
        assert next(i for i in bob2.timeline(room_id) if i.body == "after restart").decrypted
    finally:
        await bob2.close()


async def test_profile_lock_refuses_a_second_open(engines, tmp_path):
    alice = await engines("alice", profile_dir=tmp_path / "locked")
    second = Engine("alice", profile_dir=tmp_path / "locked")
    with pytest.raises(ProfileLockedError, match="already open"):
        await second.open()
    assert alice.logged_in


async def test_wrong_password_and_bad_url_are_clear_errors(homeserver, make_user, tmp_path):
    user = make_user("eve")
    engine = Engine("eve", profile_dir=tmp_path / "eve")
    try:
        with pytest.raises(EngineError, match="wrong user name or password"):
            await engine.login(homeserver.url, user.localpart, "not-the-password")
        with pytest.raises(EngineError, match="must start with http"):
            await engine.login("localhost:1", user.localpart, user.password)
        with pytest.raises(EngineError, match="cannot reach"):
            await engine.login("http://127.0.0.1:9", user.localpart, user.password)
        assert not (tmp_path / "eve" / "session.json").exists()
    finally:
        await engine.close()


@pytest.fixture
def private_homeserver(tmp_path, synapse_python_path):
    server = SynapseServer(tmp_path / "private-synapse", python=synapse_python_path)
    server.start()
    yield server
    server.stop()


async def test_sync_loop_recovers_from_homeserver_restart(private_homeserver, tmp_path):
    server = private_homeserver
    users = {}
    for name in ("alice", "bob"):
        users[name] = server.register_user(name, "pw-" + name)
    alice = Engine("alice", profile_dir=tmp_path / "a")
    bob = Engine("bob", profile_dir=tmp_path / "b")
    states: list[str] = []
    arrived: list[str] = []

    def on_event(event):
        if isinstance(event, SyncStateChanged):
            states.append(event.state.state)
        elif isinstance(event, TimelineItemsAdded):
            arrived.extend(i.body for i in event.items if i.body)

    try:
        await alice.login(server.url, "alice", "pw-alice")
        await bob.login(server.url, "bob", "pw-bob")
        await alice.sync_once()
        await bob.sync_once()
        room_id = await _room_with(alice, bob)
        bob.subscribe(on_event)
        bob.start_sync()
        await alice.send_text(room_id, "one")
        assert await bob.wait_until(lambda: "one" in arrived, 20)

        port = server.port
        server.stop()
        assert await _wait_for(lambda: "offline" in states, 30), states  # no answer at all: offline

        restarted = SynapseServer(server.data_dir, port=port, python=server._python)
        restarted.start()
        try:
            assert await _wait_for(lambda: states[-1] == "syncing", 40), states
            await alice.send_text(room_id, "two")
            assert await _wait_for(lambda: "two" in arrived, 30), arrived
            assert bob.sync_state.state == "syncing"
        finally:
            await bob.stop_sync()
            await alice.close()
            await bob.close()
            restarted.stop()
    finally:
        await alice.close()
        await bob.close()


async def _wait_for(predicate, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()
