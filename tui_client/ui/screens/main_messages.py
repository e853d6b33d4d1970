"""The main screen's message side: what the user does to messages and files in the open room.

`MainMessages` is mixed into `MainScreen` (see main.py), on top of `MessageActions` (reply, edit,
react, delete, a message's file): the timeline's message actions and selection, threads, the
composer's context line, what a submitted composer line means (text or a /command), and files
(send, cancel the upload, save, open, preview).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker

from ...engine.models import RoomSummary, TimelineItem
from .. import slash_commands
from ..widgets.composer import Composer
from ..widgets.message import MessageView
from ..widgets.timeline import Timeline
from .message_actions import MessageActions

if TYPE_CHECKING:
    from ..app import TuiApp


class MainMessages(MessageActions, Screen[Any]):
    """For `MainScreen` only: it sets up the state these methods use (see its `__init__`)."""

    current_room: reactive[str | None]
    _uploads: dict[str, str]

    if TYPE_CHECKING:
        @property
        def tui(self) -> TuiApp: ...

        def room(self, room_id: str | None) -> RoomSummary | None: ...

        def _show_transfer(self, text: str | None) -> None: ...

        def join_room(self, target: str) -> Worker[None]: ...

        def open_dm(self, user_id: str) -> Worker[None]: ...

        def invite_user(self, room: RoomSummary, user_id: str) -> Worker[None]: ...

        def _confirm_leave(self, room: RoomSummary) -> None: ...

        def set_visibility(self, room_id: str, visibility: str) -> Worker[None]: ...

    # -- replying, editing, reacting, deleting, threads ---------------------------------------

    def _actions_room(self) -> str | None:
        return self.current_room

    @on(Timeline.MessageAction)
    def _message_action(self, message: Timeline.MessageAction) -> None:
        self.message_action(message.action, message.item)

    def open_thread(self, item: TimelineItem) -> None:
        from .thread import ThreadScreen

        room = self.room(item.room_id)
        root = item
        if item.thread_root is not None:
            root = next((i for i in self.query_one(Timeline).items if i.event_id == item.thread_root), item)
            if root.event_id != item.thread_root:  # the root is not loaded: the thread screen loads it
                root = replace(item, event_id=item.thread_root, body=None, thread_root=None, reply=None)
        self.app.push_screen(ThreadScreen(item.room_id, room.name if room else item.room_id, root))

    @on(Composer.Submitted)
    def _submitted(self, message: Composer.Submitted) -> None:
        composer = self.query_one(Composer)
        try:
            action = slash_commands.parse(message.text)
        except slash_commands.CommandError as exc:
            self.notify(str(exc), title="Command", severity="error")
            composer.restore(message.text, message.context)
            return
        if isinstance(action, slash_commands.CommandHelp):
            self.app.action_help()
            return
        if isinstance(action, slash_commands.JoinRoom):
            self.join_room(action.room)
            return
        if isinstance(action, slash_commands.DirectChat):
            self.open_dm(action.user_id)
            return
        if isinstance(action, slash_commands.SendFile):
            if self.current_room is None:
                self.notify("Open a room first.", severity="warning")
                composer.restore(message.text)
                return
            self.send_file(self.current_room, action.path)
            return
        room = self.room(self.current_room)
        if room is None:
            self.notify("Open a room first (or /join one).", severity="warning")
            composer.restore(message.text)
            return
        if isinstance(action, slash_commands.SendText):
            self.send_with_context(room.room_id, action.text, action.emote, message.context)
        elif isinstance(action, slash_commands.InviteUser):
            self.invite_user(room, action.user_id)
        elif isinstance(action, slash_commands.LeaveRoom):
            self._confirm_leave(room)
        elif isinstance(action, slash_commands.SetVisibility):
            self.set_visibility(room.room_id, action.visibility)

    # -- files -----------------------------------------------------------------------------------

    @work(group="upload", name="Sending the file", exit_on_error=False)
    async def send_file(self, room_id: str, path_text: str) -> None:
        path = Path(path_text).expanduser()
        transfer_id = f"upload-{len(self._uploads)}-{time.monotonic_ns()}"
        self._uploads[transfer_id] = path.name
        self._show_transfer(f"Sending {path.name}…")
        try:
            await self.tui.bridge.call(lambda e: e.send_file(room_id, path, transfer_id=transfer_id))
        finally:
            self._uploads.pop(transfer_id, None)
            self._show_transfer(None)
            self.refresh_bindings()

    def action_cancel_upload(self) -> None:
        transfers = list(self._uploads)

        def cancel(engine: Any) -> None:
            for transfer_id in transfers:
                engine.cancel_transfer(transfer_id)

        self.run_worker(self.tui.bridge.read(cancel), name="Cancelling the upload", exit_on_error=False)
        self.notify("Upload cancelled.")

    def ask_send_file(self) -> None:
        from .send_file import SendFileScreen

        def chosen(path: str | None) -> None:
            if path and self.current_room:
                self.send_file(self.current_room, path)

        if self.current_room is None:
            self.notify("Open a room first.", severity="warning")
            return
        self.app.push_screen(SendFileScreen(), chosen)

    @on(Timeline.FileWanted)
    def _file_wanted(self, message: Timeline.FileWanted) -> None:
        self.save_file(message.item.room_id, message.item.event_id, message.open)

    @on(MessageView.PreviewWanted)
    def _preview_wanted(self, message: MessageView.PreviewWanted) -> None:
        if self.tui.settings.image_previews:
            self.load_preview(message.view, message.timeline)
