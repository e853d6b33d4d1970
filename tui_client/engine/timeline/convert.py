"""Turning nio events into `EventFacts` (what an event says) and `TimelineItem`s (what a
timeline shows for it alone; `relations.Aggregator` then folds relations into their targets).

The conversion is pure given a small context (names, provenance, failure reasons, the encrypted
form of decrypted events), so it is unit-testable without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from nio import events as ev

from ..models import Decryption, KeyProvenance, TimelineItem
from .content import (
    MESSAGE_LIKE_TYPES,
    POLL_END_TYPES,
    POLL_RESPONSE_TYPES,
    relation_of,
    strip_reply_fallback,
    view_of,
)
from .relations import EventFacts, Redaction


class TimelineContext(Protocol):
    @property
    def own_user_id(self) -> str: ...

    def display_name(self, room_id: str, user_id: str) -> str: ...

    def provenance_for(self, room_id: str, session_id: str | None) -> KeyProvenance | None: ...

    def describe_failure(self, room_id: str, event: Any) -> tuple[str, str]: ...

    def wire_source(self, event_id: str) -> Mapping[str, Any] | None:
        """The encrypted form of an event we decrypted (its cleartext m.relates_to and unsigned)."""
        ...


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

# Types that only say something about another event: never an item of their own.
RELATION_TYPES = frozenset({"m.reaction", "m.room.redaction"}) | POLL_RESPONSE_TYPES | POLL_END_TYPES


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


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def facts_from_event(ctx: TimelineContext, room_id: str, event: Any) -> EventFacts | None:
    """What `event` says, with the item a timeline shows for it alone (None for events without
    an id)."""
    source = _dict(getattr(event, "source", None))
    event_id = getattr(event, "event_id", None) or source.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        return None
    # nio's BadEvent keeps the raw values of an event that failed validation: any JSON type.
    sender = getattr(event, "sender", None) or source.get("sender")
    sender = sender if isinstance(sender, str) and sender else "?"
    timestamp = plausible_timestamp(getattr(event, "server_timestamp", None) or source.get("origin_server_ts") or 0)
    decrypted = bool(getattr(event, "decrypted", False))
    undecryptable = isinstance(event, (ev.MegolmEvent, ev.UnknownEncryptedEvent))
    encrypted = decrypted or undecryptable
    wire: Mapping[str, Any] = (ctx.wire_source(event_id) or {}) if decrypted else source
    wire_content = _dict(wire.get("content"))
    found_type = source.get("type")
    event_type = found_type if isinstance(found_type, str) else type(event).__name__
    content = dict(_dict(source.get("content"))) if not undecryptable else {}
    # The relation in the clear is the one that counts (Element reads only that one); one that
    # is only inside the ciphertext is read too.
    relates_to = wire_content.get("m.relates_to") if encrypted else None
    if not isinstance(relates_to, dict):
        relates_to = content.get("m.relates_to")
    relates_to = relates_to if isinstance(relates_to, dict) else None
    relation = relation_of(relates_to)
    if relation is not None and relation.in_reply_to and "body" in content:
        body, formatted = strip_reply_fallback(content.get("body"), content.get("formatted_body"))
        content["body"] = body
        if formatted is not None:
            content["formatted_body"] = formatted
    redacted: Redaction | None = None
    if isinstance(event, ev.RedactedEvent):
        redacted = Redaction(event.redacter, event.reason if isinstance(event.reason, str) else None)
        because = _dict(_dict(source.get("unsigned")).get("redacted_because"))
        if isinstance(because.get("event_id"), str):
            redacted = Redaction(redacted.by, redacted.reason, because["event_id"])
        content = {}
    redacts = source.get("redacts") if isinstance(source.get("redacts"), str) else None
    redacts = redacts or (content.get("redacts") if isinstance(content.get("redacts"), str) else None)
    bundled = _dict(_dict(_dict(wire.get("unsigned")).get("m.relations")).get("m.thread"))
    count = bundled.get("count")
    thread_count = count if isinstance(count, int) and not isinstance(count, bool) else 0
    state_key = source.get("state_key") if isinstance(source.get("state_key"), str) else None
    item = item_from_event(ctx, room_id, event, content=content)
    return EventFacts(
        event_id=event_id,
        sender=sender,
        timestamp=timestamp,
        type=event_type if not undecryptable else "m.room.encrypted",
        content=content,
        relates_to=relates_to,
        encrypted=encrypted,
        redacts=redacts,
        redacted=redacted,
        state_key=state_key,
        thread_count=max(0, thread_count),
        item=item,
        wire=source if undecryptable else None,
    )


def item_from_event(
    ctx: TimelineContext, room_id: str, event: Any, *, content: Mapping[str, Any] | None = None
) -> TimelineItem | None:
    """A TimelineItem for `event` alone, or None for events a timeline does not show.
    `content`: the event's content as read (a reply's quoted fallback already removed)."""
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
    if content is None:
        content = _dict(source.get("content"))
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

    if isinstance(event, ev.RedactedEvent):
        return _redacted_item(ctx, room_id, event, base)
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
        if event_type not in ("m.room.message", "m.room.encrypted", "m.sticker"):
            return None
        return TimelineItem(
            **base, kind="bad", body=None, event_type=event_type,
            decryption=Decryption.FAILED if decrypted or event_type == "m.room.encrypted" else Decryption.PLAINTEXT,
            failure_code="malformed", failure_reason="malformed event: the sender's client sent content this client cannot read",
            **{k: v for k, v in crypto.items() if k != "decryption"},
        )
    if event_type in MESSAGE_LIKE_TYPES and "state_key" not in source:
        if event_type == "m.room.message" and content.get("msgtype") == "m.key.verification.request":
            to = content.get("to")
            whom = ctx.display_name(room_id, to) if isinstance(to, str) else "someone"
            return TimelineItem(
                **base, kind="state", body=f"{name} asked {whom} to verify by comparing emoji",
                event_type=event_type, msgtype="m.key.verification.request", **crypto,
            )
        view = view_of(event_type, content)
        if view is None:
            return None
        return TimelineItem(
            **base, kind=view.kind, body=view.body, formatted_body=view.formatted_body, event_type=event_type,
            msgtype=view.msgtype, attachment=view.attachment, poll=view.poll, location=view.location, **crypto,
        )
    return _state_item(ctx, room_id, event, base)


def _state_item(ctx: TimelineContext, room_id: str, event: Any, base: dict[str, Any]) -> TimelineItem | None:
    name = base["sender_name"]
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


def _redacted_item(ctx: TimelineContext, room_id: str, event: ev.RedactedEvent, base: dict[str, Any]) -> TimelineItem | None:
    """A deleted event as the server sends it (its content gone): a placeholder for a message,
    what is left for a state event, nothing for a relation."""
    source = _dict(getattr(event, "source", None))
    event_type = event.type
    if event_type in RELATION_TYPES:
        return None
    if "state_key" in source:
        # The redaction algorithm keeps what state needs (a membership, a visibility).
        stripped = {k: v for k, v in source.items() if k != "unsigned"}
        try:
            parsed = ev.Event.parse_event(stripped)
        except Exception:
            return None
        if isinstance(parsed, (ev.BadEvent, ev.UnknownBadEvent, ev.RedactedEvent)):
            return None
        return _state_item(ctx, room_id, parsed, base)
    reason = event.reason if isinstance(event.reason, str) else None
    return TimelineItem(
        **base, kind="message", body=None, event_type=event_type, redacted=True,
        redacted_by=event.redacter, redaction_reason=reason,
    )
