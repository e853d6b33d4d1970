"""The README's screenshot of emoji verification, from a real run (design habit 9: never drawn by hand).

    python screenshots/verification.py            # from the repository root

Starts a private Synapse in a temporary directory, registers Alice and Bob, and drives Bob's
terminal UI headless (the same app `tui-client` runs, on its real engine thread) while Alice is a
plain `Engine`: Alice asks Bob to verify in a direct chat, the dialog opens in Bob's window, he
accepts, and both compare the emoji (then both confirm, and each ends verified). Writes into this
directory:

    verification-emoji.svg     the seven emoji with their names, "They match" / "They don't match"

Needs the Synapse that the tests use (installed on first use, or TUI_CLIENT_SYNAPSE_PYTHON).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.widgets import Input, TextArea  # noqa: E402

from tui_client.config import Settings  # noqa: E402
from tui_client.engine.engine import Engine  # noqa: E402
from tui_client.homeserver import SynapseServer, ensure_synapse, synapse_python  # noqa: E402
from tui_client.logs import setup_logging  # noqa: E402
from tui_client.cli import open_backend  # noqa: E402
from tui_client.ui.app import TuiApp  # noqa: E402
from tui_client.ui.screens.main import MainScreen  # noqa: E402
from tui_client.ui.screens.verification import VerificationScreen  # noqa: E402
from tui_client.ui.widgets.room_list import RoomList  # noqa: E402

OUT = Path(__file__).resolve().parent
SIZE = (100, 30)
SETTINGS = Settings(sync_timeout_ms=5_000)


async def until(pilot: Any, predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    return value


def save(app: TuiApp, name: str) -> None:
    for widget in app.screen.query("Input, TextArea"):
        if isinstance(widget, (Input, TextArea)):
            widget.cursor_blink = False
    path = OUT / f"{name}.svg"
    path.write_text(app.export_screenshot(title="tui-client"), encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


async def run(server: SynapseServer, work: Path) -> None:
    server.register_user("alice", "alice-password", displayname="Alice")
    server.register_user("bob", "bob-password", displayname="Bob")
    host, restored = open_backend("bob", SETTINGS, profile_dir=work / "bob")
    host.run(lambda e: e.login(server.url, "bob", "bob-password")).result(timeout=60)

    # Alice's engine runs on Bob's engine thread: nio's store binds its (global) peewee models
    # per call, so two engines must not touch their stores from two threads at once.
    def beside(coro: Any) -> Any:
        return asyncio.wrap_future(host.submit(coro))

    async def start_alice() -> Engine:
        engine = Engine("alice", profile_dir=work / "alice", settings=SETTINGS)
        await engine.login(server.url, "alice", "alice-password")
        await engine.sync_once()
        engine.start_sync()
        return engine

    alice = await beside(start_alice())
    app = TuiApp(host, restored=True, settings=SETTINGS, profile="bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList), "main")
            screen = app.screen
            await until(pilot, lambda: app.sync_state.state == "syncing", "syncing")

            # Alice asks; her client opens a direct chat with Bob, who joins it.
            asking = asyncio.ensure_future(beside(alice.request_verification("@bob:localhost", timeout=60)))
            room_list = screen.query_one(RoomList)
            await until(pilot, lambda: room_list.invites, "the direct chat invite")
            app.accept_invite(room_list.invites[0])
            asked = await asking

            # The dialog opens in Bob's window by itself.
            dialog = await until(pilot, lambda: isinstance(app.screen, VerificationScreen) and app.screen, "dialog")
            await pilot.press("a")
            await until(pilot, lambda: dialog.query_one("#sas-emoji").display, "the emoji")
            await pilot.pause(0.5)
            save(app, "verification-emoji")

            await beside(alice.confirm_verification(asked.flow_id))
            await pilot.press("y")
            await until(pilot, lambda: dialog.info and dialog.info.result, "the result")
            await pilot.press("escape")
            await beside(alice.close())  # on the engine thread, before quitting stops it
            await pilot.press("ctrl+q")
    finally:
        host.stop()


def main() -> int:
    setup_logging("INFO", to_file=False, stderr_level=os.environ.get("SCREENSHOT_LOG"))  # ring buffer (log screen)
    python = synapse_python() or ensure_synapse()
    with tempfile.TemporaryDirectory(prefix="tui-client-screenshots-") as tmp:
        work = Path(tmp)
        server = SynapseServer(work / "synapse", python=python)
        server.start()
        try:
            asyncio.run(run(server, work))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
