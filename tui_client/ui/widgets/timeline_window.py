"""The timeline's items as data, and the window of them that is mounted.

A room may hold thousands of loaded items; a widget per item (one each: see rows.py) makes every
layout, every reopen and the memory grow with all of them. So the items are kept as data
(`_items`) and only a window of them, `_items[_lo:_hi]`, has widgets: the newest
`OPEN_ITEMS` when a room opens, growing by `CHUNK` items above or below when the viewport comes
within a screen of the window's edge, and shrinking at the far end beyond `MOST_MOUNTED`. Mounting
above shifts the scroll position by the height of what was mounted and unmounting above by the
height of what went away, so the reader's place never moves.

What a widget shows depends only on the data (a day separator before an item of another day
than the item before it; a header unless the item continues a group), so an item looks the same
whether its neighbour is mounted or not. Live items at the end are mounted only while the window
reaches the end (the reader is at the newest); else they wait as data until the reader scrolls
down to them.
"""

from __future__ import annotations

import asyncio

from textual.containers import VerticalScroll
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.widget import Widget

from ...engine.models import TimelineItem
from ..timefmt import TimeFormatter
from .line import Line
from .message import DaySeparator, ItemView, MessageView, NewMessagesLine, make_view, starts_group
from .scrollbar import QuickScrollBars

OPEN_ITEMS = 20  # mounted when a room opens (two screens of messages and more)
CHUNK = 8  # mounted at once when the reader nears the window's edge
MOST_MOUNTED = 75  # beyond this, the far end of the window is unmounted


class TimelineWindow(QuickScrollBars, VerticalScroll):
    """Items as data, a window of them mounted (see the module docstring); `Timeline` adds the
    selection, the actions and the request for older history."""

    # A layout gives the window its virtual size (the height of what is mounted), and Textual's
    # attribute then asks for a second layout of the whole screen when it changed: every growth
    # of the window was two layouts. Nothing else is placed by it (the scroll bar follows it in
    # `_size_updated` itself), so a change only repaints.
    virtual_size = Reactive(Size(0, 0), layout=False)

    def __init__(self, time_format: TimeFormatter, *, id: str | None = None, thread: bool = False) -> None:
        super().__init__(id=id)
        self.time_format = time_format
        self.thread = thread  # the timeline of one thread (no "in a thread" marks; its own start)
        self._items: list[TimelineItem] = []
        self._lo = self._hi = 0  # the mounted items are _items[_lo:_hi]
        self._views: dict[str, ItemView] = {}  # mounted only
        self._separators: dict[str, DaySeparator] = {}  # event id of the (mounted) item it precedes
        self._readers: dict[str, tuple[str, ...]] = {}  # event id -> who read up to it
        self._marker_at: str | None = None  # the "new messages" line follows this item
        self._marker_line: NewMessagesLine | None = None  # while that item is mounted
        self._lock = asyncio.Lock()
        self._sliding = False
        self._banner = Line("", id="timeline-start", markup=False)

    # -- the data ---------------------------------------------------------------------------

    @property
    def items(self) -> list[TimelineItem]:
        return list(self._items)

    def view_of(self, event_id: str) -> ItemView | None:
        """The widget of an item, None when it is not mounted (out of the window)."""
        return self._views.get(event_id)

    def index_of(self, event_id: str | None) -> int | None:
        if event_id is None:
            return None
        return next((i for i, item in enumerate(self._items) if item.event_id == event_id), None)

    @property
    def mounted_range(self) -> tuple[int, int]:
        """Indexes (first, past the last) of the items that have widgets."""
        return self._lo, self._hi

    def _previous(self, index: int) -> TimelineItem | None:
        return self._items[index - 1] if index > 0 else None

    def _new_day(self, index: int) -> bool:
        previous = self._previous(index)
        day = self.time_format.day_of
        return previous is None or day(previous.timestamp) != day(self._items[index].timestamp)

    # -- building and removing widgets ------------------------------------------------------

    def _build(self, start: int, end: int) -> list[Widget]:
        """The widgets of `_items[start:end]` (registered as mounted)."""
        widgets: list[Widget] = []
        for index in range(start, end):
            item = self._items[index]
            if self._new_day(index):
                separator = DaySeparator(self.time_format.day(item.timestamp))
                self._separators[item.event_id] = separator
                widgets.append(separator)
            view = make_view(item, self.time_format, show_header=starts_group(self._previous(index), item,
                                                                              self.time_format),
                             thread_marks=not self.thread)
            if isinstance(view, MessageView):
                view.readers = self._readers.get(item.event_id, ())
            self._views[item.event_id] = view
            widgets.append(view)
            if item.event_id == self._marker_at:
                self._marker_line = NewMessagesLine()
                widgets.append(self._marker_line)
        return widgets

    def _unregister(self, start: int, end: int) -> list[Widget]:
        """Forget the widgets of `_items[start:end]` and return them, for removal."""
        widgets: list[Widget] = []
        for item in self._items[start:end]:
            separator = self._separators.pop(item.event_id, None)
            if separator is not None:
                widgets.append(separator)
            view = self._views.pop(item.event_id, None)
            if view is not None:
                widgets.append(view)
            if item.event_id == self._marker_at and self._marker_line is not None:
                widgets.append(self._marker_line)
                self._marker_line = None
        return widgets

    async def _mount_below(self, end: int) -> None:
        """Mount `_items[_hi:end]` after the window."""
        widgets = self._build(self._hi, end)
        self._hi = end
        await self.mount_all(widgets)

    async def _mount_above(self, start: int) -> tuple[Widget, int] | None:
        """Mount `_items[start:_lo]` before the window; returns the widget that was first and
        where it was, for `_keep_place`."""
        first = next((w for w in self.children if w is not self._banner), None)
        widgets = self._build(start, self._lo)
        self._lo = start
        if first is None:
            await self.mount_all(widgets)
            return None
        before = self._placement(first)[0].y
        await self.mount_all(widgets, after=self._banner)
        return first, before

    def _placement(self, child: Widget) -> tuple[Region, int]:
        """The region the screen's next layout gives `child` in the scrolled content, and the
        height of all the content, from the arrangement Textual caches for that layout (so it
        is done once): asking the screen (`virtual_region`) lays out all of it."""
        size = self._get_scrollable_region(Region(0, 0, *self.container_size)).size
        arrangement = self.arrange(size)
        region = next((placement.region for placement in arrangement.placements if placement.widget is child),
                      Region())
        return region, max(size.height, arrangement.total_region.bottom)

    def _keep_place(self, anchor: Widget, before: int) -> None:
        """Scroll by however far `anchor` moves (content was mounted above it), before any frame
        shows the content moved. The scroll range is set to what the coming layout gives it, so
        the new position is not cut to the old range."""
        if self.is_anchored and (self.scroll_y >= self.max_scroll_y or self.max_scroll_y <= 0):
            return  # at the bottom, the anchor keeps the newest in view by itself
        region, height = self._placement(anchor)
        if region.y != before:
            self.virtual_size = Size(self.virtual_size.width, height)
            self.scroll_to(y=self.scroll_y + region.y - before, animate=False, immediate=True, release_anchor=False)

    async def _unmount_above(self, start: int) -> None:
        """Unmount `_items[_lo:start]`, scrolling up by their height so the reader stays put."""
        widgets = self._unregister(self._lo, start)
        self._lo = start
        kept_id = self._items[start].event_id if start < self._hi else ""
        kept: Widget | None = self._separators.get(kept_id) or self._views.get(kept_id)
        # Where the first kept widget is now, less where the first removed one is: how far it
        # moves up once the removed ones are gone.
        height = kept.virtual_region.y - widgets[0].virtual_region.y if kept is not None and widgets else 0
        at_bottom = self.is_anchored and self.scroll_y >= self.max_scroll_y
        await self.remove_children(widgets)
        if not at_bottom:
            self.scroll_to(y=max(0, self.scroll_y - height), animate=False, immediate=True, release_anchor=False)

    async def _unmount_below(self, end: int) -> None:
        """Unmount `_items[end:_hi]` (below the reader: nothing on screen moves)."""
        widgets = self._unregister(end, self._hi)
        self._hi = end
        await self.remove_children(widgets)

    async def _mount_window(self, start: int, end: int) -> None:
        """Replace the mounted window with `_items[start:end]` (a jump, or a room opened)."""
        with self.app.batch_update():
            await self.remove_children([w for w in self.children if w is not self._banner])
            self._views, self._separators, self._marker_line = {}, {}, None
            self._lo = self._hi = start
            await self._mount_below(end)

    def _restyle(self, index: int) -> None:
        """Give the item at `index` the header its (possibly new) previous item asks for."""
        if self._lo <= index < self._hi:
            view = self._views.get(self._items[index].event_id)
            if isinstance(view, MessageView):
                view.set_header(starts_group(self._previous(index), self._items[index], self.time_format))

    async def _fix_day(self, index: int) -> None:
        """Add or drop the day separator of the item at `index` after its previous item changed."""
        if not self._lo <= index < self._hi:
            return
        item = self._items[index]
        separator = self._separators.get(item.event_id)
        if self._new_day(index) and separator is None:
            new = DaySeparator(self.time_format.day(item.timestamp))
            self._separators[item.event_id] = new
            await self.mount(new, before=self._views[item.event_id])
        elif not self._new_day(index) and separator is not None:
            del self._separators[item.event_id]
            await separator.remove()
        self._restyle(index)

    def _window_moved(self) -> None:
        """The window slid: `Timeline` says above it what is above it, and asks for older
        history when it now starts at the first loaded item with the viewport at the top."""

    # -- sliding the window ---------------------------------------------------------------

    def _near_top(self) -> bool:
        return self.scroll_y < max(self.size.height, 1)

    def _near_bottom(self) -> bool:
        return self.scroll_y > self.max_scroll_y - max(self.size.height, 1)

    def _check_window(self) -> None:
        """Slide the window when the viewport nears an edge with more items beyond it."""
        if self._sliding or not self.is_mounted:
            return
        if (self._lo > 0 and self._near_top()) or (self._hi < len(self._items) and self._near_bottom()):
            self._sliding = True
            # After the screen's next refresh: begun at once, the growth after a jump or a room
            # opened often ran before the frame that draws what was just mounted, and that frame
            # drew 28 new messages instead of 20 (paging's worst stall 33-38 ms; 26-33 with this,
            # four benchmark runs each way).
            self.call_after_refresh(self._start_slide)

    def _start_slide(self) -> None:
        if self.is_mounted:
            self.run_worker(self._slide(), group="timeline-window", exit_on_error=False)
        else:
            self._sliding = False

    async def _slide(self) -> None:
        try:
            async with self._lock:
                if self._lo > 0 and self._near_top():
                    await self._grow_up(max(0, self._lo - CHUNK))
                elif self._hi < len(self._items) and self._near_bottom():
                    await self._grow_down(min(len(self._items), self._hi + CHUNK))
        finally:
            self._sliding = False
        self._window_moved()
        self.call_after_refresh(self._check_window)  # a long scroll may need another chunk

    async def _grow_up(self, start: int) -> None:
        """Mount from `start`, unmounting the bottom beyond the cap (laid out once), keeping
        what the reader sees in place."""
        with self.app.batch_update():
            place = await self._mount_above(start)
            if self._hi - self._lo > MOST_MOUNTED:
                await self._unmount_below(self._lo + MOST_MOUNTED)
            if place is not None:
                self._keep_place(*place)
        self._hold_anchor()

    async def _grow_down(self, end: int) -> None:
        """Mount up to `end`, unmounting the top beyond the cap (laid out once)."""
        with self.app.batch_update():
            await self._mount_below(end)
            if self._hi - self._lo > MOST_MOUNTED:
                await self._unmount_above(self._hi - MOST_MOUNTED)
        self._hold_anchor()

    async def _bring_into_window(self, index: int) -> None:
        """Mount the item at `index`: grow the window towards it when it is near, else jump."""
        async with self._lock:
            if self._lo <= index < self._hi:
                return
            if self._lo - CHUNK <= index < self._lo:
                await self._grow_up(max(0, min(index, self._lo - CHUNK // 2)))
            elif self._hi <= index < self._hi + CHUNK:
                await self._grow_down(min(len(self._items), max(index + 1, self._hi + CHUNK // 2)))
            else:
                up = index < self._lo
                start = max(0, min(index - OPEN_ITEMS // 2, len(self._items) - OPEN_ITEMS))
                await self._mount_window(start, min(len(self._items), start + OPEN_ITEMS))
                self._hold_anchor()
                self._land(index, up)

    def _land(self, index: int, up: bool) -> None:
        """After a jump, scroll to the item at `index` before any frame is drawn: the scroll
        position before it belonged to other content, and a frame drawn there (then another at
        the item) was a second screenful of new widgets drawn for nothing. Going up, the item
        (and its day line) comes to the top, the first item with the room's start above it;
        going down, it comes to the bottom."""
        if index == 0:  # the top: no need to arrange the new widgets here (the frame does)
            self.scroll_to(y=0, animate=False, immediate=True, release_anchor=False)
            return
        event_id = self._items[index].event_id
        view = self._views.get(event_id)
        if view is None:
            return
        viewport = self.scrollable_content_region.height
        if up:  # its day line first, when it has one
            region, height = self._placement(self._separators.get(event_id) or view)
            y = region.y
        else:
            region, height = self._placement(view)
            y = region.bottom - viewport
        self.virtual_size = Size(self.virtual_size.width, height)
        self.scroll_to(y=max(0, min(y, height - viewport)), animate=False, immediate=True, release_anchor=False)

    def _hold_anchor(self) -> None:
        """A window that stops short of the newest must not follow (or jump to) the end: mounting
        below would scroll the reader away."""
        if self._hi < len(self._items) and self.is_anchored:
            self.anchor(False)
