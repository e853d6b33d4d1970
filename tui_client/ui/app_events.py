"""The app's side of the engine's events: the `Bridge` messages, turned into state, toasts, the
bell, desktop notifications, the verification dialog, and calls on the main and thread screens.

`EngineEvents` is mixed into `TuiApp` (see app.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App
from textual.reactive import reactive

from ..config import Settings
from ..engine.models import Invite, RoomSummary, SyncState
from . import runtime
from .bridge import Bridge

if TYPE_CHECKING:
    from textual.worker import Worker

logger = logging.getLogger("tui_client.ui.app")  # its log lines keep the app's name


class EngineEvents(App[int]):
    """For `TuiApp` only: it sets up the state these methods use (see its `__init__`)."""

    rooms: reactive[tuple[RoomSummary, ...]]
    invites: reactive[tuple[Invite, ...]]
    sync_state: reactive[SyncState]
    trust: reactive[str]
    own_trust: reactive[object | None]
    backup: reactive[object | None]
    settings: Settings
    freeze_after_start: bool
    _main: Any
    _verification_dialogs: dict[str, Any]

    if TYPE_CHECKING:
        def refresh_trust(self) -> Worker[None]: ...

        def refresh_identities(self, announce: bool = False) -> Worker[None]: ...

        def show_engine_rooms(self, rooms: tuple[RoomSummary, ...]) -> None: ...

    # -- engine events -----------------------------------------------------------------------

    @on(Bridge.RoomsChanged)
    def _rooms_changed(self, message: Bridge.RoomsChanged) -> None:
        self.invites = message.invites
        self.show_engine_rooms(message.rooms)

    @on(Bridge.InviteReceived)
    def _invite_received(self, message: Bridge.InviteReceived) -> None:
        if self.sync_state.state != "syncing":
            return  # invites found by the first sync are in the list; no toast for each
        invite = message.invite
        self.notify(f"{invite.inviter_label} invited you to {invite.name}", title="Invite")

    @on(Bridge.OwnTrustChanged)
    def _own_trust_changed(self, message: Bridge.OwnTrustChanged) -> None:
        from .describe import trust_line

        self.own_trust = message.trust
        self.trust = trust_line(message.trust)

    @on(Bridge.BackupChanged)
    def _backup_changed(self, message: Bridge.BackupChanged) -> None:
        self.backup = message.status

    @on(Bridge.IdentityChanged)
    def _identity_changed(self, message: Bridge.IdentityChanged) -> None:
        # The engine's Notice (a toast) says it once; the room list and header keep saying it.
        self.refresh_identities()

    def _thread_screens(self) -> list[Any]:
        from .screens.thread import ThreadScreen

        return [s for s in self.screen_stack if isinstance(s, ThreadScreen)]

    @on(Bridge.VerificationChanged)
    def _verification_changed(self, message: Bridge.VerificationChanged) -> None:
        """Someone asks to verify: open the dialog. A flow with a dialog open: update it."""
        info = message.info
        dialog = self._verification_dialogs.get(info.flow_id)
        if dialog is not None:
            dialog.update_info(info)
            return
        if info.incoming and info.phase.value == "requested" and self._main is not None:
            self.open_verification(info)

    def open_verification(self, info: Any = None, *, ask: str | None = None) -> None:
        """The verification dialog: following `info`, or asking `ask` (a user id) to verify."""
        from .screens.verification import VerificationScreen

        dialog = VerificationScreen(info, ask=ask)
        if info is not None:
            self.verification_dialog_opened(dialog)

        def closed(_: object) -> None:
            if dialog.flow_id is not None and self._verification_dialogs.get(dialog.flow_id) is dialog:
                del self._verification_dialogs[dialog.flow_id]

        self.push_screen(dialog, closed)

    def verification_dialog_opened(self, dialog: Any) -> None:
        """A verification dialog now follows its flow (it knows the flow id once asked)."""
        if dialog.flow_id is not None:
            self._verification_dialogs[dialog.flow_id] = dialog

    @on(Bridge.Notification)
    def _notification(self, message: Bridge.Notification) -> None:
        """A new message the push rules say to notify about: ring the bell and send a desktop
        notification (as configured) unless the user is looking at that room."""
        from .alerts import desktop_args, desktop_command, wanted

        event = message.event
        main = self._main
        screen = self.screen
        shown = (
            getattr(main, "current_room", None) if main is not None and screen is main
            else getattr(screen, "room_id", None) if screen in self._thread_screens()
            else None
        )
        looking = shown == event.room_id and self.app_focus
        if looking:
            return
        settings = self.settings
        if wanted(settings.notify_bell, highlight=event.highlight, direct=event.direct):
            self.bell()
        if wanted(settings.notify_desktop, highlight=event.highlight, direct=event.direct):
            tool = desktop_command()
            if tool is not None:
                item = event.item
                title = item.sender_name if event.direct else f"{item.sender_name} in {event.room_name}"
                self.notify_desktop(desktop_args(tool, title, item.body or "(a message you cannot read yet)"))

    @work(thread=True, group="desktop", name="Desktop notification", exit_on_error=False)
    def notify_desktop(self, args: list[str]) -> None:
        from .alerts import send_desktop

        send_desktop(args)

    @on(Bridge.TransferProgress)
    def _transfer_progress(self, message: Bridge.TransferProgress) -> None:
        if self._main is not None:
            self._main.transfer_progress(message.event)

    @on(Bridge.TypingChanged)
    def _typing_changed(self, message: Bridge.TypingChanged) -> None:
        if self._main is not None:
            self._main.typing_changed(message.room_id, message.names)

    @on(Bridge.ReceiptsChanged)
    def _receipts_changed(self, message: Bridge.ReceiptsChanged) -> None:
        if self._main is not None:
            self._main.receipts_changed(message.room_id, dict(message.receipts))

    @on(Bridge.TimelineItemsAdded)
    async def _items_added(self, message: Bridge.TimelineItemsAdded) -> None:
        if self._main is not None:
            await self._main.timeline_items_added(message.room_id, message.items, message.at_start)
        for thread in self._thread_screens():
            await thread.items_added(message.room_id, message.items)

    @on(Bridge.TimelineItemUpdated)
    def _item_updated(self, message: Bridge.TimelineItemUpdated) -> None:
        if self._main is not None:
            self._main.timeline_item_updated(message.room_id, message.item)
        for thread in self._thread_screens():
            thread.item_updated(message.room_id, message.item)

    @on(Bridge.TimelineItemsRemoved)
    async def _items_removed(self, message: Bridge.TimelineItemsRemoved) -> None:
        if self._main is not None:
            await self._main.timeline_items_removed(message.room_id, message.event_ids)
        for thread in self._thread_screens():
            await thread.items_removed(message.room_id, message.event_ids)

    @on(Bridge.TimelineReset)
    def _timeline_reset(self, message: Bridge.TimelineReset) -> None:
        if self._main is not None:
            self._main.timeline_reset(message.room_id)

    @on(Bridge.SyncStateChanged)
    def _sync_state_changed(self, message: Bridge.SyncStateChanged) -> None:
        previous, self.sync_state = self.sync_state, message.state
        if message.state.state == "syncing" and previous.state != "syncing":
            self.rooms_known = True  # (a first sync that found no rooms: now the list says so)
            self.refresh_trust()
            if self.freeze_after_start:  # the first sync's state is in: see ui/runtime.py
                self.call_after_refresh(runtime.freeze_first_sync)
        if message.state.state == "logged_out" and previous.state != "logged_out":
            self.session_ended(message.state.detail or "the server ended this session")
        if self._main is not None:
            self._main.refresh_bindings()

    @on(Bridge.EngineError)
    def _engine_error(self, message: Bridge.EngineError) -> None:
        from ..engine.errors_text import explain

        logger.warning("engine error: %s", message.message)
        self.notify(explain(message.message), title="Error", severity="error", timeout=10)

    @on(Bridge.Notice)
    def _notice(self, message: Bridge.Notice) -> None:
        severity = message.level if message.level in ("information", "warning", "error") else "information"
        self.notify(message.message, severity=severity)  # type: ignore[arg-type]
        self.refresh_trust()

    def session_ended(self, reason: str) -> None:
        from .screens.login import LoginScreen

        self.notify(reason, title="Logged out", severity="error", timeout=15)
        self.push_screen(LoginScreen(message=reason))
