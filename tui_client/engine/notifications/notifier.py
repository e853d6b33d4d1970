"""Push rules applied on our side: which messages mention the user (highlighted in the timeline),
how many unread highlights each room holds (the server cannot count them in encrypted rooms),
and a `Notification` for front ends when a new message arrives that the rules say to notify.

The rules come from `m.push_rules` account data (kept in the store between runs); until any
arrive, the spec's defaults apply. Evaluating never raises: a bad rule is skipped (push_rules).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..events import EngineEvent, Notification
from ..models import TimelineItem
from .push_rules import NOTHING, PushActions, PushContext, Ruleset, default_ruleset, evaluate, parse_rules

if TYPE_CHECKING:
    from ..nio.client import EngineClient

logger = logging.getLogger(__name__)

MAX_TRACKED = 500  # unread highlights kept per room


def event_dict(room_id: str, event: Any) -> dict[str, Any] | None:
    """The event as push rules read it: decrypted `type` and `content`, the envelope's sender."""
    source = getattr(event, "source", None)
    if not isinstance(source, dict):
        return None
    content = source.get("content")
    if not isinstance(content, dict):
        return None
    out: dict[str, Any] = {
        "type": source.get("type"),
        "content": content,
        "sender": getattr(event, "sender", None) or source.get("sender"),
        "room_id": room_id,
    }
    if "state_key" in source:
        out["state_key"] = source["state_key"]
    return out


class Notifier:
    KV_RULES = "m.push_rules"
    KV_HIGHLIGHTS = "unread_highlights"

    def __init__(
        self,
        client: EngineClient,
        emit: Callable[[EngineEvent], None],
        is_direct: Callable[[str], bool],
        room_name: Callable[[str], str],
    ) -> None:
        self._client = client
        self._emit = emit
        self._is_direct = is_direct
        self._room_name = room_name
        assert client.store is not None
        stored = client.store.get_kv(self.KV_RULES)
        self._rules: Ruleset = parse_rules(stored, client.user_id) if stored else default_ruleset(client.user_id)
        raw = client.store.get_kv(self.KV_HIGHLIGHTS, {})
        self._unread: dict[str, list[str]] = {
            room: [e for e in events if isinstance(e, str)][-MAX_TRACKED:]
            for room, events in (raw.items() if isinstance(raw, dict) else [])
            if isinstance(room, str) and isinstance(events, list)
        }
        # Event ids that arrived live but could not be read yet: notify once they decrypt.
        self._waiting: set[str] = set()
        self.live = False  # set once the first sync of this run is done

    # -- rules ------------------------------------------------------------------------------------

    def on_push_rules(self, content: Any) -> None:
        self._rules = parse_rules(content, self._client.user_id)
        assert self._client.store is not None
        self._client.store.put_kv(self.KV_RULES, content if isinstance(content, dict) else {})

    def _context(self, room_id: str, sender: str) -> PushContext:
        room = self._client.rooms.get(room_id)
        me = self._client.user_id
        if room is None:
            return PushContext(me, None, 0, 0, {})
        own = room.users.get(me)
        levels = room.power_levels
        try:
            power = int(levels.get_user_level(sender))
        except Exception:
            power = 0
        notifications = getattr(getattr(levels, "defaults", None), "notifications", None)
        return PushContext(
            user_id=me,
            display_name=getattr(own, "display_name", None) or None,
            member_count=room.joined_count,
            sender_power=power,
            notification_levels=notifications if isinstance(notifications, dict) else {},
        )

    def actions(self, room_id: str, event: Any) -> PushActions:
        data = event_dict(room_id, event)
        if data is None or not isinstance(data.get("sender"), str):
            return NOTHING
        try:
            return evaluate(self._rules, data, self._context(room_id, data["sender"]))
        except Exception:  # never let a rule stop a timeline
            logger.exception("evaluating push rules failed in %s", room_id)
            return NOTHING

    # -- the timeline's items -------------------------------------------------------------------

    def annotate(self, room_id: str, item: TimelineItem, event: Any) -> TimelineItem:
        """`item` with `highlight` set when the rules say so."""
        if item.own or not item.is_message or item.failed:
            return item
        actions = self.actions(room_id, event)
        return replace(item, highlight=True) if actions.highlight and not item.highlight else item

    def on_items(self, room_id: str, items: Iterable[tuple[TimelineItem, Any]], *, live: bool) -> None:
        """Items that just joined a room's timeline (from a sync when `live`): count unread
        highlights, and notify about new messages."""
        changed = False
        for item, event in items:
            if item.own or not item.is_message:
                continue
            if item.failed:
                if live and self.live:
                    self._waiting.add(item.event_id)
                continue
            changed |= self._track(room_id, item)
            if live and self.live:
                self._notify(room_id, item, event)
        if changed:
            self._save()

    def on_decrypted(self, room_id: str, item: TimelineItem, event: Any) -> None:
        """An item that could not be read before now reads (its keys arrived)."""
        if item.own or not item.is_message or item.failed:
            return
        if self._track(room_id, item):
            self._save()
        if item.event_id in self._waiting:
            self._waiting.discard(item.event_id)
            self._notify(room_id, item, event)

    def _track(self, room_id: str, item: TimelineItem) -> bool:
        if not item.highlight:
            return False
        events = self._unread.setdefault(room_id, [])
        if item.event_id in events:
            return False
        events.append(item.event_id)
        del events[:-MAX_TRACKED]
        return True

    def _notify(self, room_id: str, item: TimelineItem, event: Any) -> None:
        actions = self.actions(room_id, event)
        if not actions.notify:
            return
        self._emit(Notification(
            room_id, self._room_name(room_id), item, actions.highlight, self._is_direct(room_id), actions.sound
        ))

    # -- unread highlights ---------------------------------------------------------------------

    def unread_highlights(self, room_id: str) -> int:
        return len(self._unread.get(room_id, ()))

    def read_up_to(self, room_id: str, order: list[str] | None) -> bool:
        """The user read the room up to the last of `order` (its event ids, oldest first) or all
        of it (None); True if a count changed."""
        events = self._unread.get(room_id)
        if not events:
            return False
        if order is None:
            del self._unread[room_id]
        else:
            read = set(order)
            kept = [e for e in events if e not in read]
            if len(kept) == len(events):
                return False
            if kept:
                self._unread[room_id] = kept
            else:
                del self._unread[room_id]
        self._save()
        return True

    def forget_events(self, room_id: str, event_ids: Iterable[str]) -> None:
        """Events that are no longer messages of their own (deleted, or decrypted into an edit
        or a reaction): not unread highlights, not waiting to notify."""
        gone = set(event_ids)
        self._waiting -= gone
        events = self._unread.get(room_id)
        if events and gone.intersection(events):
            kept = [e for e in events if e not in gone]
            if kept:
                self._unread[room_id] = kept
            else:
                del self._unread[room_id]
            self._save()

    def forget(self, room_id: str) -> None:
        if self._unread.pop(room_id, None) is not None:
            self._save()

    def _save(self) -> None:
        assert self._client.store is not None
        self._client.store.put_kv(self.KV_HIGHLIGHTS, self._unread)
