"""What the history-sharing shells need from the rest of the engine, and nothing more."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ...config import Settings
    from ..nio.client import EngineClient
    from ..keys.identity import IdentityManager
    from ..models import TimelineItem


class SharingHost(Protocol):
    settings: Settings
    clock: Callable[[], float]

    @property
    def identity(self) -> IdentityManager: ...

    @property
    def client(self) -> EngineClient | None: ...

    async def query_keys(self, users: set[str]) -> None: ...

    def display_name(self, room_id: str, user_id: str) -> str: ...

    def notice(self, message: str, *, room_id: str | None = None, level: str = "information") -> None: ...

    def refresh_failures(self, room_id: str) -> None: ...

    def emit_rooms(self) -> None: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]: ...

    def timeline(self, room_id: str) -> list[TimelineItem]: ...

    def timeline_at_start(self, room_id: str) -> bool: ...
