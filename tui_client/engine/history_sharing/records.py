"""What history sharing remembers, as typed records (persisted by `store.py`).

- `ReceivedBundle`: the newest key bundle per (room, sender) and where it stands;
- `AcceptedInvite`: "I accepted an invite to this room from X at T" — written *before* `/join`
  goes out, so a lost response or a crash cannot lose who invited us;
- `WithheldRecord`: a session we were told we will not get, and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..models import BundleSummary
from .bundle import WithheldEntry


class BundleState(str, Enum):
    WAITING = "waiting"  # kept; nothing to do until we accept an invite from its sender
    DOWNLOADING = "downloading"  # accepted: the file is being downloaded
    IMPORTING = "importing"  # downloaded: being checked and imported
    RETRYING = "retrying"  # a download failed for a passing reason; tried again later
    HELD = "held"  # refused for now: the sender's identity changed (until the user accepts it)
    IMPORTED = "imported"
    REJECTED = "rejected"  # final: refused, with the reason in `detail`

    @property
    def final(self) -> bool:
        return self in (BundleState.IMPORTED, BundleState.REJECTED)

    @property
    def in_progress(self) -> bool:
        return self in (BundleState.DOWNLOADING, BundleState.IMPORTING, BundleState.RETRYING)


@dataclass(frozen=True)
class ReceivedBundle:
    room_id: str
    sender_user: str
    sender_device: str | None
    sender_key: str  # curve25519 of the device that sent it (Olm-authenticated)
    sender_device_keys: dict[str, Any] | None  # MSC4147, as checked on arrival
    file: dict[str, Any]  # the checked v2 EncryptedFile, only the fields we use
    received_at: float
    state: BundleState
    detail: str | None = None
    key_count: int | None = None  # claimed by the sender until imported, then what the file held
    withheld_count: int | None = None
    imported_count: int | None = None
    finished_at: float | None = None
    message_count: int | None = None  # the sender's count of messages these keys open (a hint)
    attempts: int = 0  # downloads tried for the current acceptance
    next_attempt_at: float | None = None
    bytes_done: int | None = None
    bytes_total: int | None = None
    # The inviter's prediction: the event ids it expected us to read, out of how many (a hint).
    predicted: tuple[str, ...] | None = None
    predicted_total: int | None = None

    def summary(self) -> BundleSummary:
        """As the UI and the CLI see it."""
        return BundleSummary(
            self.sender_user, self.state.value, self.received_at, self.key_count, self.withheld_count,
            self.imported_count, self.detail, self.message_count, self.bytes_done, self.bytes_total,
        )


class AcceptState(str, Enum):
    JOINING = "joining"  # recorded before /join was sent; the server has not confirmed yet
    JOINED = "joined"  # the server confirmed (its answer, or our membership in a sync)
    DONE = "done"  # the inviter's bundle was imported or finally refused
    EXPIRED = "expired"  # the acceptance window passed without a usable bundle


@dataclass(frozen=True)
class AcceptedInvite:
    room_id: str
    inviter: str
    accepted_at: float  # when the user accepted (the window counts from here)
    state: AcceptState
    joined_at: float | None = None

    @property
    def open(self) -> bool:
        """Still looking for the inviter's bundle."""
        return self.state in (AcceptState.JOINING, AcceptState.JOINED)


class WithheldVia(str, Enum):
    BUNDLE = "bundle"
    TO_DEVICE = "to_device"


@dataclass(frozen=True)
class WithheldRecord:
    room_id: str
    session_id: str
    sender_key: str | None
    code: str
    reason: str | None
    from_user: str | None
    from_device: str | None
    via: WithheldVia
    received_at: float

    def entry(self) -> WithheldEntry:
        return WithheldEntry(self.room_id, self.session_id, self.sender_key, self.code, self.reason, self.from_device)
