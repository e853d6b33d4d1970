"""Typed events the engine emits to subscribers (the UI bridge, the CLI, tests)."""

from __future__ import annotations

from dataclasses import dataclass

from .models import BackupStatus, Invite, OwnTrust, RoomSummary, SyncState, TimelineItem


@dataclass(frozen=True)
class EngineEvent:
    pass


@dataclass(frozen=True)
class RoomsChanged(EngineEvent):
    rooms: tuple[RoomSummary, ...]
    invites: tuple[Invite, ...]


@dataclass(frozen=True)
class InviteReceived(EngineEvent):
    invite: Invite


@dataclass(frozen=True)
class TimelineReset(EngineEvent):
    """The live timeline of a room had a gap; what was shown is stale. Re-read it."""

    room_id: str


@dataclass(frozen=True)
class TimelineItemsAdded(EngineEvent):
    room_id: str
    items: tuple[TimelineItem, ...]
    at_start: bool = False  # True for back-pagination


@dataclass(frozen=True)
class TimelineItemUpdated(EngineEvent):
    """An item changed in place, e.g. it decrypted once its key arrived."""

    room_id: str
    item: TimelineItem


@dataclass(frozen=True)
class TimelineItemsRemoved(EngineEvent):
    """Items that turned out not to be messages of their own (an undecryptable event that
    decrypted into an edit or a reaction, now folded into its target)."""

    room_id: str
    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class SyncStateChanged(EngineEvent):
    state: SyncState


@dataclass(frozen=True)
class EngineErrorEvent(EngineEvent):
    message: str
    detail: str | None = None


@dataclass(frozen=True)
class Notice(EngineEvent):
    """Something a user should see once (a bundle imported, a bundle refused, …)."""

    message: str
    room_id: str | None = None
    level: str = "information"  # "information" | "warning" | "error"


@dataclass(frozen=True)
class IdentityChanged(EngineEvent):
    """Someone's master key is not the one we pinned: their identity was reset (or replaced)."""

    user_id: str
    old_master_key: str | None
    new_master_key: str


@dataclass(frozen=True)
class OwnTrustChanged(EngineEvent):
    """Whether this device is verified by our own cross-signing identity changed."""

    trust: OwnTrust


@dataclass(frozen=True)
class BackupChanged(EngineEvent):
    """The key backup's state or a restore's progress changed (at most a few times a second)."""

    status: BackupStatus
