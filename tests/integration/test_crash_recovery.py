"""kill -9 at several points of a large bundle import and of a sync, then a restart on the same
profile: the same Megolm sessions as a clean import, none twice, the history readable. The
engine runs in its own process (tests/crash_helper.py), which says where it is; the test kills
it there with SIGKILL, as a crash or a closed laptop would."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.bench.bench_history_sharing import fake_history
from tests.helpers import bodies
from tests.integration.test_history_sharing import by_event, invited, room_with_messages
from tui_client.engine.engine import Engine

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_SIZE = 3000


async def run_and_kill(profile_dir: Path, args: list[str], at: str, *, after: float = 0.0) -> list[str]:
    """Run the helper until it prints a line starting with `at` (then `after` seconds more),
    and kill it with SIGKILL. Returns the lines it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.crash_helper", str(profile_dir), *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    lines: list[str] = []
    try:
        async def reach() -> None:
            assert proc.stdout is not None
            while True:
                raw = await proc.stdout.readline()
                if not raw:
                    raise AssertionError(f"the helper exited before {at!r}: {lines}")
                lines.append(raw.decode().strip())
                if lines[-1].startswith(at):
                    return

        await asyncio.wait_for(reach(), 60)
        if after:
            await asyncio.sleep(after)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, lines)
    return lines


def blobs(profile_dir: Path) -> list[int]:
    """Session counts of the bundle blobs committed in the profile's store."""
    with sqlite3.connect(profile_dir / "crypto.db") as conn:
        return [n for (n,) in conn.execute("SELECT session_count FROM tc_bundle_sessions")]


def room_sessions(engine: Engine, room_id: str) -> Counter:
    return Counter(s.id for s in engine.client.olm.inbound_group_store if s.room_id == room_id)


async def test_kill_9_during_a_large_bundle_import_then_restart(engines, tmp_path):
    alice = await engines("alice")
    room_id, ids = await room_with_messages(alice, ["said before bob", "and this too"])
    fake_history(alice, room_id, BUNDLE_SIZE)
    expected = set(room_sessions(alice, room_id))
    profile = tmp_path / "bob"
    bob = await engines("bob", profile_dir=profile)
    result = await alice.invite(room_id, bob.user_id)
    assert result.shared and result.key_count == len(expected)
    await invited(bob, room_id)
    await bob.close()

    args = ["join", room_id]
    await run_and_kill(profile, args, "BUNDLE downloading")  # joined; the download has begun
    assert blobs(profile) == []
    await run_and_kill(profile, args, "BUNDLE importing")  # decrypting, parsing, checking keys
    assert blobs(profile) == []
    await run_and_kill(profile, [*args, "--hold", "txn"], "HOLDING txn")  # inside the store transaction
    assert blobs(profile) == [], "a killed transaction left part of the bundle behind"
    await run_and_kill(profile, [*args, "--hold", "committed"], "HOLDING committed")  # just after the commit
    assert blobs(profile) == [len(expected)]

    bob = Engine("bob", profile_dir=profile)
    try:
        assert await bob.open()
        await bob.sync_once()
        await bob.settle(20)
        held = room_sessions(bob, room_id)
        assert set(held) == expected, f"{len(set(held) ^ expected)} sessions differ from a clean import"
        assert max(held.values()) == 1, "a session is held twice"
        assert blobs(profile) == [len(expected)], "the bundle was imported twice"
        [bundle] = bob.inspect_room(room_id).bundles
        assert bundle.state == "imported"
        await bob.load_full_history(room_id)
        for event_id in ids:
            item = by_event(bob, room_id)[event_id]
            assert item.decrypted and item.provenance.shared_by == alice.user_id, "history readable"
    finally:
        await bob.close()


async def test_kill_9_during_sync_then_restart(engines, tmp_path):
    alice = await engines("alice")
    profile = tmp_path / "bob"
    bob = await engines("bob", profile_dir=profile)
    room_id = await alice.create_room("Crashing", history_visibility="shared")
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    await bob.close()

    async def new_session_message(text: str) -> str:
        alice.client.olm.discard_outbound_session(room_id, "the test wants a new room key")
        return await alice.send_text(room_id, text)

    sent = [await new_session_message("m1")]
    # Killed while the room key that arrived over to-device is being written.
    await run_and_kill(profile, ["sync", "--hold", "roomkey"], "HOLDING roomkey")
    sent.append(await new_session_message("m2"))
    await run_and_kill(profile, ["sync"], "OPEN", after=0.4)  # somewhere in the first sync
    sent.append(await new_session_message("m3"))
    await run_and_kill(profile, ["sync"], "SYNCED")  # right after a whole sync

    bob = Engine("bob", profile_dir=profile)
    try:
        assert await bob.open()
        await bob.sync_once()
        await bob.settle(10)
        await bob.load_full_history(room_id)
        items = by_event(bob, room_id)
        unreadable = {i.body or i.failure_reason for e, i in items.items() if e in sent and not i.decrypted}
        assert not unreadable, f"keys lost in a crash: {unreadable}"
        assert [b for b in bodies(bob.timeline(room_id)) if b in ("m1", "m2", "m3")] == ["m1", "m2", "m3"]
        assert len(items) == len(bob.timeline(room_id)), "an event shows twice"
        assert max(room_sessions(bob, room_id).values()) == 1
    finally:
        await bob.close()


async def test_killed_a_second_after_its_first_sync_the_next_start_shows_what_it_synced(engines, tmp_path):
    """The first sync of a run writes the offline cache a moment after the rooms are on screen
    (not inside the sync, where it would compete with drawing them). A process killed after
    that moment, with no later sync and no clean quit, still leaves a cache a start can show."""
    alice = await engines("alice")
    profile = tmp_path / "bob"
    bob = await engines("bob", profile_dir=profile)
    room_id = await alice.create_room("Cached", history_visibility="shared")
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    await bob.close()
    await alice.send_text(room_id, "written while Bob was away")

    await run_and_kill(profile, ["sync", "--idle"], "SYNCED", after=1.5)

    again = Engine("bob", profile_dir=profile)
    try:
        assert await again.open()  # no sync: only what the killed run left
        assert room_id in {r.room_id for r in again.rooms()}
        assert "written while Bob was away" in bodies(again.timeline(room_id))
    finally:
        await again.close()
