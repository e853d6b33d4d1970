"""Generate the README's screenshots from a real run (design habit 9: never drawn by hand).

    python screenshots/generate.py            # from the repository root

Starts a private Synapse in a temporary directory, registers Alice and Bob, and drives Bob's
terminal UI headless (the same app `tui-client` runs, on its real engine thread) while Alice is a
plain `Engine`: Bob logs in through the login screen, Alice creates an encrypted room with some
history and invites him (sharing the keys to that history, MSC4268), Bob accepts and reads it with
the 🔑 provenance badges, and they talk. Writes into this directory:

    login.svg       the login screen, filled in
    invites.svg     the invites screen: who invited Bob and the key bundle each invite carries
    main.svg        the room after joining: shared history with its badges, then new messages
    provenance.svg  a shared message selected: the full provenance sentence in the detail line

Needs the Synapse that the tests use (installed on first use, or TUI_CLIENT_SYNAPSE_PYTHON).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.widgets import Input, TextArea  # noqa: E402

from tui_client.cli import open_backend  # noqa: E402
from tui_client.config import Settings  # noqa: E402
from tui_client.engine.engine import Engine  # noqa: E402
from tui_client.homeserver import SynapseServer, ensure_synapse, synapse_python  # noqa: E402
from tui_client.logs import setup_logging  # noqa: E402
from tui_client.ui.app import TuiApp  # noqa: E402
from tui_client.ui.screens.invites import InvitesScreen  # noqa: E402
from tui_client.ui.screens.login import LoginScreen  # noqa: E402
from tui_client.ui.screens.main import MainScreen  # noqa: E402
from tui_client.ui.widgets.composer import Composer  # noqa: E402
from tui_client.ui.widgets.invite_card import InviteCard  # noqa: E402
from tui_client.ui.widgets.room_list import RoomList  # noqa: E402
from tui_client.ui.widgets.timeline import Timeline  # noqa: E402

OUT = Path(__file__).resolve().parent
SIZE = (100, 30)
SETTINGS = Settings(sync_timeout_ms=5_000)

HISTORY = [
    "Welcome to **Project X**! Notes from the kick-off:",
    "- budget approved\n- venue _booked_ for the 14th",
    "Design drafts are in the shared folder; comments by Friday please.",
]


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
            widget.cursor_blink = False  # a steady cursor, not whatever phase the blink was in
    path = OUT / f"{name}.svg"
    path.write_text(app.export_screenshot(title="tui-client"), encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


async def run(server: SynapseServer, work: Path) -> None:
    server.register_user("alice", "alice-password", displayname="Alice")
    server.register_user("bob", "bob-password", displayname="Bob")
    alice = Engine("alice", profile_dir=work / "alice", settings=SETTINGS)
    await alice.login(server.url, "alice", "alice-password")
    await alice.sync_once()

    host, restored = open_backend("bob", SETTINGS, profile_dir=work / "bob")
    app = TuiApp(host, restored=restored, settings=SETTINGS, profile="bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            # 1. Bob logs in (first, so that he has a cross-signing identity Alice can share with).
            await until(pilot, lambda: isinstance(app.screen, LoginScreen) and app.screen.query("#password"), "login")
            login = app.screen
            login.query_one("#homeserver", Input).value = server.url
            login.query_one("#user", Input).value = "bob"
            login.query_one("#password", Input).value = "bob-password"
            login.query_one("#password", Input).focus()
            await pilot.pause(0.2)
            save(app, "login")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList), "main")
            screen = app.screen
            await until(pilot, lambda: app.sync_state.state == "syncing", "syncing")

            # 2. Alice: a room with history, and a second invite; Bob is invited to both.
            project = await alice.create_room("Project X", history_visibility="shared", topic="Launch planning")
            for text in HISTORY:
                await alice.send_text(project, text)
            design = await alice.create_room("Design review", history_visibility="shared")
            await alice.send_text(design, "First sketches attached.")
            await alice.invite(project, "@bob:localhost")
            await alice.invite(design, "@bob:localhost")
            room_list = screen.query_one(RoomList)
            await until(pilot, lambda: len(room_list.invites) == 2, "both invites")
            await until(pilot, lambda: all(i.bundle is not None for i in room_list.invites), "the key bundles", 30)

            # 3. The invites screen.
            await pilot.press("ctrl+o")
            await until(pilot, lambda: isinstance(app.screen, InvitesScreen) and len(app.screen.query(InviteCard)) == 2,
                        "the invites screen")
            await pilot.pause(0.3)
            save(app, "invites")
            await pilot.press("escape")

            # 4. Bob accepts Project X and reads its history (decrypted with Alice's bundle).
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "back to main")
            app.accept_invite(next(i for i in room_list.invites if i.room_id == project))
            await until(pilot, lambda: screen.current_room == project, "Project X to open")
            timeline = screen.query_one(Timeline)
            await until(pilot, lambda: sum(1 for i in timeline.items if i.provenance) >= len(HISTORY),
                        "the shared history to decrypt", 60)

            # 5. They talk.
            await alice.sync_once()
            await alice.send_text(project, "Glad you're here, Bob, the notes above are the story so far.")
            await until(pilot, lambda: any(i.body and i.body.startswith("Glad") for i in timeline.items), "Alice")
            composer = screen.query_one(Composer)
            composer.focus()
            composer.insert("Thanks! I can read all of it; the **budget** looks fine to me.")
            await pilot.press("enter")
            await until(pilot, lambda: any(i.own and i.is_message for i in timeline.items), "Bob's message")
            await pilot.pause(1.0)
            save(app, "main")

            # 6. A shared message selected: the detail line says whose word it rests on.
            timeline.focus()
            await pilot.pause(0.2)
            first_shared = next(i for i in timeline.items if i.provenance)
            timeline.selected = first_shared.event_id
            await pilot.pause(0.5)
            save(app, "provenance")
            await pilot.press("ctrl+q")
    finally:
        host.stop()
        await alice.close()


def main() -> int:
    setup_logging("INFO", to_file=False)  # into the ring buffer (the log screen), not stderr
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
