"""Turning nio events into `TimelineItem`s.

The conversion is pure given a small context (names, provenance, failure reasons), so it is
unit-testable without a server.
"""

from __future__ import annotations

from typing import Any, Protocol

from nio import events as ev

from ..models import Decryption, KeyProvenance, TimelineItem


class TimelineContext(Protocol):
    @property
    def own_user_id(self) -> str: ...

    def display_name(self, room_id: str, user_id: str) -> str: ...

    def provenance_for(self, room_id: str, session_id: str | None) -> KeyProvenance | None: ...

    def describe_failure(self, room_id: str, event: Any) -> tuple[str, str]: ...


# The latest moment a clock can show (9999-12-31 00:00 UTC, in ms): the server sets a timestamp,
# and one beyond what `datetime` can hold would break every front end that shows the time.
MAX_TIMESTAMP_MS = 253_402_214_400_000


def plausible_timestamp(value: Any) -> int:
    """A server timestamp (ms) as something a clock can show: 0 if it is not an integer or is
    before 1970, capped at the year 9999."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return 0
    return min(value, MAX_TIMESTAMP_MS)


_VISIBILITY_TEXT = {
    "shared": "all members, including messages sent before they joined",
    "invited": "members, from the point they were invited",
    "joined": "members, from the point they joined",
    "world_readable": "anyone",
}


def _membership_text(event: ev.RoomMemberEvent, name: str, target: str) -> str:
    m, prev = event.membership, event.prev_membership
    if m == "join":
        if prev == "join":
            return f"{name} changed their profile"
        return f"{name} joined"
    if m == "invite":
        return f"{name} invited {target}"
    if m == "leave":
        if event.sender != event.state_key:
            return f"{name} removed {target}" if prev == "join" else f"{name} withdrew the invite of {target}"
        return f"{name} declined the invite" if prev == "invite" else f"{name} left"
    if m == "ban":
        return f"{name} banned {target}"
    if m == "knock":
        return f"{name} asked to join"
    return f"{name}: membership {m}"


def item_from_event(ctx: TimelineContext, room_id: str, event: Any) -> TimelineItem | None:
    """A TimelineItem for `event`, or None for events a timeline does not show."""
    source = getattr(event, "source", None) or {}
    event_id = getattr(event, "event_id", None) or source.get("event_id")
    if not event_id or not isinstance(event_id, str):
        return None
    # nio's BadEvent keeps the raw values of an event that failed validation: any JSON type.
    sender = getattr(event, "sender", None) or source.get("sender")
    sender = sender if isinstance(sender, str) and sender else "?"
    timestamp = getattr(event, "server_timestamp", None) or source.get("origin_server_ts") or 0
    name = ctx.display_name(room_id, sender)
    event_type = source.get("type", type(event).__name__)
    event_type = event_type if isinstance(event_type, str) else "?"
    base: dict[str, Any] = dict(
        event_id=event_id,
        room_id=room_id,
        sender=sender,
        sender_name=name,
        timestamp=plausible_timestamp(timestamp),
        own=sender == ctx.own_user_id,
    )
    decrypted = bool(getattr(event, "decrypted", False))
    crypto: dict[str, Any] = {}
    if decrypted:
        session_id = getattr(event, "session_id", None)
        crypto = dict(
            decryption=Decryption.DECRYPTED,
            session_id=session_id,
            sender_key=getattr(event, "sender_key", None),
            provenance=ctx.provenance_for(room_id, session_id),
        )
        event_type = "m.room.message" if isinstance(event, ev.RoomMessage) else event_type

    if isinstance(event, (ev.RoomMessageText, ev.RoomMessageEmote, ev.RoomMessageNotice)):
        kind = {ev.RoomMessageEmote: "emote", ev.RoomMessageNotice: "notice"}.get(type(event), "message")
        return TimelineItem(
            **base, kind=kind, body=event.body, formatted_body=event.formatted_body,
            event_type=event_type, **crypto,
        )
    if isinstance(event, ev.RoomMessage):
        body = getattr(event, "body", None)
        msgtype = getattr(event, "msgtype", None) or source.get("content", {}).get("msgtype", "?")
        if msgtype == "m.key.verification.request":
            to = source.get("content", {}).get("to")
            whom = ctx.display_name(room_id, to) if isinstance(to, str) else "someone"
            return TimelineItem(
                **base, kind="state", body=f"{name} asked {whom} to verify by comparing emoji",
                event_type=event_type, **crypto,
            )
        label = {"m.image": "image", "m.file": "file", "m.audio": "audio", "m.video": "video"}.get(
            msgtype, msgtype
        )
        text = f"[{label}] {body}" if body else f"[{label}]"
        return TimelineItem(**base, kind="message", body=text, event_type=event_type, **crypto)
    if isinstance(event, ev.MegolmEvent):
        code, reason = ctx.describe_failure(room_id, event)
        return TimelineItem(
            **base, kind="encrypted", body=None, event_type="m.room.encrypted",
            decryption=Decryption.FAILED, failure_code=code, failure_reason=reason,
            session_id=event.session_id, sender_key=event.sender_key, sender_device=event.device_id,
        )
    if isinstance(event, ev.UnknownEncryptedEvent):
        return TimelineItem(
            **base, kind="encrypted", body=None, event_type="m.room.encrypted",
            decryption=Decryption.FAILED, failure_code="unsupported",
            failure_reason=f"encrypted with an algorithm this client does not support ({event.algorithm})",
        )
    if isinstance(event, (ev.BadEvent, ev.UnknownBadEvent)):
        if event_type not in ("m.room.message", "m.room.encrypted"):
            return None
        return TimelineItem(
            **base, kind="bad", body=None, event_type=event_type,
            decryption=Decryption.FAILED if decrypted or event_type == "m.room.encrypted" else Decryption.PLAINTEXT,
            failure_code="malformed", failure_reason="malformed event: the sender's client sent content this client cannot read",
            **{k: v for k, v in crypto.items() if k != "decryption"},
        )
    if isinstance(event, ev.RoomMemberEvent):
        target = ctx.display_name(room_id, event.state_key)
        return TimelineItem(
            **base, kind="membership", body=_membership_text(event, name, target), event_type="m.room.member"
        )
    if isinstance(event, ev.RoomCreateEvent):
        return TimelineItem(**base, kind="state", body=f"{name} created the room", event_type="m.room.create")
    if isinstance(event, ev.RoomNameEvent):
        return TimelineItem(**base, kind="state", body=f"{name} named the room “{event.name}”", event_type="m.room.name")
    if isinstance(event, ev.RoomTopicEvent):
        return TimelineItem(**base, kind="state", body=f"{name} set the topic: {event.topic}", event_type="m.room.topic")
    if isinstance(event, ev.RoomEncryptionEvent):
        return TimelineItem(**base, kind="state", body=f"{name} turned on end-to-end encryption", event_type="m.room.encryption")
    if isinstance(event, ev.RoomHistoryVisibilityEvent):
        vis = event.history_visibility
        text = _VISIBILITY_TEXT.get(vis, vis)
        return TimelineItem(
            **base, kind="state", body=f"{name} made future history visible to {text} ({vis})",
            event_type="m.room.history_visibility",
        )
    return None
