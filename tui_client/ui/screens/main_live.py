"""The main screen's live side: what the engine says about the open room as it happens.

`MainLive` is mixed into `MainScreen` (see main.py): it loads the open room's timeline (holding
the engine's events that arrive meanwhile, replayed after), applies items added, updated and
removed, typing and receipts as the app forwards them, tells the room when we are typing, marks
the room read, and shows an upload's progress.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.content import Content
from textual.reactive import var
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static, TextArea

from ...engine.api import EngineAPI
from ...engine.models import RoomSummary, TimelineItem
from ..describe import typing_line
from ..formatting import clean
from ..widgets.timeline import Timeline

if TYPE_CHECKING:
    from ..app import TuiApp

# Older messages asked for at once. The timeline keeps them as data and mounts only what comes
# into view, so a page costs the UI the same whatever its size (~0.3 s of slides and layouts
# when it lands at the top), while each round trip to the server costs the reader a wait: fewer,
# larger pages go back through history faster (500 messages: 2.0 s in pages of 100, 0.8 s in
# pages of 250; the engine decrypts and folds 250 events in ~0.15 s).
OLDER_PAGE = 250


class MainLive(Screen[Any]):
    """For `MainScreen` only: it sets up the state these methods use (see its `__init__`)."""

    current_room: var[str | None]
    _loading_room: str | None
    _held: list[tuple[Any, bool]]
    _typing_room: str | None
    _typing_at: float
    _typing_idle: Timer | None
    _uploads: dict[str, str]
    _held_typing: tuple[str, ...] | None
    _held_readers: dict[str, tuple[str, ...]] | None

    if TYPE_CHECKING:
        @property
        def tui(self) -> TuiApp: ...

        def room(self, room_id: str | None) -> RoomSummary | None: ...

        def _key(self, binding_id: str) -> str: ...

    # -- the timeline ------------------------------------------------------------------------

    @work(exclusive=True, group="timeline", name="Loading the timeline", exit_on_error=False)
    async def load_timeline(self, room_id: str) -> None:
        # Engine events for this room that arrive while we read its snapshot and build the
        # views would find no view to update: hold them and replay them afterwards, in order.
        # (Each carries the item as it was when emitted, so replaying them in order ends on the
        # newest state whether or not the snapshot already had it.)
        self._loading_room, self._held = room_id, []
        # Typing and receipts that change while we read the room's state: the newest wins over
        # what the read returned (it may be older than they are).
        self._held_typing, self._held_readers = None, None
        try:
            def opened(engine: EngineAPI) -> tuple[Any, ...]:
                engine.room_opened(room_id)  # its keys come from the key backup first, in the background
                return (engine.timeline(room_id), engine.timeline_at_start(room_id), engine.read_marker(room_id),
                        engine.receipts(room_id), engine.typing(room_id))

            items, at_start, marker, readers, typing = await self.tui.bridge.read(opened)
            if room_id != self.current_room:
                return
            timeline = self.query_one(Timeline)
            await timeline.show(room_id, items, at_start, read_marker=marker, readers=readers)
        finally:
            held, self._held = self._held, []
            held_typing, held_readers = self._held_typing, self._held_readers
            self._held_typing = self._held_readers = None
            if self._loading_room == room_id:
                self._loading_room = None
        self._set_typing(held_typing if held_typing is not None else typing)
        if held_readers is not None:
            timeline.set_readers(held_readers)
        for item_or_items, at_start_flag in held:
            if isinstance(item_or_items, tuple):
                await timeline.add_items(item_or_items, at_start=at_start_flag)
            else:
                timeline.update_item(item_or_items)
        self.mark_read(room_id)

    async def timeline_items_added(self, room_id: str, items: tuple[TimelineItem, ...], at_start: bool) -> None:
        if room_id == self._loading_room:
            self._held.append((items, at_start))
            return
        timeline = self.query_one(Timeline)
        if room_id == self.current_room and timeline.room_id == room_id:
            await timeline.add_items(items, at_start=at_start)
            if not at_start:
                self.mark_read(room_id)

    def timeline_item_updated(self, room_id: str, item: TimelineItem) -> None:
        if room_id == self._loading_room:
            self._held.append((item, False))
            return
        if room_id == self.current_room:
            self.query_one(Timeline).update_item(item)

    async def timeline_items_removed(self, room_id: str, event_ids: tuple[str, ...]) -> None:
        if room_id == self._loading_room:
            self.load_timeline(room_id)  # (rare) read the room again once it is loaded
            return
        timeline = self.query_one(Timeline)
        if room_id == self.current_room and timeline.room_id == room_id:
            await timeline.remove_items(event_ids)

    def typing_changed(self, room_id: str, names: tuple[str, ...]) -> None:
        if room_id == self._loading_room:
            self._held_typing = names
        elif room_id == self.current_room:
            self._set_typing(names)

    def receipts_changed(self, room_id: str, readers: dict[str, tuple[str, ...]]) -> None:
        if room_id == self._loading_room:
            self._held_readers = readers
            return
        timeline = self.query_one(Timeline)
        if room_id == self.current_room and timeline.room_id == room_id:
            timeline.set_readers(readers)

    def _set_typing(self, names: tuple[str, ...]) -> None:
        line = self.query_one("#typing", Static)
        line.update(Content(clean(typing_line(names))))
        line.display = bool(names)

    def timeline_reset(self, room_id: str) -> None:
        if room_id == self.current_room:
            self.load_timeline(room_id)

    @on(Timeline.OlderWanted)
    def _older_wanted(self, message: Timeline.OlderWanted) -> None:
        self.load_older(message.room_id)

    @work(exclusive=True, group="older", name="Loading older messages", exit_on_error=False)
    async def load_older(self, room_id: str) -> None:
        timeline = self.query_one(Timeline)
        try:
            added = await self.tui.bridge.call(lambda e: e.paginate_back(room_id, OLDER_PAGE))
            at_start = await self.tui.bridge.read(lambda e: e.timeline_at_start(room_id))
        except Exception:
            if timeline.room_id == room_id:
                timeline.loading_older = False
            raise
        if timeline.room_id == room_id:
            await timeline.add_items(added, at_start=True)
            timeline.older_loaded(at_start)

    @on(Timeline.DetailsWanted)
    def _details_wanted(self, message: Timeline.DetailsWanted) -> None:
        from .event_details import EventDetailsScreen

        room = self.room(message.item.room_id)
        self.app.push_screen(EventDetailsScreen(message.item, room.name if room else message.item.room_id))

    @work(exclusive=True, group="mark_read", name="Marking as read", exit_on_error=False)
    async def mark_read(self, room_id: str) -> None:
        await asyncio.sleep(0.5)  # one read marker per burst of messages
        await self.tui.bridge.call(lambda e: e.mark_read(room_id))

    # -- the composer ------------------------------------------------------------------------

    @on(TextArea.Changed, "#composer")
    def _composer_changed(self, event: TextArea.Changed) -> None:
        """Tell the room we are typing (at most every 20 s while we do), and that we stopped
        when the text is gone, sent, or left alone for 5 s."""
        room_id = self.current_room
        text = event.text_area.text
        active = bool(room_id) and bool(text.strip()) and not text.startswith("/")
        if self._typing_idle is not None:
            self._typing_idle.stop()
            self._typing_idle = None
        if active:
            now = time.monotonic()
            if self._typing_room != room_id or now - self._typing_at > 20:
                self._send_typing(room_id, True)
                self._typing_at = now
            self._typing_idle = self.set_timer(5, self._stop_typing)
        else:
            self._stop_typing()

    def _stop_typing(self) -> None:
        if self._typing_room is not None:
            self._send_typing(self._typing_room, False)

    def _send_typing(self, room_id: str | None, typing: bool) -> None:
        if room_id is None or not self.tui.settings.send_typing:
            return
        if typing and self._typing_room not in (None, room_id):
            self._send_typing(self._typing_room, False)
        self._typing_room = room_id if typing else None
        if not typing:
            self._typing_at = 0.0
        self.run_worker(self.tui.bridge.call(lambda e: e.set_typing(room_id, typing)),
                        group="typing", name="Typing notice", exit_on_error=False)

    def transfer_progress(self, event: Any) -> None:
        if event.upload and event.transfer_id in self._uploads:
            percent = f"{100 * event.done // event.total}%" if event.total else f"{event.done:,} bytes"
            self._show_transfer(f"Sending {event.name}… {percent} ({self._key('cancel_upload')} cancels)")
            self.refresh_bindings()

    def _show_transfer(self, text: str | None) -> None:
        line = self.query_one("#transfer", Static)
        line.update(Content.styled(clean(text or ""), "$text-accent"))
        line.display = bool(text)
