"""The footer draws the keys that apply as one line (issue 15: Textual's footer mounted a widget
per key at each change of keys, 8-15 ms of the UI loop). It must still work as Textual's does:
a click presses the key, a disabled key rings the bell, the mouse shows a key's tooltip, keys
wider than the line scroll sideways, and the command palette's key keeps the right edge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from tui_client.ui.widgets.footer import Footer


class Keys(App[None]):
    BINDINGS = [
        Binding("a", "press('accept')", "Accept", tooltip="Accept the invite"),
        Binding("d", "press('decline')", "Decline"),
        Binding("x", "press('gone')", "Gone"),
        Binding("ctrl+n", "press('new')", "New room"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pressed: list[str] = []
        self.bells = 0
        self.offer_gone = True

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "press" and parameters == ("gone",):
            return None if not self.offer_gone else True
        return True

    def action_press(self, what: str) -> None:
        self.pressed.append(what)

    def bell(self) -> None:
        self.bells += 1


def drawn(footer: Footer) -> str:
    return footer.render_line(0).text


@asynccontextmanager
async def running(width: int) -> AsyncIterator[tuple[Keys, Any, Footer]]:
    app = Keys()
    async with app.run_test(size=(width, 5)) as pilot:
        await pilot.pause()
        yield app, pilot, app.query_one(Footer)


async def test_a_click_presses_the_key_and_a_disabled_key_rings_the_bell():
    async with running(80) as (app, pilot, footer):
        line = drawn(footer)
        assert line.startswith("a Accept d Decline x Gone ^n New room")
        assert line.rstrip().endswith("^p palette")
        await pilot.click(Footer, offset=(line.index("Decline"), 0))
        await pilot.click(Footer, offset=(line.index("^n"), 0))
        assert app.pressed == ["decline", "new"]

        app.offer_gone = False  # shown, but not allowed now: dim, and a click rings the bell
        app.screen.refresh_bindings()
        await pilot.pause()
        assert [k.enabled for k in footer.keys if k.description == "Gone"] == [False]
        assert any(s.style is not None and s.style.dim for s in footer.render_line(0) if s.text == "x")
        await pilot.click(Footer, offset=(line.index("Gone"), 0))
        assert app.pressed == ["decline", "new"] and app.bells == 1


async def test_the_mouse_shows_a_keys_tooltip_and_its_highlight():
    async with running(80) as (app, pilot, footer):
        plain = footer.render_line(0)
        await pilot.hover(Footer, offset=(2, 0))  # on "Accept"
        await pilot.pause()
        assert footer.tooltip == "Accept the invite"
        hovered = footer.render_line(0)
        assert hovered.text == plain.text
        changed = [x for x in range(len(plain.text)) if plain.crop(x, x + 1) != hovered.crop(x, x + 1)]
        assert changed == list(range(len("a Accept"))), "the key under the mouse is highlighted, nothing else"
        await pilot.hover(Footer, offset=(drawn(footer).index("Decline"), 0))
        await pilot.pause()
        assert footer.tooltip is None  # no tooltip of its own
        await pilot.hover(Static, offset=(0, 0))
        await pilot.pause()
        assert footer.render_line(0) == plain


async def test_keys_wider_than_the_line_scroll_sideways_and_the_palette_keeps_the_edge():
    async with running(30) as (app, pilot, footer):
        line = drawn(footer)
        assert len(line) == 30 and line.rstrip().endswith("^p palette")
        assert "New room" not in line
        for _ in range(10):
            await pilot._post_mouse_events([events.MouseScrollDown], Footer, offset=(2, 0))  # the wheel
        await pilot.pause()
        line = drawn(footer)
        assert "New room" in line and line.rstrip().endswith("^p palette") and len(line) == 30
        await pilot.click(Footer, offset=(line.index("New room"), 0))
        assert app.pressed == ["new"]
