"""Other people's activity in a room: who is typing, and how far each member has read (their
read receipts, placed on the messages we show). Plus sending our own typing notices.

`place_receipts` is pure: given the items shown and each member's latest receipt it says, for
each message, who read up to it, as Element shows it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nio.events import ReceiptEvent, TypingNoticeEvent

from ..records import record
from .events import EngineEvent, ReceiptsChanged, TypingChanged
from .models import TimelineItem

if TYPE_CHECKING:
    from .nio.client import EngineClient

logger = logging.getLogger(__name__)

MAX_TYPING = 20  # names; a room cannot flood the line with thousands


@record
class ReadPoint:
    """A member's latest read receipt: the event and when they read it (ms)."""

    event_id: str
    timestamp: int


def place_receipts(
    items: Sequence[TimelineItem], receipts: Mapping[str, ReadPoint], own_user: str
) -> dict[str, tuple[str, ...]]:
    """event id -> the users (oldest reader first) whose read receipt is on that message.

    A receipt on an event we do not show (a reaction, a state event we skip) lands on the newest
    message sent before it was read; a receipt older than everything shown is left out. Nobody
    is listed on a message they sent themselves, and we are never listed."""
    index = {item.event_id: i for i, item in enumerate(items)}
    placed: dict[int, list[tuple[int, str]]] = {}
    for user, point in receipts.items():
        if user == own_user:
            continue
        pos = index.get(point.event_id)
        if pos is None:
            pos = _last_before(items, point.timestamp)
        while pos is not None and pos >= 0 and not items[pos].is_message:
            pos -= 1
        if pos is None or pos < 0 or items[pos].sender == user:
            continue
        placed.setdefault(pos, []).append((point.timestamp, user))
    return {items[pos].event_id: tuple(u for _, u in sorted(users)) for pos, users in placed.items()}


def _last_before(items: Sequence[TimelineItem], timestamp: int) -> int | None:
    found = None
    for i, item in enumerate(items):
        if item.timestamp <= timestamp:
            found = i
        else:
            break
    return found


def read_points(room: Any) -> dict[str, ReadPoint]:
    """Each member's latest receipt in a nio room, unthreaded or on the main timeline."""
    out: dict[str, ReadPoint] = {}
    for user, receipt in list(getattr(room, "read_receipts", {}).items()):
        out[user] = ReadPoint(receipt.event_id, int(receipt.timestamp or 0))
    for user, threads in list(getattr(room, "threaded_read_receipts", {}).items()):
        main = threads.get("main") if isinstance(threads, dict) else None
        if main is None:
            continue
        point = ReadPoint(main.event_id, int(main.timestamp or 0))
        if user not in out or point.timestamp > out[user].timestamp:
            out[user] = point
    return out


class Activity:
    """Typing and receipts of one client's joined rooms."""

    def __init__(
        self,
        client: EngineClient,
        items: Callable[[str], list[TimelineItem]],
        name: Callable[[str, str], str],
        emit: Callable[[EngineEvent], None],
        on_own_receipt: Callable[[str, str], None],
    ) -> None:
        self._client = client
        self._items = items
        self._name = name
        self._emit = emit
        self._on_own_receipt = on_own_receipt
        self._typing: dict[str, tuple[str, ...]] = {}

    # -- from sync -------------------------------------------------------------------------

    def on_ephemeral(self, room_id: str, events: Sequence[Any]) -> None:
        """A joined room's ephemeral events (nio has applied them to the room already)."""
        typing = any(isinstance(e, TypingNoticeEvent) for e in events)
        receipts = [e for e in events if isinstance(e, ReceiptEvent)]
        if typing:
            names = self.typing(room_id)
            if names != self._typing.get(room_id, ()):
                self._typing[room_id] = names
                self._emit(TypingChanged(room_id, names))
        if receipts:
            me = self._client.user_id
            for event in receipts:
                for receipt in event.receipts:
                    if receipt.user_id == me and receipt.receipt_type in ("m.read", "m.read.private"):
                        self._on_own_receipt(room_id, receipt.event_id)
            self._emit(ReceiptsChanged(room_id, self.receipts_tuple(room_id)))

    def forget(self, room_id: str) -> None:
        self._typing.pop(room_id, None)

    # -- what front ends read --------------------------------------------------------------

    def typing(self, room_id: str) -> tuple[str, ...]:
        room = self._client.rooms.get(room_id)
        if room is None:
            return ()
        users = [u for u in room.typing_users if isinstance(u, str) and u != self._client.user_id]
        return tuple(self._name(room_id, u) for u in users[:MAX_TYPING])

    def receipts(self, room_id: str) -> dict[str, tuple[str, ...]]:
        room = self._client.rooms.get(room_id)
        if room is None:
            return {}
        placed = place_receipts(self._items(room_id), read_points(room), self._client.user_id)
        return {event_id: tuple(self._name(room_id, u) for u in users) for event_id, users in placed.items()}

    def receipts_tuple(self, room_id: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple(self.receipts(room_id).items())

    def read_marker(self, room_id: str) -> str | None:
        room = self._client.rooms.get(room_id)
        marker = getattr(room, "fully_read_marker", None) if room is not None else None
        return marker if isinstance(marker, str) else None

    # -- ours --------------------------------------------------------------------------------

    async def set_typing(self, room_id: str, typing: bool, timeout_ms: int = 30_000) -> None:
        if room_id not in self._client.rooms:
            return
        try:
            await self._client.room_typing(room_id, typing_state=typing, timeout=timeout_ms)
        except Exception as exc:  # a typing notice is never worth an error
            logger.info("could not send a typing notice to %s: %s", room_id, exc)
