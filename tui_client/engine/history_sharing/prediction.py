"""Before an invite: which of the room's messages will the invitee be able to read, and why not
the others (pure).

Each loaded message is classified from what we hold: a message is readable when its session goes
into the bundle (shareable, and we hold it from an index that covers the message, which is the
case exactly when we can decrypt it ourselves), and the server lets a new member see it (the
room's history visibility when it was sent). Everything else says why not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum

from ...records import record
from ..models import EventPrediction, SharePrediction, SharePreview
from .bundle import HISTORY_NOT_SHARED_CODES
from .records import WithheldRecord
from .rules import SHAREABLE_VISIBILITIES


class Why(str, Enum):
    READABLE = "readable"
    NOT_ENCRYPTED = "not_encrypted"  # readable by anyone the server shows it to
    HIDDEN = "hidden"  # the server does not show it to new members
    NOTHING_SHARED = "nothing_shared"  # no bundle at all (the room-level reason says why)
    NOT_SHAREABLE = "not_shareable"  # its sender's client did not allow sharing it
    WITHHELD = "withheld"  # we were told we would not get it
    LATE_INDEX = "late_index"  # we hold its session only from a later message
    NEVER_HAD = "never_had"  # we never had its key


@record
class EventFacts:
    """One message as the prediction needs it."""

    event_id: str
    encrypted: bool
    decrypted: bool  # we can read it (so we hold its session from an index that covers it)
    session_id: str | None
    failure_code: str | None  # why we cannot, if we cannot (timeline failure codes)
    visibility: str | None  # the room's history visibility when it was sent (None: unknown)


def predict(
    events: Iterable[EventFacts],
    room: SharePreview,
    shared_sessions: set[str],
    withheld: Mapping[str, WithheldRecord],
    names: Mapping[str, str] | None = None,
) -> SharePrediction:
    """Classify every message. `room` is the room-level preview for this invitee (is anything
    shared at all, and why not); `shared_sessions` the ids whose keys the bundle would carry;
    `withheld` our withheld records by session id (not-shared ones are passed on)."""
    names = names or {}
    out = []
    for facts in events:
        why, text = _classify(facts, room, shared_sessions, withheld, names)
        out.append(EventPrediction(facts.event_id, why in (Why.READABLE, Why.NOT_ENCRYPTED), text, why.value))
    return SharePrediction(room, tuple(out))


def _classify(
    facts: EventFacts,
    room: SharePreview,
    shared: set[str],
    withheld: Mapping[str, WithheldRecord],
    names: Mapping[str, str],
) -> tuple[Why, str | None]:
    if facts.visibility is not None and facts.visibility not in SHAREABLE_VISIBILITIES:
        return Why.HIDDEN, (
            f"sent while the room's history was '{facts.visibility}': the server does not show it to new members"
        )
    if not facts.encrypted:
        return Why.NOT_ENCRYPTED, None
    if not room.shareable:
        return Why.NOTHING_SHARED, f"no keys are shared: {room.reason}"
    session = facts.session_id or ""
    record = withheld.get(session)
    if facts.decrypted:
        if session in shared:
            return Why.READABLE, None
        return Why.NOT_SHAREABLE, "not shareable: its sender's history settings (or client) did not allow it"
    if record is not None:
        who = names.get(record.from_user or "", record.from_user or "someone")
        if record.code in HISTORY_NOT_SHARED_CODES:
            return Why.NOT_SHAREABLE, (
                f"not shareable: its sender's history settings did not allow it (we were told so by {who})"
            )
        return Why.WITHHELD, f"withheld from us by {who} ({record.code})"
    if facts.failure_code == "index":
        return Why.LATE_INDEX, "we hold its key only from a later message on"
    return Why.NEVER_HAD, "we never had its key"
