"""The sentences the UI shows about engine models, kept pure so they are unit-testable.

Widgets call these instead of formatting models themselves, so the room list, the invite cards and
the invites screen say the same thing in the same words.
"""

from __future__ import annotations

from ..config import HISTORY_VISIBILITIES
from ..engine.models import Invite, RoomSummary, SyncState, TimelineItem

__all__ = [
    "HISTORY_VISIBILITIES",
    "VISIBILITY_HELP",
    "bundle_line",
    "failure_line",
    "invite_line",
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
    """Who invited you, e.g. "Alice (@alice:example.org) invited you"."""
    if invite.inviter and invite.inviter_name and invite.inviter_name != invite.inviter:
        return f"{invite.inviter_name} ({invite.inviter}) invited you"
    return f"{invite.inviter_label} invited you"


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
    return " · ".join(parts)


def failure_line(item: TimelineItem) -> str:
    return f"⚠ Unable to decrypt: {item.failure_reason or 'no reason given'}"


def sync_line(state: SyncState, now: float) -> str:
    """The status bar's sync part; `now` is passed in so the countdown is testable."""
    if state.state == "syncing":
        return "● syncing"
    if state.state == "connecting":
        return "◌ connecting…"
    if state.state == "retrying":
        reason = f" — {state.detail}" if state.detail else ""
        if state.retry_in is not None and state.since is not None:
            left = round(state.since + state.retry_in - now)
            if left <= 0:  # the next attempt is under way (it ends with the next state change)
                return f"⟳ reconnecting…{reason}"
            return f"⟳ retrying in {left} s{reason}"
        return f"⟳ retrying{reason}"
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
