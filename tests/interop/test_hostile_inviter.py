"""A hostile inviter, played by matrix-js-sdk 43 + Rust crypto: a real, cross-signed user whose
client announces, Olm-encrypted and with `sender_device_keys`, whatever bundle file it likes
(`sendCraftedBundle` in peer.mjs). Our engine is the victim. Each test reproduces one hole of
"History sharing under attack" end to end; the victim keeps running, imports nothing foreign,
and says why."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

from tests.faults import FaultProxy, Rule
from tests.forge import forged_export
from tests.helpers import bodies
from tests.integration.test_history_sharing import by_event, invited
from tui_client.engine.engine import Engine
from tui_client.engine.events import Notice

pytestmark = [pytest.mark.interop, pytest.mark.integration]

MEGOLM = "m.megolm.v1.aes-sha2"
DOWNLOAD = r"/_matrix/client/v1/media/download/"


@pytest.fixture
async def reopen():
    """`await reopen(engine)`: close it and start it again on the same profile (a restart)."""
    opened: list[Engine] = []

    async def make(engine: Engine, homeserver: str | None = None) -> Engine:
        await engine.close()
        again = Engine(engine.profile, profile_dir=engine.dir, settings=engine.settings)
        opened.append(again)
        assert await again.open()
        if homeserver:
            again.client.homeserver = homeserver
        await again.sync_once()
        return again

    yield make
    for engine in opened:
        await engine.close()


def notices(engine: Engine) -> list[str]:
    seen: list[str] = []
    engine.subscribe(lambda e: seen.append(e.message) if isinstance(e, Notice) else None)
    return seen


async def mallorys_room(js_peer_factory, bob: Engine, texts=("secret history",), *, share=False):
    """Mallory (js, cross-signed) writes in her encrypted room, then invites bob."""
    mallory = await js_peer_factory("mallory", cross_signing=True)
    room_id = await mallory.create_room("Mallory's room")
    ids = [await mallory.send(room_id, t) for t in texts]
    await mallory.invite(room_id, bob.user_id, share_history=share)
    await invited(bob, room_id)
    return mallory, room_id, ids


def bundle_entry(room_id: str, session_id: str, sender_key: str, session_key: str, ed25519: str) -> dict:
    return {"algorithm": MEGOLM, "room_id": room_id, "sender_key": sender_key, "session_id": session_id,
            "session_key": session_key, "sender_claimed_keys": {"ed25519": ed25519}}


async def real_entries(mallory, room_id: str) -> list[dict]:
    """Mallory's genuine keys for the room, as bundle entries."""
    return [
        bundle_entry(room_id, k["session_id"], k["sender_key"], k["session_key"], k["sender_claimed_keys"]["ed25519"])
        for k in await mallory.export_room_keys() if k["room_id"] == room_id
    ]


async def still_running(mallory, bob: Engine, room_id: str) -> None:
    await mallory.send(room_id, "life goes on")
    assert await bob.wait_until(lambda: "life goes on" in bodies(bob.timeline(room_id)), 20)


def bundle_of(engine: Engine, room_id: str):
    [bundle] = engine.inspect_room(room_id).bundles
    return bundle


async def accept(bob: Engine, room_id: str) -> None:
    await bob.join(room_id)
    await bob.settle(20)
    await bob.load_full_history(room_id)


# -- hole 1: relabelling another room's session ---------------------------------------------------


async def test_a_bundle_for_one_room_cannot_relabel_a_session_of_another(js_peer_factory, engines):
    alice = await engines("alice", legacy_no_shared_history=True)  # her keys are never shareable
    bob, dave = await engines("bob"), await engines("dave")
    mallory = await js_peer_factory("mallory", cross_signing=True)
    room_y = await alice.create_room("Y", history_visibility="shared")
    await alice.invite(room_y, bob.user_id)
    await alice.invite(room_y, mallory.user_id)
    await invited(bob, room_y)
    await bob.join(room_y)
    await mallory.wait_for_invite(room_y)
    await mallory.join(room_y)
    assert await alice.wait_until(lambda: alice.room(room_y).joined_count == 3)
    secret = await alice.send_text(room_y, "room Y secret")
    assert await bob.wait_until(lambda: "room Y secret" in bodies(bob.timeline(room_y)))
    wire = (await mallory.call("rawEvent", room_id=room_y, event_id=secret))["content"]

    # Mallory invites bob to her room X with a "key" for the room-Y session: its id (cleartext in
    # every event) and a random ratchet.
    room_x = await mallory.create_room("X")
    await mallory.send(room_x, "hello")
    await mallory.invite(room_x, bob.user_id, share_history=False)
    await invited(bob, room_x)
    forged = bundle_entry(room_x, wire["session_id"], wire["sender_key"], forged_export(wire["session_id"]),
                          alice.whoami().ed25519)
    await mallory.send_crafted_bundle(room_x, bob.user_id, json.dumps({"room_keys": [forged], "withheld": []}))
    await accept(bob, room_x)

    item = by_event(bob, room_y)[secret]
    assert item.decrypted and item.provenance is None, "the room-Y message is not 'shared by' Mallory"
    [session] = [s for s in bob.inspect_room(room_y).sessions if s.session_id == wire["session_id"]]
    assert session.origin == "direct" and not session.shareable and session.shared_by is None
    preview = bob.share_preview(room_y)
    assert preview.key_count == 0 and preview.withheld_count >= 1, "nothing of alice's becomes shareable"

    # Bob's next bundle for Y does not pass alice's session on: dave is told it was not shared.
    await bob.invite(room_y, dave.user_id)
    await invited(dave, room_y)
    await dave.join(room_y)
    await dave.settle(20)
    await dave.load_full_history(room_y)
    gone = by_event(dave, room_y).get(secret)
    assert gone is None or (gone.failed and gone.failure_code == "not_shared")


# -- hole 2: poisoning a live session -----------------------------------------------------------------


async def test_the_creators_key_beats_a_forged_one_that_came_first(js_peer_factory, engines, reopen):
    carol, bob = await engines("carol"), await engines("bob")
    mallory = await js_peer_factory("mallory", cross_signing=True)
    room_id = await carol.create_room("Carol's room", history_visibility="shared")
    await carol.invite(room_id, mallory.user_id)
    await mallory.wait_for_invite(room_id)
    await mallory.join(room_id)
    assert await carol.wait_until(lambda: carol.room(room_id).joined_count == 2)
    m1 = await carol.send_text(room_id, "m1")
    outbound = carol.client.olm.outbound_group_sessions[room_id]
    wire = (await mallory.call("rawEvent", room_id=room_id, event_id=m1))["content"]

    # Mallory invites bob, announcing a forged key for carol's live session.
    await mallory.invite(room_id, bob.user_id, share_history=False)
    await invited(bob, room_id)
    forged = bundle_entry(room_id, wire["session_id"], wire["sender_key"], forged_export(wire["session_id"]),
                          carol.whoami().ed25519)
    await mallory.send_crafted_bundle(room_id, bob.user_id, json.dumps({"room_keys": [forged]}))
    await accept(bob, room_id)
    assert by_event(bob, room_id)[m1].failed

    # Carol keeps her session for the newcomer, as Element does when visibility allows, and sends
    # its key to bob directly: that key is authenticated by her device and must win.
    assert await carol.wait_until(lambda: carol.room(room_id).joined_count == 3)
    carol.client.olm.outbound_group_sessions[room_id] = outbound
    outbound.shared = False
    m2 = await carol.send_text(room_id, "m2")
    assert await bob.wait_until(lambda: (i := by_event(bob, room_id).get(m2)) is not None and i.decrypted, 20), \
        by_event(bob, room_id).get(m2)
    item = by_event(bob, room_id)[m2]
    assert item.session_id == wire["session_id"] and item.provenance is None
    first = by_event(bob, room_id)[m1]
    assert first.failed and first.failure_code == "index", "m1 predates the key carol gave bob; not 'forged'"

    bob = await reopen(bob)
    await carol.send_text(room_id, "m3")
    assert await bob.wait_until(lambda: "m3" in bodies(bob.timeline(room_id)), 20)
    await bob.load_full_history(room_id)
    assert by_event(bob, room_id)[m2].decrypted, "still readable after a restart"


# -- hole 3: one session twice in a bundle --------------------------------------------------------------


async def test_a_bundle_listing_a_session_twice_is_refused_whole(js_peer_factory, engines, reopen):
    bob = await engines("bob")
    mallory, room_id, ids = await mallorys_room(js_peer_factory, bob)
    [real] = await real_entries(mallory, room_id)
    twice = [real, {**real, "session_key": forged_export(real["session_id"])}]
    await mallory.send_crafted_bundle(room_id, bob.user_id, json.dumps({"room_keys": twice}))
    await accept(bob, room_id)
    bundle = bundle_of(bob, room_id)
    assert bundle.state == "rejected" and "twice" in bundle.detail
    assert by_event(bob, room_id)[ids[0]].failed
    bob = await reopen(bob)
    await bob.load_full_history(room_id)
    assert by_event(bob, room_id)[ids[0]].failed, "what memory and disk hold is the same"
    await still_running(mallory, bob, room_id)


# -- hole 4: structural limits --------------------------------------------------------------------------


async def test_a_deeply_nested_bundle_is_refused_without_a_traceback(js_peer_factory, engines, reopen):
    bob = await engines("bob")
    mallory, room_id, ids = await mallorys_room(js_peer_factory, bob)
    await mallory.send_crafted_bundle(room_id, bob.user_id, '{"room_keys": [' + "[" * 1000 + "]" * 1000 + "]}")
    seen = notices(bob)
    await accept(bob, room_id)
    assert bundle_of(bob, room_id).state == "rejected" and "nested" in bundle_of(bob, room_id).detail
    assert any("Refused the keys" in n and "nested" in n for n in seen)
    assert "refused" in by_event(bob, room_id)[ids[0]].failure_reason
    bob = await reopen(bob)  # starts without failing again, nothing left "importing"
    assert bundle_of(bob, room_id).state == "rejected"
    await still_running(mallory, bob, room_id)


async def test_a_bundle_with_too_many_withheld_entries_is_refused_and_stores_nothing(js_peer_factory, engines):
    bob = await engines("bob")
    mallory, room_id, ids = await mallorys_room(js_peer_factory, bob)
    store = Path(bob.dir) / "crypto.db"
    before = store.stat().st_size + (Path(f"{store}-wal").stat().st_size if Path(f"{store}-wal").exists() else 0)
    withheld = [{"algorithm": MEGOLM, "code": "m.history_not_shared", "room_id": room_id,
                 "session_id": f"{i:0>43}".replace("0", "B"), "reason": "x" * 100}
                for i in range(25_000)]
    await mallory.send_crafted_bundle(room_id, bob.user_id, json.dumps({"room_keys": [], "withheld": withheld}))
    await accept(bob, room_id)
    bundle = bundle_of(bob, room_id)
    assert bundle.state == "rejected" and "at most 20000" in bundle.detail
    assert not bob.inspect_room(room_id).withheld
    after = store.stat().st_size + (Path(f"{store}-wal").stat().st_size if Path(f"{store}-wal").exists() else 0)
    assert after - before < 2_000_000, "the refused bundle left nothing behind"
    await still_running(mallory, bob, room_id)


async def test_a_sender_key_that_is_not_a_curve25519_key_refuses_the_bundle(js_peer_factory, engines):
    bob = await engines("bob")
    mallory, room_id, ids = await mallorys_room(js_peer_factory, bob)
    [real] = await real_entries(mallory, room_id)
    await mallory.send_crafted_bundle(room_id, bob.user_id,
                                      json.dumps({"room_keys": [{**real, "sender_key": "definitely not a key"}]}))
    await accept(bob, room_id)
    bundle = bundle_of(bob, room_id)
    assert bundle.state == "rejected" and "sender_key" in bundle.detail
    assert by_event(bob, room_id)[ids[0]].failed and not [
        s for s in bob.inspect_room(room_id).sessions if s.origin == "bundle"
    ]


# -- hole 5: slow or dead media ----------------------------------------------------------------------------


async def test_a_bundle_on_another_server_is_refused_for_good(js_peer_factory, engines):
    bob = await engines("bob")
    mallory, room_id, ids = await mallorys_room(js_peer_factory, bob)
    [real] = await real_entries(mallory, room_id)
    await mallory.send_crafted_bundle(room_id, bob.user_id, json.dumps({"room_keys": [real]}),
                                      url="mxc://elsewhere.example/AbCdEfGhIjKl")
    started = time.monotonic()
    await bob.join(room_id)
    assert time.monotonic() - started < 10
    await bob.settle(20)
    bundle = bundle_of(bob, room_id)
    assert bundle.state == "rejected" and "HTTP 4" in bundle.detail, bundle
    await bob.load_full_history(room_id)
    assert "were refused" in by_event(bob, room_id)[ids[0]].failure_reason


async def _bob_via(proxy: FaultProxy, make_user, profile_dir: Path) -> Engine:
    user = make_user("bob")
    bob = Engine("bob", profile_dir=profile_dir)
    await bob.login(proxy.url, user.localpart, user.password)
    await bob.sync_once()
    return bob


async def test_join_and_start_never_wait_for_a_stalled_download(js_peer_factory, homeserver, make_user, cli_env):
    profile_dir = Path(cli_env["XDG_DATA_HOME"]) / "tui-client" / "profiles" / "bob"
    async with FaultProxy(homeserver.url) as proxy:
        stall = proxy.add(Rule(path=DOWNLOAD, stall=True))
        bob = await _bob_via(proxy, make_user, profile_dir)
        try:
            mallory, room_id, ids = await mallorys_room(js_peer_factory, bob, share=True)
            started = time.monotonic()
            await bob.join(room_id)
            assert time.monotonic() - started < 5, "join returns whatever the media server does"
            assert await bob.wait_until(lambda: stall.hits >= 1, 10)
            assert bundle_of(bob, room_id).state == "downloading"
            assert bob.room(room_id).incoming_keys.state == "downloading", "the room shows the download"
            await bob.load_full_history(room_id)
            assert "downloading the keys" in by_event(bob, room_id)[ids[0]].failure_reason
        finally:
            await bob.close()

        # A CLI start with the download still pending does not wait for it.
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui_client", "--profile", "bob", "rooms", "--json", env=cli_env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert time.monotonic() - started < 20 and room_id in out.decode()

        proxy.release()
        bob = Engine("bob", profile_dir=profile_dir)
        try:
            assert await bob.open()
            await bob.sync_once()
            assert await bob.wait_until(lambda: bundle_of(bob, room_id).state == "imported", 30)
            await bob.load_full_history(room_id)
            assert by_event(bob, room_id)[ids[0]].decrypted
        finally:
            await bob.close()


async def test_a_passing_download_failure_is_retried_while_the_client_runs(js_peer_factory, homeserver, make_user,
                                                                          tmp_path):
    async with FaultProxy(homeserver.url) as proxy:
        proxy.add(Rule(path=DOWNLOAD, status=502, times=1))
        bob = await _bob_via(proxy, make_user, tmp_path / "bob")
        try:
            mallory, room_id, ids = await mallorys_room(js_peer_factory, bob, share=True)
            await bob.join(room_id)
            assert await bob.wait_until(lambda: bundle_of(bob, room_id).state == "retrying", 10)
            assert "HTTP 502" in bundle_of(bob, room_id).describe("Mallory")
            assert await bob.wait_until(lambda: bundle_of(bob, room_id).state == "imported", 40)
            assert proxy.requests(DOWNLOAD) >= 2
            await bob.load_full_history(room_id)
            assert by_event(bob, room_id)[ids[0]].decrypted
        finally:
            await bob.close()


# -- hole 8: an identity change, accepted -------------------------------------------------------------------


async def test_a_bundle_held_for_a_changed_identity_is_imported_once_accepted(js_peer_factory, engines):
    bob = await engines("bob")
    mallory = await js_peer_factory("mallory", cross_signing=True)
    await bob.refresh_keys(mallory.user_id)  # bob pins mallory's first identity
    await mallory.bootstrap_cross_signing(mallory.password)  # ... which she then replaces
    room_id = await mallory.create_room("After the reset")
    secret = await mallory.send(room_id, "shared after the reset")
    await mallory.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    # js-sdk sends the bundle after the invite, so it may come a sync later. Accepted before
    # it came, the room waits for it (on its way) and holds it only once it arrives, after the
    # check below looked (CI failed so once).
    assert await bob.wait_until(lambda: any(i.room_id == room_id and i.bundle for i in bob.invites()), 20)
    await accept(bob, room_id)
    bundle = bundle_of(bob, room_id)
    assert bundle.state == "held" and "identity changed" in bundle.detail
    assert "on hold" in by_event(bob, room_id)[secret].failure_reason

    bob.accept_identity(mallory.user_id)
    assert await bob.wait_until(lambda: bundle_of(bob, room_id).state == "imported", 20)
    await bob.load_full_history(room_id)
    item = by_event(bob, room_id)[secret]
    assert item.decrypted and item.provenance.shared_by == mallory.user_id
