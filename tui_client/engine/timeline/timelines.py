"""The engine's timelines: one `RoomTimeline` per joined room, fed by sync and by paging back,
re-decrypted when keys arrive, and each undecryptable item explained."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nio import responses as r
from nio.api import MessageDirection
from nio.events import MegolmEvent, RoomCreateEvent, RoomHistoryVisibilityEvent

from ...safe_text import clean_id
from ..errors import EngineError
from ..events import EngineEvent, TimelineItemsAdded, TimelineItemUpdated, TimelineReset
from ..history_sharing.bundle import HISTORY_NOT_SHARED, HISTORY_NOT_SHARED_CODES
from ..history_sharing.prediction import EventFacts
from ..models import Decryption, KeyProvenance, TimelineItem
from ..room_keys import Origin
from .convert import item_from_event
from .explain import classify_decryption_error
from .room import RoomTimeline

if TYPE_CHECKING:
    from ..history_sharing.service import HistorySharing
    from ..nio.client import EngineClient
    from ..notifications.notifier import Notifier

logger = logging.getLogger(__name__)


def error_text(resp: Any) -> str:
    message = getattr(resp, "message", None) or str(resp)
    code = getattr(resp, "status_code", None)
    return f"{message} ({code})" if code and code not in str(message) else message


class Timelines:
    """Implements `convert.TimelineContext` for the rooms of one logged-in client."""

    def __init__(
        self,
        client: EngineClient,
        sharing: HistorySharing,
        own_device_verified: Callable[[], bool],
        emit: Callable[[EngineEvent], None],
        on_missing_key: Callable[[str, str | None, str | None], None] | None = None,
    ) -> None:
        self._client = client
        self._sharing = sharing
        self._own_device_verified = own_device_verified
        self._emit = emit
        # (room, sender key, session): we hold no key for a message (our other devices may).
        self._on_missing_key = on_missing_key
        self._rooms: dict[str, RoomTimeline] = {}
        self.notifier: Notifier | None = None  # set by the engine: push rules on each item

    # -- reading -----------------------------------------------------------------------------------

    def items(self, room_id: str) -> list[TimelineItem]:
        tl = self._rooms.get(room_id)
        return list(tl.items) if tl else []

    def at_start(self, room_id: str) -> bool:
        tl = self._rooms.get(room_id)
        return bool(tl and tl.at_start)

    def last_timestamp(self, room_id: str) -> int:
        tl = self._rooms.get(room_id)
        return tl.items[-1].timestamp if tl and tl.items else 0

    def get(self, room_id: str) -> RoomTimeline | None:
        return self._rooms.get(room_id)

    def message_facts(self, room_id: str) -> list[EventFacts]:
        """The loaded messages (what `history --json` lists) as a share prediction needs them,
        each with the history visibility in effect when it was sent (None before the first
        visibility change we have loaded)."""
        tl = self._rooms.get(room_id)
        if tl is None:
            return []
        out = []
        visibility: str | None = None
        for item in tl.items:
            raw = tl.raw.get(item.event_id)
            if isinstance(raw, RoomHistoryVisibilityEvent):
                visibility = raw.history_visibility
            if not item.is_message:
                continue
            encrypted = item.decryption is not Decryption.PLAINTEXT or item.event_type == "m.room.encrypted"
            out.append(EventFacts(
                item.event_id, encrypted, item.decrypted, item.session_id, item.failure_code, visibility,
            ))
        return out

    # -- fed by sync -------------------------------------------------------------------------------

    def on_sync(self, room_id: str, info: Any) -> None:
        """A joined room's timeline section of a sync response."""
        timeline = self._rooms.get(room_id)
        if timeline is None:
            timeline = self._rooms[room_id] = RoomTimeline(room_id, prev_batch=info.timeline.prev_batch)
        elif info.timeline.limited:
            timeline.reset(info.timeline.prev_batch)
            self._emit(TimelineReset(room_id))
        pairs = []
        for event in info.timeline.events:
            item = self.item(room_id, event)
            if item is not None:
                pairs.append((item, event))
            if isinstance(event, RoomCreateEvent) and not timeline.items:
                timeline.at_start = True  # nothing earlier to paginate to
        added = timeline.append(pairs)
        if added:
            if self.notifier is not None:
                fresh = {i.event_id for i in added}
                self.notifier.on_items(room_id, [(i, e) for i, e in pairs if i.event_id in fresh], live=True)
            self._emit(TimelineItemsAdded(room_id, tuple(added)))

    def forget(self, room_id: str) -> None:
        self._rooms.pop(room_id, None)

    # -- paging back -----------------------------------------------------------------------------

    async def paginate_back(self, room_id: str, limit: int = 40) -> list[TimelineItem]:
        """Fetch older events; returns the items added (oldest first)."""
        tl = self._rooms.setdefault(room_id, RoomTimeline(room_id))
        if tl.at_start:
            return []
        resp = await self._client.room_messages(
            room_id, start=tl.prev_batch, limit=limit, direction=MessageDirection.back
        )
        if not isinstance(resp, r.RoomMessagesResponse):
            raise EngineError(f"could not load older messages: {error_text(resp)}")
        tl.paginated_once = True
        pairs = []
        for event in reversed(resp.chunk):
            item = self.item(room_id, event)
            if item is not None:
                pairs.append((item, event))
        if not resp.chunk or not resp.end:
            tl.at_start = True
        tl.prev_batch = resp.end
        added = tl.prepend(pairs)
        if added:
            if self.notifier is not None:
                self.notifier.on_items(room_id, [(i, tl.raw[i.event_id]) for i in added], live=False)
            self._emit(TimelineItemsAdded(room_id, tuple(added), at_start=True))
        return added

    async def load_all(self, room_id: str, page: int = 100) -> list[TimelineItem]:
        tl = self._rooms.setdefault(room_id, RoomTimeline(room_id))
        while not tl.at_start:
            await self.paginate_back(room_id, page)
        return self.items(room_id)

    # -- conversion context (convert.TimelineContext) ---------------------------------------------

    @property
    def own_user_id(self) -> str:
        return self._client.user_id

    def item(self, room_id: str, event: Any) -> TimelineItem | None:
        try:
            item = item_from_event(self, room_id, event)
        except Exception:
            logger.exception("could not show event %s", getattr(event, "event_id", "?"))
            return None
        if item is not None and self.notifier is not None:
            item = self.notifier.annotate(room_id, item, event)
        return item

    def display_name(self, room_id: str, user_id: str) -> str:
        room = self._client.rooms.get(room_id) or self._client.invited_rooms.get(room_id)
        if room is not None:
            name = room.user_name(user_id)
            if name:
                return str(name)
        return user_id

    def provenance_for(self, room_id: str, session_id: str | None) -> KeyProvenance | None:
        olm = self._client.olm
        meta = olm.meta_for(room_id, session_id) if olm else None
        if meta is None or meta.origin is not Origin.BUNDLE or not meta.forwarder_user:
            return None
        return KeyProvenance(
            meta.forwarder_user, meta.forwarder_device,
            self.display_name(room_id, meta.forwarder_user), meta.received_at,
        )

    def describe_failure(self, room_id: str, event: Any) -> tuple[str, str]:
        olm = self._client.olm
        assert olm is not None
        session_id = getattr(event, "session_id", "") or ""
        # The id is the sender's cleartext: shown escaped, or an escape sequence in it would eat
        # the rest of the sentence when a front end strips it.
        short = f"{clean_id(session_id[:10])}…" if session_id else "unknown"
        have = olm.inbound_group_store.get(room_id, getattr(event, "sender_key", ""), session_id)
        if have is not None:
            return classify_decryption_error(olm.decryption_errors.get(event.event_id, ""), have.first_known_index)
        if self._on_missing_key is not None:
            self._on_missing_key(room_id, getattr(event, "sender_key", None), session_id or None)
        withheld = self._sharing.withheld(room_id, session_id) if session_id else None
        if withheld is not None:
            if withheld.code in HISTORY_NOT_SHARED_CODES:
                return (
                    "not_shared",
                    f"not shared: the sender's history settings did not allow it ({HISTORY_NOT_SHARED})",
                )
            why = f" — {withheld.reason}" if withheld.reason else ""
            return "withheld", f"withheld: {withheld.code}{why}"
        sent = getattr(event, "server_timestamp", 0) or 0
        explained = self._sharing.explain(
            room_id, sent if isinstance(sent, int) else 0, own_device_cross_signed=self._own_device_verified()
        )
        if explained is not None:
            return explained
        return "missing_key", f"no key for this message yet (session {short})"

    # -- keys arriving ------------------------------------------------------------------------------

    def on_keys_added(self, keys: list[tuple[str, str]]) -> None:
        by_room: dict[str, set[str]] = {}
        for room_id, session_id in keys:
            by_room.setdefault(room_id, set()).add(session_id)
        for room_id, session_ids in by_room.items():
            self.retry_decryption(room_id, session_ids)

    def refresh_failures(self, room_id: str) -> None:
        """Re-try and re-explain every undecryptable item of a room (keys or news arrived)."""
        self.retry_decryption(room_id, None)

    def retry_decryption(self, room_id: str, session_ids: set[str] | None = None) -> int:
        """Re-try undecryptable items of a room (all, or those of `session_ids`); emit updates."""
        timeline = self._rooms.get(room_id)
        olm = self._client.olm
        if timeline is None or olm is None:
            return 0
        fixed = 0
        for item in list(timeline.items):
            if item.decryption is Decryption.DECRYPTED and session_ids and item.session_id in session_ids:
                # Same key, maybe new metadata (a direct copy replaced a shared one): re-derive.
                refreshed = self.item(room_id, timeline.raw.get(item.event_id))
                if refreshed is not None and refreshed != item:
                    timeline.replace(refreshed)
                    self._emit(TimelineItemUpdated(room_id, refreshed))
                continue
            if item.decryption is not Decryption.FAILED:
                continue
            raw = timeline.raw.get(item.event_id)
            if not isinstance(raw, MegolmEvent):
                continue
            if session_ids is not None and raw.session_id not in session_ids:
                continue
            decrypted = olm._decrypt_megolm_no_error(raw, room_id)
            new_raw = decrypted if decrypted is not None else raw
            new_item = self.item(room_id, new_raw)
            if new_item is not None and new_item != item:
                timeline.replace(new_item, new_raw)
                if decrypted is not None and self.notifier is not None:
                    self.notifier.on_decrypted(room_id, new_item, new_raw)
                self._emit(TimelineItemUpdated(room_id, new_item))
                fixed += decrypted is not None
        return fixed
