"""The bridge between the engine thread and the Textual app.

Two directions, one object:

- **Events out.** The engine calls our listener on *its* thread. The listener turns each
  `EngineEvent` into the matching `Bridge.*` Textual message and hands it to the app with
  `post_message`, which is thread-safe. The app routes them (`on_bridge_rooms_changed`, …).
- **Commands in.** `await bridge.call(lambda e: e.send_text(...))` schedules a coroutine on the
  engine loop through the backend and awaits its `concurrent.futures.Future` with
  `asyncio.wrap_future`, so the UI thread never blocks. `bridge.read(lambda e: e.rooms())` does the
  same for a quick synchronous read of engine state, run on the engine thread (the engine is not
  thread-safe, so even reads go there).

The backend is anything with the `Backend` surface: the real `EngineHost`, or in tests an
`EngineHost` wrapped around a fake engine with canned data.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from textual.message import Message
from textual.message_pump import MessagePump

from ..engine import events as ev
from ..engine.api import EngineAPI
from ..engine.models import BackupStatus, Invite, OwnTrust, RoomSummary, SyncState, TimelineItem, VerificationInfo

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Backend(Protocol):
    """What the UI needs from an engine host (see `tui_client.engine.host.EngineHost`)."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...

    def run(self, func: Callable[[EngineAPI], Awaitable[T]]) -> concurrent.futures.Future[T]: ...


class Bridge:
    """Forwards engine events as Textual messages and runs commands on the engine loop."""

    class RoomsChanged(Message):
        def __init__(self, rooms: tuple[RoomSummary, ...], invites: tuple[Invite, ...]) -> None:
            super().__init__()
            self.rooms = rooms
            self.invites = invites

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Bridge.RoomsChanged)  # only the newest list matters

    class InviteReceived(Message):
        def __init__(self, invite: Invite) -> None:
            super().__init__()
            self.invite = invite

    class TimelineReset(Message):
        def __init__(self, room_id: str) -> None:
            super().__init__()
            self.room_id = room_id

    class TimelineItemsAdded(Message):
        def __init__(self, room_id: str, items: tuple[TimelineItem, ...], at_start: bool) -> None:
            super().__init__()
            self.room_id = room_id
            self.items = items
            self.at_start = at_start

    class TimelineItemUpdated(Message):
        def __init__(self, room_id: str, item: TimelineItem) -> None:
            super().__init__()
            self.room_id = room_id
            self.item = item

        def can_replace(self, message: Message) -> bool:
            # A burst of keys arriving re-decrypts the same event at most once per repaint.
            return (
                isinstance(message, Bridge.TimelineItemUpdated)
                and message.item.event_id == self.item.event_id
            )

    class TimelineItemsRemoved(Message):
        def __init__(self, room_id: str, event_ids: tuple[str, ...]) -> None:
            super().__init__()
            self.room_id = room_id
            self.event_ids = event_ids

    class TypingChanged(Message):
        def __init__(self, room_id: str, names: tuple[str, ...]) -> None:
            super().__init__()
            self.room_id = room_id
            self.names = names

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Bridge.TypingChanged) and message.room_id == self.room_id

    class ReceiptsChanged(Message):
        def __init__(self, room_id: str, receipts: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
            super().__init__()
            self.room_id = room_id
            self.receipts = receipts

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Bridge.ReceiptsChanged) and message.room_id == self.room_id

    class Notification(Message):
        """A new message the user's push rules say to notify about."""

        def __init__(self, event: ev.Notification) -> None:
            super().__init__()
            self.event = event

    class TransferProgress(Message):
        def __init__(self, event: ev.TransferProgress) -> None:
            super().__init__()
            self.event = event

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Bridge.TransferProgress) and message.event.transfer_id == self.event.transfer_id

    class SyncStateChanged(Message):
        def __init__(self, state: SyncState) -> None:
            super().__init__()
            self.state = state

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Bridge.SyncStateChanged)

    class EngineError(Message):
        def __init__(self, message: str, detail: str | None = None) -> None:
            super().__init__()
            self.message = message
            self.detail = detail

    class OwnTrustChanged(Message):
        """Whether this device is verified by our cross-signing identity changed."""

        def __init__(self, trust: OwnTrust) -> None:
            super().__init__()
            self.trust = trust

    class BackupChanged(Message):
        """The key backup's state or a restore's progress changed."""

        def __init__(self, status: BackupStatus) -> None:
            super().__init__()
            self.status = status

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Bridge.BackupChanged)  # only the newest progress matters

    class IdentityChanged(Message):
        """Someone's cryptographic identity is not the one we pinned (the app re-reads the list
        of changed identities from the engine)."""

        def __init__(self, user_id: str, old_master_key: str | None, new_master_key: str) -> None:
            super().__init__()
            self.user_id = user_id
            self.old_master_key = old_master_key
            self.new_master_key = new_master_key

    class VerificationChanged(Message):
        """An emoji verification began (ours or theirs), moved on, or ended."""

        def __init__(self, info: VerificationInfo) -> None:
            super().__init__()
            self.info = info

    class Notice(Message):
        def __init__(self, message: str, room_id: str | None, level: str) -> None:
            super().__init__()
            self.message = message
            self.room_id = room_id
            self.level = level

    def __init__(self, backend: Backend, target: MessagePump) -> None:
        self.backend = backend
        self.target = target
        self._unsubscribe: Callable[[], None] | None = None

    # -- events out ---------------------------------------------------------------------------

    @staticmethod
    def translate(event: ev.EngineEvent) -> Message | None:
        """The Textual message for an engine event (None for events the UI does not show)."""
        if isinstance(event, ev.RoomsChanged):
            return Bridge.RoomsChanged(event.rooms, event.invites)
        if isinstance(event, ev.InviteReceived):
            return Bridge.InviteReceived(event.invite)
        if isinstance(event, ev.TimelineReset):
            return Bridge.TimelineReset(event.room_id)
        if isinstance(event, ev.TimelineItemsAdded):
            return Bridge.TimelineItemsAdded(event.room_id, event.items, event.at_start)
        if isinstance(event, ev.TimelineItemUpdated):
            return Bridge.TimelineItemUpdated(event.room_id, event.item)
        if isinstance(event, ev.TimelineItemsRemoved):
            return Bridge.TimelineItemsRemoved(event.room_id, event.event_ids)
        if isinstance(event, ev.TypingChanged):
            return Bridge.TypingChanged(event.room_id, event.names)
        if isinstance(event, ev.ReceiptsChanged):
            return Bridge.ReceiptsChanged(event.room_id, event.receipts)
        if isinstance(event, ev.Notification):
            return Bridge.Notification(event)
        if isinstance(event, ev.TransferProgress):
            return Bridge.TransferProgress(event)
        if isinstance(event, ev.SyncStateChanged):
            return Bridge.SyncStateChanged(event.state)
        if isinstance(event, ev.EngineErrorEvent):
            return Bridge.EngineError(event.message, event.detail)
        if isinstance(event, ev.Notice):
            return Bridge.Notice(event.message, event.room_id, event.level)
        if isinstance(event, ev.OwnTrustChanged):
            return Bridge.OwnTrustChanged(event.trust)
        if isinstance(event, ev.BackupChanged):
            return Bridge.BackupChanged(event.status)
        if isinstance(event, ev.VerificationChanged):
            return Bridge.VerificationChanged(event.info)
        if isinstance(event, ev.IdentityChanged):
            return Bridge.IdentityChanged(event.user_id, event.old_master_key, event.new_master_key)
        return None

    def _on_engine_event(self, event: ev.EngineEvent) -> None:
        """Runs on the engine thread."""
        message = self.translate(event)
        if message is None:
            return
        try:
            self.target.post_message(message)
        except RuntimeError:
            pass  # the app's loop is closing; nobody is left to show it

    async def attach(self) -> None:
        """Start the backend (if needed) and subscribe to its events."""
        self.backend.start()

        async def subscribe(engine: EngineAPI) -> Callable[[], None]:
            return engine.subscribe(self._on_engine_event)

        self._unsubscribe = await self.call(subscribe)

    def detach(self) -> None:
        """Stop forwarding events (the unsubscribe runs on the engine loop, if it still runs)."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is None:
            return

        async def run(engine: EngineAPI) -> None:
            unsubscribe()

        try:
            self.backend.run(run)
        except RuntimeError:
            pass  # the engine loop is already closed

    # -- commands in --------------------------------------------------------------------------

    async def call(self, func: Callable[[EngineAPI], Awaitable[T]]) -> T:
        """Run `func(engine)` on the engine loop and await its result here."""
        return await asyncio.wrap_future(self.backend.run(func))

    async def read(self, func: Callable[[EngineAPI], T]) -> T:
        """Run a quick synchronous `func(engine)` on the engine thread and await its result."""

        async def run(engine: EngineAPI) -> T:
            return func(engine)

        return await self.call(run)

    async def stop(self) -> None:
        """Close the engine (stop syncing, release the profile lock) and end its thread."""
        self.detach()
        await asyncio.to_thread(self.backend.stop)
