"""A first start after login asks for the initial sync while it starts (engine.first_sync): the
engine's first sync takes that answer, shows the same rooms and messages as its own would, and
asks the server itself when the early request got nothing usable."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tui_client.engine.claim import claim_profile
from tui_client.engine.engine import Engine
from tui_client.engine.first_sync import glimpse, glimpse_sliding, glimpses_of, prefetch, prefetch_glimpse

pytestmark = pytest.mark.integration


def count_syncs(engine: Engine) -> list[str]:
    """The /sync requests the engine's client makes from now on."""
    client: Any = engine.client
    paths: list[str] = []
    send = client.send

    async def counted(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if "/sync" in path:
            paths.append(path)
        return await send(method, path, *args, **kwargs)

    client.send = counted
    return paths


async def bob_logs_in_on_a_new_device(engines: Any, homeserver: Any, tmp_path: Path) -> tuple[str, str, Path]:
    """Bob is in a room with a message from Alice; he logs in on a new device (a new profile)
    and quits before its first sync: the profile a first start after login opens."""
    alice = await engines("alice")
    bob = await engines("bob")
    room_id = await alice.create_room("Early", history_visibility="shared")
    await alice.invite(room_id, bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == room_id for i in bob.invites()), 20)
    await bob.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    event_id = await alice.send_text(room_id, "before Bob's new device")
    # A room with no name: the list names it after its members (the server's heroes).
    unnamed = await alice.create_room(None)
    await alice.invite(unnamed, bob.user_id)
    assert await bob.wait_until(lambda: any(i.room_id == unnamed for i in bob.invites()), 20)
    await bob.join(unnamed)
    assert await alice.wait_until(lambda: alice.room(unnamed).joined_count == 2)
    profile = tmp_path / "bob-laptop"
    laptop = Engine("bob", profile_dir=profile)
    await laptop.login(homeserver.url, bob.test_user.localpart, bob.test_user.password)
    await laptop.close()
    return room_id, event_id, profile


async def test_the_first_sync_asked_for_at_start_is_the_engines_first_sync(engines, homeserver, tmp_path):
    room_id, event_id, profile = await bob_logs_in_on_a_new_device(engines, homeserver, tmp_path)
    claimed = claim_profile("bob", profile)
    assert claimed.never_synced and not claimed.kept_rooms
    sliding = prefetch_glimpse(claimed.session)
    claimed.early_sync = prefetch(claimed.session)
    quick, full = glimpses_of([(sliding, glimpse_sliding), (claimed.early_sync, glimpse)], claimed.session.user_id)
    glimpses = {"sliding sync": quick, "initial sync": full}
    bob = Engine("bob", profile_dir=profile, claimed=claimed)
    try:
        assert await bob.open()
        syncs = count_syncs(bob)
        await bob.sync_once()
        assert syncs == [], "the engine asked for the initial sync again"
        assert room_id in {r.room_id for r in bob.rooms()}
        # What the TUI showed before the engine handled the answer is what it lists after, from
        # either early answer; the sliding sync's has the members that name a room, the other all.
        listed = {r.room_id: (r.name, r.encrypted, r.history_visibility, r.is_direct) for r in bob.rooms()}
        assert len(listed) == 2 and "Alice" in {name for name, *_ in listed.values()}
        members = {r.room_id: {m.user_id for m in r.members} for r in bob.rooms()}
        for kind, glimpsed in glimpses.items():
            rooms = glimpsed.result(10)
            seen = {r.room_id: (r.name, r.encrypted, r.history_visibility, r.is_direct) for r in rooms}
            assert seen == listed, kind
            assert [r.room_id for r in rooms] == [r.room_id for r in bob.rooms()], f"{kind}: the list's order"
            for r in rooms:  # Alice names the unnamed room and wrote the newest message in the other
                alice = members[r.room_id] - {claimed.session.user_id}
                assert alice <= {m.user_id for m in r.members} <= members[r.room_id], kind
        # The full answer also has every member and the unread counts (Synapse's sliding sync has 0).
        assert {r.room_id: {m.user_id for m in r.members} for r in full.result()} == members
        assert {r.room_id: r.unread for r in full.result()} == {r.room_id: r.unread for r in bob.rooms()}
        assert event_id in {i.event_id for i in bob.timeline(room_id)}, "Alice's message is in it"
        await bob.sync_once()
        assert len(syncs) == 1 and "since=" in syncs[0], "the next sync goes on from the early one's token"
    finally:
        await bob.close()


async def test_an_early_sync_the_server_refused_is_asked_for_again(engines, homeserver, tmp_path):
    room_id, _, profile = await bob_logs_in_on_a_new_device(engines, homeserver, tmp_path)
    claimed = claim_profile("bob", profile)
    assert claimed.session is not None
    # The early request carries a token the server does not know (it answers 401).
    claimed.early_sync = prefetch(dataclasses.replace(claimed.session, access_token="not-a-token"))
    bob = Engine("bob", profile_dir=profile, claimed=claimed)
    try:
        assert await bob.open()
        syncs = count_syncs(bob)
        await bob.sync_once()
        assert len(syncs) == 1, "the engine made its own initial sync"
        assert room_id in {r.room_id for r in bob.rooms()}
    finally:
        await bob.close()


async def test_a_store_that_has_synced_asks_for_nothing_early(engines, tmp_path):
    profile = tmp_path / "carol"
    carol = await engines("carol", profile_dir=profile)
    await carol.close()
    claimed = claim_profile("carol", profile)
    try:
        assert not claimed.never_synced
    finally:
        claimed.lock.release()
