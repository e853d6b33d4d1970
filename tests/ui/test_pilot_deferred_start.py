"""`tui-client` draws its main screen before the engine exists: the engine (nio, the store) is
opened on its thread after the first frame. Until it answers, the screen lists the rooms the
offline cache kept (or says it is loading when there are none) and keys work; then the engine's
rooms replace them. Claiming the profile (lock, session, store check, the cached room list)
still happens before the terminal is taken over."""

from __future__ import annotations

import asyncio
import threading
from datetime import timezone
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal

from tui_client.engine.host import EngineHost
from tui_client.engine.models import RoomSummary, SyncState
from tui_client.ui import app as app_module
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.timefmt import TimeFormatter
from tui_client.ui.widgets.room_list import RoomList

from .conftest import FIXED_NOW, wait_for
from .fake_engine import GENERAL, FakeEngine

SIZE = (100, 30)


def _host(gate: threading.Event, opened: list[FakeEngine]) -> EngineHost:
    async def opener() -> FakeEngine:
        while not gate.is_set():  # (the engine thread waits; the UI thread must not)
            await asyncio.sleep(0.01)
        engine = FakeEngine()
        opened.append(engine)
        return engine

    return EngineHost(opener=opener)  # type: ignore[arg-type]


async def test_the_main_screen_answers_keys_before_the_engine_is_open(tmp_path: Path) -> None:
    gate = threading.Event()
    opened: list[FakeEngine] = []
    host = _host(gate, opened)
    app = TuiApp(host, restored=True, time_format=TimeFormatter(timezone.utc), now=lambda: FIXED_NOW,
                 screenshot_dir=tmp_path, profile="test")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                           what="the main screen")
            room_list = app.screen.query_one(RoomList)
            await wait_for(pilot, lambda: any("loading your rooms" in str(o.prompt) for o in room_list.options),
                           what="the list saying it is loading")
            assert app.sync_state.state == "connecting"
            await pilot.press("f1")  # keys work meanwhile
            await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="the help screen")
            await pilot.press("escape")
            assert not opened

            gate.set()
            await wait_for(pilot, lambda: any(r.room_id == GENERAL for r in room_list.rooms), what="the rooms")
            assert not any("loading" in str(o.prompt) for o in room_list.options)
            assert len(opened) == 1
    finally:
        gate.set()
        host.stop()


async def test_the_rooms_the_cache_kept_are_listed_and_keys_work_until_the_engine_replaces_them(
    tmp_path: Path,
) -> None:
    gate = threading.Event()
    opened: list[FakeEngine] = []
    host = _host(gate, opened)
    kept = RoomSummary("!kept:example.org", "Kept before", None, True, "shared", (), unread=0)
    app = TuiApp(host, restored=True, time_format=TimeFormatter(timezone.utc), now=lambda: FIXED_NOW,
                 screenshot_dir=tmp_path, profile="test", kept_rooms=[kept])
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                           what="the main screen")
            room_list = app.screen.query_one(RoomList)
            await wait_for(pilot, lambda: any("Kept before" in str(o.prompt) for o in room_list.options),
                           what="the kept room")
            assert not any("loading" in str(o.prompt) for o in room_list.options)
            assert app.sync_state.state == "connecting"  # (the status bar says so: not live yet)
            await pilot.press("ctrl+p")  # keys work meanwhile: the command palette opens
            await wait_for(pilot, lambda: app.screen.query("CommandList"), what="the command palette")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen again")
            assert not opened

            gate.set()
            await wait_for(pilot, lambda: any(r.room_id == GENERAL for r in room_list.rooms), what="the rooms")
            assert not any(r.room_id == kept.room_id for r in room_list.rooms)  # the engine's list, not the cache's
            assert len(opened) == 1
    finally:
        gate.set()
        host.stop()


class FirstStart(FakeEngine):
    """A first start after login: nothing listed until the first sync, which waits for the test."""

    def __init__(self) -> None:
        super().__init__(rooms=[], invites=[], timelines={})

    def start_sync(self) -> None:
        self.set_sync_state(SyncState("connecting"))


async def test_before_the_first_sync_an_empty_list_says_it_is_loading_not_that_there_are_no_rooms(make_app):
    app = make_app(FirstStart())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                       what="the main screen")
        room_list = app.screen.query_one(RoomList)
        await wait_for(pilot, lambda: app.user_id, what="the engine's answer")  # (show_main has run)

        def prompts() -> str:
            return " ".join(str(o.prompt) for o in room_list.options)

        await wait_for(pilot, lambda: "loading your rooms" in prompts(), what="loading")
        await pilot.pause()
        assert "no rooms yet" not in prompts()

        app.fake.set_sync_state(SyncState("syncing", since=0.0))  # the first sync: no rooms at all
        await wait_for(pilot, lambda: "no rooms yet" in prompts(), what="the list saying there are none")


class OneList(App[None]):
    """The room list alone, in the main screen's place and with its stylesheet."""

    CSS_PATH = Path(app_module.__file__).parent / TuiApp.CSS_PATH

    def __init__(self, rooms: list[RoomSummary]) -> None:
        super().__init__()
        self.kept = tuple(rooms)
        self.at_mount: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield RoomList(id="rooms")

    def on_mount(self) -> None:
        room_list = self.query_one(RoomList)
        room_list.set_data(self.kept, ())  # before the first layout, as at start-up
        self.at_mount = [str(o.prompt) for o in room_list.options]


@pytest.mark.parametrize("size", [(60, 20), (100, 30), (200, 50)])
async def test_rooms_given_before_the_first_layout_are_listed_in_it_fitted_to_the_width(size) -> None:
    rooms = [RoomSummary(f"!r{i}:example.org", f"Room number {i} with a long name", None, True, "shared", (),
                         unread=i % 3) for i in range(40)]
    app = OneList(rooms)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        room_list = app.query_one(RoomList)
        assert len(app.at_mount) == 40  # (nothing waits for a resize: the first frame has them)
        assert app.at_mount == [str(o.prompt) for o in room_list.options]  # no rebuild at the real width
        width = room_list.scrollable_content_region.width - 2  # (the options' padding)
        assert all(o.prompt.cell_length == width for o in room_list.options)  # badges on the right edge


def test_a_host_never_opened_releases_what_it_was_given_and_a_failed_open_reaches_the_caller() -> None:
    released: list[bool] = []

    async def never() -> FakeEngine:
        raise AssertionError("not called")

    host = EngineHost(opener=never, on_unopened=lambda: released.append(True))  # type: ignore[arg-type]
    host.start()
    host.stop()
    assert released == [True]

    async def broken() -> FakeEngine:
        raise RuntimeError("the store is damaged")

    failing = EngineHost(opener=broken, on_unopened=lambda: released.append(True))  # type: ignore[arg-type]
    failing.start()
    with pytest.raises(RuntimeError, match="damaged"):
        failing.run(lambda e: e.sync_once()).result(5)
    failing.stop()
    assert released == [True, True]
