"""The scroll bars of the timeline and the room list draw exactly what Textual's would, and
draw it once per change (issue 15: the timeline's bar was 2.8 ms of every frame that laid the
screen out while paging)."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.scrollbar import ScrollBar
from textual.widgets import Static

from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.scrollbar import QuickScrollBar, QuickScrollBars
from tui_client.ui.widgets.timeline import Timeline

from .test_pilot_fake import SIZE, ready


class Scrolling(QuickScrollBars, VerticalScroll):
    pass


class LongList(App[None]):
    CSS = "Scrolling { scrollbar-size-vertical: 2; }"

    def compose(self) -> ComposeResult:
        with Scrolling():
            for n in range(300):
                yield Static(f"line {n}")


def shown(strips) -> list[list[tuple[str, object]]]:
    """What a terminal gets: each row's text, style (colours and mouse actions) and width."""
    return [[(segment.text, segment.style) for segment in strip] + [("width", strip.cell_length)]
            for strip in strips]


@pytest.mark.parametrize("no_color", [False, True])
async def test_the_quick_bar_draws_what_textuals_draws_in_every_state(monkeypatch, no_color):
    if no_color:  # Textual then filters every line to monochrome (and always to true colour)
        monkeypatch.setenv("NO_COLOR", "1")
    app = LongList()
    async with app.run_test(size=(60, 30)) as pilot:
        await pilot.pause()
        scrolling = app.query_one(Scrolling)
        bar = scrolling.vertical_scrollbar
        assert isinstance(bar, QuickScrollBar)
        assert any(type(f).__name__ == "Monochrome" for f in app.get_line_filters()) == no_color
        compared = 0
        for state in ("still", "hover", "grabbed"):
            bar.mouse_over = state == "hover"
            bar.grabbed = (0, 0) if state == "grabbed" else None
            for y in range(0, 280, 9):
                scrolling.scroll_to(y=y, animate=False, immediate=True)
                await pilot.pause()
                width, height = bar.size
                for crop in (Region(0, 0, width, height), Region(0, 4, width, 9), Region(1, 0, 1, 6)):
                    bar._styles_cache.clear()
                    assert shown(bar.render_lines(crop)) == shown(ScrollBar.render_lines(bar, crop)), (state, y, crop)
                    compared += 1
        assert compared == 3 * 32 * 3


async def test_the_bar_is_drawn_once_per_change_and_its_clicks_still_scroll(monkeypatch):
    drawn: list[int] = []
    original = QuickScrollBar._vertical_strips

    def counting(self, *args):
        drawn.append(1)
        return original(self, *args)

    monkeypatch.setattr(QuickScrollBar, "_vertical_strips", counting)
    app = LongList()
    async with app.run_test(size=(60, 30)) as pilot:
        await pilot.pause()
        scrolling = app.query_one(Scrolling)
        bar = scrolling.vertical_scrollbar
        whole = Region(0, 0, *bar.size)
        bar.render_lines(whole)
        drawn.clear()
        bar.render_lines(whole)
        bar.render_lines(Region(0, 2, bar.size.width, 5))
        assert drawn == [], "the same bar is not drawn again"
        scrolling.scroll_to(y=40, animate=False, immediate=True)
        await pilot.pause()
        bar.render_lines(whole)
        assert drawn, "a moved bar is drawn anew"

        before = scrolling.scroll_y
        await pilot.click(bar, offset=(0, bar.size.height - 2))  # below the thumb: a page down
        await pilot.pause()
        assert scrolling.scroll_y > before


async def test_the_timeline_and_the_room_list_use_the_quick_bar(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert isinstance(screen.query_one(Timeline).vertical_scrollbar, QuickScrollBar)
        assert isinstance(screen.query_one(RoomList).vertical_scrollbar, QuickScrollBar)
