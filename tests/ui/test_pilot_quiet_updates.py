"""The main screen skips work that would redraw nothing (issue 15: the UI loop must not stall
while a sync or an import runs); these check it still redraws what did change."""

from __future__ import annotations

from dataclasses import replace

from textual.geometry import Region

from tui_client.ui.widgets.footer import Footer
from tui_client.ui.widgets.room_list import RoomList

from .conftest import wait_for
from .fake_engine import DESIGN, GENERAL
from .test_pilot_fake import SIZE, ready


def counted(widget, name: str) -> list[tuple]:
    """The calls of `widget.name` from now on (their arguments, positional and named)."""
    calls: list[tuple] = []
    original = getattr(widget, name)

    def wrapped(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    setattr(widget, name, wrapped)
    return calls


def full_layouts(screen) -> list[bool]:
    """The layouts of the whole screen from now on (not those that only follow a scroll)."""
    laid_out: list[bool] = []
    original = screen._refresh_layout

    def refresh_layout(size=None, scroll=False):
        if not scroll:
            laid_out.append(True)
        return original(size, scroll)

    screen._refresh_layout = refresh_layout
    return laid_out


def footer_keys(screen) -> set[str]:
    return {key.description for key in screen.query_one(Footer).keys}


async def test_the_footer_follows_the_keys_that_apply_and_is_not_rebuilt_when_they_do_not_change(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        footer = screen.query_one(Footer)
        room_list = screen.query_one(RoomList)
        room_list.focus()
        await pilot.pause()
        assert "Accept" not in footer_keys(screen)

        room_list.select_id("invite:" + DESIGN)
        await wait_for(pilot, lambda: "Accept" in footer_keys(screen), what="the invite's keys in the footer")
        assert "Decline" in footer_keys(screen)
        await pilot.pause(0.2)
        assert "a Accept" in footer.render_line(0).text, "and it draws them"

        drawn = counted(footer, "refresh")
        screen.refresh_bindings()  # nothing changed: nothing to draw again
        await pilot.pause()
        await pilot.pause()
        assert drawn == [], "the same keys are not drawn again"

        room_list.select_id(GENERAL)
        await wait_for(pilot, lambda: "Accept" not in footer_keys(screen), what="the invite's keys to go")


async def test_the_room_list_redraws_a_changed_room_and_not_an_unchanged_list(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        room_list = screen.query_one(RoomList)
        options_before = list(room_list.options)
        room_list.set_data(app.rooms, app.invites, frozenset(app.changed_identities))  # the same again
        assert list(room_list.options) == options_before

        general = next(r for r in app.rooms if r.room_id == GENERAL)
        renamed = tuple(replace(r, name="General (renamed)") if r is general else r for r in app.rooms)
        app.rooms = renamed
        await wait_for(pilot, lambda: any("General (renamed)" in str(o.prompt) for o in room_list.options),
                       what="the new name in the list")


async def test_the_footer_offers_what_the_selected_message_allows_as_the_cursor_moves(make_app):
    """The timeline asks the footer to redraw only when the selection allows other actions; it
    must still ask when they do change (your own message can be edited, another's cannot)."""
    from tui_client.ui.widgets.timeline import Timeline

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        await app.fake.send_text(timeline.room_id, "mine")
        await app.fake.send_text(timeline.room_id, "mine too")
        app.fake.receive(timeline.room_id, "@alice:example.org", "Alice", "theirs")
        await wait_for(pilot, lambda: len([i for i in timeline.items if i.body in ("mine", "mine too", "theirs")]) == 3,
                       what="the three messages")
        timeline.focus()
        await pilot.press("G")  # theirs
        await wait_for(pilot, lambda: "Reply" in footer_keys(screen) and "Edit" not in footer_keys(screen),
                       what="reply without edit")
        footer = screen.query_one(Footer)
        asked = counted(footer, "refresh")
        await pilot.press("k")  # "mine too"
        await wait_for(pilot, lambda: "Edit" in footer_keys(screen), what="edit on your own message")
        await pilot.pause(0.2)
        assert " Edit " in footer.render_line(0).text, "and it draws them"
        # Textual's footer mounted a widget per key at each change of keys: a layout of the
        # screen, 8-15 ms of the UI loop (issue 15). This one repaints its line.
        assert asked and not any(kwargs.get("layout") or kwargs.get("recompose") for _, kwargs in asked)
        assert not footer.children
        drawn = counted(screen.query_one(Footer), "refresh")
        await pilot.press("k")  # "mine": the same actions
        await pilot.pause()
        await pilot.pause()
        assert drawn == [], "the same keys are not drawn again"
        await pilot.press("j", "j")  # theirs again
        await wait_for(pilot, lambda: "Edit" not in footer_keys(screen), what="no edit on theirs")


async def test_the_engines_news_redraws_what_shows_it_not_the_whole_screen(make_app):
    """A new room list or sync state is drawn by the widgets that show it.
    The app keeps them as plain data: Textual's reactive attributes repaint the whole screen
    when set, which during a key bundle import was a 20-48 ms frame each time the rooms moved."""
    from tui_client.engine.models import SyncPhase
    from tui_client.ui.widgets.composer import Composer
    from tui_client.ui.widgets.timeline import Timeline

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        room_list = screen.query_one(RoomList)
        drawn: dict[str, int] = {"composer": 0, "timeline": 0, "rooms": 0}

        def counting(name: str, widget) -> None:
            original = widget.render_lines

            def render_lines(crop):
                drawn[name] += 1
                return original(crop)

            widget.render_lines = render_lines

        counting("composer", screen.query_one(Composer))
        counting("timeline", screen.query_one(Timeline))
        counting("rooms", room_list)
        await pilot.pause(0.1)
        drawn.update(composer=0, timeline=0, rooms=0)

        general = next(r for r in app.rooms if r.room_id == GENERAL)
        app.rooms = tuple(replace(r, name="General (moved)") if r is general else r for r in app.rooms)
        app.sync_state = replace(app.sync_state, state=SyncPhase.SYNCING)
        await wait_for(pilot, lambda: any("General (moved)" in str(o.prompt) for o in room_list.options),
                       what="the new name in the list")
        await pilot.pause(0.1)
        assert drawn["rooms"] > 0, "the room list shows the new name"
        assert drawn["composer"] == 0 and drawn["timeline"] == 0, f"nothing else is redrawn: {drawn}"


async def test_a_room_more_or_a_message_more_is_drawn_without_a_layout_of_the_screen(make_app):
    """The room list and the timeline take their virtual size from a layout; Textual answered a
    change of it with another layout of the whole screen (a growth of the timeline's window was
    two layouts, a room added to the list one for nothing). A room more is drawn without one; so
    is a message more (the timeline draws its lines: nothing to place)."""
    from tui_client.engine.models import RoomSummary
    from tui_client.ui.widgets.timeline import Timeline

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        room_list = screen.query_one(RoomList)
        timeline = screen.query_one(Timeline)
        await pilot.pause(0.2)
        laid_out = full_layouts(screen)
        extra = RoomSummary("!extra:example.org", "Extra room", None, True, "shared", (), 0)
        app.rooms = (*app.rooms, extra)
        await wait_for(pilot, lambda: any("Extra room" in str(o.prompt) for o in room_list.options),
                       what="the new room in the list")
        await pilot.pause(0.2)
        assert laid_out == [], "a room more is drawn without laying the screen out"

        said = app.fake.receive(timeline.room_id, "@alice:example.org", "Alice", "one more")
        await wait_for(pilot, lambda: timeline.row_of(said.event_id) is not None, what="the message placed")
        await pilot.pause(0.2)
        assert laid_out == [], f"a message more is drawn without laying the screen out: {laid_out}"
        assert timeline.region_of(said.event_id).bottom <= timeline.region.bottom, "and it is in view"


def bar_looks(widget) -> set:
    """The distinct looks of the rows of a widget's scroll bar column, as the terminal gets them."""
    bar = widget.vertical_scrollbar
    strips = bar.render_lines(Region(0, 0, *bar.size))
    return {tuple((segment.text, segment.style) for segment in strip) for strip in strips}


async def test_the_scroll_bars_show_up_as_content_outgrows_the_view_without_a_layout(make_app):
    """A list or a history that grows past its view gains a scroll bar. Textual shows one by laying
    the whole screen out again (10-15 ms of the UI loop, when the full room list replaced the
    glimpse and when the first room's older history arrived: the initial sync's worst frames,
    issue 15). The bar's column is always there and draws blank until there is something to
    scroll, so it shows up as a repaint of one column."""
    from tui_client.engine.models import RoomSummary
    from tui_client.ui.widgets.timeline import Timeline

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        room_list = screen.query_one(RoomList)
        timeline = screen.query_one(Timeline)
        room_list.select_id(GENERAL)  # two messages
        await wait_for(pilot, lambda: timeline.room_id == GENERAL and timeline.items, what="the short room")
        await pilot.pause(0.2)
        assert room_list.virtual_size.height <= room_list.scrollable_content_region.height
        assert len(bar_looks(room_list)) <= 1, "nothing to scroll: no thumb"
        assert len(bar_looks(timeline)) <= 1
        laid_out = full_layouts(screen)
        more = tuple(RoomSummary(f"!more{n}:example.org", f"Room {n:02}", None, True, "shared", (), 0)
                     for n in range(SIZE[1] * 2))
        app.rooms = (*app.rooms, *more)
        await wait_for(pilot, lambda: len(bar_looks(room_list)) > 1, what="the room list's bar")
        assert room_list.virtual_size.height > room_list.scrollable_content_region.height
        for n in range(SIZE[1]):
            app.fake.receive(timeline.room_id, "@alice:example.org", "Alice", f"line {n}")
        await wait_for(pilot, lambda: len(bar_looks(timeline)) > 1, what="the timeline's bar")
        await pilot.pause(0.2)
        assert timeline.max_scroll_y > 0 and timeline.scroll_y == timeline.max_scroll_y, "it follows the newest"
        assert laid_out == [], f"the bars showed up without a layout: {laid_out}"
