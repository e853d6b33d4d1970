"""`Line`: the one-line text widget that repaints without laying the whole screen out. What it
shows must follow every change (a change of style alone included), and a change that alters its
size must still move its neighbours."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.content import Content

from tui_client.ui.widgets.line import Line


class LineApp(App[None]):
    CSS = """
    #fixed { height: 1; }
    Horizontal { height: 1; }
    #fill { width: 1fr; text-wrap: nowrap; }
    #auto { width: auto; text-wrap: nowrap; }
    #wrapping { height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Line("header", id="fixed")
        with Horizontal():
            yield Line("syncing", id="fill")
            yield Line("@bob:hs", id="auto")
        yield Line(Content("Loading older messages…"), id="wrapping")
        yield Line("end", id="below")


def layouts(app: LineApp) -> list[tuple[str, bool]]:
    asked: list[tuple[str, bool]] = []
    for line in app.query(Line):
        original = line.refresh

        def refresh(*regions, _id=line.id, _original=original, **kw):  # type: ignore[no-untyped-def]
            asked.append((_id, bool(kw.get("layout"))))
            return _original(*regions, **kw)

        line.refresh = refresh  # type: ignore[method-assign]
    return asked


async def test_a_change_of_style_alone_is_shown() -> None:
    app = LineApp()
    async with app.run_test() as pilot:
        line = app.query_one("#fixed", Line)
        line.update(Content.styled("Room", "bold"))
        await pilot.pause()
        line.update(Content.styled("Room", "italic"))  # Content == compares the text only
        await pilot.pause()
        styles = [seg.style for seg in line.render_line(0) if seg.text.strip()]
        assert styles and all(s is not None and s.italic and not s.bold for s in styles)


async def test_fixed_sizes_repaint_without_a_layout_and_the_same_text_does_nothing() -> None:
    app = LineApp()
    async with app.run_test() as pilot:
        asked = layouts(app)
        app.query_one("#fixed", Line).update("another room")
        app.query_one("#fill", Line).update("retrying in 5 s: the server did not answer")
        app.query_one("#fill", Line).update("retrying in 5 s: the server did not answer")
        assert asked == [("fixed", False), ("fill", False)]
        await pilot.pause()
        assert "another room" in app.query_one("#fixed", Line).render_line(0).text


async def test_an_auto_width_that_grows_moves_its_neighbours() -> None:
    app = LineApp()
    async with app.run_test(size=(60, 5)) as pilot:
        asked = layouts(app)
        who = app.query_one("#auto", Line)
        who.update("@bob:hs")  # same text again: nothing
        who.update("@bob:example.org  device ABCDEFGH")
        assert asked == [("auto", True)]
        await pilot.pause()
        assert who.size.width == len("@bob:example.org  device ABCDEFGH")
        assert app.query_one("#fill", Line).size.width == 60 - who.size.width


async def test_an_auto_height_follows_the_lines_its_text_wraps_to() -> None:
    """The timeline's banner changes with every page of older history; a text that wraps to as
    many lines as before only repaints, one that takes more lines moves what is below."""
    app = LineApp()
    async with app.run_test(size=(40, 8)) as pilot:
        asked = layouts(app)
        banner, below = app.query_one("#wrapping", Line), app.query_one("#below", Line)
        banner.update(Content("↑ Scroll up for older messages"))
        assert asked == [("wrapping", False)]
        await pilot.pause()
        assert "Scroll up" in banner.render_line(0).text and banner.size.height == 1
        banner.update(Content("This is the beginning of the room, and a longer line that wraps."))
        assert asked[-1] == ("wrapping", True)
        await pilot.pause()
        assert banner.size.height == 2 and below.region.y == banner.region.bottom
