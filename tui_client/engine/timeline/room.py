"""What we hold of one room's timeline: its items oldest first, the nio events behind them
(to retry decryption), and where to paginate from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..models import TimelineItem


@dataclass
class RoomTimeline:
    """What we have of one room's timeline, oldest first, plus where to paginate from."""

    room_id: str
    items: list[TimelineItem] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # event id -> nio event (to retry decryption)
    prev_batch: str | None = None
    at_start: bool = False
    paginated_once: bool = False

    def index_of(self, event_id: str) -> int | None:
        for i in range(len(self.items) - 1, -1, -1):
            if self.items[i].event_id == event_id:
                return i
        return None

    def append(self, items: Iterable[tuple[TimelineItem, Any]]) -> list[TimelineItem]:
        added = []
        for item, raw in items:
            if item.event_id in self.raw:
                continue
            self.items.append(item)
            self.raw[item.event_id] = raw
            added.append(item)
        return added

    def prepend(self, items_oldest_first: list[tuple[TimelineItem, Any]]) -> list[TimelineItem]:
        fresh = [(i, r) for i, r in items_oldest_first if i.event_id not in self.raw]
        for item, raw in fresh:
            self.raw[item.event_id] = raw
        self.items[:0] = [i for i, _ in fresh]
        return [i for i, _ in fresh]

    def replace(self, item: TimelineItem, raw: Any | None = None) -> bool:
        index = self.index_of(item.event_id)
        if index is None:
            return False
        self.items[index] = item
        if raw is not None:
            self.raw[item.event_id] = raw
        return True

    def reset(self, prev_batch: str | None) -> None:
        self.items.clear()
        self.raw.clear()
        self.prev_batch = prev_batch
        self.at_start = False
        self.paginated_once = False
