"""The timeline of one room: day separators, grouped messages, a selection cursor, and a request
for older messages when the top is reached.

The timeline only shows what it is given (`show`, `add_items`, `update_item`); it asks for more by
posting `Timeline.OlderWanted`, and tells the screen which item is selected with
`Timeline.Selected` so a detail line can show the provenance sentence or the failure reason.
Structural changes are serialised by a lock because mounting is asynchronous.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from ...engine.models import TimelineItem
from ..timefmt import TimeFormatter
from .image_preview import has_file
from .message import DaySeparator, ItemView, MessageView, NewMessagesLine, make_view, starts_group


class Timeline(VerticalScroll, can_focus=True):
    """Items of the open room, oldest first."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Previous message", id="cursor_up", show=False),
        Binding("down,j", "cursor_down", "Next message", id="cursor_down", show=False),
        Binding("home,g", "cursor_first", "First message", id="cursor_first", show=False),
        Binding("end,G", "cursor_last", "Last message", id="cursor_last", show=False),
        Binding("i,enter", "details", "Details", id="event_details",
                tooltip="Ids, trust, key provenance and raw JSON of the selected message"),
        Binding("r", "message('reply')", "Reply", id="reply", tooltip="Reply to the selected message"),
        Binding("e", "message('edit')", "Edit", id="edit_message", tooltip="Change the text of your selected message"),
        Binding("plus", "message('react')", "React", id="react",
                tooltip="React to the selected message (a quick pick, or any text); again to take it back"),
        Binding("d,delete", "message('delete')", "Delete", id="delete_message", show=False,
                tooltip="Delete your selected message (you are asked first, and may give a reason)"),
        Binding("t", "message('thread')", "Thread", id="open_thread", show=False,
                tooltip="Open the thread of the selected message (or start one from it)"),
        Binding("o", "file(True)", "Open file", id="open_file",
                tooltip="Download the selected message's file and open it with the system's viewer"),
        Binding("s", "file(False)", "Save file", id="save_file",
                tooltip="Download the selected message's file into the downloads directory"),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ]

    room_id: reactive[str | None] = reactive(None, init=False)
    at_start: reactive[bool] = reactive(False, init=False)
    loading_older: reactive[bool] = reactive(False, init=False)
    selected: reactive[str | None] = reactive(None, init=False)

    class OlderWanted(Message):
        """The user reached the top and the room has older history."""

        def __init__(self, room_id: str) -> None:
            super().__init__()
            self.room_id = room_id

    class Selected(Message):
        """The selected item changed (None: nothing selected, e.g. the timeline lost focus)."""

        def __init__(self, item: TimelineItem | None) -> None:
            super().__init__()
            self.item = item

    class FileWanted(Message):
        """The user wants the selected message's file saved (and opened, with `open`)."""

        def __init__(self, item: TimelineItem, open: bool) -> None:
            super().__init__()
            self.item = item
            self.open = open

    class DetailsWanted(Message):
        """The user asked for the details of an item (`i` / Enter)."""

        def __init__(self, item: TimelineItem) -> None:
            super().__init__()
            self.item = item

    class MessageAction(Message):
        """The user asked to reply to, edit, react to, delete, or open the thread of a message."""

        def __init__(self, action: str, item: TimelineItem) -> None:
            super().__init__()
            self.action = action  # "reply" | "edit" | "react" | "delete" | "thread"
            self.item = item

    def __init__(self, time_format: TimeFormatter, *, id: str | None = None, thread: bool = False) -> None:
        super().__init__(id=id)
        self.time_format = time_format
        self.thread = thread  # the timeline of one thread (no "in a thread" marks; its own start)
        self._items: list[TimelineItem] = []
        self._views: dict[str, ItemView] = {}
        self._separators: dict[str, DaySeparator] = {}  # event id of the item it precedes
        self._readers: dict[str, tuple[str, ...]] = {}  # event id -> who read up to it
        self.read_marker: str | None = None  # "new messages" start after this event
        self._marker_line: NewMessagesLine | None = None
        self._lock = asyncio.Lock()
        self._banner = Static("", id="timeline-start", markup=False)

    def compose(self) -> Iterable[Widget]:
        yield self._banner

    def on_mount(self) -> None:
        self.watch(self, "scroll_y", self._on_scrolled, init=False)
        self.anchor()
        self._update_banner()

    # -- what is shown -----------------------------------------------------------------------

    @property
    def items(self) -> list[TimelineItem]:
        return list(self._items)

    def view_of(self, event_id: str) -> ItemView | None:
        return self._views.get(event_id)

    async def show(
        self, room_id: str | None, items: Iterable[TimelineItem], at_start: bool, *,
        read_marker: str | None = None, readers: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        """Replace everything with the items of `room_id`; a "new messages" line follows
        `read_marker` when newer messages come after it; `readers`: read receipts by event."""
        async with self._lock:
            await self.remove_children([w for w in self.children if w is not self._banner])
            self._items, self._views, self._separators = [], {}, {}
            self._readers = dict(readers or {})
            self._marker_line = None
            self.set_reactive(Timeline.selected, None)
            self.room_id = room_id
            self.at_start = at_start
            self.loading_older = False
            items = list(items)
            await self._append(items)
            self.read_marker = read_marker
            marked = self._views.get(read_marker or "")
            if marked is not None and items and items[-1].event_id != read_marker:
                self._marker_line = NewMessagesLine()
                await self.mount(self._marker_line, after=marked)
            self.anchor()
        self.call_after_refresh(self._check_need_older)

    @property
    def has_new_messages_line(self) -> bool:
        return self._marker_line is not None

    def set_readers(self, readers: dict[str, tuple[str, ...]]) -> None:
        """Move the "seen by" lines to where each member's read receipt now is."""
        old, self._readers = self._readers, dict(readers)
        for event_id in set(old) | set(readers):
            view = self._views.get(event_id)
            if isinstance(view, MessageView):
                view.set_readers(self._readers.get(event_id, ()))

    def readers_of(self, event_id: str) -> tuple[str, ...]:
        return self._readers.get(event_id, ())

    async def add_items(self, items: Iterable[TimelineItem], *, at_start: bool = False) -> None:
        """New items at the end (live) or at the start (back-pagination); duplicates are ignored."""
        items = [i for i in items if i.event_id not in self._views]
        if not items:
            return
        async with self._lock:
            items = [i for i in items if i.event_id not in self._views]
            if at_start:
                await self._prepend(items)
            else:
                await self._append(items)
        self.call_after_refresh(self._check_need_older)

    async def remove_items(self, event_ids: Iterable[str]) -> None:
        """Take items away (an undecryptable event turned out to be an edit of another)."""
        async with self._lock:
            for event_id in event_ids:
                view = self._views.pop(event_id, None)
                if view is None:
                    continue
                index = self._items.index(view.item)
                del self._items[index]
                separator = self._separators.pop(event_id, None)
                if separator is not None:
                    await separator.remove()
                    if index < len(self._items):  # the next item now starts the day
                        nxt = self._items[index]
                        if index == 0 or self.time_format.day_of(self._items[index - 1].timestamp) != \
                                self.time_format.day_of(nxt.timestamp):
                            new = DaySeparator(self.time_format.day(nxt.timestamp))
                            self._separators[nxt.event_id] = new
                            await self.mount(new, before=self._views[nxt.event_id])
                await view.remove()
                if self.selected == event_id:
                    self.selected = None
                self._regroup(index)

    def update_item(self, item: TimelineItem) -> None:
        """Re-render an item in place (its keys arrived, its sender's name changed, …)."""
        view = self._views.get(item.event_id)
        if view is None:
            return
        index = self._items.index(view.item)
        self._items[index] = item
        view.update_item(item)
        self._regroup(index)
        self._regroup(index + 1)
        if self.selected == item.event_id:
            self.post_message(self.Selected(item))

    def _regroup(self, index: int) -> None:
        if 0 <= index < len(self._items):
            view = self._views[self._items[index].event_id]
            if isinstance(view, MessageView):
                previous = self._items[index - 1] if index else None
                view.set_header(starts_group(previous, self._items[index], self.time_format))

    def _build(self, previous: TimelineItem | None, items: list[TimelineItem]) -> list[Widget]:
        widgets: list[Widget] = []
        for item in items:
            if previous is None or self.time_format.day_of(previous.timestamp) != self.time_format.day_of(
                item.timestamp
            ):
                separator = DaySeparator(self.time_format.day(item.timestamp))
                self._separators[item.event_id] = separator
                widgets.append(separator)
            view = make_view(item, self.time_format, show_header=starts_group(previous, item, self.time_format),
                             thread_marks=not self.thread)
            if isinstance(view, MessageView):
                view.readers = self._readers.get(item.event_id, ())
            self._views[item.event_id] = view
            widgets.append(view)
            previous = item
        return widgets

    async def _append(self, items: list[TimelineItem]) -> None:
        if not items:
            return
        previous = self._items[-1] if self._items else None
        widgets = self._build(previous, items)
        self._items.extend(items)
        await self.mount_all(widgets)

    async def _prepend(self, items: list[TimelineItem]) -> None:
        if not items:
            return
        old_first = self._items[0] if self._items else None
        widgets = self._build(None, items)
        self._items[:0] = items
        if old_first is not None:
            separator = self._separators.get(old_first.event_id)
            if separator is not None and self.time_format.day_of(items[-1].timestamp) == self.time_format.day_of(
                old_first.timestamp
            ):
                del self._separators[old_first.event_id]
                await separator.remove()
            self._regroup(len(items))
        old_y, old_max = self.scroll_y, self.max_scroll_y
        # At the bottom (or while everything fits) the anchor keeps the newest in view; scrolling
        # ourselves would release it and new messages would land out of sight.
        keep_place = 0 < old_max and old_y < old_max
        await self.mount_all(widgets, after=self._banner)
        if keep_place:
            # Keep what the reader was looking at in place while older messages appear above it.
            self.call_after_refresh(
                lambda: self.scroll_to(
                    y=old_y + (self.max_scroll_y - old_max), animate=False, immediate=True, release_anchor=False
                )
            )

    # -- the "older messages" banner and its trigger ----------------------------------------

    def watch_room_id(self) -> None:
        # A room opened after "No room open" (e.g. the first sync after logging in) must not
        # keep that placeholder above its messages.
        self._update_banner()

    def watch_at_start(self) -> None:
        self._update_banner()

    def watch_loading_older(self) -> None:
        self._update_banner()

    def _update_banner(self) -> None:
        if self.room_id is None:
            text = "No room open. Create one (see the footer), accept an invite, or type /join #room:server."
        elif self.loading_older:
            text = "Loading older messages…"
        elif self.at_start:
            text = "This is the beginning of the thread." if self.thread else "This is the beginning of the room."
        else:
            text = "↑ Scroll up for older messages"
        self._banner.update(Content.styled(text, "italic $foreground-muted"))

    def _on_scrolled(self, _old: float, new: float) -> None:
        if new <= 0:
            self._check_need_older()

    def _check_need_older(self) -> None:
        """Ask for older messages when the top is visible and the room has more."""
        if self.room_id is None or self.at_start or self.loading_older or not self.is_mounted:
            return
        if self.scroll_y <= 0 or self.max_scroll_y <= 0:
            self.loading_older = True
            self.post_message(self.OlderWanted(self.room_id))

    def older_loaded(self, at_start: bool) -> None:
        """The screen finished a back-pagination (with or without new items)."""
        self.at_start = at_start
        self.loading_older = False
        self.call_after_refresh(self._check_need_older)

    # -- selection ---------------------------------------------------------------------------

    def _index_of_selected(self) -> int | None:
        if self.selected is None:
            return None
        for index, item in enumerate(self._items):
            if item.event_id == self.selected:
                return index
        return None

    def watch_selected(self, old: str | None, new: str | None) -> None:
        self.refresh_bindings()
        if old and (view := self._views.get(old)):
            view.remove_class("-selected")
        item = None
        if new and (view := self._views.get(new)):
            view.add_class("-selected")
            self.scroll_to_widget(view, animate=False)
            item = view.item
        self.post_message(self.Selected(item))
        self.refresh_bindings()  # reply, edit, delete… depend on the selected message

    def action_cursor_up(self) -> None:
        index = self._index_of_selected()
        if index is None:
            self.action_cursor_last()
        elif index > 0:
            self.selected = self._items[index - 1].event_id
        else:
            self.scroll_home(animate=False)
            self._check_need_older()

    def action_cursor_down(self) -> None:
        index = self._index_of_selected()
        if index is None:
            self.action_cursor_last()
        elif index < len(self._items) - 1:
            self.selected = self._items[index + 1].event_id
        else:
            self.scroll_end(animate=False)

    def action_cursor_first(self) -> None:
        if self._items:
            self.selected = self._items[0].event_id
        self.scroll_home(animate=False)

    def action_cursor_last(self) -> None:
        """Select the newest message (membership and state lines after it are not what a reader
        looks for first), or the last item when there is no message."""
        if self._items:
            messages = [i for i in self._items if i.is_message or i.failed]
            self.selected = (messages or self._items)[-1].event_id
            self.scroll_end(animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "details":
            return bool(self._items)
        if action == "message":
            item = self._target()
            return item is not None and self.allows(str(parameters[0]) if parameters else "", item)
        if action == "file":
            index = self._index_of_selected()
            return index is not None and has_file(self._items[index])
        return True

    @staticmethod
    def allows(action: str, item: TimelineItem) -> bool:
        """Whether `action` makes sense on `item`."""
        if not item.is_message or item.redacted or item.failed or item.kind == "bad":
            return action == "delete" and item.own and not item.redacted and item.is_message
        if action == "edit":
            return item.editable
        if action == "delete":
            return item.own
        return action in ("reply", "react", "thread")

    def _target(self) -> TimelineItem | None:
        """The selected item; with nothing selected (e.g. from the command palette), the last
        message."""
        index = self._index_of_selected()
        if index is not None:
            return self._items[index]
        messages = [i for i in self._items if i.is_message and not i.redacted]
        return messages[-1] if messages else None

    def action_message(self, action: str) -> None:
        item = self._target()
        if item is not None and self.allows(action, item):
            self.post_message(self.MessageAction(action, item))

    def action_file(self, open: bool) -> None:
        index = self._index_of_selected()
        if index is not None and has_file(self._items[index]):
            self.post_message(self.FileWanted(self._items[index], open))

    def action_details(self) -> None:
        """Details of the selected item; with nothing selected (e.g. from the command palette),
        of the last message."""
        index = self._index_of_selected()
        if index is None:
            messages = [i for i in self._items if i.is_message or i.failed]
            if not messages and not self._items:
                return
            item = messages[-1] if messages else self._items[-1]
        else:
            item = self._items[index]
        self.post_message(self.DetailsWanted(item))

    def on_focus(self) -> None:
        self.add_class("-focused")
        if self.selected is None:
            self.action_cursor_last()
        else:
            index = self._index_of_selected()
            self.post_message(self.Selected(self._items[index] if index is not None else None))

    def on_blur(self) -> None:
        self.remove_class("-focused")
        self.post_message(self.Selected(None))

    def on_click(self, event: events.Click) -> None:
        widget: Widget | None = event.widget
        while widget is not None and widget is not self:
            if isinstance(widget, ItemView):
                self.selected = widget.item.event_id
                self.focus()
                return
            widget = widget.parent  # type: ignore[assignment]
