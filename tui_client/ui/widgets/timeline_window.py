"""The timeline's items as data, drawn line by line.

A room may hold thousands of loaded items. A widget per item made every jump, every growth of the
view and every frame pay Textual's price per widget (its stylesheet pass when mounted, its style
pipeline when drawn, its share of every layout of the screen): a jump to the first message was
17-20 ms of the UI loop and its frame 15-23 ms (issue 15). Here the timeline is one widget that
draws lines (Textual's line API): each item is rendered once into strips (its day line, the blank
line above a new group, its rows, the "new messages" line after it) and `render_line` hands out
the strips that are in view. Nothing is mounted, so nothing is laid out but the timeline itself.

Items stay data (`_items`); only a window of them, `_items[_lo:_hi]`, is rendered: the newest
`OPEN_ITEMS` when a room opens, growing by `CHUNK` items above or below when the viewport comes
within a screen of the window's edge, and dropping the far end beyond `MOST_RENDERED`. Rendering
above moves the scroll position down by the lines rendered, in the same turn, so the reader's place
never moves. What an item looks like depends only on the data (a day line before an item of
another day than the item before it; a header unless the item continues a group), so it looks the
same whichever of its neighbours are rendered.

The item views (message.py) build each item's rows and are never mounted; `view_of` hands them
out for what they show (`shown_part`, their classes). How an item looks as lines is
timeline_lines.py's; this module keeps which items are rendered and where the view is. It is
longer than the house's 450 lines because the window, the scroll position and the line API all
read and move the same blocks and their first lines (`_blocks`, `_tops`): split, each part would
reach into the others' state.
"""

from __future__ import annotations

import bisect
from typing import Any

from textual.content import Content
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from ...engine.models import TimelineItem
from ..timefmt import TimeFormatter
from .line import same
from .message import ItemView, MessageView, make_view, starts_group
from .scrollbar import QuickScrollBars
from .timeline_lines import Block, Look, Painter, look_of

OPEN_ITEMS = 20  # rendered when a room opens (two screens of messages and more)
CHUNK = 12  # rendered at once when the reader nears the window's edge
MOST_RENDERED = 150  # beyond this, the far end of the window is dropped

class TimelineWindow(QuickScrollBars, ScrollView):
    """Items as data, a window of them rendered (see the module docstring); `Timeline` adds the
    selection, the actions and the request for older history."""

    # The virtual size (the content's lines) changes with every growth of the window; Textual's
    # attribute asks for a layout of the whole screen on each change. Nothing around the
    # timeline depends on it: the scroll range and the bar follow it in `_set_height`.
    virtual_size = Reactive(Size(0, 0), layout=False)

    COMPONENT_CLASSES = {"timeline--selected", "timeline--highlight", "timeline--highlight-edge"}

    def __init__(self, time_format: TimeFormatter, *, id: str | None = None, thread: bool = False) -> None:
        super().__init__(id=id)
        self.time_format = time_format
        self.thread = thread  # the timeline of one thread (no "in a thread" marks; its own start)
        self._items: list[TimelineItem] = []
        self._lo = self._hi = 0  # the rendered items are _items[_lo:_hi]
        self._views: dict[str, ItemView] = {}  # rendered only
        self._blocks: list[Block] = []  # of _items[_lo:_hi]
        self._tops: list[int] = []  # the first line of each block (after the banner)
        self._readers: dict[str, tuple[str, ...]] = {}  # event id -> who read up to it
        self._previews: dict[str, Any] = {}  # event id -> its image (a Pillow image)
        self._marker_at: str | None = None  # the "new messages" line follows this item
        self._banner_content: Content = Content("")
        self._banner: list[Strip] = []
        self._painter: Painter | None = None  # at the width the blocks are rendered at
        self._look: Look | None = None  # the styles they are drawn with
        self._asked: set[str] = set()  # images whose previews were asked for
        self._sliding = False
        self._where: dict[str, int] | None = None  # event id -> its index in _items (see index_of)

    # -- the data ---------------------------------------------------------------------------

    @property
    def items(self) -> list[TimelineItem]:
        return list(self._items)

    def view_of(self, event_id: str) -> ItemView | None:
        """What an item is drawn from, None when it is not rendered (out of the window)."""
        return self._views.get(event_id)

    def index_of(self, event_id: str | None) -> int | None:
        """Where the item is in `items` (every change to an item looks it up: a scan of 1,000
        items was 15-50 µs). The places are read once and kept until `_items` changes other
        than at its end (each change there sets `_where` to None); a place is checked before it
        is trusted."""
        if event_id is None:
            return None
        items = self._items
        if self._where is None:
            self._where = {}
            for index, item in enumerate(items):
                self._where.setdefault(item.event_id, index)
        found = self._where.get(event_id)
        if found is not None and found < len(items) and items[found].event_id == event_id:
            return found
        return None

    @property
    def mounted_range(self) -> tuple[int, int]:
        """Indexes (first, past the last) of the items that are rendered."""
        return self._lo, self._hi

    def _previous(self, index: int) -> TimelineItem | None:
        return self._items[index - 1] if index > 0 else None

    def _new_day(self, index: int) -> bool:
        previous = self._previous(index)
        day = self.time_format.day_of
        return previous is None or day(previous.timestamp) != day(self._items[index].timestamp)

    # -- where things are ---------------------------------------------------------------------

    @property
    def content_height(self) -> int:
        return len(self._banner) + (self._tops[-1] + len(self._blocks[-1].lines) if self._blocks else 0)

    def _block_at(self, index: int | None) -> int | None:
        """Where the item at `index` is in `_blocks` (None: not rendered)."""
        if index is None or not 0 <= index - self._lo < len(self._blocks):
            return None
        return index - self._lo

    def lines_of(self, event_id: str) -> tuple[int, int] | None:
        """The first line of an item's own rows in the content (banner included) and how many
        there are; None when it is not rendered."""
        at = self._block_at(self.index_of(event_id))
        if at is None:
            return None
        block = self._blocks[at]
        return len(self._banner) + self._tops[at] + block.own, block.height

    @property
    def _pad(self) -> int:
        """Blank rows above content shorter than the view: following the newest, it sits at the
        bottom, by the composer (as a chat reads)."""
        if not self._following:
            return 0
        return max(0, self._viewport - self.content_height)

    def region_of(self, event_id: str) -> Region:
        """Where an item's rows are on the screen (as far as they go, in view or not); empty
        when it is not rendered."""
        lines = self.lines_of(event_id)
        if lines is None or not self.is_mounted:
            return Region()
        area = self.content_region
        return Region(area.x, area.y + self._pad + lines[0] - round(self.scroll_y), area.width, lines[1])

    def row_of(self, event_id: str) -> int | None:
        """The screen row an item's rows start on (None when it is not rendered)."""
        region = self.region_of(event_id)
        return region.y if region.height else None

    def item_at_line(self, line: int) -> TimelineItem | None:
        """The item whose block holds `line` of the content (its day line and margins count)."""
        line -= len(self._banner)
        if line < 0 or not self._blocks:
            return None
        at = bisect.bisect_right(self._tops, line) - 1
        if at < 0 or line >= self._tops[at] + len(self._blocks[at].lines):
            return None
        return self._items[self._lo + at]

    def drawn_outline(self) -> list[tuple[str, str]]:
        """What the rendered window shows, in order: ("day", its label) for a day line, then
        (event id, "True"/"False": whether it has a header) for each item."""
        shown: list[tuple[str, str]] = []
        for block in self._blocks:
            for strip in block.lines[:block.own]:
                label = strip.text.strip("─ ")
                if label:
                    shown.append(("day", label))
            view = self._views.get(block.event_id)
            shown.append((block.event_id, str(getattr(view, "show_header", True))))
        return shown

    def drawn_text(self, event_id: str) -> list[str]:
        """The text of an item's rows as drawn (empty when it is not rendered)."""
        at = self._block_at(self.index_of(event_id))
        if at is None:
            return []
        block = self._blocks[at]
        return [strip.text.rstrip() for strip in block.lines[block.own:block.own + block.height]]

    def top_item(self) -> tuple[str, int] | None:
        """The first item whose rows reach into the view, and the screen row they start on."""
        top = round(self.scroll_y) - len(self._banner)
        area = self.content_region
        for at, block in enumerate(self._blocks):
            start = self._tops[at] + block.own
            if start + block.height > top:
                return block.event_id, area.y + self._pad + start - top
        return None

    # -- rendering ---------------------------------------------------------------------------

    @property
    def _content_width(self) -> int:
        return max(1, self.scrollable_content_region.width or self.size.width - self.styles.gutter.width)

    @property
    def _viewport(self) -> int:
        """The rows the view shows."""
        return self.container_size.height

    @property
    def _width(self) -> int:
        return self._painter.width if self._painter is not None else 0

    def _render_block(self, index: int) -> Block:
        """The item at `index` as drawn now (its view built when it is first rendered)."""
        assert self._painter is not None and self._look is not None
        item = self._items[index]
        view = self._views.get(item.event_id)
        header = starts_group(self._previous(index), item, self.time_format)
        if view is None:
            view = make_view(item, self.time_format, show_header=header, thread_marks=not self.thread)
            if isinstance(view, MessageView):
                view.readers = self._readers.get(item.event_id, ())
            view.refresh_content()
            self._views[item.event_id] = view
        elif isinstance(view, MessageView):
            view.set_header(header)
        day = self.time_format.day(item.timestamp) if self._new_day(index) else None
        return self._painter.block(view, self._look, day=day, selected=self._is_selected(item.event_id),
                                   marker=item.event_id == self._marker_at, image=self._previews.get(item.event_id))

    def _render_range(self, start: int, end: int) -> list[Block]:
        return [self._render_block(index) for index in range(start, end)]

    def _is_selected(self, event_id: str) -> bool:
        """Whether an item is drawn as the selection (`Timeline` says)."""
        return False

    def _render_banner(self) -> None:
        painter = self._painter
        self._banner = painter.banner(self._banner_content, self.visual_style) if painter is not None else []

    def set_banner(self, content: Content) -> None:
        """The line above the first rendered item ("Scroll up for older messages", …)."""
        if same(content, self._banner_content):
            return
        self._banner_content = content
        before = len(self._banner)
        self._render_banner()
        if len(self._banner) != before:
            self._place(keep=True, shift=len(self._banner) - before)
        self.refresh()

    @property
    def banner_text(self) -> str:
        return self._banner_content.plain

    def _rerender(self) -> None:
        """Render every block again (the width changed)."""
        self._look = look_of(self)
        self._blocks = self._render_range(self._lo, self._hi)
        self._render_banner()
        self._retop()

    def _retop(self) -> None:
        tops, line = [], 0
        for block in self._blocks:
            tops.append(line)
            line += len(block.lines)
        self._tops = tops

    def _rerender_item(self, index: int) -> None:
        """Render one item again in place (its content, header, selection or readers changed),
        keeping the reader's place when its height changed above them."""
        at = self._block_at(index)
        if at is None:
            return
        old = len(self._blocks[at].lines)
        self._blocks[at] = self._render_block(index)
        grown = len(self._blocks[at].lines) - old
        if grown:
            self._retop()
            above = len(self._banner) + self._tops[at] < round(self.scroll_y)
            self._place(keep=True, shift=grown if above else 0)
        self.refresh()

    # -- the line API ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        line = round(self.scroll_y) + y - self._pad
        width = self._width
        base = self.visual_style.rich_style
        strip: Strip | None = None
        if line < 0:
            pass
        elif line < len(self._banner):
            strip = self._banner[line]
        elif self._blocks:
            at = bisect.bisect_right(self._tops, line - len(self._banner)) - 1
            if at >= 0:
                block = self._blocks[at]
                if block.look is not self._look or block.selected != self._is_selected(block.event_id):
                    block = self._blocks[at] = self._render_block(self._lo + at)
                offset = line - len(self._banner) - self._tops[at]
                if offset < len(block.lines):
                    strip = block.lines[offset]
        if strip is None:
            return Strip.blank(width or self.size.width, base)
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(line)) is not None:
            strip = self._selected_span(strip, *span)
        return strip.apply_offsets(0, line)

    def _selected_span(self, strip: Strip, start: int, end: int) -> Strip:
        end = strip.cell_length if end == -1 else min(end, strip.cell_length)
        if start >= end:
            return strip
        style = self.screen.get_component_rich_style("screen--selection")
        before, middle, after = strip.divide([start, end, strip.cell_length])
        return Strip.join([before, middle.apply_style(style), after])

    def drawn_lines(self) -> str:
        """The text of the rendered content, line by line (the banner's included)."""
        lines = [strip.text for strip in self._banner]
        for block in self._blocks:
            lines += [strip.text for strip in block.lines]
        return "\n".join(line.rstrip() for line in lines)

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The text under a mouse selection: the lines as drawn."""
        return selection.extract(self.drawn_lines()), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self._width and self.is_mounted:
            # The theme, the focus (its tint) or the selection's look changed: the blocks in view
            # are drawn again as they are drawn (the colours leave every height as it is).
            look = look_of(self)
            if look != self._look:
                self._look = look
                self._render_banner()
            self.refresh()

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        width = self._content_width
        if width != self._width and size.width:
            top = self.top_item()
            self._painter = Painter(width, self._get_style)
            self._rerender()
            self._place(keep=False)
            lines = self.lines_of(top[0]) if top is not None else None
            if lines is not None and not self._following:
                self._scroll_to_line(lines[0], release=False)
        return changed

    # -- placing: the virtual size and the scroll position ------------------------------------

    @property
    def _following(self) -> bool:
        """At the newest, following new messages (Textual's anchor, not let go of)."""
        return self._anchored and not self._anchor_released

    def _place(self, *, keep: bool, shift: int = 0) -> None:
        """Set the virtual size to the content; `keep`: scroll by `shift` lines (content came or
        went above the reader), unless following the newest (then to the end)."""
        height = self.content_height
        if keep and shift:
            # A scroll under way (page up is animated) would go on to where the content was.
            self.app.animator.force_stop_animation(self, "scroll_y")
        self._set_height(height)
        if self._following:
            self._scroll_to_line(max(0, height - self._viewport), release=False)
        elif keep and shift:
            self._scroll_to_line(round(self.scroll_y) + shift, release=False)

    def _set_height(self, height: int) -> None:
        """The content's height: the scroll range and the bar follow now. The bar's column is
        always there (`overflow-y: scroll`; it draws blank with nothing to scroll), so this lays
        nothing out; only a stylesheet that lets the bar come and go would need a layout here."""
        size = Size(self._width, height)
        if size == self.virtual_size:
            return
        shown = self.show_vertical_scrollbar
        self.virtual_size = size
        self._scroll_update(size)
        if self.show_vertical_scrollbar != shown:
            self.refresh(layout=True)

    def _scroll_to_line(self, y: int, *, release: bool) -> None:
        if release:
            self.release_anchor()
        self.scroll_target_y = self.scroll_y = max(0, min(y, self.max_scroll_y))

    def anchor(self, anchor: bool = True) -> None:
        """Follow the newest (True), or stop following (False)."""
        self._anchored = anchor
        self._anchor_released = False
        if anchor:
            self._place(keep=False)

    # -- the window --------------------------------------------------------------------------

    def _render_window(self, start: int, end: int) -> None:
        """Render `_items[start:end]` in place of whatever was rendered (a jump, a room opened)."""
        self._views = {}
        self._lo, self._hi = start, end
        # Without a width yet (before the first layout), `_size_updated` renders them.
        self._blocks = self._render_range(start, end) if self._painter is not None else []
        self._retop()
        self.refresh()

    def _grow_up(self, start: int) -> None:
        """Render from `start` above the window, dropping the bottom beyond the cap, keeping what
        the reader sees in place."""
        if start >= self._lo:
            return
        new = self._render_range(start, self._lo)
        added = sum(len(block.lines) for block in new)
        self._blocks[:0] = new
        self._lo = start
        if self._hi - self._lo > MOST_RENDERED:
            self._drop_below(self._lo + MOST_RENDERED)
        self._retop()
        self._place(keep=True, shift=added)
        self.refresh()

    def _grow_down(self, end: int) -> None:
        """Render up to `end` below the window, dropping the top beyond the cap."""
        if end <= self._hi:
            return
        self._blocks += self._render_range(self._hi, end)
        self._hi = end
        removed = 0
        if self._hi - self._lo > MOST_RENDERED:
            removed = self._drop_above(self._hi - MOST_RENDERED)
        self._retop()
        self._place(keep=True, shift=-removed)
        self.refresh()

    def _drop_above(self, start: int) -> int:
        """Forget `_items[_lo:start]`; returns how many lines they took."""
        gone = self._blocks[:start - self._lo]
        for block in gone:
            self._views.pop(block.event_id, None)
        del self._blocks[:start - self._lo]
        self._lo = start
        return sum(len(block.lines) for block in gone)

    def _drop_below(self, end: int) -> None:
        for block in self._blocks[end - self._lo:]:
            self._views.pop(block.event_id, None)
        del self._blocks[end - self._lo:]
        self._hi = end

    def _remove_at(self, index: int) -> int:
        """Take the item at `index` out of the data and the window; returns how many lines went
        from above the view (for the caller's `_place`)."""
        removed = 0
        at = self._block_at(index)
        if at is not None:
            if len(self._banner) + self._tops[at] < round(self.scroll_y):
                removed = len(self._blocks[at].lines)
            del self._blocks[at]
            self._retop()
        self._views.pop(self._items[index].event_id, None)
        if index < self._lo:
            self._lo -= 1
        if index < self._hi:
            self._hi -= 1
        del self._items[index]
        self._where = None
        return removed

    def _window_moved(self) -> None:
        """The window slid: `Timeline` says above it what is above it, and asks for older
        history when it now starts at the first loaded item with the viewport at the top."""

    def _near_top(self) -> bool:
        return self.scroll_y < max(self.size.height, 1) + len(self._banner)

    def _near_bottom(self) -> bool:
        return self.scroll_y > self.max_scroll_y - max(self.size.height, 1)

    def _check_window(self) -> None:
        """Grow the window when the viewport nears an edge with more items beyond it: after the
        screen's next refresh, so a jump or a page is drawn first (rendering a chunk is a few
        milliseconds, in a turn of its own)."""
        if self._sliding or not self.is_mounted or not self._width:
            return
        if (self._lo > 0 and self._near_top()) or (self._hi < len(self._items) and self._near_bottom()):
            self._sliding = True
            self.call_after_refresh(self._slide)

    def _slide(self) -> None:
        self._sliding = False
        if not self.is_mounted:
            return
        if self._lo > 0 and self._near_top():
            self._grow_up(max(0, self._lo - CHUNK))
        elif self._hi < len(self._items) and self._near_bottom():
            self._grow_down(min(len(self._items), self._hi + CHUNK))
        else:
            return
        self._window_moved()
        self._check_window()  # a long scroll may need another chunk

    def _bring_into_window(self, index: int) -> bool:
        """Render the item at `index`: grow the window towards it when it is near, else jump
        (True: jumped; the caller places the view at the item)."""
        if self._lo <= index < self._hi:
            return False
        if self._lo - CHUNK <= index < self._lo:
            self._grow_up(max(0, min(index, self._lo - CHUNK // 2)))
            return False
        if self._hi <= index < self._hi + CHUNK:
            self._grow_down(min(len(self._items), max(index + 1, self._hi + CHUNK // 2)))
            return False
        start = max(0, min(index - OPEN_ITEMS // 2, len(self._items) - OPEN_ITEMS))
        self._render_window(start, min(len(self._items), start + OPEN_ITEMS))
        self._hold_anchor()
        self._set_height(self.content_height)
        return True

    def _land(self, index: int, up: bool) -> None:
        """After a jump, scroll to the item at `index`: going up, the item (and its day line)
        comes to the top, the first item with the room's start above it; going down, it comes
        to the bottom."""
        if index == 0:
            self._scroll_to_line(0, release=False)
            return
        at = self._block_at(index)
        if at is None:
            return
        top = len(self._banner) + self._tops[at]
        viewport = self._viewport
        if up:
            self._scroll_to_line(top, release=False)
        else:
            block = self._blocks[at]
            self._scroll_to_line(top + block.own + block.height - viewport, release=False)

    def _hold_anchor(self) -> None:
        """A window that stops short of the newest must not follow (or jump to) the end."""
        if self._hi < len(self._items) and self._anchored:
            self.anchor(False)

    def _scroll_to_item(self, index: int) -> None:
        """Bring an item's rows into view (the least scrolling that shows them)."""
        at = self._block_at(index)
        if at is None:
            return
        block = self._blocks[at]
        top = len(self._banner) + self._tops[at] + block.own
        bottom = top + block.height
        viewport = self._viewport
        y = round(self.scroll_y)
        if top < y:
            self._scroll_to_line(top - 1 if block.margin else top, release=True)
        elif bottom > y + viewport:
            self._scroll_to_line(min(top, bottom - viewport), release=True)
