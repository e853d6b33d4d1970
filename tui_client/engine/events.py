"""Typed events the engine emits to subscribers (the UI bridge, the CLI, tests)."""

from __future__ import annotations

from ..records import record
from .models import BackupStatus, Invite, OwnTrust, RoomSummary, SyncState, TimelineItem, VerificationInfo


@record
class EngineEvent:
    pass


@record
class RoomsChanged(EngineEvent):
    rooms: tuple[RoomSummary, ...]
    invites: tuple[Invite, ...]


@record
class InviteReceived(EngineEvent):
    invite: Invite


@record
class TimelineReset(EngineEvent):
    """The live timeline of a room had a gap; what was shown is stale. Re-read it."""

    room_id: str


@record
class TimelineItemsAdded(EngineEvent):
    room_id: str
    items: tuple[TimelineItem, ...]
    at_start: bool = False  # True for back-pagination


@record
class TimelineItemUpdated(EngineEvent):
    """An item changed in place, e.g. it decrypted once its key arrived."""

    room_id: str
    item: TimelineItem


@record
class TimelineItemsRemoved(EngineEvent):
    """Items that turned out not to be messages of their own (an undecryptable event that
    decrypted into an edit or a reaction, now folded into its target)."""

    room_id: str
    event_ids: tuple[str, ...]


@record
class TypingChanged(EngineEvent):
    """Who is typing in a room now (display names, without us)."""

    room_id: str
    names: tuple[str, ...]


@record
class ReceiptsChanged(EngineEvent):
    """Read receipts of others moved: for each shown event, who read up to it (display names)."""

    room_id: str
    receipts: tuple[tuple[str, tuple[str, ...]], ...]


@record
class Notification(EngineEvent):
    """A new message the user's push rules say to notify about (in a live sync, not ours).

    `highlight`: it mentions the user (or a keyword); `direct`: it is in a direct chat."""

    room_id: str
    room_name: str
    item: TimelineItem
    highlight: bool
    direct: bool
    sound: str | None = None


@record
class TransferProgress(EngineEvent):
    """A file going up or coming down: `done` of `total` bytes (total None when unknown)."""

    transfer_id: str
    room_id: str
    name: str
    done: int
    total: int | None
    upload: bool


@record
class SyncStateChanged(EngineEvent):
    state: SyncState


@record
class EngineErrorEvent(EngineEvent):
    message: str
    detail: str | None = None


@record
class Notice(EngineEvent):
    """Something a user should see once (a bundle imported, a bundle refused, …)."""

    message: str
    room_id: str | None = None
    level: str = "information"  # "information" | "warning" | "error"


@record
class IdentityChanged(EngineEvent):
    """Someone's master key is not the one we pinned: their identity was reset (or replaced)."""

    user_id: str
    old_master_key: str | None
    new_master_key: str


@record
class OwnTrustChanged(EngineEvent):
    """Whether this device is verified by our own cross-signing identity changed."""

    trust: OwnTrust


@record
class BackupChanged(EngineEvent):
    """The key backup's state or a restore's progress changed (at most a few times a second)."""

    status: BackupStatus


@record
class VerificationChanged(EngineEvent):
    """An emoji verification began (ours or theirs), moved on, or ended."""

    info: VerificationInfo
