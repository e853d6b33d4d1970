"""The sync loop: /sync with backoff after failures, the key upkeep nio's `sync_forever` would
do between syncs, the state front ends show, and waiting for something to show up in a sync."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nio import responses as r
from nio.exceptions import LocalProtocolError

from ..config import Settings
from .errors import EngineError, NotLoggedIn, Unreachable
from .events import EngineErrorEvent, EngineEvent, SyncStateChanged
from .models import SyncPhase, SyncState
from .timeline.timelines import error_text

if TYPE_CHECKING:
    from .nio.client import EngineClient

logger = logging.getLogger(__name__)


class SyncLoop:
    def __init__(
        self,
        client: Callable[[], EngineClient],
        after_sync: Callable[[], Awaitable[None]],
        emit: Callable[[EngineEvent], None],
        clock: Callable[[], float],
        settings: Settings,
    ) -> None:
        self._client = client  # raises NotLoggedIn when there is none
        self._after_sync = after_sync
        self._emit = emit
        self._clock = clock
        self._settings = settings
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self._wake = asyncio.Event()
        self.first_sync_done = False
        self.state = SyncState(SyncPhase.STOPPED)

    def _set_state(self, phase: SyncPhase, detail: str | None = None, retry_in: float | None = None) -> None:
        new = SyncState(phase, detail, retry_in, self._clock())
        if (new.state, new.detail, new.retry_in) != (self.state.state, self.state.detail, self.state.retry_in):
            self.state = new
            self._emit(SyncStateChanged(new))

    async def sync_once(self, timeout_ms: int = 0) -> None:
        """One /sync plus the key upkeep that follows it. Raises EngineError on failure."""
        client = self._client()
        async with self._lock:
            full_state = True if not self.first_sync_done else None
            try:
                resp = await client.sync(timeout=timeout_ms, full_state=full_state)
            except Exception as exc:
                raise Unreachable(f"cannot reach the homeserver: {exc or type(exc).__name__}") from exc
            if not isinstance(resp, r.SyncResponse):
                if getattr(resp, "status_code", "") in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
                    self._set_state(SyncPhase.LOGGED_OUT, "the server no longer accepts this session; log in again")
                    raise NotLoggedIn("the server no longer accepts this session; log in again")
                raise EngineError(f"sync failed: {error_text(resp)}")
            # The client handed the response to the engine (OlmHooks.on_sync_response) inside the
            # transaction that also stores nio's part and the next sync token.
            self.first_sync_done = True
        await self.maintain_keys()
        await self._after_sync()
        self._synced.set()
        self._synced = asyncio.Event()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="sync-loop")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if self.state.state is not SyncPhase.LOGGED_OUT:
            self._set_state(SyncPhase.STOPPED)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def retry_now(self) -> None:
        """Skip the current backoff wait (a user pressed 'reconnect')."""
        self._wake.set()

    async def _loop(self) -> None:
        failures = 0
        self._set_state(SyncPhase.CONNECTING)
        while True:
            try:
                # After a failure, sync without long-polling so "syncing" shows as soon as the
                # server answers again.
                timeout = 0 if not self.first_sync_done or failures else self._settings.sync_timeout_ms
                await self.sync_once(timeout)
                failures = 0
                self._set_state(SyncPhase.SYNCING)
            except asyncio.CancelledError:
                raise
            except NotLoggedIn as exc:
                self._emit(EngineErrorEvent(str(exc)))
                return
            except Exception as exc:
                failures += 1
                delay = min(15.0, 0.5 * 2 ** min(failures - 1, 5)) * random.uniform(0.8, 1.2)
                reason = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
                logger.warning("sync failed (%s); retrying in %.1f s", reason, delay)
                phase = SyncPhase.OFFLINE if isinstance(exc, Unreachable) else SyncPhase.RETRYING
                self._set_state(phase, reason, round(delay, 1))
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Wait (syncing ourselves if no loop runs) until `predicate()` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if self.running:
                synced = self._synced
                try:
                    await asyncio.wait_for(synced.wait(), remaining)
                except asyncio.TimeoutError:
                    return predicate()
            else:
                await self.sync_once(timeout_ms=int(min(remaining, 5) * 1000))
        return True

    async def maintain_keys(self) -> None:
        """What nio's sync_forever does between syncs: upload, query, claim, send to-device."""
        client = self._client()
        try:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await self.query_keys()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            if client.outgoing_to_device_messages:
                await client.send_to_device_messages()
        except LocalProtocolError as exc:
            logger.debug("key upkeep skipped: %s", exc)

    async def query_keys(self, users: set[str] | None = None) -> Any:
        resp = await self._client().keys_query_full(users)
        if not isinstance(resp, r.KeysQueryResponse):
            logger.warning("key query failed: %s", error_text(resp))
        return resp
