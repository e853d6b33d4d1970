"""Quitting a first start after login while the server has not answered its initial sync yet
ends the process at once: nothing may go on waiting for the glimpse (engine.first_sync). A wait
on a worker thread did: it held the process open for the request's whole timeout (120 s)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import asyncio
    from concurrent.futures import Future
    from datetime import timezone

    from tests.ui.fake_engine import FakeEngine
    from tui_client.engine.host import EngineHost
    from tui_client.ui.app import TuiApp
    from tui_client.ui.timefmt import TimeFormatter

    async def main():
        pending = Future()
        pending.set_running_or_notify_cancel()  # a server that has not answered
        host = EngineHost(FakeEngine(rooms=[]))
        app = TuiApp(host, restored=True, time_format=TimeFormatter(timezone.utc), profile="t",
                     glimpses=(pending, pending))
        async with app.run_test() as pilot:
            await pilot.pause(0.3)
            assert any(w.name == "First look at the rooms" for w in app.workers)
            await pilot.press("ctrl+q")
        host.stop()
        print("quit")

    asyncio.run(main())
""")


def test_quitting_before_the_first_answer_ends_the_process():
    # (Not a speed figure: the wait to catch held the process for two minutes.)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "quit" in done.stdout, done.stderr[-2000:]

