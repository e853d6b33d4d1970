"""Holes of "History sharing under attack" that need no hostile file, only a hostile or unlucky
world: a lost answer to /join (6), leaving and being invited again (7), and a flood of bundles
for rooms we were never invited to (9). Real engines on a real Synapse; each test fails on the
main before the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import FaultProxy, Rule
from tests.integration.test_history_sharing import Clock, by_event, invited, room_with_messages
from tui_client.engine.engine import Engine, EngineError

pytestmark = pytest.mark.integration


async def _engine_via(url: str, make_user, profile_dir: Path, name: str = "bob", **kwargs) -> Engine:
    user = make_user(name)
    engine = Engine(name, profile_dir=profile_dir, **kwargs)
    await engine.login(url, user.localpart, user.password)
    await engine.sync_once()
    return engine


async def test_a_join_whose_answer_is_lost_still_accepts_the_invite(engines, homeserver, make_user, tmp_path):
    alice = await engines("alice")
    room_id, ids = await room_with_messages(alice, ["said before bob joined"])
    async with FaultProxy(homeserver.url) as proxy:
        bob = await _engine_via(proxy.url, make_user, tmp_path / "bob")
        try:
            await alice.invite(room_id, bob.user_id)
            await invited(bob, room_id)
            cut = proxy.add(Rule(path=r"/v3/join/", method="POST", cut_response=True))
            with pytest.raises(EngineError, match="did not answer"):
                await bob.join(room_id)  # the server joined bob; bob never heard back
            assert cut.hits >= 1
            await bob.close()  # and the process dies in that window

            proxy.clear()
            bob = Engine("bob", profile_dir=tmp_path / "bob")
            assert await bob.open()
            await bob.sync_once()  # the join shows up here: that is the acceptance
            assert room_id in {r.room_id for r in bob.rooms()}
            await bob.settle(20)
            await bob.load_full_history(room_id)
            item = by_event(bob, room_id)[ids[0]]
            assert item.decrypted and item.provenance.shared_by == alice.user_id
        finally:
            await bob.close()


async def test_a_rejoin_imports_the_keys_shared_for_it(engines):
    alice, bob = await engines("alice"), await engines("bob")
    room_id, ids = await room_with_messages(alice, ["first visit"])
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    await bob.settle(20)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    await bob.leave(room_id)
    assert await alice.wait_until(lambda: bob.user_id not in {m.user_id for m in alice.room(room_id).members})
    away = await alice.send_text(room_id, "while bob was away")

    await alice.invite(room_id, bob.user_id, share_history=False)  # the invite first...
    await invited(bob, room_id)
    await bob.join(room_id)
    await bob.load_full_history(room_id)
    waiting = by_event(bob, room_id)[away]
    assert waiting.failed and waiting.failure_reason == "sent before you joined — waiting for keys from Alice", \
        "the keys of the first visit say nothing about this one"

    await alice.share_history(room_id, bob.user_id)  # ...and the keys after bob accepted
    assert await bob.wait_until(lambda: by_event(bob, room_id)[away].decrypted, 20)
    assert by_event(bob, room_id)[away].provenance.shared_by == alice.user_id


async def test_bundles_for_rooms_we_were_never_invited_to_are_capped_and_expire(engines, tmp_path):
    clock = Clock()
    alice = await engines("alice")
    bob = await engines("bob", profile_dir=tmp_path / "bob", clock=clock)
    for i in range(13):
        room_id = await alice.create_room(f"Never for bob {i}")
        await alice.send_text(room_id, "x")
        result = await alice.share_history(room_id, bob.user_id)  # bob is never invited
        assert result.shared
    for _ in range(3):
        await bob.sync_once()
    kept = (await bob.doctor())["received_bundles"]
    assert len(kept) == 10, f"at most 10 unsolicited bundles per sender, {len(kept)} kept"

    await bob.close()
    clock.offset = 25 * 3600
    later = Engine("bob", profile_dir=tmp_path / "bob", clock=clock)
    try:
        assert await later.open()
        await later.sync_once()
        assert (await later.doctor())["received_bundles"] == [], "what can never be used expires"
    finally:
        await later.close()
