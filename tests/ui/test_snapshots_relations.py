"""SVG snapshots of what Element sends besides text, on the fake engine: a reply, an edited
message, reactions, a deleted message, a thread, a poll and a place; the thread view; the react
dialog. Update only after looking at the new images."""

from __future__ import annotations

from textual.widgets import Input, TextArea

from tui_client.ui.screens.main import MainScreen
from tui_client.ui.screens.message_actions import ReactScreen
from tui_client.ui.screens.thread import ThreadScreen
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for
from .fake_engine import LAUNCH, FakeEngine, launch_room, launch_timeline

SIZE = (100, 36)


def engine() -> FakeEngine:
    return FakeEngine(rooms=[launch_room()], invites=[], timelines={LAUNCH: launch_timeline()})


def freeze_cursors(app) -> None:
    for screen in app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            if isinstance(widget, (Input, TextArea)):
                widget.cursor_blink = False


async def opened(pilot) -> MainScreen:
    app = pilot.app

    def shown() -> bool:
        screen = app.screen
        if not isinstance(screen, MainScreen) or not screen.query(Timeline):
            return False
        return screen.query_one(Timeline).row_of("$e47") is not None

    await wait_for(pilot, shown, what="the Launch room")
    await pilot.pause()
    return app.screen


def test_a_room_with_everything_element_sends(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        screen = await opened(pilot)
        timeline = screen.query_one(Timeline)
        timeline.focus()
        await pilot.pause()
        timeline.selected = "$e41"
        timeline.scroll_home(animate=False)
        await pilot.pause()
        freeze_cursors(pilot.app)

    assert snap_compare(make_app(engine()), terminal_size=SIZE, run_before=run_before)


def test_the_thread_view(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        screen = await opened(pilot)
        timeline = screen.query_one(Timeline)
        timeline.focus()
        timeline.selected = "$e43"
        await pilot.pause()
        await pilot.press("t")
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, ThreadScreen)
                       and len(app.screen.query_one(Timeline).items) == 3, what="the thread")
        await pilot.pause()
        freeze_cursors(app)

    assert snap_compare(make_app(engine()), terminal_size=SIZE, run_before=run_before)


def test_the_react_dialog(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        screen = await opened(pilot)
        timeline = screen.query_one(Timeline)
        timeline.focus()
        timeline.selected = "$e40"
        await pilot.pause()
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReactScreen), what="the dialog")
        await pilot.pause()
        freeze_cursors(pilot.app)

    assert snap_compare(make_app(engine()), terminal_size=SIZE, run_before=run_before)
