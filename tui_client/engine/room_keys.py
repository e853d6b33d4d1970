"""Megolm room keys we hold: where each copy came from (`Origin`), what we know of it
(`SessionMeta`), and which copy wins when a session arrives again (`decide_merge`). Pure.

Every record is keyed by room *and* session id, as in matrix-rust-sdk: a key offered for one
room never touches anything we hold for another. Where a hostile inviter could exploit
matrix-rust-sdk's rule (the first copy stays), ours differs: a key authenticated by its creator
always beats an unconnected copy from anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

from ..records import record

# The spelling of MSC4268's flag that Element's Rust crypto reads today (it also reads
# "m.shared_history"); the only one we write: rust-sdk rejects an m.room_key carrying two
# aliases of the flag. We read all three.
SHARED_HISTORY_SEND_KEY = "org.matrix.msc3061.shared_history"
SHARED_HISTORY_READ_KEYS = ("shared_history", "m.shared_history", "org.matrix.msc3061.shared_history")


def shared_history_flag(content: Any) -> bool:
    """True if any accepted spelling of the flag is literally `true` (missing or odd = false)."""
    if not isinstance(content, dict):
        return False
    return any(content.get(k) is True for k in SHARED_HISTORY_READ_KEYS)


class Origin(str, Enum):
    OWN = "own"  # created by this device
    DIRECT = "direct"  # m.room_key over Olm from the device that created it
    FORWARDED = "forwarded"  # m.forwarded_room_key
    BUNDLE = "bundle"  # a key bundle (MSC4268)
    IMPORT = "import"  # a key file
    BACKUP = "backup"  # restored from the server-side key backup (anyone who can write to it could add one)

    @property
    def authenticated(self) -> bool:
        """Vouched for by the session's creator itself (Olm authenticates its curve25519 key)."""
        return self in (Origin.OWN, Origin.DIRECT)

    @property
    def rank(self) -> int:
        return {Origin.OWN: 3, Origin.DIRECT: 2}.get(self, 1)


@record
class CopyFacts:
    """One copy of a session (same room and session id) as the merge sees it."""

    sender_key: str
    first_known_index: int
    origin: Origin


class MergeAction(str, Enum):
    NEW = "new"  # we held no copy
    STORE = "store"  # take the new copy whole
    KEEP = "keep"  # keep what we have; nothing to store
    NEW_RATCHET_OLD_META = "new_ratchet_old_meta"  # earlier ratchet, but keep the trusted metadata
    OLD_RATCHET_NEW_META = "old_ratchet_new_meta"  # keep the earlier ratchet, upgrade the metadata
    REPLACE = "replace"  # the old copy is not the creator's session: drop it, take the new one


@record
class MergeDecision:
    action: MergeAction
    reason: str

    @property
    def stored(self) -> bool:
        return self.action is not MergeAction.KEEP


NEW_SESSION = MergeDecision(MergeAction.NEW, "new session")


def decide_merge(old: CopyFacts | None, new: CopyFacts, connected: bool) -> MergeDecision:
    """Which copy of a session (same room, same session id) wins.

    `connected`: both copies are the same ratchet (they export identically at the later of
    their first indexes). A copy that is not connected to ours, or that names another creator,
    is a different session under the same id — a forgery or a broken client: the copy vouched
    for by its creator wins; otherwise the one we hold stays."""
    if old is None:
        return NEW_SESSION
    if old.sender_key != new.sender_key or not connected:
        what = "names another creator" if old.sender_key != new.sender_key else "has another ratchet"
        if new.origin.authenticated and not old.origin.authenticated:
            return MergeDecision(
                MergeAction.REPLACE, f"the copy we held ({old.origin.value}) {what}; its creator's key replaces it"
            )
        return MergeDecision(MergeAction.KEEP, f"refused a copy that {what} than the one we hold")
    better = new.first_known_index < old.first_known_index
    equal = new.first_known_index == old.first_known_index
    if better and new.origin.rank >= old.origin.rank:
        return MergeDecision(MergeAction.STORE, "better ratchet")
    if equal and new.origin.rank > old.origin.rank:
        return MergeDecision(MergeAction.STORE, "more trusted source")
    if better:
        return MergeDecision(MergeAction.NEW_RATCHET_OLD_META, "earlier ratchet, kept trusted metadata")
    if not equal and new.origin.rank > old.origin.rank:
        return MergeDecision(MergeAction.OLD_RATCHET_NEW_META, "kept earlier ratchet, upgraded metadata")
    return MergeDecision(MergeAction.KEEP, "no improvement")


class Forwarder(NamedTuple):
    """Who shared a key bundle: what its sessions' metadata says besides each session."""

    user: str
    device: str | None
    master_key: str | None


@dataclass(frozen=True, init=False)
class SessionMeta:
    """What we know of one inbound Megolm session besides its ratchet."""

    room_id: str
    session_id: str
    sender_key: str
    shared_history: bool  # MSC4268: its creator allowed sharing it with later members
    origin: Origin
    forwarder_user: str | None = None  # who shared it, for bundles
    forwarder_device: str | None = None
    forwarder_master_key: str | None = None
    received_at: float = 0.0

    def __init__(
        self, room_id: str, session_id: str, sender_key: str, shared_history: bool, origin: Origin,
        forwarder_user: str | None = None, forwarder_device: str | None = None,
        forwarder_master_key: str | None = None, received_at: float = 0.0,
    ) -> None:
        # A key bundle makes 10,000 of these: the frozen dataclass's own __init__ sets each field
        # through object.__setattr__ (30 ms for 10,000 here, a tenth of an import); filling the
        # instance's dict at once takes 18 ms. Still frozen: assigning a field raises.
        self.__dict__.update(
            room_id=room_id, session_id=session_id, sender_key=sender_key, shared_history=shared_history,
            origin=origin, forwarder_user=forwarder_user, forwarder_device=forwarder_device,
            forwarder_master_key=forwarder_master_key, received_at=received_at,
        )

    @property
    def key(self) -> tuple[str, str]:
        return self.room_id, self.session_id
