"""The timeline of one room: day separators, grouped messages, a selection cursor, and a request
for older messages when the top is reached.

The timeline only shows what it is given (`show`, `add_items`, `update_item`); it asks for more by
posting `Timeline.OlderWanted`, and tells the screen which item is selected with
`Timeline.Selected` so a detail line can show the provenance sentence or the failure reason.
Nothing here awaits: items are drawn line by line (timeline_window.py), not mounted.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.reactive import var
from ...engine.models import TimelineItem
from .image_preview import has_file
from .message import MessageView
from .timeline_lines import Block
from .timeline_window import OPEN_ITEMS, TimelineWindow


class Timeline(TimelineWindow, can_focus=True):
    """Items of the open room, oldest first (a window of them mounted: see timeline_window.py)."""

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

    room_id: var[str | None] = var(None, init=False)
    at_start: var[bool] = var(False, init=False)
    loading_older: var[bool] = var(False, init=False)
    selected: var[str | None] = var(None, init=False)
    read_marker: str | None = None  # "new messages" start after this event

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

    def on_mount(self) -> None:
        self.watch(self, "scroll_y", self._on_scrolled, init=False)
        self.anchor()
        self._update_banner()

    def on_resize(self) -> None:
        self._check_window()

    # -- what is shown -----------------------------------------------------------------------

    async def show(
        self, room_id: str | None, items: Iterable[TimelineItem], at_start: bool, *,
        read_marker: str | None = None, readers: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        """Replace everything with the items of `room_id` (the newest rendered); a "new messages"
        line follows `read_marker` when newer messages come after it; `readers`: read receipts
        by event."""
        self._items = list(items)
        self._where = None
        self._readers = dict(readers or {})
        if room_id != self.room_id:  # (asked again when the room is opened again)
            self._previews, self._asked = {}, set()
            if self._painter is not None:
                self._painter.forget_previews()
        self.set_reactive(Timeline.selected, None)
        self.room_id = room_id
        self.at_start = at_start
        self.loading_older = False
        self.read_marker = read_marker
        ids = [i.event_id for i in self._items]
        self._marker_at = read_marker if read_marker in ids[:-1] else None
        self._update_banner()
        self._render_window(max(0, len(ids) - OPEN_ITEMS), len(ids))
        self.anchor()
        self._check_window()
        self.call_after_refresh(self._check_need_older)

    @property
    def has_new_messages_line(self) -> bool:
        return self._marker_at is not None

    def set_readers(self, readers: dict[str, tuple[str, ...]]) -> None:
        """Move the "seen by" lines to where each member's read receipt now is."""
        old, self._readers = self._readers, dict(readers)
        for event_id in set(old) | set(readers):
            view = self._views.get(event_id)
            if isinstance(view, MessageView) and view.readers != self._readers.get(event_id, ()):
                view.set_readers(self._readers.get(event_id, ()))
                index = self.index_of(event_id)
                if index is not None:
                    self._rerender_item(index)

    def readers_of(self, event_id: str) -> tuple[str, ...]:
        return self._readers.get(event_id, ())

    def show_preview(self, event_id: str, image: object) -> None:
        """Draw an image under its message's text (it arrived after the message was drawn)."""
        self._previews[event_id] = image
        index = self.index_of(event_id)
        if index is not None:
            self._rerender_item(index)

    def has_preview(self, event_id: str) -> bool:
        """Whether an image preview is drawn under the message."""
        view = self._views.get(event_id)
        return event_id in self._previews and isinstance(view, MessageView) and view.previewable

    def _render_block(self, index: int) -> Block:
        block = super()._render_block(index)
        item = self._items[index]
        if item.event_id not in self._asked and isinstance(view := self._views.get(item.event_id), MessageView) \
                and view.previewable:
            self._asked.add(item.event_id)
            self.post_message(MessageView.PreviewWanted(view, self))
        return block

    async def add_items(self, items: Iterable[TimelineItem], *, at_start: bool = False) -> None:
        """New items at the end (live) or at the start (back-pagination); duplicates are ignored.
        They are data first: rendered only where the window reaches (see timeline_window.py)."""
        items = list(items)
        if not items:
            return
        known = {i.event_id for i in self._items}
        items = [i for i in items if i.event_id not in known]
        if not items:
            return
        if at_start:
            self._add_older(items)
        else:
            self._add_newer(items)
        self._hold_anchor()
        self._update_banner()
        self._check_window()
        self.call_after_refresh(self._check_need_older)

    def _add_older(self, items: list[TimelineItem]) -> None:
        was_top = self._lo == 0
        self._items[:0] = items
        self._where = None
        self._lo += len(items)
        self._hi += len(items)
        if self._lo == self._hi:  # nothing was rendered
            self._render_window(max(0, len(self._items) - OPEN_ITEMS), len(self._items))
            self._place(keep=False)
        elif was_top:  # the first rendered item has a previous item now (its day line, header)
            self._rerender_item(self._lo)

    def _add_newer(self, items: list[TimelineItem]) -> None:
        reaches_end = self._hi == len(self._items)
        if self._where is not None:
            for index, item in enumerate(items, len(self._items)):
                self._where.setdefault(item.event_id, index)
        self._items.extend(items)
        if reaches_end and (self._following or self._hi - self._lo < OPEN_ITEMS or self._near_bottom()):
            self._grow_down(len(self._items))

    async def remove_items(self, event_ids: Iterable[str]) -> None:
        """Take items away (an undecryptable event turned out to be an edit of another)."""
        for event_id in event_ids:
            index = self.index_of(event_id)
            if index is None:
                continue
            removed = self._remove_at(index)
            if event_id == self._marker_at:
                self._marker_at = None
            self._place(keep=True, shift=-removed)
            if self.selected == event_id:
                self.selected = None
            if index < len(self._items):  # the next item follows another one now
                self._rerender_item(index)
            self.refresh()

    def update_item(self, item: TimelineItem) -> None:
        """Draw an item again (its keys arrived, its sender's name changed, …); an item that is
        not rendered changes as data, drawn so when it is rendered."""
        index = self.index_of(item.event_id)
        if index is None:
            return
        self._items[index] = item
        view = self._views.get(item.event_id)
        if view is not None:
            view.update_item(item)
        self._rerender_item(index)
        if index + 1 < len(self._items):
            self._rerender_item(index + 1)
        if self.selected == item.event_id:
            self.post_message(self.Selected(item))
            self.refresh_bindings()  # e.g. its keys came: it can be replied to

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
        elif self.at_start and self._lo == 0:
            text = "This is the beginning of the thread." if self.thread else "This is the beginning of the room."
        else:
            text = "↑ Scroll up for older messages"
        self.set_banner(Content.styled(text, "italic $foreground-muted"))

    def _on_scrolled(self, _old: float, new: float) -> None:
        if new <= 0:
            self._check_need_older()
        self._check_window()
        if self._hi == len(self._items) and not self.is_anchored and new >= self.max_scroll_y:
            self.anchor()  # back at the newest: follow new messages again

    def _window_moved(self) -> None:
        self._update_banner()
        self.call_after_refresh(self._check_need_older)

    def _check_need_older(self) -> None:
        """Ask for older messages when the top of the first loaded item is visible and the room
        has more."""
        if self.room_id is None or self.at_start or self.loading_older or not self.is_mounted or self._lo > 0:
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
        return self.index_of(self.selected)

    def _is_selected(self, event_id: str) -> bool:
        return event_id == self.selected and self.has_class("-focused")

    def watch_selected(self, old: str | None, new: str | None) -> None:
        if old and (view := self._views.get(old)):
            view.remove_class("-selected")
        if new and (view := self._views.get(new)):
            view.add_class("-selected")
        for event_id in (old, new):
            if event_id is not None and (index := self.index_of(event_id)) is not None:
                self._rerender_item(index)
        index = self.index_of(new)
        if index is not None:
            self._scroll_to_item(index)
        self.post_message(self.Selected(self._items[index] if index is not None else None))
        self.refresh_bindings()  # reply, edit, delete… depend on the selected message (the footer
        # redraws only when what it shows changes: widgets/footer.py)

    async def _select(self, index: int) -> None:
        """Select the item at `index`, sliding the window to it first when it is not rendered."""
        up = index < self._lo
        if self._bring_into_window(index):
            self._land(index, up)
        self._window_moved()
        self.selected = self._items[index].event_id
        self._check_window()

    async def action_cursor_up(self) -> None:
        index = self._index_of_selected()
        if index is None:
            await self.action_cursor_last()
        elif index > 0:
            await self._select(index - 1)
        else:
            self.scroll_home(animate=False)
            self._check_need_older()

    async def action_cursor_down(self) -> None:
        index = self._index_of_selected()
        if index is None:
            await self.action_cursor_last()
        elif index < len(self._items) - 1:
            await self._select(index + 1)
        else:
            self.scroll_end(animate=False)

    async def action_cursor_first(self) -> None:
        if self._items:
            await self._select(0)
        self.call_after_refresh(self._to_top)

    def _to_top(self) -> None:
        """At the very top: older history is wanted even if the view was there already."""
        self.scroll_home(animate=False, immediate=True)
        self._check_need_older()

    async def action_cursor_last(self) -> None:
        """Select the newest message (membership and state lines after it are not what a reader
        looks for first), or the last item when there is no message."""
        if self._items:
            last = len(self._items) - 1
            await self._select(next((i for i in range(last, -1, -1) if self._items[i].is_message
                                     or self._items[i].failed), last))
            if self._hi < len(self._items):  # the state lines after it
                if self._bring_into_window(len(self._items) - 1):
                    self._land(len(self._items) - 1, False)
            self.anchor()  # the end, following new messages again

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

    async def on_focus(self) -> None:
        self.add_class("-focused")
        if self.selected is not None and (index := self._index_of_selected()) is not None:
            self._rerender_item(index)
        if self.selected is None:
            await self.action_cursor_last()
        else:
            index = self._index_of_selected()
            self.post_message(self.Selected(self._items[index] if index is not None else None))

    def on_blur(self) -> None:
        self.remove_class("-focused")
        if self.selected is not None and (index := self._index_of_selected()) is not None:
            self._rerender_item(index)
        self.post_message(self.Selected(None))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        item = self.item_at_line(round(self.scroll_y) + offset.y - self._pad)
        if item is not None:
            self.selected = item.event_id
            self.focus()
