"""Fixtures for the UI tests: the app on a fake engine (deterministic data, UTC, fixed clock),
and a helper that waits for a condition by pausing the pilot instead of sleeping."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest

from tui_client.config import Settings
from tui_client.engine.host import EngineHost
from tui_client.ui.app import TuiApp
from tui_client.ui.timefmt import TimeFormatter

from .fake_engine import FakeEngine

os.environ["TZ"] = "UTC"
time.tzset()

FIXED_NOW = 1741089600.0  # 2025-03-04 12:00 UTC


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., TuiApp]]:
    """`make_app()` -> a TuiApp on a FakeEngine (its engine is `app.fake`)."""
    hosts: list[EngineHost] = []

    def factory(engine: FakeEngine | None = None, *, restored: bool | None = None,
                settings: Settings | None = None, problems: tuple[str, ...] = ()) -> TuiApp:
        engine = engine or FakeEngine()
        host = EngineHost(engine)  # type: ignore[arg-type]
        hosts.append(host)
        app = TuiApp(
            host,
            restored=bool(engine.user_id) if restored is None else restored,
            settings=settings,
            problems=problems,
            time_format=TimeFormatter(timezone.utc),
            now=lambda: FIXED_NOW,
            screenshot_dir=tmp_path / "screenshots",
            profile="test",
        )
        app.fake = engine  # type: ignore[attr-defined]
        return app

    yield factory
    for host in hosts:
        host.stop()


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Pause the pilot until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)
