"""Runs an Engine on its own thread and asyncio loop, for front ends that must never block.

The TUI calls `host.submit(engine.send_text(...))` (or `host.run(lambda e: e.send_text(...))`)
and gets a `concurrent.futures.Future`; engine events are delivered to the listener on the
engine thread, so a UI forwards them with its own thread-safe call (Textual's post_message).
Nothing nio does (a slow store load, a big sync, a bundle import) can freeze the UI thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .engine import Engine
from .events import EngineEvent

logger = logging.getLogger(__name__)
T = TypeVar("T")


class EngineHost:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="tui-client-engine", daemon=True)
        self._started = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._started.set()
        self.loop.run_forever()
        # Drain what is left so nothing warns about pending tasks.
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()
            self._started.wait()

    def submit(self, coro: Awaitable[T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the engine loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]

    def run(self, func: Callable[[Engine], Awaitable[T]]) -> concurrent.futures.Future[T]:
        """Schedule `func(engine)` on the engine loop (the coroutine is created there)."""

        async def call() -> T:
            return await func(self.engine)

        return self.submit(call())

    def call(self, func: Callable[[Engine], T]) -> T:
        """Run a quick synchronous read of engine state on its thread and wait for it."""

        async def call() -> T:
            return func(self.engine)

        return self.submit(call()).result(timeout=10)

    def subscribe(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        return self.call(lambda e: e.subscribe(listener))

    def stop(self, timeout: float = 10.0) -> None:
        """Close the engine (stops syncing, releases the profile lock) and end the thread."""
        if not self._thread.is_alive():
            return
        try:
            self.submit(self.engine.close()).result(timeout=timeout)
        except Exception as exc:
            logger.warning("engine did not close cleanly: %s", exc)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)

    def __enter__(self) -> EngineHost:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
