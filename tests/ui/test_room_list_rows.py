"""The room list keeps drawn rows across rebuilds (a sync that changes one room redraws that
row, not all of them): what it shows, and which room a click on a row picks, must follow the
rooms when they change and move. It draws its rows itself (OptionList's general pipeline took
0.18 ms a row, and the first full list after a start is 38 new rows in one frame): what it
draws must be what OptionList would, for every kind of row, in every state."""

from __future__ import annotations

import dataclasses

from textual.app import App, ComposeResult
from textual.widgets import OptionList

from tui_client.engine.models import Member, RoomSummary
from tui_client.ui.widgets.room_list import RoomList

from .fake_engine import FakeEngine, default_invites
from .test_pilot_everyday import everyday_rooms, main_ready


def room(n: int, active: int, unread: int = 0) -> RoomSummary:
    return RoomSummary(f"!r{n}:hs", f"Room {n:02d}", None, True, "shared",
                       (Member("@me:hs", "Me", "join"),), unread=unread, last_active=active)


class ListApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RoomList(id="rooms")


async def shown(pilot, rooms: RoomList) -> list[tuple[str, str | None]]:
    """Each visible row's text and the room a click on it picks (clicked, one by one)."""
    rows = []
    for y in range(rooms.scrollable_content_region.height):
        text = rooms.render_line(y).text.strip()
        if not text:
            continue
        rooms.highlighted = None
        await pilot.click(RoomList, offset=(3, y + rooms.gutter.top))
        await pilot.pause()
        picked = rooms.get_option_at_index(rooms.highlighted).id if rooms.highlighted is not None else None
        rows.append((text, picked))
    return rows


async def test_rows_follow_rooms_that_change_and_move() -> None:
    app = ListApp()
    async with app.run_test(size=(60, 30)) as pilot:
        rooms = app.query_one(RoomList)
        first = [room(n, active=1000 - n) for n in range(8)]
        rooms.set_data(tuple(first), ())
        await pilot.pause()
        before = [picked for text, picked in await shown(pilot, rooms) if "Room" in text]
        assert before == [f"!r{n}:hs" for n in range(8)]

        # Room 05 gets a new message: it moves to the top with an unread count; the others
        # keep their prompts and are drawn from the kept rows, one row lower.
        moved = list(first)
        moved[5] = dataclasses.replace(first[5], unread=2, last_active=5000)
        rooms.set_data(tuple(moved), ())
        await pilot.pause()
        after = await shown(pilot, rooms)

        names = [o.id for o in rooms.options if o.id and o.id.startswith("!r")]
        assert names[0] == "!r5:hs"
        for text, picked in after:
            if "Room" in text:
                number = int(text.split("Room ")[1][:2])
                assert picked == f"!r{number}:hs", f"a click on {text!r} would open {picked}"
        top = next(text for text, picked in after if picked == "!r5:hs")
        assert "2" in top.split("Room 05")[1], f"the moved row shows its unread count: {top!r}"

        # Clicking the second room row opens the room it shows.
        row_texts = [t for t, p in after if p and p.startswith("!r")]
        y = next(y for y in range(rooms.size.height) if row_texts[1] in rooms.render_line(y).text)
        await pilot.click(RoomList, offset=(3, y + rooms.gutter.top))
        await pilot.pause()
        assert rooms.highlighted is not None
        assert rooms.get_option_at_index(rooms.highlighted).id == f"!r{int(row_texts[1].split('Room ')[1][:2])}:hs"


def cells(strips) -> list[list[tuple[str, object]]]:
    """Each row cell by cell: its character and what a terminal gets from its style. Left out:
    the text-selection offsets OptionList's cells carry (the list allows none) and the row
    number (the list finds the row under the mouse from where it is: the test above clicks)."""
    rows = []
    for strip in strips:
        row = []
        for segment in strip:
            style = segment.style
            meta = {k: v for k, v in style.meta.items() if k not in ("offset", "option")} if style is not None else {}
            look = None if style is None else (style.color, style.bgcolor, style.bold, style.italic, style.dim,
                                                style.underline, style.reverse, style.strike, sorted(meta.items()))
            row += [(char, look) for char in segment.text]
        rows.append(row)
    return rows


async def test_every_row_is_drawn_as_option_list_draws_it(make_app):
    rooms = everyday_rooms()
    rooms += [RoomSummary(f"!long{n}:example.org", "A room whose name is longer than the list is wide " * 2,
                                 None, bool(n % 2), "shared", (), n % 3, highlight=n % 2) for n in range(4)]
    app = make_app(FakeEngine(rooms=rooms, invites=default_invites()))
    async with app.run_test(size=(100, 30)) as pilot:
        await main_ready(pilot)
        room_list = app.screen.query_one(RoomList)
        kinds = {entry.kind for entry in room_list.entries}
        assert {"header", "room", "space", "unjoined", "invite"} <= kinds, kinds
        compared = 0
        for option in room_list.options:
            for state in ("", "option-list--option-highlighted", "option-list--option-hover"):
                style = room_list.get_visual_style("option-list--option", *([state] if state else []))
                room_list._option_render_cache.clear()
                theirs = OptionList._get_option_render(room_list, option, style)
                mine = room_list._draw_option(option, style)
                assert cells(mine) == cells(theirs), (str(option.prompt), state)
                assert [s.cell_length for s in mine] == [s.cell_length for s in theirs]
                compared += 1
        assert compared == 3 * len(room_list.options) > 30


async def test_a_click_on_a_scrolled_list_picks_the_room_on_that_row() -> None:
    app = ListApp()
    async with app.run_test(size=(60, 20)) as pilot:
        rooms = app.query_one(RoomList)
        rooms.set_data(tuple(room(n, active=1000 - n) for n in range(60)), ())
        await pilot.pause()
        rooms.scroll_to(y=25, animate=False, immediate=True)
        await pilot.pause()
        assert rooms.scroll_offset.y == 25
        rows = await shown(pilot, rooms)
        assert len(rows) >= 10
        for text, picked in rows:
            if "Room" in text:
                assert picked == f"!r{int(text.split('Room ')[1][:2])}:hs", f"a click on {text!r} picked {picked}"


async def test_moving_the_highlight_repaints_the_two_rows_and_draws_them_right() -> None:
    app = ListApp()
    async with app.run_test(size=(60, 30)) as pilot:
        rooms = app.query_one(RoomList)
        rooms.set_data(tuple(room(n, active=1000 - n) for n in range(20)), ())
        rooms.focus()
        rooms.highlighted = 3
        await pilot.pause()
        await pilot.pause()
        painted: list[int] = []
        original = rooms.render_line

        def render_line(y: int):
            painted.append(y)
            return original(y)

        rooms.render_line = render_line
        await pilot.press("down")
        await pilot.pause()
        await pilot.pause()
        assert rooms.highlighted == 4
        rows = {index: rooms._index_to_line[index] - rooms.scroll_offset.y for index in (3, 4)}
        assert painted and set(painted) <= set(rows.values()), f"repainted rows {sorted(set(painted))}, moved {rows}"

        plain = rooms.get_visual_style("option-list--option")
        lit = rooms.get_visual_style("option-list--option", "option-list--option-highlighted")
        assert cells([original(rows[4])]) == cells(rooms._draw_option(rooms.options[4], lit))
        assert cells([original(rows[3])]) == cells(rooms._draw_option(rooms.options[3], plain))
