"""Faults on the wire between our engine and a real Synapse (tests/faults.py): connections
dropped, reset, delayed, and answers cut mid-body, during sync, the upload and download of a key
bundle, a key query and /join. Each test checks the end state: nothing lost, nothing
duplicated, the client recovers by itself once the fault stops, and the user is told."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from tests.faults import FaultProxy, Rule
from tests.helpers import bodies
from tests.integration.test_history_sharing import by_event, invited, room_with_messages
from tui_client.config import Settings
from tui_client.engine.engine import Engine, EngineError, SharingFailed
from tui_client.engine.events import Notice, SyncStateChanged

pytestmark = pytest.mark.integration

SYNC = r"/_matrix/client/v3/sync"
UPLOAD = r"/_matrix/media/v3/upload"
DOWNLOAD = r"/_matrix/client/v1/media/download/"
KEY_QUERY = r"/_matrix/client/v3/keys/query"
JOIN = r"/_matrix/client/v3/join/"
QUICK_SYNC = Settings(sync_timeout_ms=300)


async def engine_via(url: str, make_user, profile_dir: Path, name: str, **kwargs) -> Engine:
    user = make_user(name)
    engine = Engine(name, profile_dir=profile_dir, **kwargs)
    await engine.login(url, user.localpart, user.password)
    await engine.sync_once()
    engine.test_user = user  # type: ignore[attr-defined]
    return engine


def told(engine: Engine) -> list[object]:
    """Everything the engine tells its front end: sync states and notices."""
    seen: list[object] = []
    engine.subscribe(lambda e: seen.append(e) if isinstance(e, (SyncStateChanged, Notice)) else None)
    return seen


def sessions_of(engine: Engine, room_id: str) -> Counter:
    return Counter(s.id for s in engine.client.olm.inbound_group_store if s.room_id == room_id)


# -- sync ------------------------------------------------------------------------------------------


async def test_sync_recovers_by_itself_from_resets_drops_cut_answers_and_delays(engines, homeserver, make_user,
                                                                              tmp_path):
    alice = await engines("alice")
    async with FaultProxy(homeserver.url) as proxy:
        bob = await engine_via(proxy.url, make_user, tmp_path / "bob", "bob", settings=QUICK_SYNC)
        try:
            room_id = await alice.create_room("Faults", history_visibility="shared")
            await alice.invite(room_id, bob.user_id)
            await invited(bob, room_id)
            await bob.join(room_id)
            seen = told(bob)
            bob.start_sync()
            assert await bob.wait_until(lambda: bob.sync_state.state == "syncing", 10)

            # nio retries a failed request once by itself, so each fault is set for two requests
            # to reach the engine.
            faults = [
                proxy.add(Rule(path=SYNC, reset=True, times=2)),
                proxy.add(Rule(path=SYNC, truncate=40, times=2)),
                proxy.add(Rule(path=SYNC, drop=True, times=2)),
                proxy.add(Rule(path=SYNC, cut_response=True, times=2)),
                proxy.add(Rule(path=SYNC, delay=1.5, times=1)),
            ]
            texts = [f"sent during fault {i}" for i in range(6)]
            for text in texts:
                await alice.send_text(room_id, text)
                await asyncio.sleep(0.3)
            assert await bob.wait_until(lambda: all(f.hits == f.times for f in faults), 60), \
                [(f.hits, f.times) for f in faults]
            assert await bob.wait_until(lambda: set(texts) <= set(bodies(bob.timeline(room_id))), 60), \
                bodies(bob.timeline(room_id))

            items = bob.timeline(room_id)
            assert len({i.event_id for i in items}) == len(items), "an event shows twice"
            assert Counter(bodies(items))[texts[0]] == 1 and all(i.decrypted for i in items if i.body in texts)
            states = [e.state for e in seen if isinstance(e, SyncStateChanged)]
            # A network fault is "offline" (issue 12: the server cannot be reached, what was kept is
            # shown), an error answer "retrying"; either way the user is told why.
            reconnecting = [s for s in states if s.state in ("retrying", "offline")]
            assert reconnecting and all(s.detail for s in reconnecting), "the user is told why it reconnects"
            assert states[-1].state == "syncing" and bob.sync_state.state == "syncing", "recovered by itself"
        finally:
            await bob.close()


# -- the upload of a bundle --------------------------------------------------------------------------


async def test_a_failed_bundle_upload_keeps_the_invite_back_unless_the_user_says_so(engines, homeserver, make_user,
                                                                                     tmp_path):
    bob = await engines("bob")
    async with FaultProxy(homeserver.url) as proxy:
        alice = await engine_via(proxy.url, make_user, tmp_path / "alice", "alice")
        try:
            room_id, ids = await room_with_messages(alice, ["before the invite"])
            for rule in (Rule(path=UPLOAD, reset=True), Rule(path=UPLOAD, truncate=10), Rule(path=UPLOAD, status=500)):
                proxy.clear()
                proxy.add(rule)
                with pytest.raises(SharingFailed, match="upload.*the invite was not sent"):
                    await alice.invite(room_id, bob.user_id)
                assert rule.hits >= 1
            await bob.sync_once()
            assert not bob.invites(), "no invite went out"
            assert not (await bob.doctor())["received_bundles"], "no bundle was announced"

            # The user decides the invite goes out anyway: it does, without keys, and says so.
            result = await alice.invite(room_id, bob.user_id, invite_if_sharing_fails=True)
            assert result is not None and not result.shared and "upload" in result.reason
            await invited(bob, room_id)

            proxy.clear()  # the network is back: sharing again works, once
            assert (await alice.share_history(room_id, bob.user_id)).shared
            await bob.join(room_id)
            await bob.settle(20)
            await bob.load_full_history(room_id)
            assert by_event(bob, room_id)[ids[0]].decrypted
            assert len((await bob.doctor())["received_bundles"]) == 1
            assert all(n == 1 for n in sessions_of(bob, room_id).values())
        finally:
            await alice.close()


# -- the download of a bundle --------------------------------------------------------------------------


async def test_a_cut_or_reset_download_is_retried_until_the_keys_are_in(engines, homeserver, make_user, tmp_path):
    alice = await engines("alice")
    async with FaultProxy(homeserver.url) as proxy:
        bob = await engine_via(proxy.url, make_user, tmp_path / "bob", "bob")
        try:
            rooms = [await room_with_messages(alice, [f"history of room {i}", "more"]) for i in range(2)]
            for room_id, _ in rooms:
                await alice.invite(room_id, bob.user_id)
                await invited(bob, room_id)
            cut = proxy.add(Rule(path=DOWNLOAD, truncate=100, times=1))
            reset = proxy.add(Rule(path=DOWNLOAD, reset=True, times=1))
            seen = told(bob)
            shown: dict[str, set[str]] = {room_id: set() for room_id, _ in rooms}

            async def watch() -> None:  # what the invite card and the room show, as it changes
                while True:
                    for room_id, _ in rooms:
                        incoming = (room := bob.room(room_id)) and room.incoming_keys
                        if incoming:
                            shown[room_id].add(incoming.describe("Alice"))
                    await asyncio.sleep(0.05)

            watcher = asyncio.create_task(watch())
            for room_id, _ in rooms:
                await bob.join(room_id, wait_for_keys=0)
            assert await bob.wait_until(lambda: cut.hits == 1 and reset.hits == 1, 20)
            assert await bob.wait_until(
                lambda: all(bob.inspect_room(r).bundles[0].state == "imported" for r, _ in rooms), 40)
            for room_id, ids in rooms:
                await bob.load_full_history(room_id)
                assert all(by_event(bob, room_id)[i].decrypted for i in ids), "nothing lost"
                assert all(n == 1 for n in sessions_of(bob, room_id).values()), "no session twice"
                assert len(bob.inspect_room(room_id).bundles) == 1
            assert sum("You can read" in e.message for e in seen if isinstance(e, Notice)) == 2, "told once each"
            assert proxy.requests(DOWNLOAD) == 4
            watcher.cancel()
            # The cut answer is retried after 5 s, and the room says so meanwhile; a reset
            # connection that had served a request before is retried by aiohttp at once.
            retried = [r for r, lines in shown.items() if any("could not be downloaded yet" in l for l in lines)]
            assert len(retried) >= 1, shown
        finally:
            await bob.close()


# -- a key query ----------------------------------------------------------------------------------------


async def test_an_invite_whose_key_query_fails_is_not_sent_without_the_keys(engines, homeserver, make_user, tmp_path):
    bob = await engines("bob")
    async with FaultProxy(homeserver.url) as proxy:
        alice = await engine_via(proxy.url, make_user, tmp_path / "alice", "alice")
        try:
            room_id, ids = await room_with_messages(alice, ["needs bob's keys"])
            for rule in (Rule(path=KEY_QUERY, reset=True), Rule(path=KEY_QUERY, status=502),
                         Rule(path=KEY_QUERY, truncate=20)):
                proxy.clear()
                proxy.add(rule)
                with pytest.raises(SharingFailed, match="the invite was not sent"):
                    await alice.invite(room_id, bob.user_id)
                with pytest.raises(EngineError, match="could not ask the server"):  # said, not a traceback
                    await alice.preview_invite(room_id, bob.user_id)
            await bob.sync_once()
            assert not bob.invites(), "an invite went out without the keys, and nobody was asked"

            proxy.clear()
            result = await alice.invite(room_id, bob.user_id)
            assert result is not None and result.shared
            await invited(bob, room_id)
            await bob.join(room_id)
            await bob.settle(20)
            await bob.load_full_history(room_id)
            assert by_event(bob, room_id)[ids[0]].decrypted
        finally:
            await alice.close()


# -- /join ----------------------------------------------------------------------------------------------


async def test_a_join_reset_before_it_reaches_the_server(engines, homeserver, make_user, tmp_path):
    alice = await engines("alice")
    async with FaultProxy(homeserver.url) as proxy:
        bob = await engine_via(proxy.url, make_user, tmp_path / "bob", "bob")
        try:
            room_id, ids = await room_with_messages(alice, ["before the join"])
            await alice.invite(room_id, bob.user_id)
            await invited(bob, room_id)

            blocked = proxy.add(Rule(path=JOIN, reset=True, times=2))  # nio's own retry fails too
            with pytest.raises(EngineError, match="did not answer"):
                await bob.join(room_id)
            assert blocked.hits == 2
            await bob.sync_once()
            assert room_id in {i.room_id for i in bob.invites()}, "the server never saw the join"
            assert room_id not in {r.room_id for r in bob.rooms()}

            once = proxy.add(Rule(path=JOIN, reset=True, times=1))  # a single reset: retried by itself
            assert await bob.join(room_id) == room_id
            assert once.hits == 1
            await bob.settle(20)
            await bob.load_full_history(room_id)
            item = by_event(bob, room_id)[ids[0]]
            assert item.decrypted and item.provenance.shared_by == alice.user_id
            assert bob.sharing.acceptance(room_id).inviter == alice.user_id
            assert len(bob.inspect_room(room_id).bundles) == 1
            assert all(n == 1 for n in sessions_of(bob, room_id).values())
        finally:
            await bob.close()
