"""Runs an Engine on its own thread and asyncio loop, for front ends that must never block.

The TUI calls `host.submit(engine.send_text(...))` (or `host.run(lambda e: e.send_text(...))`)
and gets a `concurrent.futures.Future`; engine events are delivered to the listener on the
engine thread, so a UI forwards them with its own thread-safe call (Textual's post_message).
Nothing nio does (a slow store load, a big sync, a bundle import) can freeze the UI thread.

A host can also be made with an `opener` instead of an engine: the engine is then built and
opened on the engine thread when `begin()` is called (or when first asked for), which is how the
TUI draws its first screen before nio is even imported. Calls made before it is open wait for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import EngineError
from .events import EngineEvent

if TYPE_CHECKING:
    from .engine import Engine

logger = logging.getLogger(__name__)
T = TypeVar("T")


class EngineHost:
    def __init__(
        self,
        engine: Engine | None = None,
        *,
        opener: Callable[[], Awaitable[Engine]] | None = None,
        on_unopened: Callable[[], None] | None = None,
    ) -> None:
        """Host `engine`, or the engine `opener` makes on the engine thread when `begin()` is
        called; `on_unopened` runs at `stop()` if no engine was ever made (e.g. to release a
        claimed profile)."""
        if (engine is None) == (opener is None):
            raise ValueError("give an engine or an opener")
        self._engine = engine
        self._opener = opener
        self._on_unopened = on_unopened
        self._ready: concurrent.futures.Future[Engine] = concurrent.futures.Future()
        if engine is not None:
            self._ready.set_result(engine)
        self._begun = engine is not None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="tui-client-engine", daemon=True)
        self._started = threading.Event()
        self._stopped = False  # (set once the engine is closed: nothing more will run)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the engine is not open yet")
        return self._engine

    def begin(self) -> None:
        """Build and open the engine now, on its thread (a host made with an opener)."""
        if self._begun:
            return
        self._begun = True
        self.start()
        opener = self._opener
        assert opener is not None

        async def open_engine() -> None:
            try:
                engine = await opener()
            except Exception as exc:
                self._ready.set_exception(exc)
                return
            self._engine = engine
            self._ready.set_result(engine)

        self.submit(open_engine())

    async def _opened(self) -> Engine:
        if self._engine is not None:
            return self._engine
        self.begin()
        return await asyncio.wrap_future(self._ready)

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
        """Schedule a coroutine on the engine loop; after `stop()`, a future that has already
        failed (work asked for while quitting would otherwise never run nor end)."""
        if self._stopped or self.loop.is_closed():
            if asyncio.iscoroutine(coro):
                coro.close()
            failed: concurrent.futures.Future[T] = concurrent.futures.Future()
            failed.set_exception(EngineError("the engine has stopped"))
            return failed
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]

    def run(self, func: Callable[[Engine], Awaitable[T]]) -> concurrent.futures.Future[T]:
        """Schedule `func(engine)` on the engine loop (the coroutine is created there)."""

        async def call() -> T:
            return await func(await self._opened())

        return self.submit(call())

    def call(self, func: Callable[[Engine], T]) -> T:
        """Run a quick synchronous read of engine state on its thread and wait for it."""

        async def call() -> T:
            return func(await self._opened())

        return self.submit(call()).result(timeout=10)

    def subscribe(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        return self.call(lambda e: e.subscribe(listener))

    def stop(self, timeout: float = 10.0) -> None:
        """Close the engine (stops syncing, releases the profile lock) and end the thread."""
        if self._thread.is_alive():
            engine = None
            if self._begun:
                try:
                    engine = self._ready.result(timeout=timeout)
                except Exception as exc:  # it never opened: nothing to close
                    logger.info("the engine did not open: %s", exc)
            try:
                if engine is not None:
                    self.submit(engine.close()).result(timeout=timeout)
            except Exception as exc:
                logger.warning("engine did not close cleanly: %s", exc)
            self._stopped = True
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
        if self._engine is None and self._on_unopened is not None:
            on_unopened, self._on_unopened = self._on_unopened, None
            on_unopened()

    def __enter__(self) -> EngineHost:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
