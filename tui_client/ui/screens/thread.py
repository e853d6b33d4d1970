"""A thread: its root and every reply (loaded from the server), kept up to date, with a composer
that writes in the thread. Replying to, editing, reacting to and deleting messages, and saving,
opening and previewing files, work as in the room (`MessageActions`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...engine.models import TimelineItem
from .. import slash_commands
from ..formatting import clean
from ..widgets.composer import Composer
from ..widgets.line import Line
from ..widgets.message import MessageView
from ..widgets.timeline import Timeline
from ..workers import ReportsWorkerErrors
from .message_actions import MessageActions

if TYPE_CHECKING:
    from ..app import TuiApp


class ThreadScreen(ReportsWorkerErrors, MessageActions, Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back to the room", id="close_thread"),
        Binding("f3", "focus_timeline", "Messages", id="thread_focus_timeline", show=False),
    ]

    def __init__(self, room_id: str, room_name: str, root: TimelineItem) -> None:
        super().__init__()
        self.room_id = room_id
        self.room_name = room_name
        self.root = root
        self._send_lock = asyncio.Lock()

    @property
    def tui(self) -> TuiApp:
        return cast("TuiApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="thread-pane"):
            yield Line(id="room-header", markup=False)
            yield Timeline(self.tui.time_format, id="thread-timeline", thread=True)
            yield Line(id="detail", markup=False)
            yield Line(id="composer-context", markup=False)
            yield Composer(id="thread-composer")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        snippet = (self.root.body or "").strip().split("\n")[0][:60]
        self.query_one("#room-header", Static).update(Content.assemble(
            ("🧵 Thread", "bold"), ("  ·  ", "$foreground-muted"), clean(self.room_name),
            ("  ·  ", "$foreground-muted"), (clean(snippet), "$foreground-muted"),
        ))
        self.query_one("#detail").display = False
        self.query_one("#composer-context").display = False
        self.query_one(Composer).focus()
        self.load()

    @work(exclusive=True, group="thread", name="Loading the thread", exit_on_error=False)
    async def load(self) -> None:
        room_id, root = self.room_id, self.root.event_id
        timeline = self.query_one(Timeline)
        items = await self.tui.bridge.read(lambda e: e.thread(room_id, root))
        await timeline.show(room_id, items or [self.root], True)
        loaded = await self.tui.bridge.call(lambda e: e.load_thread(room_id, root))
        await timeline.show(room_id, loaded or [self.root], True)

    # -- what the engine says ----------------------------------------------------------------

    def _ours(self, room_id: str, item: TimelineItem) -> bool:
        return room_id == self.room_id and (item.event_id == self.root.event_id or item.thread_root == self.root.event_id)

    async def items_added(self, room_id: str, items: Iterable[TimelineItem]) -> None:
        mine = [i for i in items if self._ours(room_id, i)]
        if mine:
            await self.query_one(Timeline).add_items(mine)

    def item_updated(self, room_id: str, item: TimelineItem) -> None:
        if room_id == self.room_id:
            self.query_one(Timeline).update_item(item)

    async def items_removed(self, room_id: str, event_ids: Iterable[str]) -> None:
        if room_id == self.room_id:
            await self.query_one(Timeline).remove_items(event_ids)

    # -- what the user does --------------------------------------------------------------------

    def _actions_room(self) -> str | None:
        return self.room_id

    def open_thread(self, item: TimelineItem) -> None:
        return None  # already here

    @on(Timeline.MessageAction)
    def _message_action(self, message: Timeline.MessageAction) -> None:
        self.message_action(message.action, message.item)

    @on(Timeline.FileWanted)
    def _file_wanted(self, message: Timeline.FileWanted) -> None:
        self.save_file(message.item.room_id, message.item.event_id, message.open)

    @on(MessageView.PreviewWanted)
    def _preview_wanted(self, message: MessageView.PreviewWanted) -> None:
        if self.tui.settings.image_previews:
            self.load_preview(message.view, message.timeline)

    @on(Composer.Submitted)
    def _submitted(self, message: Composer.Submitted) -> None:
        try:
            action = slash_commands.parse(message.text)
        except slash_commands.CommandError as exc:
            self.notify(str(exc), title="Command", severity="error")
            self.query_one(Composer).restore(message.text, message.context)
            return
        if not isinstance(action, slash_commands.SendText):
            self.notify("In a thread you can write messages and /me; other commands work in the room.",
                        severity="warning")
            self.query_one(Composer).restore(message.text, message.context)
            return
        self.send_with_context(self.room_id, action.text, action.emote, message.context,
                               in_thread_of=self.root.event_id)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_focus_timeline(self) -> None:
        self.query_one(Timeline).focus()
