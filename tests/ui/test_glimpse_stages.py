"""A first start after login lists rooms in stages (engine.first_sync): the sliding sync's few
newest rooms as soon as they come, then the full sync's answer in their place (every room, with
its unread counts), then the engine's own list. A stage that comes late never replaces a more
complete one, and keys are answered all along."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future
from datetime import timezone
from typing import Any

from tests.ui.fake_engine import FakeEngine
from tui_client.engine.host import EngineHost
from tui_client.engine.models import RoomSummary
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.timefmt import TimeFormatter
from tui_client.ui.widgets.room_list import RoomList

from .conftest import FIXED_NOW, wait_for

SIZE = (100, 30)


def room(room_id: str, name: str, unread: int = 0, last_active: int = 0) -> RoomSummary:
    return RoomSummary(room_id, name, None, True, "shared", (), unread, last_active=last_active)


def pending() -> Future[tuple[RoomSummary, ...]]:
    future: Future[tuple[RoomSummary, ...]] = Future()
    future.set_running_or_notify_cancel()
    return future


def listed(app: TuiApp) -> str:
    return " | ".join(str(o.prompt) for o in app.screen.query_one(RoomList).options)


@contextlib.asynccontextmanager
async def first_start(quick: Future[tuple[RoomSummary, ...]], full: Future[tuple[RoomSummary, ...]],
                      gate: threading.Event) -> AsyncIterator[tuple[TuiApp, Any]]:
    """The TUI on its main screen, given the two glimpses, with an engine that opens (and lists
    its own rooms) only once `gate` is set."""

    async def opener() -> FakeEngine:
        while not gate.is_set():
            await asyncio.sleep(0.01)
        return FakeEngine()

    host = EngineHost(opener=opener)  # type: ignore[arg-type]
    host.start()
    app = TuiApp(host, restored=True, time_format=TimeFormatter(timezone.utc), now=lambda: FIXED_NOW,
                 profile="t", glimpses=(quick, full))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                           what="the main screen")
            yield app, pilot
            gate.set()  # (quitting waits for an engine still opening)
            await pilot.press("ctrl+q")
    finally:
        gate.set()
        host.stop()


async def test_the_newest_rooms_then_every_room_then_the_engines_list():
    quick, full, gate = pending(), pending(), threading.Event()
    async with first_start(quick, full, gate) as (app, pilot):
        quick.set_result((room("!new:hs", "Newest room", last_active=2),))
        await wait_for(pilot, lambda: "Newest room" in listed(app), what="the sliding sync's rooms")
        assert "Older room" not in listed(app)
        full.set_result((room("!new:hs", "Newest room", unread=3, last_active=2),
                         room("!old:hs", "Older room", last_active=1)))
        await wait_for(pilot, lambda: "Older room" in listed(app), what="the full sync's rooms")
        assert [r.unread for r in app.rooms] == [3, 0], "the full answer's unread counts"
        await pilot.press("ctrl+p")  # keys are answered meanwhile
        await wait_for(pilot, lambda: app.screen.query("CommandList"), what="the command palette")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen again")
        gate.set()
        await wait_for(pilot, lambda: "Project X" in listed(app), timeout=20, what="the engine's list")
        assert "Older room" not in listed(app)


async def test_a_quick_answer_that_comes_last_does_not_replace_the_full_one():
    quick, full, gate = pending(), pending(), threading.Event()
    async with first_start(quick, full, gate) as (app, pilot):
        full.set_result((room("!new:hs", "Newest room", last_active=2), room("!old:hs", "Older room")))
        await wait_for(pilot, lambda: "Older room" in listed(app), what="the full sync's rooms")
        quick.set_result((room("!new:hs", "Newest room", last_active=2),))
        await pilot.pause(0.2)
        assert "Older room" in listed(app), "the list kept every room"
