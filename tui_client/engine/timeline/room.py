"""What we hold of one room's timeline: its events aggregated into items (`relations`), the
undecryptable nio events behind some of them (to retry decryption), and where to paginate from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..models import TimelineItem
from .relations import Aggregator


@dataclass
class RoomTimeline:
    room_id: str
    events: Aggregator
    undecrypted: dict[str, Any] = field(default_factory=dict)  # event id -> nio MegolmEvent
    prev_batch: str | None = None
    at_start: bool = False
    paginated_once: bool = False
    # Restored from a cache that may have missed events (a crash after a sync and before the
    # cache was written): the next sync replaces it.
    stale: bool = False

    @property
    def items(self) -> list[TimelineItem]:
        return self.events.items()

    def item(self, event_id: str) -> TimelineItem | None:
        return self.events.item(event_id)

    def reset(self, prev_batch: str | None) -> None:
        self.events.clear()
        self.undecrypted.clear()
        self.prev_batch = prev_batch
        self.at_start = False
        self.paginated_once = False
        self.stale = False
