"""The sentences the UI shows about engine models, kept pure so they are unit-testable.

Widgets call these instead of formatting models themselves, so the room list, the invite cards and
the invites screen say the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..config import HISTORY_VISIBILITIES
from ..engine.models import (
    BackupStatus,
    BundleSummary,
    Invite,
    MemberReport,
    RoomInspection,
    RoomSummary,
    SessionReport,
    SyncState,
    TimelineItem,
    WithheldReport,
)

__all__ = [
    "HISTORY_VISIBILITIES",
    "VISIBILITY_HELP",
    "accept_identity_question",
    "backup_line",
    "bundle_line",
    "bundle_row",
    "failure_line",
    "fingerprint",
    "identity_warning",
    "join_names",
    "invite_line",
    "member_rows",
    "pending_bundle_line",
    "person",
    "session_row",
    "short_id",
    "withheld_row",
    "room_line",
    "sync_line",
    "trust_line",
    "visibility_line",
]

VISIBILITY_HELP: dict[str, str] = {
    "shared": "members read everything since the room was created; people you invite later "
    "can be given the keys to earlier messages",
    "invited": "members read from the moment they were invited",
    "joined": "members read from the moment they joined",
    "world_readable": "anyone can read the history; people you invite later can be given the keys "
    "to earlier messages",
}


def visibility_line(visibility: str) -> str:
    return VISIBILITY_HELP.get(visibility, f"history visibility {visibility}")


def invite_line(invite: Invite) -> str:
    """Who invited you, e.g. "Alice (@alice:example.org) invited you", or for a direct chat
    "Alice (@alice:example.org) wants to chat"."""
    if invite.inviter and invite.inviter_name and invite.inviter_name != invite.inviter:
        who = f"{invite.inviter_name} ({invite.inviter})"
    else:
        who = invite.inviter_label
    if invite.is_direct:
        return f"{who} wants to chat (a direct chat)"
    if invite.is_space:
        return f"{who} invited you to a space"
    return f"{who} invited you"


def bundle_line(invite: Invite) -> str | None:
    """Where the inviter's key bundle stands, in the engine's words (the CLI and the inspector
    say the same), or None when no bundle is known."""
    bundle = invite.bundle
    if bundle is None:
        return None
    who = invite.inviter_label if bundle.sender == invite.inviter else bundle.sender
    return bundle.describe(who)


def room_line(room: RoomSummary) -> str:
    """The one-line header above a timeline."""
    parts = [f"{room.joined_count} member{'s' if room.joined_count != 1 else ''}"]
    if room.encrypted:
        parts.append("encrypted")
    parts.append(f"history: {room.history_visibility}")
    if room.history_shareable:
        parts.append("new members can get earlier keys")
    incoming = incoming_keys_line(room)
    if incoming:
        parts.append(incoming)
    return " · ".join(parts)


def incoming_keys_line(room: RoomSummary) -> str | None:
    """The keys the inviter shared while they are on their way: '⇣ downloading the keys Alice
    shared… 1.2 of 5.3 MB', 'keys from Alice on hold: …'."""
    keys = room.incoming_keys
    if keys is None:
        return None
    name = next((m.name for m in room.members if m.user_id == keys.sender), keys.sender)
    return f"⇣ {keys.describe(name)}"


def failure_line(item: TimelineItem) -> str:
    return f"⚠ Unable to decrypt: {item.failure_reason or 'no reason given'}"


def sync_line(state: SyncState, now: float) -> str:
    """The status bar's sync part; `now` is passed in so the countdown is testable."""
    if state.state == "syncing":
        return "● connected"  # (the healthy state: syncing never "finishes")
    if state.state == "connecting":
        return "◌ connecting…"
    if state.state in ("retrying", "offline"):
        offline = state.state == "offline"
        # Offline, the reason is always the same (no answer); what matters is what is shown.
        reason = " — showing what was kept" if offline else (f" — {state.detail}" if state.detail else "")
        head = "○ offline, " if offline else "⟳ "
        if state.retry_in is not None and state.since is not None:
            left = round(state.since + state.retry_in - now)
            if left <= 0:  # the next attempt is under way (it ends with the next state change)
                return f"{head}reconnecting…{reason}"
            return f"{head}retrying in {left} s{reason}"
        return f"{head}retrying{reason}"
    if state.state == "logged_out":
        return f"✕ logged out — {state.detail}" if state.detail else "✕ logged out"
    return "■ not syncing"


def trust_line(value: object) -> str:
    """The "device verified by your identity" slot, from what `engine.own_trust()` returns: an
    `OwnTrust` (device_verified, identity_exists), a bool, or None while unknown."""
    if value is None:
        return "verified: —"
    verified = value if isinstance(value, bool) else getattr(value, "device_verified", None)
    if verified is True:
        return "✓ verified by your identity"
    if verified is False and getattr(value, "identity_exists", True) is False:
        return "no cross-signing identity"
    if verified is False:
        return "✗ not verified by your identity"
    label = getattr(value, "label", None)
    return f"verified: {label if label else value}"


def backup_line(status: BackupStatus | None) -> str:
    """The status bar's key backup slot: empty unless something is under way or wrong."""
    if status is None:
        return ""
    restore = status.restore
    if restore is not None and not restore.finished:
        if restore.total:
            return f"🔑 restoring keys from the key backup: {restore.done:,} of {restore.total:,}"
        return "🔑 restoring keys from the key backup…"
    if restore is not None and restore.error:
        return "⚠ key backup: the restore failed (see the log)"
    if status.state == "ready" and "failing" in status.detail:
        return f"⚠ key backup: {status.uploading:,} keys waiting, uploads failing"
    if status.state == "error":
        return "⚠ key backup: unreachable"
    return ""


# -- other people's identities -----------------------------------------------------------------


def person(user_id: str, name: str | None) -> str:
    """"Carol (@carol:example.org)", or just the id when there is no other name."""
    return f"{name} ({user_id})" if name and name != user_id else user_id


def fingerprint(key: str | None) -> str | None:
    """A public key in groups of four, easier to compare out loud."""
    if not key:
        return None
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


def join_names(parts: Sequence[str]) -> str:
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def identity_warning(people: Sequence[str], accept_key: str) -> str:
    """The warning above a room's timeline when members of it have a new identity; `people` are
    already labelled (see `person`)."""
    if len(people) == 1:
        return (
            f"⚠ {people[0]} has a new identity. Check with them before trusting their new messages "
            f"or the keys they share, then accept it ({accept_key})."
        )
    return (
        f"⚠ {join_names(list(people))} have new identities. Check with them before trusting their new "
        f"messages or the keys they share, then accept each ({accept_key})."
    )


def accept_identity_question(label: str, old_key: str | None = None, new_key: str | None = None) -> str:
    """The confirmation before pinning someone's changed identity."""
    keys = ""
    if new_key:
        keys = f" Their new master key is {new_key}"
        keys += f" (it was {old_key})." if old_key else "."
    return (
        f"Accept the new identity of {label}?\n\n"
        "Their cryptographic identity is not the one you saw before." + keys + " That happens when "
        "someone resets their identity, e.g. after losing their devices, but also when someone else "
        "has taken over their account.\n\n"
        "If you accept, their new devices count as theirs: their messages show no warning and keys "
        "they share are trusted as theirs. Check with them first, in person or on another channel."
    )


# -- the crypto inspector ----------------------------------------------------------------------


def short_id(value: str | None, length: int = 10) -> str:
    if not value:
        return "—"
    return value if len(value) <= length + 1 else value[:length] + "…"


ORIGIN_LABELS = {
    "own": "this device",
    "direct": "directly from its creator",
    "import": "a key file",
    "forwarded": "one of your devices",
    "backup": "the key backup",
}


def session_row(session: SessionReport) -> tuple[str, str, str, str, str]:
    """(session, creator, first known index, shareable, origin) for the sessions table."""
    creator = " ".join(p for p in (session.creator_user, session.creator_device) if p) or "unknown"
    # Compact, so the table fits 100 columns; the line under it has the whole sentence (device,
    # date).
    origin = ORIGIN_LABELS.get(session.origin, session.origin_detail)
    if session.origin == "bundle":
        origin = f"bundle from {session.shared_by}" if session.shared_by else session.origin_detail
    return (
        short_id(session.session_id),
        creator,
        str(session.first_known_index),
        "yes" if session.shareable else "no",
        origin,
    )


def withheld_row(record: WithheldReport) -> tuple[str, str, str, str, str]:
    """(session, code, reason, via, from) for the withheld table."""
    sender = " ".join(p for p in (record.from_user, record.from_device) if p) or "unknown"
    return (short_id(record.session_id), record.code, record.reason or "no reason given", record.via, sender)


def bundle_row(bundle: BundleSummary, name: str) -> tuple[str, str, str, str]:
    """(from, state, keys, what it means) for the bundles table."""
    counts = []
    if bundle.key_count is not None:
        counts.append(f"{bundle.key_count} key{'s' if bundle.key_count != 1 else ''}")
    if bundle.withheld_count:
        counts.append(f"{bundle.withheld_count} withheld")
    described = bundle.describe(name)
    if bundle.detail and bundle.detail not in described:
        described += f" ({bundle.detail})"
    return (person(bundle.sender, name), bundle.state, ", ".join(counts) or "—", described)


def pending_bundle_line(inspection: RoomInspection, name: str | None, when: str | None) -> str | None:
    """Whether we still wait for the bundle of the person whose invite we accepted."""
    if not inspection.pending_inviter:
        return None
    since = f" since {when}" if when else ""
    return (
        f"Waiting{since} for the key bundle of {person(inspection.pending_inviter, name)}, who invited "
        "you: earlier messages decrypt when it arrives."
    )


IDENTITY_STATES = {
    "verified": "verified ✔",
    "pinned": "pinned",
    "changed": "changed ⚠",
    "unknown": "unknown",
    "own": "you",
}


def member_rows(member: MemberReport) -> Iterable[tuple[str, str, str, str, str]]:
    """(member, identity, device, device name, cross-signed by owner): one row per device, the
    member named on the first."""
    who = person(member.user_id, member.display_name)
    if member.membership != "join":
        who += f" [{member.membership}]"
    identity = IDENTITY_STATES.get(member.identity, member.identity)
    if not member.devices:
        yield who, identity, "—", "no devices known", "—"
        return
    for index, device in enumerate(member.devices):
        signed = "✔ yes" if device.cross_signed_by_owner else "✘ no"
        yield (who, identity, device.device_id, device.display_name or "", signed) if index == 0 else (
            "", "", device.device_id, device.display_name or "", signed
        )


def typing_line(names: tuple[str, ...] | list[str]) -> str:
    """"Alice is typing…", "Alice and Bob are typing…", "Alice, Bob and 3 others are typing…"."""
    names = list(names)
    if not names:
        return ""
    if len(names) == 1:
        return f"{names[0]} is typing…"
    if len(names) == 2:
        return f"{names[0]} and {names[1]} are typing…"
    return f"{names[0]}, {names[1]} and {len(names) - 2} other{'s' if len(names) > 3 else ''} are typing…"
