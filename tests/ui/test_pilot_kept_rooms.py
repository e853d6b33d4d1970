"""A restarted TUI lists the rooms its offline cache kept before the engine has opened (the claim
reads them: sqlite and the store key, no nio), answers keys meanwhile, and shows the live list
once the engine has opened and synced. A cached row that cannot be read (here: one sealed for
another room) is skipped with a line in the log, and the start goes on without it."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from tui_client.cli.tui import engine_opener
from tui_client.config import Settings
from tui_client.engine.claim import claim_profile
from tui_client.engine.host import EngineHost
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.room_list import RoomList

from .conftest import wait_for

pytestmark = pytest.mark.integration

SIZE = (110, 34)
SETTINGS = Settings(sync_timeout_ms=2_000)


def listed(app: TuiApp) -> list[str]:
    return [str(o.prompt) for o in app.screen.query_one(RoomList).options]


def seal_for_another_room(profile: Path, victim: str, donor: str) -> None:
    """Give `victim`'s cached row the summary sealed for `donor` (a row moved between rooms)."""
    conn = sqlite3.connect(profile / "crypto.db")
    with conn:
        (blob,) = conn.execute("SELECT summary FROM tc_room_cache WHERE room_id=?", (donor,)).fetchone()
        conn.execute("UPDATE tc_room_cache SET summary=? WHERE room_id=?", (blob, victim))
    conn.close()


def gated(opener, gate: threading.Event):
    """The real engine's opener, held back until `gate` is set (the engine thread waits)."""

    async def open_when_let():
        while not gate.is_set():
            await asyncio.sleep(0.01)
        return await opener()

    return open_when_let


async def test_the_kept_rooms_are_listed_before_the_engine_opens_then_the_live_ones(engines, tmp_path, caplog):
    alice = await engines("alice")
    profile = tmp_path / "bob-profile"
    bob = await engines("bob", profile_dir=profile)
    kept_id = await alice.create_room("Kept one", history_visibility="shared")
    damaged_id = await alice.create_room("Kept two", history_visibility="shared")
    for room_id in (kept_id, damaged_id):
        await alice.invite(room_id, bob.user_id)
    await bob.sync_once()
    for room_id in (kept_id, damaged_id):
        await bob.join(room_id)
    assert await bob.wait_until(lambda: {r.name for r in bob.rooms()} >= {"Kept one", "Kept two"}, 20)
    await bob.sync_once()  # (the cache is written with each sync)
    await bob.close()
    # While Bob is away: a new name, which only the live list can know.
    await alice.client.room_put_state(kept_id, "m.room.name", {"name": "Renamed while away"})
    seal_for_another_room(profile, victim=damaged_id, donor=kept_id)

    with caplog.at_level(logging.WARNING, logger="tui_client.engine.timeline.cache"):
        claimed = claim_profile("bob", profile)
    assert [r.name for r in claimed.kept_rooms] == ["Kept one"]
    assert any(f"skipped the cached room {damaged_id}" in m for m in caplog.messages)

    gate = threading.Event()
    host = EngineHost(opener=gated(engine_opener(claimed, SETTINGS), gate), on_unopened=claimed.lock.release)
    host.start()
    app = TuiApp(host, restored=True, settings=SETTINGS, profile="bob", kept_rooms=claimed.kept_rooms)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                           what="the main screen")
            await wait_for(pilot, lambda: any("Kept one" in o for o in listed(app)), what="the kept room")
            assert app.sync_state.state == "connecting"
            await pilot.press("ctrl+p")  # keys work before the engine has opened
            await wait_for(pilot, lambda: app.screen.query("CommandList"), what="the command palette")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen again")

            gate.set()
            await wait_for(pilot, lambda: app.sync_state.state == "syncing", timeout=60, what="the first sync")
            await wait_for(pilot, lambda: any("Renamed while away" in o for o in listed(app)), timeout=30,
                           what="the live name")
            await wait_for(pilot, lambda: any("Kept two" in o for o in listed(app)), timeout=30,
                           what="the room whose cached row was skipped")
            assert not any("Kept one" in o for o in listed(app))
            await pilot.press("ctrl+q")
    finally:
        gate.set()
        host.stop()
