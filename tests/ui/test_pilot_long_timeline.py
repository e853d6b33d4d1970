"""A room with thousands of loaded messages: the timeline renders a window of them, and a
reader going through the history never sees a gap, a jump, or a missing day line or header.

Each test checks what the reader sees (the item at the top of the viewport, the selection, the
banner) and that the rendered items stay few; `assert_drawn_as_data` checks that what is rendered
is exactly what a timeline with every item rendered would show for that stretch.
"""

from __future__ import annotations

import asyncio
import threading

from tui_client.engine.events import TimelineItemsAdded
from tui_client.engine.models import TimelineItem
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.message import starts_group
from tui_client.ui.widgets.timeline import Timeline
from tui_client.ui.widgets.timeline_window import MOST_RENDERED, OPEN_ITEMS

from .conftest import wait_for
from .fake_engine import ALICE, CAROL, GENERAL, ME, PROJECT, FakeEngine, _item, general_timeline, ts

SIZE = (100, 30)
SENDERS = ((ALICE, "Alice"), (CAROL, "Carol"), (ME, "Bob"))


def long_history(count: int, first: int = 10_000, start: int = ts(1, 0, 0)) -> list[TimelineItem]:
    """`count` messages, 7 minutes apart (a new day every ~200), senders taking turns by threes."""
    return [
        _item(first + n, PROJECT, *SENDERS[n // 3 % 3], start + n * 7 * 60_000, "message", f"message {first + n}")
        for n in range(count)
    ]


class PagingEngine(FakeEngine):
    """The fake engine, handing out older history a page at a time as a server does (each
    page once `answer` is set, when a test holds it)."""

    answer = threading.Event()

    async def paginate_back(self, room_id: str, limit: int = 40) -> list[TimelineItem]:
        self.calls.append(("paginate_back", (room_id,)))
        while not self.answer.is_set():
            await asyncio.sleep(0.01)
        older = self._older.get(room_id, [])
        page, self._older[room_id] = older[-limit:], older[:-limit]
        self._at_start[room_id] = not self._older[room_id]
        if page:
            self._timelines[room_id][:0] = page
            self.emit(TimelineItemsAdded(room_id, tuple(page), at_start=True))
        return page


def long_room_app(make_app, loaded: int = 2_000, older: int = 0, *, held: bool = False):
    history = long_history(loaded)
    engine = PagingEngine(
        timelines={PROJECT: list(history), GENERAL: general_timeline()},
        older={PROJECT: long_history(older, first=5_000, start=ts(1, 0, 0) - older * 7 * 60_000)} if older else None,
    )
    engine.answer = threading.Event()
    if not held:
        engine.answer.set()
    return make_app(engine), history


async def opened(pilot, last: str) -> Timeline:
    """The long room open, its newest message drawn."""

    def shown() -> bool:
        screen = pilot.app.screen
        if not isinstance(screen, MainScreen) or not screen.query(Timeline):
            return False
        return screen.query_one(Timeline).row_of(last) is not None

    await wait_for(pilot, shown, what="the long room with its newest message")
    return pilot.app.screen.query_one(Timeline)


def top_item(timeline: Timeline) -> tuple[str, int]:
    """The item at the top of the viewport, and the screen row its rows start on."""
    top = timeline.top_item()
    assert top is not None, "no item on screen: a blank timeline"
    return top


def row_of(timeline: Timeline, event_id: str) -> int | None:
    """The screen row an item's rows start on (None when it is not rendered)."""
    return timeline.row_of(event_id)


def on_screen(timeline: Timeline, event_id: str) -> bool:
    region = timeline.region_of(event_id)
    area = timeline.content_region
    return bool(region) and area.y <= region.y and region.bottom <= area.bottom


def mounted_items(timeline: Timeline) -> int:
    first, end = timeline.mounted_range
    return end - first


def assert_drawn_as_data(timeline: Timeline) -> None:
    """The rendered window is a stretch of the items, each with the day line and the header it
    would have with every item rendered (so a window edge changes nothing the reader sees)."""
    items = timeline.items
    first, end = timeline.mounted_range
    expected: list[tuple[str, str]] = []
    for index in range(first, end):
        item, previous = items[index], items[index - 1] if index else None
        if previous is None or timeline.time_format.day_of(previous.timestamp) != \
                timeline.time_format.day_of(item.timestamp):
            expected.append(("day", timeline.time_format.day(item.timestamp)))
        expected.append((item.event_id, str(starts_group(previous, item, timeline.time_format))))
    assert timeline.drawn_outline() == expected


def on_each(compositor, name: str, record) -> None:
    """Call `record()` each time the screen's compositor runs `name` ("reflow": a layout of the
    screen; "render_update": a frame)."""
    original = getattr(compositor, name)

    def wrapped(*args, **kwargs):
        record()
        return original(*args, **kwargs)

    setattr(compositor, name, wrapped)


async def settle(pilot) -> None:
    """Let the window slide and the scroll position follow (a few frames)."""
    for _ in range(4):
        await pilot.pause()


async def test_a_room_of_2000_messages_opens_at_the_newest_with_a_bounded_number_of_widgets(make_app):
    app, history = long_room_app(make_app)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await opened(pilot, history[-1].event_id)
        await settle(pilot)
        assert len(timeline.items) == 2_000
        assert on_screen(timeline, history[-1].event_id)
        assert 0 < mounted_items(timeline) <= MOST_RENDERED
        assert_drawn_as_data(timeline)
        assert timeline.view_of(history[0].event_id) is None  # data, not a widget


async def test_paging_up_to_the_oldest_keeps_the_place_and_then_asks_for_older_history(make_app):
    app, history = long_room_app(make_app, loaded=100, older=150)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await opened(pilot, history[-1].event_id)
        timeline.focus()
        await settle(pilot)
        seen: list[int] = []
        for _ in range(300):
            if timeline.items[0].body == "message 5000":
                break
            await pilot.press("pageup")
            before = top_item(timeline)
            for _ in range(4):  # frame by frame, while the window slides
                await pilot.pause()
                # Where the top item is, not which item is at the top: older history arriving
                # while the banner is in view shows its last message where the banner was.
                assert row_of(timeline, before[0]) == before[1], "the view moved while the window slid"
            assert mounted_items(timeline) <= MOST_RENDERED
            seen.append(timeline.items.index(next(i for i in timeline.items if i.event_id == before[0])))
        assert timeline.items[0].body == "message 5000", "the older history was asked for and shown"
        assert ("paginate_back", (PROJECT,)) in app.fake.calls
        assert len(set(seen)) > 10, "the reader went up through the history"
        await wait_for(pilot, lambda: timeline.at_start and not timeline.loading_older)
        for _ in range(60):  # a reader holding page-up: the window slides a chunk a frame
            if top_item(timeline)[0] == "$e5000":
                break
            await pilot.press("pageup")
            await settle(pilot)
        assert top_item(timeline)[0] == "$e5000"
        assert timeline.banner_text == "This is the beginning of the room."
        assert_drawn_as_data(timeline)


async def test_older_messages_appear_above_without_moving_the_selected_one(make_app):
    app, history = long_room_app(make_app, loaded=300, older=80, held=True)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await opened(pilot, history[-1].event_id)
        timeline.focus()
        await pilot.press("g")  # the first loaded message: the timeline asks for older ones
        await wait_for(pilot, lambda: timeline.selected == history[0].event_id and on_screen(timeline, history[0].event_id))
        await wait_for(pilot, lambda: timeline.loading_older, what="the request for older history")
        await settle(pilot)
        row = timeline.row_of(history[0].event_id)
        app.fake.answer.set()
        await wait_for(pilot, lambda: len(timeline.items) > 300 and not timeline.loading_older, what="older history")
        await settle(pilot)
        assert timeline.row_of(history[0].event_id) == row
        assert timeline.mounted_range[0] < 80, "older messages were mounted above, ready to scroll to"
        assert on_screen(timeline, history[0].event_id) and timeline.selected == history[0].event_id
        assert mounted_items(timeline) <= MOST_RENDERED
        assert_drawn_as_data(timeline)


async def test_the_selection_moves_across_the_window_edge(make_app):
    app, history = long_room_app(make_app, loaded=1_000)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await opened(pilot, history[-1].event_id)
        timeline.focus()
        await wait_for(pilot, lambda: timeline.selected == history[-1].event_id)
        for _ in range(OPEN_ITEMS + 10):  # past the top of the window mounted on opening
            await pilot.press("up")
        await settle(pilot)
        above = history[-OPEN_ITEMS - 11].event_id
        assert timeline.selected == above and on_screen(timeline, above)
        assert timeline.view_of(above).has_class("-selected")
        await pilot.press("g")
        await settle(pilot)
        assert timeline.selected == history[0].event_id and on_screen(timeline, history[0].event_id)
        for _ in range(OPEN_ITEMS + 10):
            await pilot.press("down")
        await settle(pilot)
        below = history[OPEN_ITEMS + 10].event_id
        assert timeline.selected == below and on_screen(timeline, below)
        assert mounted_items(timeline) <= MOST_RENDERED
        assert_drawn_as_data(timeline)
        await pilot.press("G")
        await settle(pilot)
        assert timeline.selected == history[-1].event_id and on_screen(timeline, history[-1].event_id)


async def test_live_messages_while_reading_history_do_not_move_the_view(make_app):
    app, history = long_room_app(make_app, loaded=1_000)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await opened(pilot, history[-1].event_id)
        timeline.focus()
        for _ in range(3):  # up a little: the window still reaches the newest
            await pilot.press("pageup")
        await settle(pilot)
        before = top_item(timeline)
        app.fake.receive(PROJECT, ALICE, "Alice", "live 0")
        await wait_for(pilot, lambda: timeline.items[-1].body == "live 0", what="a live message")
        await settle(pilot)
        assert top_item(timeline) == before, "a live message yanked the reader"
        await pilot.press("g")  # far up: the window ends long before the newest
        await settle(pilot)
        before = top_item(timeline)
        for n in range(1, 5):
            app.fake.receive(PROJECT, ALICE, "Alice", f"live {n}")
        await wait_for(pilot, lambda: timeline.items[-1].body == "live 4", what="the live messages")
        await settle(pilot)
        assert top_item(timeline) == before, "a live message yanked the reader"
        assert timeline.view_of(timeline.items[-1].event_id) is None, "it waits as data"
        await pilot.press("G")
        await settle(pilot)
        newest = timeline.items[-1].event_id
        assert timeline.selected == newest and on_screen(timeline, newest)
        app.fake.receive(PROJECT, CAROL, "Carol", "one more")
        await wait_for(pilot, lambda: timeline.items[-1].body == "one more", what="the next live message")
        await settle(pilot)
        assert on_screen(timeline, timeline.items[-1].event_id), "at the newest, new messages come into view"


async def test_switching_away_and_back_mounts_the_newest_again(make_app):
    app, history = long_room_app(make_app, loaded=2_000)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await opened(pilot, history[-1].event_id)
        timeline.focus()
        await pilot.press("g")
        await settle(pilot)
        await pilot.press("alt+down")
        await wait_for(pilot, lambda: timeline.room_id == GENERAL)
        await pilot.press("alt+up")
        await opened(pilot, history[-1].event_id)
        await settle(pilot)
        assert on_screen(timeline, history[-1].event_id) and mounted_items(timeline) <= MOST_RENDERED


async def test_the_window_grows_above_the_reader_without_a_layout_or_moving_the_view(make_app):
    """Rendering older items above the reader keeps what they see in place, and lays nothing
    out: the timeline draws lines, so a growth changes its scroll range, not the screen's
    arrangement (with a widget per item, each growth was one to three layouts of the whole
    screen, 15-17 ms of the UI loop while paging: issue 15)."""
    app, history = long_room_app(make_app, loaded=1_000)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await opened(pilot, history[-1].event_id)
        timeline.focus()
        await settle(pilot)
        laid_out: list[int] = []  # full layouts of the screen
        on_each(pilot.app.screen._compositor, "reflow", lambda: laid_out.append(1))
        growths = 0
        for _ in range(40):
            first = timeline.mounted_range[0]
            laid_out.clear()
            await pilot.press("pageup")
            before = top_item(timeline)
            await settle(pilot)
            if timeline.mounted_range[0] < first:
                growths += 1
                assert top_item(timeline) == before, "the view moved while the window grew"
                assert not laid_out, f"{len(laid_out)} layouts of the screen"
            if growths == 3:
                break
        assert growths == 3, "the window grew as the reader went up"
        assert_drawn_as_data(timeline)


async def test_a_jump_is_drawn_once_and_where_it_lands(make_app):
    """`g` (and `G`) far from the rendered window replace it. The first frame after must show
    the item jumped to: drawn at the scroll position the old window had, it was a screenful of
    new messages drawn for nothing and then a second one at the item (two heavy frames per page
    while paging back, issue 15)."""
    app, history = long_room_app(make_app, loaded=1_000)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await opened(pilot, history[-1].event_id)
        timeline.focus()
        await settle(pilot)
        frames: list[tuple[tuple[int, int], float, float]] = []  # window, scroll position, its end
        on_each(pilot.app.screen._compositor, "render_update",
                lambda: frames.append((timeline.mounted_range, timeline.scroll_y, timeline.max_scroll_y)))
        await pilot.press("g")
        await wait_for(pilot, lambda: timeline.selected == history[0].event_id)
        await settle(pilot)
        at_first = [(y, end) for window, y, end in frames if window[0] == 0]
        assert at_first, "the window moved to the first message"
        assert all(y == 0 for y, _ in at_first), f"frames drawn away from the first message: {at_first}"
        assert timeline.scroll_y == 0 and on_screen(timeline, history[0].event_id)  # under the banner and its day
        assert timeline.drawn_outline()[0] == ("day", timeline.time_format.day(history[0].timestamp))

        frames.clear()
        await pilot.press("G")
        await wait_for(pilot, lambda: timeline.selected == history[-1].event_id)
        await settle(pilot)
        at_newest = [(y, end) for window, y, end in frames if window[1] == 1_000]
        assert at_newest and all(y == end for y, end in at_newest), f"frames drawn away from the newest: {at_newest}"
        assert on_screen(timeline, history[-1].event_id)


async def test_every_item_is_found_where_it_is_as_history_is_paged_in_added_and_taken_away(make_app):
    """`index_of` is asked at each change to an item (an edit, a reaction, keys arriving): it
    keeps the items' places instead of scanning (issue 15), and must follow older history put
    above, live messages below and items taken away."""
    app, history = long_room_app(make_app, loaded=100, older=150)
    async with app.run_test(size=SIZE) as pilot:
        timeline = await opened(pilot, history[-1].event_id)

        def all_found() -> None:
            items = timeline.items
            assert [timeline.index_of(item.event_id) for item in items] == list(range(len(items)))
            assert timeline.index_of("$not-here") is None and timeline.index_of(None) is None

        all_found()
        timeline.focus()
        for _ in range(100):  # up to the top: older history is asked for and put above
            if timeline.items[0].body == "message 5000":
                break
            await pilot.press("pageup")
            await settle(pilot)
        assert timeline.items[0].body == "message 5000", "the older history"
        all_found()
        said = app.fake.receive(timeline.room_id, "@alice:example.org", "Alice", "one more")
        await wait_for(pilot, lambda: timeline.index_of(said.event_id) == len(timeline.items) - 1,
                       what="the live message at the end")
        all_found()
        gone = timeline.items[40].event_id
        await timeline.remove_items([gone])
        assert timeline.index_of(gone) is None
        all_found()
        replaced = timeline.items[10]
        timeline.update_item(replaced)
        assert timeline.index_of(replaced.event_id) == 10
        await timeline.show(timeline.room_id, timeline.items[5:], at_start=False)
        all_found()
